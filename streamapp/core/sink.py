"""The sink side of every connector: Kafka records in, confirmed deliveries out, at least once.

The one path of a record::

    Faust agent (noack_take) -> already delivered? (delivered-offset table) -> key and value
    converters -> prepare (the connector maps the record to a Delivery) -> ordered dispatch (per
    destination key, a bounded window; conflating when the connector asks) -> deliver (the
    connector's client; transient errors wait and retry) -> ack -> delivered-offset table ->
    committed by Faust
    on a failure at any stage: the error policy (retry, then skip / dead-letter and ack, or stop)

One Faust agent per connector reads the connector's topics with ``noack().noack_take(...)``
(faust-notes 1.8: a plain ``async for`` acks on exceptions). Each event is acked only when the
destination confirmed it, or when the error policy tolerated its failure, and only once every
record before it in its partition is (:class:`~streamapp.core.dispatch.PartitionWatermark`:
Faust would otherwise commit past a record still in flight). A failure the policy
does not tolerate, or anything unexpected (a bug, a dead letter Kafka refuses), stops the
connector: its state is FAILED with the trace, its record and everything after it stay unacked
(the committed offset never passes them), the other connectors go on.

Before a rebalance and on shutdown Faust stops the flow of records and then waits until every
record it handed out is acked or garbage. Deliveries in flight get ``revoke_grace`` seconds to
finish; the rest are abandoned unacked and every reference to them dropped, so a destination that
is down can neither stall a rebalance nor hang a shutdown. Faust seeks back to the committed
offsets when the flow resumes; the delivered-offset table keeps what was delivered since the last
commit from being delivered again.

Subclasses map a record to a :class:`Delivery` (``prepare``), make it (``deliver``), and own
their client (``start_client``/``stop_client``, ``session_status``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from streamapp import faust_workarounds
from streamapp.converters import ConversionError
from streamapp.data import Record, RecordError

from .conflation import ConflatingDispatcher
from .contract import ConnectorStatus, Counters, PartitionStatus, SessionStatus, State
from .dead_letters import DeadLetterError, DeadLetterQueue, RecordFailure
from .dispatch import OrderedDispatcher, PartitionWatermark
from .offsets import DeliveredOffsets
from .policy import ErrorPolicy, connect_policy
from .retry import Backoff
from .write_behind import WriteBehind

if TYPE_CHECKING:
    from streamapp.config.loader import LoadedConnector
    from streamapp.worker import Worker

__all__ = ["Delivery", "SinkConnector"]

logger = logging.getLogger(__name__)

P = TypeVar("P")
_RECORD_ERRORS = (ConversionError, RecordError, ValueError, TypeError)
_LOG_LINES_PER_SECOND = 10  # tolerated failures logged at most this often (a dead server fails every record)


@dataclass(frozen=True, slots=True)
class Delivery(Generic[P]):
    """What ``prepare`` makes of a record: its ordering key (the destination) and the connector's payload."""

    key: Hashable
    payload: P


@dataclass(slots=True)
class _Pending:
    event: Any
    record: Record
    delivery: Delivery
    received: float
    mark: PartitionWatermark
    epoch: int  # SinkConnector._epoch when queued; an older epoch was abandoned


