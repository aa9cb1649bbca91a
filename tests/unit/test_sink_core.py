"""The sink core in-process: a fake Faust stream and consumer, a destination the test controls.

What a worker-level test cannot pin down exactly: the order of acks, what the delivered-offset
table holds, the error policy's every branch, abandoning deliveries when Faust stops the flow, and
that the counters add up.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streamapp.config.files import RawConnectorConfig
from streamapp.config.loader import load_connector
from streamapp.core.policy import ErrorPolicy, StagePolicy
from streamapp.core.sink import Delivery, SinkConnector
from streamapp.data import Record
from streamapp.settings import load_settings

TOPIC = "in"


@dataclass(eq=False)
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)
    timestamp: float = 1.0
    acked: bool = False


class FakeEvent:
    def __init__(self, message: FakeMessage, acks: list) -> None:
        self.message = message
        self._acks = acks

    def ack(self) -> None:
        assert not self.message.acked, f"acked twice: {self.message.offset}"
        self.message.acked = True
        self._acks.append((self.message.partition, self.message.offset))


class FakeConsumer:
    """The parts of Faust's consumer the core reads (through faust_workarounds)."""

    def __init__(self) -> None:
        self.flow_active = True
        self.suspend_flow = asyncio.Event()
        self.can_resume_flow = asyncio.Event()
        self._unacked_messages: weakref.WeakSet = weakref.WeakSet()
        self._committed_offset: dict = {}

    def stop_flow(self) -> None:
        self.flow_active = False
        self.can_resume_flow.clear()
        self.suspend_flow.set()

    def resume_flow(self) -> None:
        self.flow_active = True
        self.suspend_flow.clear()
        self.can_resume_flow.set()

    def assignment(self) -> set:
        return set()


class FakeStream:
    """``stream.noack().noack_take(n, within)`` over batches the test feeds."""

    def __init__(self) -> None:
        self.batches: asyncio.Queue = asyncio.Queue()

    def noack(self) -> FakeStream:
        return self

    async def noack_take(self, size: int, within: float):
        while True:
            batch = await self.batches.get()
            if batch is None:
                return
            yield batch


class Destination(SinkConnector):
    """Delivers to a dict; each delivery waits until the test lets it through (or fails it)."""

    policy_override: ErrorPolicy | None = None

    def __init__(self, worker: Any, loaded: Any) -> None:
        super().__init__(worker, loaded)
        self.delivered: list[tuple[str, Any]] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.failures: dict[int, list[BaseException]] = {}  # offset -> errors to raise, in turn
        self.attempts: dict[int, int] = {}
        self.fates: list[tuple[int, str]] = []

    @property
    def window(self) -> int:
        return 10

    @property
    def conflate(self) -> bool:
        return self.config.diffusion_conflate

    def error_policy(self) -> ErrorPolicy:
        return self.policy_override or super().error_policy()

    def prepare(self, record: Record) -> Delivery:
        if record.value == {"bug": True}:
            raise ZeroDivisionError("a bug in the connector")
        return Delivery(record.key, record.value)

    async def deliver(self, delivery: Delivery, record: Record) -> None:
        self.attempts[record.offset] = self.attempts.get(record.offset, 0) + 1
        gate = self.gates.get(record.offset)
        if gate is not None:
            await gate.wait()
        errors = self.failures.get(record.offset)
        if errors:
            raise errors.pop(0)
        self.delivered.append((delivery.key, delivery.payload))

    def record_done(self, record: Record, fate: str) -> None:
        self.fates.append((record.offset, fate))


class Retriable(Exception):
    retriable = True


def make_sink(
    tmp_path, *, tolerance: str = "none", policy: ErrorPolicy | None = None, delivered: int = -1, conflate: bool = False
):
    config = {
        "name": "core",
        "connector.class": "diffusion-sink",
        "topics": TOPIC,
        "diffusion.url": "ws://127.0.0.1:1",
        "diffusion.username": "u",
        "diffusion.password": "p",
        "diffusion.destination": "x/${key}",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter.schemas.enable": "false",
        "errors.tolerance": tolerance,
        "diffusion.conflate": str(conflate).lower(),
    }
    loaded = load_connector(RawConnectorConfig(str(tmp_path / "core.json"), config))
    consumer = FakeConsumer()
    table: dict = {}
    if delivered >= 0:
        table[json.dumps(["core", TOPIC, 0])] = delivered
    worker = SimpleNamespace(
        app=SimpleNamespace(consumer=consumer),
        settings=load_settings(broker_rebalance_timeout=1.0, _env_file=None),
        delivered_offsets=table,
        observe_delivery=lambda name, seconds: None,
    )
    Destination.policy_override = policy
    sink = Destination(worker, loaded)
    sink.shutdown_grace = 0.5
    return sink, consumer, table


