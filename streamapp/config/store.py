"""The config topic: connectors created through the REST API, and every connector's target state.

As distributed Kafka Connect keeps them (``config.storage.topic``): one compacted topic of one
partition, ``<app id>-streamapp-configs``, that every worker reads from the beginning when it
starts and follows while it runs. Records (keys are Connect's):

* ``connector-<name>``: ``{"name": ..., "config": {...}}``, the config exactly as it was given
  (config-provider placeholders unresolved: each worker resolves them itself); a tombstone (null
  value) when the connector is deleted.
* ``target-state-<name>``: ``{"state": "STARTED" | "PAUSED" | "STOPPED"}``, for API and file
  connectors alike; no record means STARTED.

A write is produced with ``acks=all`` and returns once this worker's follower has read it back
(read-your-writes, Connect's "read to the end of the config topic"), so an answer to a REST call
describes a state every later call on this worker sees. The follower is a plain aiokafka consumer
with no group: reading the topic never takes part in the workers' rebalances.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from streamapp.settings import WorkerSettings

__all__ = ["ConfigStore", "StoreUnavailable", "TargetState", "TARGET_STATES"]

logger = logging.getLogger(__name__)

TargetState = Literal["STARTED", "PAUSED", "STOPPED"]
TARGET_STATES: tuple[TargetState, ...] = ("STARTED", "PAUSED", "STOPPED")
_CONNECTOR = "connector-"
_TARGET = "target-state-"


class StoreUnavailable(RuntimeError):
    """The config topic cannot be read or written now (the message says why)."""


@dataclass(frozen=True)
class StoredConnector:
    name: str
    config: dict[str, Any]  # as given, placeholders unresolved


class ConfigStore:
    """This worker's copy of the config topic, and the way to write it."""

    write_timeout = 30.0  # s for a write to be acknowledged and read back

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.topic = f"{settings.app_id}-streamapp-configs"
        self.connectors: dict[str, StoredConnector] = {}
        self.targets: dict[str, TargetState] = {}
        self.position = 0  # next offset to read
        self.on_change: Callable[[], None] = lambda: None
        self._advanced: asyncio.Condition | None = None
        self._consumer: Any = None

    # --- reading ------------------------------------------------------------------------------------

    def target(self, name: str) -> TargetState:
        return self.targets.get(name, "STARTED")

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the topic, in order (also used by tests to build a store's state)."""
        if not key:
            return
        text = key.decode("utf-8", "replace")
        try:
            doc = json.loads(value) if value is not None else None
        except ValueError:
            logger.warning("config topic %s: record %r is not JSON; ignored", self.topic, text)
            return
        if text.startswith(_CONNECTOR):
            name = text[len(_CONNECTOR) :]
            if doc is None:
                self.connectors.pop(name, None)
            elif isinstance(doc, dict) and isinstance(doc.get("config"), dict):
                self.connectors[name] = StoredConnector(name, dict(doc["config"]))
        elif text.startswith(_TARGET):
            name = text[len(_TARGET) :]
            state = doc.get("state") if isinstance(doc, dict) else None
            if doc is None:
                self.targets.pop(name, None)
            elif state in TARGET_STATES:
                self.targets[name] = state

    def load(self) -> None:
        """Create the topic if needed and read it to its end; for a worker that is not running yet
        (Faust's loop is not started: this uses a loop of its own)."""
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._load())
        finally:
            loop.close()

    async def _load(self) -> None:
        await self.ensure_topic()
        consumer = self._new_consumer()
        await consumer.start()
        try:
            await self._read_to_end(consumer, seek=True)
        finally:
            await consumer.stop()

    async def ensure_topic(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        admin = AIOKafkaAdminClient(**self.settings.kafka_client_options())
        await admin.start()
        try:
            if self.topic in await admin.list_topics():
                return
            topic = NewTopic(
                self.topic,
                1,
                self.settings.topic_replication_factor,
                topic_configs={"cleanup.policy": "compact"},
            )
            try:
                await admin.create_topics([topic])
                logger.info("created the config topic %s", self.topic)
            except TopicAlreadyExistsError:
                pass  # another worker was first
        finally:
            await admin.close()

    def _new_consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(
            **self.settings.kafka_client_options(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    def _tp(self) -> Any:
        from aiokafka import TopicPartition

        return TopicPartition(self.topic, 0)

    async def _read_to_end(self, consumer: Any, *, seek: bool) -> None:
        tp = self._tp()
        if seek:
            consumer.assign([tp])
            consumer.seek(tp, self.position)
        end = (await consumer.end_offsets([tp]))[tp]
        while self.position < end:
            await self._read_batch(consumer, timeout_ms=1000)

    async def _read_batch(self, consumer: Any, timeout_ms: int) -> bool:
        batches = await consumer.getmany(timeout_ms=timeout_ms)
        records = [record for batch in batches.values() for record in batch]
        for record in records:
            self.apply(record.key, record.value)
            self.position = record.offset + 1
        if not records:
            # Compaction and transaction markers leave gaps: the position is the consumer's.
            self.position = max(self.position, await consumer.position(self._tp()))
        return bool(records)

    async def follow(self) -> None:
        """Read what the workers write, for as long as the worker runs (a Faust app task)."""
        self._advanced = asyncio.Condition()
        consumer = self._consumer = self._new_consumer()
        await consumer.start()
        try:
            tp = self._tp()
            consumer.assign([tp])
            consumer.seek(tp, self.position)
            while True:
                before = self.position
                try:
                    changed = await self._read_batch(consumer, timeout_ms=500)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- Kafka away for a while: keep following
                    logger.warning("config topic %s: cannot read (%s); retrying", self.topic, exc)
                    await asyncio.sleep(1.0)
                    continue
                if self.position != before:
                    async with self._advanced:
                        self._advanced.notify_all()
                if changed:
                    self.on_change()
        finally:
            self._consumer = None
            await consumer.stop()

    async def catch_up(self) -> None:
        """Wait until everything written to the topic so far is read (before deciding on a name)."""
        consumer = self._consumer
        if consumer is None:
            raise StoreUnavailable("the worker is starting: its config topic follower is not running yet")
        end = (await consumer.end_offsets([self._tp()]))[self._tp()]
        await self._wait_position(end)

    async def _wait_position(self, offset: int) -> None:
        condition = self._advanced
        if condition is None:
            raise StoreUnavailable("the worker is starting: its config topic follower is not running yet")
        try:
            async with asyncio.timeout(self.write_timeout):
                async with condition:
                    await condition.wait_for(lambda: self.position >= offset)
        except TimeoutError:
            raise StoreUnavailable(
                f"the config topic {self.topic} was not read up to offset {offset} within {self.write_timeout:.0f}s"
            ) from None

    # --- writing ------------------------------------------------------------------------------------

    async def _write(self, producer: Any, key: str, value: dict[str, Any] | None) -> None:
        data = None if value is None else json.dumps(value, separators=(",", ":")).encode()
        try:
            metadata = await asyncio.wait_for(
                producer.send_and_wait(self.topic, key.encode(), data, 0, None, None), self.write_timeout
            )
        except TimeoutError:
            raise StoreUnavailable(f"writing to the config topic {self.topic} timed out") from None
        except Exception as exc:
            raise StoreUnavailable(f"cannot write to the config topic {self.topic}: {exc}") from exc
        await self._wait_position(metadata.offset + 1)

    async def put_connector(
        self, producer: Any, name: str, config: dict[str, Any], target: TargetState | None = None
    ) -> None:
        """Create or replace; with ``target``, its target state is written first (as Connect does
        for ``initial_state``), so no worker starts a connector created STOPPED or PAUSED."""
        if target is not None:
            await self._write(producer, _TARGET + name, {"state": target})
        await self._write(producer, _CONNECTOR + name, {"name": name, "config": config})

    async def delete_connector(self, producer: Any, name: str) -> None:
        await self._write(producer, _CONNECTOR + name, None)
        if name in self.targets:
            await self._write(producer, _TARGET + name, None)

    async def put_target(self, producer: Any, name: str, state: TargetState) -> None:
        await self._write(producer, _TARGET + name, {"state": state})
