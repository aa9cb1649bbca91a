"""Diffusion source: Diffusion topics matched by a selector -> Kafka topics.

Shape (design card)::

    DiffusionSubscriber (one value stream for the JSON, string, int64, double topics)
      --> ConflatingQueue (bounded, latest per path wins)
      --> the connector's task drains batches of <= diffusion.poll.size: infer schema, convert,
          send with the connector's own Kafka producer (key = path, headers: path, type, sequence)
      --> acknowledged: fingerprint table (GlobalTable), last produced value's fingerprint and
          sequence per path

* Each source connector runs on exactly one worker: the one holding its partition of the
  placement topic (:mod:`streamapp.core.source_placement`, which calls :meth:`~DiffusionSource.start`,
  :meth:`~DiffusionSource.hold` and :meth:`~DiffusionSource.stop`). The task drains as soon as
  something is queued (``diffusion.poll.interval``, Connect's back-off between empty polls, is
  accepted and not waited for: it could only delay an update).
* Order per Diffusion path: the queue keeps it, one task sends in queue order, and a path's records
  all go to one partition (the key is the path; the producer keeps order per partition).
* No duplicates across restarts and moves: the snapshot value a (re)subscription delivers for a
  path is dropped when its fingerprint equals the last one produced for that path; sequence
  numbers continue from the table. The table is written once the broker acknowledged the record
  (coalesced, every ``fingerprint_flush_interval``; at once when a rebalance begins or the
  connector stops here), so a crash can cause a duplicate (at least once), never a loss.
* The connector has a Kafka producer of its own (as a Connect source task has), lingering
  ``linger_ms`` for fuller requests; the worker's Faust producer carries the table writes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner, murmur2

from streamapp.core.contract import ConnectorStatus, Counters, SessionStatus
from streamapp.core.retry import Backoff, retry_transient
from streamapp.core.write_behind import WriteBehind
from streamapp.data import STRING_SCHEMA
from streamapp.diffusion.connection import DiffusionConnection
from streamapp.diffusion.subscriber import ConflatingQueue, DiffusionSubscriber, Update

from .schema_inference import infer
from .topic_names import KafkaTopicPattern, TopicNameError

__all__ = ["FINGERPRINT_TABLE", "DiffusionSource"]

logger = logging.getLogger(__name__)

FINGERPRINT_TABLE = "streamapp-source-fingerprints"
HEADER_PATH = "diffusion.path"
HEADER_TYPE = "diffusion.topic.type"
HEADER_SEQUENCE = "diffusion.sequence"
_TOMBSTONE_FP = "tombstone"


class KeyHashPartitioner:
    """aiokafka's default partitioner (murmur2 of the key, as Kafka's Java clients), each key's hash
    kept: a source produces the same paths again and again, and aiokafka's murmur2 is pure Python
    (~3 us a key, the largest single cost of sending in the profile of bench/diffusion_source.py)."""

    limit = 100_000  # keys kept; beyond, the cache starts again (a selector over many more paths)

    def __init__(self) -> None:
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return DefaultPartitioner()(key, all_partitions, available)
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self.limit:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


@dataclass
class SourceStats:
    """What the shared counters do not say (shown in the status as they are)."""

    unchanged: int = 0  # snapshot values equal to what was already produced (counted as already delivered)
    tombstones: int = 0
    invalid_topic: int = 0  # Kafka topic name not legal for that path (counted as skipped)
    conversion_errors: int = 0  # (counted as skipped)
    batches: int = 0


class DiffusionSource:
    # s; table writes are coalesced per path (each is a changelog record every worker produces and
    # reads back through Faust: at 0.25 s they were ~20% of the worker's CPU in
    # bench/diffusion_source.py, 100 paths; at 1 s the worker's CPU per record fell from ~197 to
    # ~158 us). A crash loses at most this much of the fingerprints: those values may be produced
    # again. A hand-over (rebalance, stop) writes them at once.
    fingerprint_flush_interval = 1.0
    max_in_flight = 2000  # records sent to Kafka and not yet acknowledged
    # The producer waits this long for more records before sending a request. Measured by
    # bench/diffusion_source.py on Apache Kafka: with Kafka's default of 5 ms a request carried a
    # few records, and the requests cost the broker ~150 us of CPU per record and this worker ~30 us
    # (socket writes); 20 ms halves the broker's cost and raises the rate by ~20% on a shared
    # 2-core host, for ~10 ms more latency at 500 updates/s (p99 ~28 ms there, the target is 50).
    linger_ms = 20

    kind = "source"

    def __init__(self, worker: Any, loaded: Any) -> None:
        self.worker = worker
        self.app = worker.app
        self.settings = settings = worker.settings
        self.loaded = loaded
        self.name = loaded.name
        self.config = cfg = loaded.config
        self.pattern = KafkaTopicPattern(cfg.kafka_topic)
        self.key_converter, self.value_converter = loaded.converters()
        # Converters with a schema registry (Avro) register a schema before they can write it.
        self._key_hook = getattr(self.key_converter, "prepare_from_connect", None)
        self._value_hook = getattr(self.value_converter, "prepare_from_connect", None)
        self.queue = ConflatingQueue(cfg.diffusion_queue_size)
        self.poll_size = cfg.diffusion_poll_size
        self.partitions, self.replicas = settings.topic_layout(
            cfg.topic_creation_default_partitions, cfg.topic_creation_default_replication_factor
        )
        self.table = worker.table(
            FINGERPRINT_TABLE,
            value_type=str,
            help="Last produced value fingerprint and sequence number per source connector and Diffusion path.",
        )
        self.counters = Counters()
        self.stats = SourceStats()
        self.subscriber: DiffusionSubscriber | None = None
        self.state = "STANDBY"
        self.paused = False  # set_paused (REST API pause/resume)
        self.failure: str | None = None
        self._last: dict[str, tuple[int, str]] = {}  # path -> (sequence, fingerprint) produced
        self._fingerprints: WriteBehind[str] = WriteBehind(
            lambda path, value: self.table.__setitem__(self._key(path), value),
            self.fingerprint_flush_interval,
            what=f"connector {self.name!r}: fingerprint",
        )
        self._declared: set[str] = set()
        self._bad_paths: set[str] = set()
        self._producer: Any = None
        self._task: asyncio.Task | None = None  # draining the queue into Kafka, while this worker runs it
        self._held = False  # a rebalance began: produce nothing until the placement says go on
        self._go = asyncio.Event()  # set while neither held nor paused
        self._producing = asyncio.Lock()  # held while a batch is being sent
        self._inflight: collections.deque[tuple] = collections.deque()
        self._sent = asyncio.Event()
        self._settled = asyncio.Event()  # set while nothing is in flight
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._confirmer: asyncio.Task | None = None

    # --- placement: the worker holding this connector's placement partition runs it ----------------

    def install(self) -> None:
        self.worker.placement.add(self)

    async def start(self) -> None:
        """Run here: subscribe and produce (the placement calls it again and again; idempotent)."""
        if self._task is not None:
            if self._held:
                self._held = False  # the rebalance left it here: go on from the queue, nothing lost
                self._update_gate()
            return
        from aiokafka import AIOKafkaProducer

        cfg = self.config
        self._last.clear()  # the table is the truth when the connector (re)starts here
        self._held = False
        self._update_gate()
        self._producer = AIOKafkaProducer(
            **self.settings.kafka_client_options(), client_id=f"{self.name}-source", acks="all",
            linger_ms=self.linger_ms, partitioner=KeyHashPartitioner(),
        )  # fmt: skip
        await self._producer.start()
        self.subscriber = DiffusionSubscriber(
            DiffusionConnection.from_config(cfg, self.name),
            cfg.diffusion_selector,
            self.queue,
            tombstones=cfg.diffusion_removal_tombstone,
            name=self.name,
        )
        await self.subscriber.start()
        self._settled.set()
        self._confirmer = asyncio.create_task(self._confirm(), name=f"source-confirm-{self.name}")
        self._task = asyncio.create_task(self._run(), name=f"source-{self.name}")
        self.state = "RUNNING"

    async def hold(self) -> None:
        """Produce nothing more until :meth:`start`; return once what was sent is acknowledged and its
        fingerprints are written (a rebalance began: the next owner reads them)."""
        if self._task is None:
            return
        self._held = True
        self._update_gate()
        async with self._producing:  # the batch being sent, if any, is sent
            pass
        if self._producer is not None:
            await self._producer.flush()  # lingering records go now
        await self._settled.wait()
        self._fingerprints.flush()

    async def stop(self) -> None:
        """Not on this worker any more: unsubscribe, drop what is queued (the next owner's subscription
        replays the current values), after handing the fingerprints over."""
        if self._task is None:
            return
        try:
            await self.hold()
        finally:
            for task in (self._task, self._confirmer):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            self._task = self._confirmer = None
            await self._stop_subscription()
            producer, self._producer = self._producer, None
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()
            for _ in range(len(self._inflight)):
                self._slots.release()
            self._inflight.clear()

    def _update_gate(self) -> None:
        if self._held or self.paused:
            self._go.clear()
        else:
            self._go.set()

    async def _run(self) -> None:
        queue, go, producing = self.queue, self._go, self._producing
        while True:
            if not go.is_set():  # held by a rebalance, or paused: the queue keeps conflating
                await go.wait()
                continue
            if self.failure is not None:  # stopped: what the queue holds is dropped
                queue.clear()
                await queue.wait(None)
                continue
            batch = queue.drain(self.poll_size)
            if not batch:
                # Woken by the next update: diffusion.poll.interval, Connect's back-off between
                # empty polls, would only delay it. Pause and hold take effect at that wake-up,
                # before anything is sent.
                await queue.wait(None)
                continue
            async with producing:  # no await between the checks above and here: hold() waits for it
                try:
                    await self._produce(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- a bug must stop the connector visibly
                    self._fail(exc)

    async def _stop_subscription(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            try:
                await asyncio.shield(subscriber.stop())
            except Exception as exc:  # noqa: BLE001 -- closing is best effort
                logger.debug("connector %r: closing the Diffusion session: %s", self.name, exc)
        self.queue.clear()
        self._fingerprints.flush()
        self.state = "STANDBY"

    # --- records into Kafka -------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        import traceback

        self.failure = f"unexpected error producing to Kafka: {type(exc).__name__}: {exc}\n" + "".join(
            traceback.format_exception(exc)
        )
        logger.error(
            "connector %r stopped (an unexpected error): %s: %s. Restart the worker once the cause is fixed.",
            self.name, type(exc).__name__, exc,
        )  # fmt: skip

    async def _produce(self, batch: list[Update]) -> None:
        self.stats.batches += 1
        send = self._producer.send
        inflight, slots = self._inflight, self._slots
        for update in batch:
            prepared = await self._prepare(update)
            if prepared is None:
                continue
            topic, key, value, headers, path, seq, fp = prepared
            if topic not in self._declared:
                await self._declare(topic)
            await slots.acquire()
            future = await send(topic, value, key=key, headers=headers)
            inflight.append((future, topic, key, value, headers, path, seq, fp))
            self._settled.clear()
            self._sent.set()

    async def _confirm(self) -> None:
        """Await the broker's acknowledgements in send order and record the fingerprints.

        Sending does not wait for them, so the producer batches what arrives while a request is in
        flight (waiting per batch would make every batch one broker round trip); at most
        ``max_in_flight`` records are unacknowledged at once.
        """
        inflight, record = self._inflight, self._fingerprints.put
        while True:
            if not inflight:
                self._settled.set()
                self._sent.clear()
                await self._sent.wait()
                continue
            future, topic, key, value, headers, path, seq, fp = inflight[0]
            try:
                await future
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                await self._resend(exc, topic, key, value, headers)
            inflight.popleft()
            self._slots.release()
            self.counters.delivered += 1
            record(path, f"{seq} {fp}")

    async def _prepare(self, update: Update) -> tuple | None:
        path = update.path
        try:
            topic = self.pattern.render(path)
        except TopicNameError as exc:
            self.counters.records_in += 1
            self.counters.skipped += 1
            self.stats.invalid_topic += 1
            if path not in self._bad_paths and len(self._bad_paths) < 10000:
                self._bad_paths.add(path)
                logger.error("connector %r: %s; its updates are skipped", self.name, exc)
            return None
        try:
            # Converters with a registry (Avro) register the schema first; an unreachable
            # registry holds the batch (Diffusion's queue conflates meanwhile).
            if self._key_hook is not None:
                await self._ready(self._key_hook, topic, STRING_SCHEMA)
            key = self.key_converter.from_connect(topic, STRING_SCHEMA, path)
            if update.removed:
                value = None
                fp = _TOMBSTONE_FP
            else:
                schema, connect_value = infer(update.value)
                if self._value_hook is not None:
                    await self._ready(self._value_hook, topic, schema)
                value = self.value_converter.from_connect(topic, schema, connect_value)
                fp = hashlib.blake2b(value, digest_size=16).hexdigest() if value is not None else "null"
        except Exception as exc:  # noqa: BLE001
            self.counters.records_in += 1
            self.counters.skipped += 1
            self.stats.conversion_errors += 1
            logger.error(
                "connector %r: cannot convert the value of Diffusion topic '%s': %s",
                self.name,
                path,
                exc,
            )
            return None
        last = self._last_of(path)
        if update.initial and last is not None and last[1] == fp:
            self.counters.already_delivered += 1
            self.stats.unchanged += 1
            return None
        if update.removed and (last is None or last[1] == _TOMBSTONE_FP):
            self.counters.already_delivered += 1
            return None  # nothing produced for it, or already tombstoned
        self.counters.records_in += 1
        seq = (last[0] if last else 0) + 1
        self._last[path] = (seq, fp)
        if update.removed:
            self.stats.tombstones += 1
        headers = [
            (HEADER_PATH, path.encode()),
            (HEADER_TYPE, update.type_name.encode()),
            (HEADER_SEQUENCE, str(seq).encode()),
        ]
        return topic, key, value, headers, path, seq, fp

    async def _ready(self, hook: Any, topic: str, schema: Any) -> None:
        await retry_transient(lambda: hook(topic, schema), self._waiting)

    def _waiting(self, exc: BaseException, delay: float) -> None:
        self.counters.retried += 1
        logger.warning("connector %r: %s; retrying in %.1fs", self.name, exc, delay)

    async def _resend(self, exc: BaseException, topic: str, key: Any, value: Any, headers: Any) -> None:
        """Produce again until Kafka takes it (the fingerprint is recorded only after)."""
        backoff = Backoff(0.1, 5.0)
        while True:
            delay = backoff.next()
            self.counters.retried += 1
            logger.warning("connector %r: producing to %s failed (%s); retrying in %.1fs", self.name, topic, exc, delay)
            await asyncio.sleep(delay)
            try:
                await self._producer.send_and_wait(topic, value, key=key, headers=headers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as again:  # noqa: BLE001
                exc = again

    async def _declare(self, topic: str) -> None:
        try:
            await self.app.topic(
                topic,
                partitions=self.partitions,
                replicas=self.replicas,
                internal=False,
            ).declare()
        except Exception as exc:  # exists already, or the broker auto-creates: producing tells
            logger.debug("connector %r: declaring topic %s: %s", self.name, topic, exc)
        self._declared.add(topic)

    # --- fingerprints -------------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return json.dumps([self.name, path])

    def _last_of(self, path: str) -> tuple[int, str] | None:
        last = self._last.get(path)
        if last is None:
            stored = self.table.get(self._key(path))
            if stored:
                seq, _, fp = str(stored).partition(" ")
                last = self._last[path] = (int(seq), fp)
        return last

    # --- the contract -------------------------------------------------------------------------------

    def reset_active_topics(self) -> None:
        """REST ``PUT /connectors/{name}/topics/reset``: forget the topics produced to until now."""
        self._declared.clear()

    def set_paused(self, paused: bool) -> None:
        if paused != self.paused:
            logger.info("connector %r %s", self.name, "paused" if paused else "resumed")
        self.paused = paused  # the worker running it stops draining its queue, which keeps conflating
        self._update_gate()

    def status(self) -> ConnectorStatus:
        counters = self.counters.copy()
        counters.conflated = self.queue.conflated  # replaced in the queue: taken in, never produced
        counters.records_in += counters.conflated
        running = self.state == "RUNNING"
        subscriber = self.subscriber
        session = None
        if running and subscriber is not None:
            c = subscriber.connection
            session = SessionStatus(c.state, bool(c.connected), c.last_error)
        if self.failure is not None:
            state = "FAILED"
        elif running:
            state = "PAUSED" if self.paused else "RUNNING"
        else:
            state = "UNASSIGNED"
        return ConnectorStatus(
            kind="source",
            state=state,
            task=running or self.failure is not None,
            counters=counters,
            trace=self.failure,
            topics=tuple(sorted(self._declared)),
            session=session,
            queue_depth=len(self.queue),
            extra={
                **self.stats.__dict__,
                "queue_high_water": self.queue.high_water,
                "placement_partition": self.worker.placement.slot(self.name),
            },
        )
