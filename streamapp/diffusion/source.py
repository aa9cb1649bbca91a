"""Diffusion source: Diffusion topics matched by a selector -> Kafka topics.

Shape (design card)::

    DiffusionSubscriber (value stream per data type) --> ConflatingQueue (bounded, latest per path wins)
      --> leader-only Faust timer drains batches of <= diffusion.poll.size --> Faust channel
      --> agent: infer schema, convert, produce (key = path, headers: path, type, sequence)
      --> fingerprint table (GlobalTable): last produced value's fingerprint and sequence per path

* Only the worker that is the group's leader subscribes (``app.timer(..., on_leader=True)``).
  The timer body keeps running while this worker is the leader: it drains whenever something is
  queued and waits ``diffusion.poll.interval`` only when the queue is empty (the back-off never
  caps throughput). Each wake-up checks ``app.is_leader()``; a worker that lost the leadership
  closes its subscription and drops what it had queued (the new leader's subscription replays the
  current values, and the fingerprints keep unchanged ones from being produced twice).
* Order per Diffusion path: the queue keeps it, batches are produced in order by one agent, and a
  path's records all go to one partition (the key is the path).
* No duplicates across restarts: the snapshot value a (re)subscription delivers for a path is
  dropped when its fingerprint equals the last one produced for that path; sequence numbers
  continue from the table. The table is written once the broker acknowledged the record, so a
  crash can cause a duplicate (at least once), never a loss.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from streamapp import faust_workarounds
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


@dataclass
class SourceStats:
    """What the shared counters do not say (shown in the status as they are)."""

    unchanged: int = 0  # snapshot values equal to what was already produced (counted as already delivered)
    tombstones: int = 0
    invalid_topic: int = 0  # Kafka topic name not legal for that path (counted as skipped)
    conversion_errors: int = 0  # (counted as skipped)
    batches: int = 0


class DiffusionSource:
    # s; table writes are coalesced per path (each is a changelog record every worker reads back).
    # A crash loses at most this much of the fingerprints: those values may be produced again.
    fingerprint_flush_interval = 0.25
    max_in_flight = 2000  # records sent to Kafka and not yet acknowledged

    kind = "source"

    def __init__(self, worker: Any, loaded: Any) -> None:
        self.worker = worker
        self.app = app = worker.app
        self.settings = settings = worker.settings
        self.loaded = loaded
        self.name = loaded.name
        self.config = cfg = loaded.config
        self.pattern = KafkaTopicPattern(cfg.kafka_topic)
        self.key_converter, self.value_converter = loaded.converters()
        self.queue = ConflatingQueue(cfg.diffusion_queue_size)
        self.poll_interval = cfg.diffusion_poll_interval / 1000
        self.poll_size = cfg.diffusion_poll_size
        self.partitions, self.replicas = settings.topic_layout(
            cfg.topic_creation_default_partitions, cfg.topic_creation_default_replication_factor
        )
        self.table = worker.table(
            FINGERPRINT_TABLE,
            value_type=str,
            help="Last produced value fingerprint and sequence number per source connector and Diffusion path.",
        )
        self.channel = app.channel()
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
        self._running = False
        self._inflight: collections.deque[tuple] = collections.deque()
        self._sent = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._confirmer: asyncio.Task | None = None

    # --- wiring -------------------------------------------------------------------------------------

    def install(self) -> None:
        self.app.agent(self.channel, name=f"streamapp.source.{self.name}")(self._agent)
        self.app.timer(
            self.poll_interval,
            on_leader=True,
            name=f"streamapp.source.{self.name}.poll",
        )(self._tick)

    # --- leader: subscription and draining ----------------------------------------------------------

    async def _tick(self) -> None:
        if self._running:
            return
        if self.app.rebalancing or not faust_workarounds.Flow(self.app).active:
            # Faust runs leader timers during a rebalance too: wait until the tables are recovered,
            # or a new leader would compare snapshot values with fingerprints it has not read yet.
            return
        self._running = True
        try:
            await self._start_subscription()
            while True:
                if not self.app.is_leader():
                    logger.info(
                        "connector %r: this worker is no longer the leader; unsubscribing",
                        self.name,
                    )
                    return
                if self.paused:  # REST API pause: the queue keeps conflating until the resume
                    await asyncio.sleep(self.poll_interval)
                    continue
                batch = self.queue.drain(self.poll_size)
                if batch:
                    await self.channel.send(value=batch)
                    continue
                await self.queue.wait(self.poll_interval)  # the back-off, only when nothing is queued
        finally:
            self._running = False
            await self._stop_subscription()

    async def _start_subscription(self) -> None:
        cfg = self.config
        self._last.clear()  # the table is the truth when leadership (re)starts
        connection = DiffusionConnection.from_config(cfg, self.name)
        self.subscriber = DiffusionSubscriber(
            connection,
            cfg.diffusion_selector,
            self.queue,
            tombstones=cfg.diffusion_removal_tombstone,
            name=self.name,
        )
        await self.subscriber.start()
        self.state = "RUNNING"

    async def _stop_subscription(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            try:
                await asyncio.shield(subscriber.stop())
            except Exception as exc:  # noqa: BLE001 -- closing is best effort
                logger.debug("connector %r: closing the Diffusion session: %s", self.name, exc)
        self.queue.clear()
        self._fingerprints.flush()  # the next leader reads the fingerprints: hand them over now, not in 0.25 s
        self.state = "STANDBY"

    # --- agent: records into Kafka ------------------------------------------------------------------

    async def _agent(self, stream: Any) -> None:
        self._confirmer = asyncio.create_task(self._confirm(), name=f"source-confirm-{self.name}")
        async for batch in stream:
            if self.failure is not None:
                continue  # stopped: what the queue held is dropped; Diffusion replays current values on restart
            try:
                await self._produce(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- a bug must stop the connector visibly, not the agent
                self._fail(exc)

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
        producer = self.app.producer
        for update in batch:
            prepared = await self._prepare(update)
            if prepared is None:
                continue
            topic, key, value, headers, path, seq, fp = prepared
            if topic not in self._declared:
                await self._declare(topic)
            await self._slots.acquire()
            future = await producer.send(topic, key, value, None, None, headers)
            self._inflight.append((future, topic, key, value, headers, path, seq, fp))
            self._sent.set()

    async def _confirm(self) -> None:
        """Await the broker's acknowledgements in send order and record the fingerprints.

        Sending does not wait for them, so aiokafka batches what arrives while a request is in
        flight (waiting per batch would make every batch one broker round trip); at most
        ``max_in_flight`` records are unacknowledged at once.
        """
        inflight = self._inflight
        while True:
            if not inflight:
                self._sent.clear()
                await self._sent.wait()
                continue
            future, topic, key, value, headers, path, seq, fp = inflight.popleft()
            try:
                await future
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                await self._resend(exc, topic, key, value, headers)
            finally:
                self._slots.release()
            self.counters.delivered += 1
            self._fingerprints.put(path, f"{seq} {fp}")

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
            await self._ready(self.key_converter, topic, STRING_SCHEMA)
            key = self.key_converter.from_connect(topic, STRING_SCHEMA, path)
            if update.removed:
                value = None
                fp = _TOMBSTONE_FP
            else:
                schema, connect_value = infer(update.value)
                await self._ready(self.value_converter, topic, schema)
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

    async def _ready(self, converter: Any, topic: str, schema: Any) -> None:
        hook = getattr(converter, "prepare_from_connect", None)
        if hook is not None:
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
                await self.app.producer.send_and_wait(topic, key, value, None, None, headers)
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
        self.paused = paused  # the leader stops draining its queue, which keeps conflating

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
            extra={**self.stats.__dict__, "queue_high_water": self.queue.high_water},
        )