def events(acks: list, offsets: range, partition: int = 0, key=lambda o: f"k{o % 3}", value=None) -> list[FakeEvent]:
    out = []
    for offset in offsets:
        body = json.dumps(value(offset) if value else {"n": offset}).encode()
        out.append(FakeEvent(FakeMessage(TOPIC, partition, offset, key(offset).encode(), body), acks))
    return out


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition still false"
        await asyncio.sleep(0.005)


async def settle(sink: Destination) -> None:
    assert await sink.dispatcher.drain(5)
    await asyncio.sleep(sink.offset_flush_interval * 2)  # the delivered-offset write-behind


async def test_records_are_delivered_concurrently_per_key_but_acked_in_offset_order(tmp_path):
    sink, _, table = make_sink(tmp_path)
    acks: list = []
    gate = sink.gates[0] = asyncio.Event()  # k0's first record waits; k1 and k2 go on
    for event in events(acks, range(6)):
        await sink._handle(event)
    await until(lambda: len(sink.delivered) == 4)
    assert sorted(p["n"] for _, p in sink.delivered) == [1, 2, 4, 5]  # 3 waits behind 0 (same key k0)
    # Confirmed, but not acked: Faust would commit past record 0, still in flight.
    assert acks == [] and table == {}
    gate.set()
    await settle(sink)
    assert acks == [(0, o) for o in range(6)]  # in offset order
    assert [key for key, _ in sink.delivered if key == "k0"] == ["k0", "k0"]
    assert [p for k, p in sink.delivered if k == "k0"] == [{"n": 0}, {"n": 3}]  # per key: Kafka order
    assert table == {json.dumps(["core", TOPIC, 0]): 5}
    c = sink.counters
    assert (c.records_in, c.delivered, c.in_flight) == (6, 6, 0)


async def test_records_at_or_below_the_delivered_offset_are_acked_without_delivering_them(tmp_path):
    sink, _, _ = make_sink(tmp_path, delivered=3)
    acks: list = []
    for event in events(acks, range(6)):
        await sink._handle(event)
    await settle(sink)
    assert [p["n"] for _, p in sink.delivered] == [4, 5]
    assert sorted(acks) == [(0, o) for o in range(6)]
    assert (sink.counters.already_delivered, sink.counters.records_in) == (4, 2)


async def test_tolerance_none_stops_the_connector_with_the_record_unacked(tmp_path):
    sink, _, table = make_sink(tmp_path)
    acks: list = []
    sink.failures[2] = [ValueError("the destination refused it")]
    for event in events(acks, range(3)):
        await sink._handle(event)
    await settle(sink)
    assert sink.state == "FAILED" and sink.failure is not None
    assert sink.failure.stage == "TASK_PUT" and "refused it" in sink.failure.describe()
    assert (0, 2) not in acks and sorted(acks) == [(0, 0), (0, 1)]
    assert table == {json.dumps(["core", TOPIC, 0]): 1}  # never past the failed record
    more = events(acks, range(3, 5))
    for event in more:  # the agent keeps dropping records once stopped; here the core refuses them
        await sink._handle(event)
    await settle(sink)
    assert not any(e.message.acked for e in more)
    status = sink.status()
    assert status.state == "FAILED" and "refused it" in status.trace and "Traceback" in status.trace
    assert status.counters.failed == 1


async def test_tolerance_all_skips_and_acks_and_the_counts_add_up(tmp_path):
    sink, _, table = make_sink(tmp_path, tolerance="all")
    acks: list = []
    sink.failures[1] = [ValueError("refused")]
    bad = FakeEvent(FakeMessage(TOPIC, 0, 2, b"k2", b"{not json"), acks)  # a converter error
    for event in [*events(acks, range(2)), bad, *events(acks, range(3, 5))]:
        await sink._handle(event)
    await settle(sink)
    assert sorted(acks) == [(0, o) for o in range(5)]
    assert table == {json.dumps(["core", TOPIC, 0]): 4}
    c = sink.counters
    assert (c.records_in, c.delivered, c.skipped, c.failed, c.dead_lettered) == (5, 3, 2, 0, 0)
    assert c.records_in == c.delivered + c.failed + c.dead_lettered + c.skipped + c.conflated + c.in_flight
    # record_done gets every record that became a Record (the converter failure at 2 never did)
    assert sorted(sink.fates) == [(0, "delivered"), (1, "skipped"), (3, "delivered"), (4, "delivered")]


