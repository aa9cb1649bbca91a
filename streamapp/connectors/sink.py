"""The sink side of every connector: Kafka records in, confirmed deliveries out, at least once.

One Faust agent per connector reads the connector's topics with ``noack().noack_take(...)`` (see
faust-notes 1.8: a plain ``async for`` acks on exceptions). Each event is acked only when the
destination confirmed it, or when an explicit error policy handled it (skip / dead letter). A
record error under ``errors.tolerance=none`` stops the connector with the record unacked, so the
committed offset never passes it.

Before a rebalance and on shutdown Faust stops the flow of records and then waits until every
record it handed out is acked or garbage. Deliveries in flight get ``revoke_grace`` seconds to
finish; the rest are abandoned unacked and every reference to them dropped, so a destination that
is down can neither stall a rebalance nor hang a shutdown. Faust seeks back to the committed
offsets when the flow resumes; the delivered-offset table keeps what was delivered since the last
commit from being delivered again.

Subclasses say how a record becomes a delivery (``prepare``: ordering key and payload) and how a
delivery is made (``deliver``), and own their client's lifecycle (``start_client``/``stop_client``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Hashable

from streamapp.config.loader import LoadedConnector
from streamapp.converters import ConversionError, make_converter
from streamapp.converters.base import retry_prepare
from streamapp.faust_workarounds import release_unacked
from streamapp.ops.metrics import observe_delivery
from streamapp.records import Record, RecordError

from .delivery import OrderedDispatcher, PartitionWatermark
from .offsets import DeliveredOffsets
from .record_errors import DeadLetterQueue, RecordFailure

__all__ = ["SinkConnector", "SinkCounters", "RecordError"]

logger = logging.getLogger(__name__)


@dataclass
class SinkCounters:
    records_in: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # tolerated errors without a dead-letter topic
    already_delivered: int = 0  # replayed records at or below the delivered offset
    latency_ms: list[float] = field(default_factory=list, repr=False)


@dataclass(slots=True)
class _Pending:
    event: Any
    topic: str
    partition: int
    offset: int
    key: Hashable
    payload: Any
    record: Record
    received: float
    mark: PartitionWatermark
    epoch: int  # SinkConnector._epoch when queued; an older epoch was abandoned


class SinkConnector:
    """Base class; one instance per configured sink connector in this worker."""

    batch_size = 500
    batch_linger = 0.005  # s; how long noack_take waits to fill a batch
    retry_backoff_initial = 0.05
    retry_backoff_max = 5.0
    offset_flush_interval = 0.025  # s between delivered-offset table writes (see _complete)
    shutdown_grace = 10.0  # s to finish in-flight deliveries on stop before abandoning them (unacked)

    def __init__(self, app: Any, loaded: LoadedConnector, settings: Any) -> None:
        self.app = app
        self.loaded = loaded
        self.name = loaded.name
        self.config = loaded.config
        self.settings = settings
        self.counters = SinkCounters()
        self.state = "UNASSIGNED"
        self.paused = False  # set by streamapp.ops, which pauses the topic partitions in the consumer
        self.failure: RecordFailure | None = None
        self.key_converter = make_converter(self.config.key_converter, loaded.key_converter_options, is_key=True)
        self.value_converter = make_converter(self.config.value_converter, loaded.value_converter_options, is_key=False)
        # Async hooks of converters that fetch before converting (Avro: writer schemas by id).
        self._key_hook = getattr(self.key_converter, "prepare_to_connect", None)
        self._value_hook = getattr(self.value_converter, "prepare_to_connect", None)
        self.offsets = DeliveredOffsets(app, self.name)
        self.dispatcher: OrderedDispatcher[_Pending] = OrderedDispatcher(self.window, self._deliver)
        self._marks: dict[tuple[str, int], PartitionWatermark] = {}
        self._dirty: dict[tuple[str, int], PartitionWatermark] = {}
        self._flush_scheduled = False
        self._epoch = 0
        self._stopping: asyncio.Future[None] | None = None
        self._last_warning = 0.0
        self.dlq: DeadLetterQueue | None = None
        dlq_name = self.config.errors_deadletterqueue_topic_name
        if dlq_name:
            replicas = self.config.errors_deadletterqueue_topic_replication_factor
            self.dlq = DeadLetterQueue(
                app,
                dlq_name,
                connector=self.name,
                replicas=settings.topic_replication_factor if replicas in (None, -1) else replicas,
                context_headers=self.config.errors_deadletterqueue_context_headers_enable,
            )

    # --- for subclasses -----------------------------------------------------------------------------

    @property
    def window(self) -> int:
        return 100

    async def start_client(self) -> None:
        """Open connections to the destination."""

    async def stop_client(self) -> None:
        """Close connections to the destination."""

    def prepare(self, record: Record) -> tuple[Hashable, Any]:
        """(ordering key, payload) for a record; raise RecordError (or ValueError) if it cannot be mapped."""
        raise NotImplementedError

    async def deliver(self, key: Hashable, payload: Any, record: Record) -> None:
        """Deliver and wait for confirmation. Raise an exception with ``retriable=True`` to retry."""
        raise NotImplementedError

    # --- wiring -------------------------------------------------------------------------------------

    def install(self) -> None:
        app = self.app
        if self.config.topics:
            self.source = app.topic(*self.config.topics, key_serializer="raw", value_serializer="raw")
            self.reads = frozenset(self.config.topics).__contains__
        else:
            pattern = re.compile(self.config.topics_regex)
            self.source = app.topic(pattern=pattern, key_serializer="raw", value_serializer="raw")
            self.reads = lambda topic: pattern.fullmatch(topic) is not None
        app.agent(self.source, name=f"streamapp.connector.{self.name}")(self._agent)

        @app.on_before_shutdown.connect
        async def _before_shutdown(sender: Any, **_: Any) -> None:
            if self.state != "UNASSIGNED":  # started
                await self._shutdown()

    @property
    def revoke_grace(self) -> float:
        """Seconds deliveries in flight may take to finish once Faust stops the flow."""
        # Bounded by the rebalance timeout: the group waits for this worker to rejoin.
        return min(self.shutdown_grace, self.settings.broker_rebalance_timeout / 2)

    async def _agent(self, stream: Any) -> None:
        await self._start()
        follower = asyncio.create_task(self._follow_flow(), name=f"{self.name} flow")
        consumer = self.app.consumer
        event = None
        try:
            async for events in stream.noack().noack_take(self.batch_size, within=self.batch_linger):
                for event in events:
                    # Faust's own flag, not a copy: what arrives while the flow is stopped, Faust
                    # reads again after the seek that precedes resuming it.
                    if self.failure is None and consumer.flow_active:
                        await self._handle(event)
                    # else: dropped unacked (a stopped connector, or the flow stopped); it is
                    # consumed again from the committed offset after the restart or rebalance.
                # No reference may outlive the batch: Faust waits for unacked events to be garbage.
                events = event = None
        finally:
            follower.cancel()
            await self._shutdown()

    async def _follow_flow(self) -> None:
        consumer = self.app.consumer
        while True:
            await consumer.suspend_flow.wait()
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
            release_unacked(self.app, self.reads)
            self._flush_offsets()
            self._marks.clear()  # rebuilt from the delivered-offset table for what is read next
            await consumer.can_resume_flow.wait()

    async def _start(self) -> None:
        self.state = "STARTING"
        if self.dlq is not None:
            await self.dlq.start()
        await self.start_client()
        self.state = "RUNNING"

    async def _shutdown(self) -> None:
        """Stop once, from whichever asks first: Faust's ``on_before_shutdown`` (which Faust awaits,
        after it stopped the consumer and before it flushes the producer and stops the agents) or
        the agent ending. Awaited by both; the agent may be cancelled meanwhile, the stop goes on."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop_once())
        await asyncio.shield(self._stopping)

    async def _stop_once(self) -> None:
        drained = await self.dispatcher.drain(self.shutdown_grace)
        if not drained:
            self._epoch += 1
            count = await self.dispatcher.abandon()
            logger.warning(
                "connector %r: %d deliveries still unconfirmed after %.0fs; abandoned unacked "
                "(they are delivered again after the restart)",
                self.name,
                count,
                self.shutdown_grace,
            )
        self._flush_offsets()
        await self.stop_client()
        for converter in (self.key_converter, self.value_converter):
            close = getattr(converter, "close", None)
            if close is not None:
                await close()
        if self.state != "FAILED":
            self.state = "STOPPED"

    # --- the record path ----------------------------------------------------------------------------

    async def _handle(self, event: Any) -> None:
        msg = event.message
        topic, partition, offset = msg.topic, msg.partition, msg.offset
        self.counters.records_in += 1
        mark = self._marks.get((topic, partition))
        if mark is None:
            delivered = self.offsets.get(topic, partition)
            mark = self._marks[(topic, partition)] = PartitionWatermark(delivered)
            logger.info(
                "connector %r: reading %s/%d from offset %d (delivered up to %d)",
                self.name, topic, partition, offset, delivered,
            )
        if offset <= mark.value:
            self.counters.already_delivered += 1
            event.ack()
            return
        stage = "KEY_CONVERTER"
        try:
            if self._key_hook is not None:
                await retry_prepare(self._key_hook, topic, msg.key, self._waiting)
            key = self.key_converter.to_connect(topic, msg.key)
            stage = "VALUE_CONVERTER"
            if self._value_hook is not None:
                await retry_prepare(self._value_hook, topic, msg.value, self._waiting)
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
            stage = "MAPPING"
            dest, payload = self.prepare(record)
        except (ConversionError, RecordError, ValueError, TypeError) as exc:
            mark.track(offset)
            failure = RecordFailure(topic, partition, offset, stage, exc)
            if await self._record_failed(event, failure):
                self._complete(mark, topic, partition, offset)
            return
        mark.track(offset)
        await self.dispatcher.submit(
            dest, _Pending(event, topic, partition, offset, dest, payload, record, time.monotonic(), mark, self._epoch)
        )

    async def _deliver(self, item: _Pending) -> None:
        if item.epoch != self._epoch or self.failure is not None:
            return  # abandoned, or the connector stopped: left unacked
        delay = self.retry_backoff_initial
        while True:
            try:
                await self.deliver(item.key, item.payload, item.record)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if getattr(exc, "retriable", False):
                    self.counters.retried += 1
                    self._warn_retry(exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_backoff_max)
                    continue
                failure = RecordFailure(item.topic, item.partition, item.offset, "DELIVERY", exc)
                if not await self._record_failed(item.event, failure):
                    return  # connector stopped; record stays unacked
                self._complete(item.mark, item.topic, item.partition, item.offset)
                return
        item.event.ack()
        self.counters.delivered += 1
        elapsed = time.monotonic() - item.received
        observe_delivery(self.app, self.name, elapsed)
        latencies = self.counters.latency_ms
        latencies.append(elapsed * 1000)
        if len(latencies) > 10000:
            del latencies[:5000]
        self._complete(item.mark, item.topic, item.partition, item.offset)

    def _waiting(self, exc: BaseException, delay: float) -> None:
        """A converter's registry is unreachable: the record waits, unacked (and so does the partition)."""
        self.counters.retried += 1
        self._warn_retry(exc, delay)

    def _warn_retry(self, exc: BaseException, delay: float) -> None:
        now = time.monotonic()
        if now - self._last_warning > 5:  # one line per 5 s, not one per record
            self._last_warning = now
            logger.warning("connector %r: %s; retrying in %.2fs (nothing is acked meanwhile)", self.name, exc, delay)

    async def _record_failed(self, event: Any, failure: RecordFailure) -> bool:
        """Apply the error policy; True if the record was handled (and acked), False if the connector stopped."""
        self.counters.failed += 1
        config = self.config
        if config.errors_tolerance == "none":
            self.failure = failure = failure.detached()
            self.state = "FAILED"
            logger.error(
                "connector %r stopped: %s. The record is not acked: fix the cause and restart the worker, "
                "or set errors.tolerance=all (with errors.deadletterqueue.topic.name to keep such records).",
                self.name,
                failure.describe(),
            )
            return False
        if config.errors_log_enable:
            extra = ""
            if config.errors_log_include_messages:
                extra = f" key={event.message.key!r:.200} value={event.message.value!r:.200}"
            logger.error("connector %r: %s%s", self.name, failure.describe(), extra)
        if self.dlq is not None:
            msg = event.message
            await self.dlq.send(failure, msg.key, msg.value, list(msg.headers or ()))
            self.counters.dead_lettered += 1
        else:
            self.counters.skipped += 1
        event.ack()
        return True

    # --- delivered offsets --------------------------------------------------------------------------

    def _complete(self, mark: PartitionWatermark, topic: str, partition: int, offset: int) -> None:
        if mark.complete(offset):
            self._dirty[(topic, partition)] = mark
            if not self._flush_scheduled:
                # Coalesce: one table write per partition per interval. Each write is a changelog
                # record produced and consumed back by every worker (a GlobalTable); per-record writes
                # cost ~15% of the sink's CPU. What completes within the interval before a crash is
                # delivered again after the restart, like what was in flight.
                self._flush_scheduled = True
                asyncio.get_running_loop().call_later(self.offset_flush_interval, self._flush_offsets)

    def _flush_offsets(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        for (topic, partition), mark in dirty.items():
            try:
                self.offsets.set(topic, partition, mark.value)
            except Exception as exc:  # the table is an optimisation: never fail a delivery for it
                logger.warning(
                    "connector %r: cannot record delivered offset of %s/%d: %s", self.name, topic, partition, exc
                )
