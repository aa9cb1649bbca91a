"""``diffusion.conflate=true`` in the sink core: what is acked when, what the table and the counters say."""

from __future__ import annotations

import asyncio
import json

from tests.unit.test_sink_core import TOPIC, events, make_sink, settle, until

KEY = "k"


def keyed(offset: int) -> str:
    return "other" if offset == 5 else KEY  # 0-4 update one topic, 5 another


async def handle_with_the_first_in_flight(sink, evs) -> None:
    """The first record is being delivered when the others arrive: they wait behind it, pending."""
    await sink._handle(evs[0])
    await until(lambda: sink.attempts.get(0) == 1)
    for event in evs[1:]:
        await sink._handle(event)


async def test_replaced_records_are_acked_only_once_the_newer_value_is_confirmed(tmp_path):
    sink, _, table = make_sink(tmp_path, conflate=True)
    acks: list = []
    first = sink.gates[0] = asyncio.Event()
    newest = sink.gates[4] = asyncio.Event()
    await handle_with_the_first_in_flight(sink, events(acks, range(6), key=keyed))
    await until(lambda: ("other", {"n": 5}) in sink.delivered)  # the other topic is not held up...
    assert acks == []  # ...but acked only after every record before it (offset order)
    first.set()
    await until(lambda: sink.attempts.get(4) == 1)
    assert acks == [(0, 0)]  # 1, 2 and 3 were replaced by 4, which is not confirmed yet
    await asyncio.sleep(sink.offset_flush_interval * 2)
    assert table == {json.dumps(["core", TOPIC, 0]): 0}
    newest.set()
    await settle(sink)
    assert acks == [(0, o) for o in range(6)]
    assert [p["n"] for k, p in sink.delivered if k == KEY] == [0, 4]  # 1, 2, 3 never sent
    assert table == {json.dumps(["core", TOPIC, 0]): 5}
    c = sink.status().counters
    assert (c.records_in, c.delivered, c.conflated, c.in_flight) == (6, 3, 3, 0)
    assert sorted(fate for offset, fate in sink.fates if offset in (1, 2, 3)) == ["conflated"] * 3


async def test_when_the_newer_value_fails_and_the_connector_stops_the_records_it_replaced_stay_unacked(tmp_path):
    sink, _, table = make_sink(tmp_path, conflate=True)
    acks: list = []
    first = sink.gates[0] = asyncio.Event()
    sink.failures[4] = [ValueError("refused")]
    await handle_with_the_first_in_flight(sink, events(acks, range(5), key=keyed))
    first.set()
    await until(lambda: sink.state == "FAILED")
    await settle(sink)
    assert acks == [(0, 0)]  # 4 failed: nothing it replaced is acked
    assert table == {json.dumps(["core", TOPIC, 0]): 0}
    c = sink.counters
    assert (c.delivered, c.failed, c.conflated, c.in_flight) == (1, 1, 0, 3)


async def test_when_the_newer_value_is_skipped_the_records_it_replaced_are_delivered_after_all(tmp_path):
    sink, _, table = make_sink(tmp_path, conflate=True, tolerance="all")
    acks: list = []
    first = sink.gates[0] = asyncio.Event()
    sink.failures[4] = [ValueError("refused")]
    await handle_with_the_first_in_flight(sink, events(acks, range(5), key=keyed))
    first.set()
    await settle(sink)
    assert [p["n"] for _, p in sink.delivered] == [0, 3]  # 3 is the newest value Diffusion accepted
    assert acks == [(0, o) for o in range(5)]  # 4 skipped; 1 and 2 conflated into 3; in offset order
    assert table == {json.dumps(["core", TOPIC, 0]): 4}
    c = sink.counters
    assert (c.records_in, c.delivered, c.skipped, c.conflated, c.in_flight) == (5, 2, 1, 2, 0)


async def test_without_conflation_every_record_is_delivered_in_order(tmp_path):
    sink, _, _ = make_sink(tmp_path)
    acks: list = []
    first = sink.gates[0] = asyncio.Event()
    await handle_with_the_first_in_flight(sink, events(acks, range(5), key=keyed))
    first.set()
    await settle(sink)
    assert [p["n"] for _, p in sink.delivered] == [0, 1, 2, 3, 4] and sink.counters.conflated == 0