class _RateLimitedLog:
    """At most a few lines a second; the lines left out are counted into the next one."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._second = 0
        self._lines = 0
        self._folded = 0

    def __call__(self, level: int, message: str, *args: Any) -> None:
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._lines = second, 0
        if self._lines >= self.per_second:
            self._folded += 1
            return
        self._lines += 1
        if self._folded:
            message += f" ({self._folded} more without a message before this one)"
            self._folded = 0
        logger.log(level, message, *args)


class SinkConnector(Generic[P]):
    """Base class; one instance per configured sink connector in this worker."""

    kind = "sink"
    batch_size = 500
    batch_linger = 0.005  # s that noack_take waits to fill a batch: a record's latency floor
    offset_flush_interval = 0.025  # s between delivered-offset table writes (see _complete)
    shutdown_grace = 10.0  # s to finish in-flight deliveries on stop before abandoning them (unacked)
    conflation_hold = 10_000  # replaced records held unacked at most (conflation); then records wait

    def __init__(self, worker: Worker, loaded: LoadedConnector) -> None:
        self.worker = worker
        self.app = worker.app
        self.settings = settings = worker.settings
        self.loaded = loaded
        self.name = loaded.name
        self.config = config = loaded.config
        self.counters = Counters()
        self.policy = self.error_policy()
        self._state: State = "UNASSIGNED"
        self.paused = False
        self.failure: RecordFailure | None = None
        self.key_converter, self.value_converter = loaded.converters()
        # Async hooks of converters that fetch before converting (Avro: writer schemas by id).
        self._key_hook = getattr(self.key_converter, "prepare_to_connect", None)
        self._value_hook = getattr(self.value_converter, "prepare_to_connect", None)
        self.task_class = re.sub(r"Connector$", "Task", loaded.type.class_name)
        self.offsets = DeliveredOffsets(worker.delivered_offsets, self.name)
        self.dispatcher: OrderedDispatcher[_Pending] | ConflatingDispatcher[_Pending]
        if self.conflate:
            self.dispatcher = ConflatingDispatcher(
                self.window, self._deliver, self._conflated, hold=self.conflation_hold
            )
        else:
            self.dispatcher = OrderedDispatcher(self.window, self._deliver)
        self._observe: Callable[[str, float], None] = worker.observe_delivery
        self._marks: dict[tuple[str, int], PartitionWatermark] = {}
        self._offsets_behind: WriteBehind[tuple[str, int]] = WriteBehind(
            lambda tp, offset: self.offsets.set(tp[0], tp[1], offset),
            self.offset_flush_interval,
            what=f"connector {self.name!r}: delivered offset",
        )
        self._epoch = 0
        self._stopping: asyncio.Future[None] | None = None
        self._held: set[Any] = set()  # partitions this connector paused in the consumer
        self._warn_retry = _RateLimitedLog(1)
        self._log_failure = _RateLimitedLog(_LOG_LINES_PER_SECOND)
        self.dlq: DeadLetterQueue | None = None
        if config.errors_deadletterqueue_topic_name:
            self.dlq = DeadLetterQueue(
                self.app,
                config.errors_deadletterqueue_topic_name,
                connector=self.name,
                replicas=settings.topic_layout(replicas=config.errors_deadletterqueue_topic_replication_factor)[1],
                context_headers=config.errors_deadletterqueue_context_headers_enable,
                client_options=settings.kafka_client_options(),
                max_request_size=config.producer_override_max_request_size,
            )
        if config.topics:
            self.reads: Callable[[str], bool] = frozenset(config.topics).__contains__
        else:
            pattern = re.compile(config.topics_regex)
            self.reads = lambda topic: pattern.fullmatch(topic) is not None

    # --- for subclasses -----------------------------------------------------------------------------

    @property
    def window(self) -> int:
        """Deliveries in flight (or queued behind their key) at most."""
        return 100

    @property
    def conflate(self) -> bool:
        """Records of one destination may replace each other while its update is in flight (see core.conflation)."""
        return False

    def error_policy(self) -> ErrorPolicy:
        cfg = self.config
        return connect_policy(
            cfg.errors_tolerance, log_enable=cfg.errors_log_enable, include_messages=cfg.errors_log_include_messages
        )

    async def start_client(self) -> None:
        """Open connections to the destination."""

    async def stop_client(self) -> None:
        """Close connections to the destination."""

    def prepare(self, record: Record) -> Delivery[P]:
        """Map a record to its delivery; raise RecordError (or ValueError) if it cannot be mapped."""
        raise NotImplementedError

    async def deliver(self, delivery: Delivery[P], record: Record) -> None:
        """Deliver and wait for the confirmation. Raise an error with ``retriable = True`` to wait and
        try again (a lost session), any other error to have the error policy decide."""
        raise NotImplementedError

    def session_status(self) -> SessionStatus | None:
        """The destination session's state, for health and status (None: no session)."""
        return None

    def record_done(self, record: Record, fate: str) -> None:
        """Called once per record with its fate (delivered, conflated, dead_lettered, skipped, failed)."""

    def record_retried(self, record: Record) -> None:
        """Called before each retry the error policy makes of a failed delivery."""

    # --- the contract -------------------------------------------------------------------------------

    def install(self) -> None:
        app = self.app
        config = self.config
        if config.topics:
            source = app.topic(*config.topics, key_serializer="raw", value_serializer="raw")
        else:
            source = app.topic(pattern=re.compile(config.topics_regex), key_serializer="raw", value_serializer="raw")
        app.agent(source, name=f"streamapp.connector.{self.name}")(self._agent)

        @app.on_before_shutdown.connect
        async def _before_shutdown(sender: Any, **_: Any) -> None:
            if self._state != "UNASSIGNED":  # started
                await self._shutdown()

    @property
    def state(self) -> State:
        if self.failure is not None:
            return "FAILED"
        if self.paused and self._state == "RUNNING":
            return "PAUSED"
        return self._state

    def assigned(self) -> set[Any]:
        """This connector's partitions assigned to this worker."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 -- no consumer yet (starting)
            return set()
        return {tp for tp in assignment if self.reads(tp.topic)}

    def set_paused(self, paused: bool) -> None:
        consumer = self.app.consumer
        if paused:
            # Every time: Faust re-activates partitions on its own (recovery, buffer drained).
            tps = self.assigned()
            consumer.pause_partitions(tps)
            if not self.paused:
                logger.info("connector %r paused: partitions %s no longer fetched", self.name, _tps(tps))
            self._held = tps
            self.paused = True
        elif self.paused:
            consumer.resume_partitions(self._held & self.assigned())
            self._held = set()
            self.paused = False
            logger.info("connector %r resumed", self.name)

    def status(self) -> ConnectorStatus:
        partitions = []
        for tp in sorted(self.assigned()):
            partitions.append(
                PartitionStatus(
                    tp.topic,
                    tp.partition,
                    delivered=self.offsets.get(tp.topic, tp.partition),
                    committed=faust_workarounds.committed_offset(self.app, tp),
                    end_offset=_end_offset(self.app, tp),
                )
            )
        failed = self.failure is not None
        return ConnectorStatus(
            kind="sink",
            state=self.state,
            task=bool(partitions) or failed,
            counters=self.counters.copy(),
            trace=(self.failure.describe() + "\n" + self.failure.trace) if failed else None,
            partitions=tuple(partitions),
            topics=tuple(sorted({p.topic for p in partitions})),
            session=self.session_status(),
        )

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def revoke_grace(self) -> float:
        """Seconds deliveries in flight may take to finish once Faust stops the flow."""
        # Bounded by the rebalance timeout: the group waits for this worker to rejoin.
        return min(self.shutdown_grace, self.settings.broker_rebalance_timeout / 2)

    async def _agent(self, stream: Any) -> None:
        try:
            await self._start()
        except Exception as exc:  # noqa: BLE001 -- a connector that cannot start is FAILED, visibly
            self._stop_on(RecordFailure("-", -1, -1, "TASK_PUT", exc, self.task_class), "it could not start")
        follower = asyncio.create_task(self._follow_flow(), name=f"{self.name} flow")
        flow = faust_workarounds.Flow(self.app)
        handle = self._handle
        # Conflating: while a batch or more is already waiting to be read, sends wait (core.conflation).
        behind = self.dispatcher.behind if isinstance(self.dispatcher, ConflatingDispatcher) else None
        event = None
        try:
            async for events in stream.noack().noack_take(self.batch_size, within=self.batch_linger):
                for event in events:
                    # Faust's own flag, not a copy: what arrives while the flow is stopped, Faust
                    # reads again after the seek that precedes resuming it.
                    if self.failure is None and flow.active:
                        try:
                            await handle(event)
                        except Exception as exc:  # noqa: BLE001 -- a bug must stop the connector, not the agent
                            msg = event.message
                            failure = RecordFailure(
                                msg.topic, msg.partition, msg.offset, "TASK_PUT", exc, self.task_class
                            )
                            self._stop_on(failure, "an unexpected error")
                    # else: dropped unacked (a stopped connector, or the flow stopped); it is
                    # consumed again from the committed offset after the restart or rebalance.
                if behind is not None and event is not None:
                    msg = event.message
                    end = _end_offset(self.app, msg.tp)
                    behind(end is not None and end - msg.offset - 1 >= self.batch_size)
                # No reference may outlive the batch: Faust waits for unacked events to be garbage.
                events = event = None
        finally:
            follower.cancel()
            await self._shutdown()

    async def _follow_flow(self) -> None:
        flow = faust_workarounds.Flow(self.app)
        while True:
            await flow.wait_stopped()
            if not await self.dispatcher.drain(self.revoke_grace):
                self._epoch += 1  # a queued delivery that gets a window slot now is dropped
                count = await self.dispatcher.abandon()
                logger.warning(
                    "connector %r: %d deliveries unconfirmed %.0fs after the consumer stopped (rebalance or "
                    "shutdown); abandoned unacked, they are delivered again from the committed offset",
                    self.name,
                    count,
                    self.revoke_grace,
                )
            # What this connector will not ack now (abandoned, or it stopped): Faust must not wait for it.
            faust_workarounds.release_unacked(self.app, self.reads)
            self._offsets_behind.flush()
            self._marks.clear()  # rebuilt from the delivered-offset table for what is read next
            await flow.wait_resumable()

    async def _start(self) -> None:
        self._state = "STARTING"
        if self.dlq is not None:
            await self.dlq.start()
        await self.start_client()
        self._state = "RUNNING"

    async def _shutdown(self) -> None:
        """Stop once, from whichever asks first: Faust's ``on_before_shutdown`` (which Faust awaits,
        after it stopped the consumer and before it flushes the producer and stops the agents) or
        the agent ending. Awaited by both; the agent may be cancelled meanwhile, the stop goes on."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop_once())
        await asyncio.shield(self._stopping)

    async def _stop_once(self) -> None:
        if not await self.dispatcher.drain(self.shutdown_grace):
            self._epoch += 1
            count = await self.dispatcher.abandon()
            logger.warning(
                "connector %r: %d deliveries still unconfirmed after %.0fs; abandoned unacked "
                "(they are delivered again after the restart)",
                self.name,
                count,
                self.shutdown_grace,
            )
        self._offsets_behind.flush()
        await self.stop_client()
        if self.dlq is not None:
            await self.dlq.stop()
        for converter in (self.key_converter, self.value_converter):
            close = getattr(converter, "close", None)
            if close is not None:
                await close()
        self._state = "STOPPED"

    # --- the record path ----------------------------------------------------------------------------

    async def _handle(self, event: Any) -> None:
        msg = event.message
        topic, partition, offset = msg.topic, msg.partition, msg.offset
        mark = self._marks.get((topic, partition))
        if mark is None:
            mark = self._watermark(topic, partition, offset)
        if offset <= mark.value:
            self.counters.already_delivered += 1
            event.ack()
            return
        self.counters.records_in += 1
        stage = "KEY_CONVERTER"
        record = None
        try:
            if self._key_hook is not None:
                await self._wait_transient(lambda: self._key_hook(topic, msg.key))
            key = self.key_converter.to_connect(topic, msg.key)
            stage = "VALUE_CONVERTER"
            if self._value_hook is not None:
                await self._wait_transient(lambda: self._value_hook(topic, msg.value))
            value = self.value_converter.to_connect(topic, msg.value)
            record = Record(
                topic=topic,
                partition=partition,
                offset=offset,
                timestamp=int(msg.timestamp * 1000) if msg.timestamp else None,
                key=key.value,
                key_schema=key.schema,
                value=value.value,
                value_schema=value.schema,
                headers=tuple(msg.headers or ()),
                raw_key=msg.key,
                raw_value=msg.value,
            )
            stage = "TASK_PUT"
            delivery = self.prepare(record)
        except _RECORD_ERRORS as exc:
            mark.track(offset, event.ack)
            executing = self.task_class
            if stage != "TASK_PUT":
                converter = self.key_converter if stage == "KEY_CONVERTER" else self.value_converter
                executing = converter.class_name
            failure = RecordFailure(topic, partition, offset, stage, exc, executing)
            await self._record_failed(event, mark, failure, record)
            return
        mark.track(offset, event.ack)  # acked in offset order (PartitionWatermark), when completed
        await self.dispatcher.submit(
            delivery.key, _Pending(event, record, delivery, time.monotonic(), mark, self._epoch)
        )

    def _watermark(self, topic: str, partition: int, offset: int) -> PartitionWatermark:
        delivered = self.offsets.get(topic, partition)
        mark = self._marks[(topic, partition)] = PartitionWatermark(delivered)
        logger.info(
            "connector %r: reading %s/%d from offset %d (delivered up to %d)", self.name, topic, partition, offset,
            delivered,
        )  # fmt: skip
        return mark

    async def _deliver(self, item: _Pending) -> bool:
        """Deliver, then ack; True once the destination confirmed it."""
        if item.epoch != self._epoch or self.failure is not None:
            return False  # abandoned, or the connector stopped: left unacked
        record = item.record
        try:
            try:
                await self.deliver(item.delivery, record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not await self._retry(item, exc):
                    return False  # the error policy took it (skipped, dead-lettered, or the connector stopped)
            self.counters.delivered += 1
            self._observe(self.name, time.monotonic() - item.received)
            self._complete(item.mark, record.topic, record.partition, record.offset)
            self.record_done(record, "delivered")
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 -- a bug must stop the connector, not vanish in a task
            failure = RecordFailure(record.topic, record.partition, record.offset, "TASK_PUT", exc, self.task_class)
            self._stop_on(failure, "an unexpected error")
            return False

    def _conflated(self, items: list[_Pending]) -> None:
        """Records replaced by a newer one of their destination, which was just confirmed: acked now."""
        for item in items:
            if item.epoch != self._epoch:
                continue  # read before the flow stopped: Faust reads it again
            self.counters.conflated += 1
            record = item.record
            self._complete(item.mark, record.topic, record.partition, record.offset)
            self.record_done(record, "conflated")

    async def _retry(self, item: _Pending, exc: Exception) -> bool:
        """After a failed delivery: wait out transient errors, retry as the policy says; True once delivered."""
        policy = self.policy.put
        attempts = 0
        backoff: Backoff | None = None
        record = item.record
        while True:
            if getattr(exc, "retriable", False):  # transient: the record and its partition wait
                backoff = backoff or Backoff(0.05, 5.0)
                delay = backoff.next()
                self.counters.retried += 1
                self._warn_retry(logging.WARNING, "connector %r: %s; retrying in %.2fs (nothing is acked "
                                 "meanwhile)", self.name, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)
            elif attempts < policy.retries:
                attempts += 1
                self.counters.retried += 1
                self.record_retried(record)
                logger.warning(
                    "connector %r: %s; retry %d of %d in %g s (%s)",
                    self.name, exc, attempts, policy.retries, policy.retry_interval, self.policy.setting,
                )  # fmt: skip
                await asyncio.sleep(policy.retry_interval)
            else:
                note = f"gave up after {attempts} retries" if attempts else ""
                failure = RecordFailure(record.topic, record.partition, record.offset, "TASK_PUT", exc, self.task_class,
                                        note)  # fmt: skip
                await self._record_failed(item.event, item.mark, failure, record)
                return False
            try:
                await self.deliver(item.delivery, record)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as again:
                exc = again

    async def _wait_transient(self, attempt: Callable[[], Any]) -> None:
        """A converter's registry is unreachable: the record waits, unacked (and so does the partition)."""
        backoff = Backoff(0.1, 5.0)
        while True:
            try:
                await attempt()
                return
            except Exception as exc:
                if not getattr(exc, "retriable", False):
                    raise
                delay = backoff.next()
                self.counters.retried += 1
                self._warn_retry(logging.WARNING, "connector %r: %s; retrying in %.2fs (nothing is acked meanwhile)",
                                 self.name, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)

    # --- the error policy ---------------------------------------------------------------------------

    async def _record_failed(
        self, event: Any, mark: PartitionWatermark, failure: RecordFailure, record: Record | None
    ) -> None:
        """Skip or dead-letter the record (and ack it) when the policy tolerates the failure, else stop."""
        if not self.policy.for_stage(failure.stage).tolerated:
            self._stop_on(failure, self.policy.setting)
            self._done(failure, record, "failed")
            return
        msg = event.message
        if self.dlq is not None:
            try:
                await self.dlq.send(failure, msg.key, msg.value, list(msg.headers or ()))
            except DeadLetterError as exc:
                stop = RecordFailure(failure.topic, failure.partition, failure.offset, "KAFKA_PRODUCE", exc,
                                     "DeadLetterQueueReporter")  # fmt: skip
                self._stop_on(stop, "its dead letter could not be written", hint=str(exc))
                self._done(failure, record, "failed")
                return
            self.counters.dead_lettered += 1
            fate, where = "dead_lettered", f"sent to dead-letter topic '{self.dlq.topic_name}'"
        else:
            self.counters.skipped += 1
            fate, where = "skipped", "skipped"
        if self.policy.log_each:
            extra = ""
            if self.policy.log_messages:
                extra = f" key={msg.key!r:.200} value={msg.value!r:.200}"
            self._log_failure(logging.WARNING, "connector %r: %s; %s (%s)%s", self.name, failure.describe(), where,
                              self.policy.setting, extra)  # fmt: skip
        self._complete(mark, failure.topic, failure.partition, failure.offset)
        self._done(failure, record, fate)

    def _done(self, failure: RecordFailure, record: Record | None, fate: str) -> None:
        if fate == "failed":
            self.counters.failed += 1
        if record is not None:
            self.record_done(record, fate)

    def _stop_on(self, failure: RecordFailure, why: str, *, hint: str | None = None) -> None:
        """The connector stops (FAILED); its record and all after it stay unacked."""
        if self.failure is not None:
            return
        self.failure = failure = failure.detached()
        logger.error(
            "connector %r stopped (%s): %s. The record is not acked: %s",
            self.name,
            why,
            failure.describe(),
            hint or self.policy.stop_hint,
        )

    # --- delivered offsets --------------------------------------------------------------------------

    def _complete(self, mark: PartitionWatermark, topic: str, partition: int, offset: int) -> None:
        if mark.complete(offset):
            self._offsets_behind.put((topic, partition), mark.value)


def _end_offset(app: Any, tp: Any) -> int | None:
    try:
        end = app.consumer.highwater(tp)
    except Exception:  # noqa: BLE001 -- not fetched yet
        return None
    return None if end is None or end < 0 else int(end)


def _tps(tps: set[Any]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(tps)) or "(none assigned here)"