async def test_a_retry_policy_tries_again_then_stops_and_transient_errors_wait_without_counting(tmp_path):
    policy = ErrorPolicy(StagePolicy(), StagePolicy(retries=2, retry_interval=0.001), setting="test=RETRY")
    sink, _, _ = make_sink(tmp_path, policy=policy)
    acks: list = []
    sink.failures[0] = [Retriable("session lost"), Retriable("session lost"), ValueError("no"), ValueError("no")]
    sink.failures[1] = [ValueError("no")] * 3
    for event in events(acks, range(2), key=lambda o: f"k{o}"):
        await sink._handle(event)
    await settle(sink)
    assert sink.attempts[0] == 5 and (0, 0) in acks  # 2 transient waits, 2 failures retried, then delivered
    assert sink.attempts[1] == 3 and (0, 1) not in acks  # the first try and 2 retries, then stop
    assert sink.state == "FAILED" and "gave up after 2 retries" in sink.failure.describe()
    assert sink.counters.retried == 2 + 2 + 2


async def test_a_bug_stops_only_its_connector_visibly(tmp_path):
    sink, consumer, _ = make_sink(tmp_path)
    stream = FakeStream()
    agent = asyncio.create_task(sink._agent(stream))
    acks: list = []
    batch = events(acks, range(3), value=lambda o: {"bug": True} if o == 1 else {"n": o})
    await stream.batches.put(batch)
    await until(lambda: sink.state == "FAILED")
    await sink.dispatcher.drain(5)
    assert sink.state == "FAILED" and "ZeroDivisionError: a bug in the connector" in sink.failure.describe()
    # Nothing after the stop is acked: not the bug's record, not the ones after it, not even the one
    # before it that was still in flight (it is delivered again after the restart, at least once).
    assert acks == []
    await stream.batches.put(None)
    await asyncio.wait_for(agent, 5)
    assert sink.status().state == "FAILED"


async def test_when_faust_stops_the_flow_unconfirmed_deliveries_are_abandoned_unacked_and_released(tmp_path):
    sink, consumer, _ = make_sink(tmp_path)
    stream = FakeStream()
    agent = asyncio.create_task(sink._agent(stream))
    acks: list = []
    sink.gates[1] = asyncio.Event()  # never opened: a destination that hangs
    batch = events(acks, range(3), key=lambda o: "same")
    for event in batch:
        consumer._unacked_messages.add(event.message)
    await stream.batches.put(batch)
    await until(lambda: acks == [(0, 0)] and sink.attempts.get(1) == 1)
    consumer.stop_flow()  # a rebalance: deliveries get min(shutdown grace, rebalance timeout / 2)
    await until(lambda: sink.dispatcher.in_flight == 0)
    assert acks == [(0, 0)]  # abandoned, nothing acked
    await until(lambda: {m.offset for m in consumer._unacked_messages} == {0})  # Faust no longer waits for 1 and 2
    sink.gates[1].set()  # the late confirmation of an abandoned delivery changes nothing
    await asyncio.sleep(0.05)
    assert acks == [(0, 0)]
    consumer.resume_flow()
    sink.gates.clear()
    again = events(acks, range(1, 3), key=lambda o: "same")  # Faust reads them again from the committed offset
    await stream.batches.put(again)
    await until(lambda: len(acks) == 3)
    assert acks == [(0, 0), (0, 1), (0, 2)] and sink.state == "RUNNING"
    await stream.batches.put(None)
    await asyncio.wait_for(agent, 5)


@pytest.mark.parametrize("paused", [True, False])
async def test_pause_holds_the_assigned_partitions_in_the_consumer(tmp_path, paused):
    sink, consumer, _ = make_sink(tmp_path)
    tp = TP(TOPIC, 0)
    calls: list = []
    consumer.assignment = lambda: {tp}
    consumer.pause_partitions = lambda tps: calls.append(("pause", set(tps)))
    consumer.resume_partitions = lambda tps: calls.append(("resume", set(tps)))
    sink._state = "RUNNING"
    sink.set_paused(True)
    sink.set_paused(True)  # idempotent, and applied again (Faust resumes partitions on its own)
    if not paused:
        sink.set_paused(False)
    assert calls[:2] == [("pause", {tp}), ("pause", {tp})]
    assert sink.status().state == ("PAUSED" if paused else "RUNNING")
    assert calls[2:] == ([] if paused else [("resume", {tp})])
