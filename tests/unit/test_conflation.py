"""Conflating dispatch: what is sent per key, and when replaced records are handed over to be acked."""

from __future__ import annotations

import asyncio

import pytest

from streamapp.core.conflation import ConflatingDispatcher


class Destination:
    """Each delivery waits for the test to confirm (True) or fail (False) it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.outcomes: dict[tuple[str, int], asyncio.Future[bool]] = {}
        self.conflated: list[list[tuple[str, int]]] = []
        self.arrived = asyncio.Condition()

    async def deliver(self, item: tuple[str, int]) -> bool:
        outcome = self.outcomes[item] = asyncio.get_running_loop().create_future()
        self.sent.append(item)
        async with self.arrived:
            self.arrived.notify_all()
        return await outcome

    def on_conflated(self, items: list[tuple[str, int]]) -> None:
        self.conflated.append(list(items))

    async def sent_to(self, item: tuple[str, int]) -> None:
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(lambda: item in self.outcomes)

    async def answer(self, item: tuple[str, int], confirmed: bool = True) -> None:
        await self.sent_to(item)
        self.outcomes[item].set_result(confirmed)


def dispatcher(dest: Destination, window: int = 10, hold: int = 100, max_defer: float = 0.25) -> ConflatingDispatcher:
    return ConflatingDispatcher(window, dest.deliver, dest.on_conflated, hold=hold, max_defer=max_defer)


async def in_flight(d: ConflatingDispatcher, dest: Destination, item: tuple[str, int]) -> None:
    """Submit ``item`` and wait until a worker has taken it: later records of its key are then pending."""
    await d.submit(item[0], item)
    await dest.sent_to(item)


async def test_records_waiting_for_a_worker_replace_each_other_too():
    dest = Destination()
    d = dispatcher(dest, window=1)
    for n in range(1, 5):
        await d.submit("a", ("a", n))  # no worker has run yet: each replaces the one before
    await dest.answer(("a", 4))
    assert await d.drain(5)
    assert dest.sent == [("a", 4)] and dest.conflated == [[("a", 1), ("a", 2), ("a", 3)]]


async def test_replaced_records_are_handed_over_only_once_their_replacement_is_confirmed():
    dest = Destination()
    d = dispatcher(dest)
    await in_flight(d, dest, ("a", 1))
    for n in range(2, 5):
        await d.submit("a", ("a", n))
    await dest.answer(("a", 1))
    await dest.sent_to(("a", 4))
    assert dest.sent == [("a", 1), ("a", 4)]  # 2 and 3 were replaced while 1 was in flight
    assert dest.conflated == [] and d.in_flight == 3  # 2, 3 held until 4 is confirmed
    await dest.answer(("a", 4))
    assert await d.drain(5)
    assert dest.conflated == [[("a", 2), ("a", 3)]] and d.in_flight == 0


async def test_a_record_arriving_after_its_replacement_went_out_is_sent_after_it():
    dest = Destination()
    d = dispatcher(dest)
    await in_flight(d, dest, ("a", 1))
    await d.submit("a", ("a", 2))
    await dest.answer(("a", 1))
    await dest.sent_to(("a", 2))
    await d.submit("a", ("a", 3))  # 2 is in flight: 3 is pending, it replaces nothing
    await dest.answer(("a", 2))
    await dest.answer(("a", 3))
    assert await d.drain(5)
    assert dest.sent == [("a", 1), ("a", 2), ("a", 3)] and dest.conflated == []


async def test_when_the_replacement_fails_the_newest_replaced_record_is_sent_and_holds_the_others():
    dest = Destination()
    d = dispatcher(dest)
    await in_flight(d, dest, ("a", 1))
    for n in range(2, 5):
        await d.submit("a", ("a", n))
    await dest.answer(("a", 1))
    await dest.answer(("a", 4), confirmed=False)  # skipped by the error policy, say
    await dest.answer(("a", 3))  # 3 replaces 2: not 4, which Diffusion never confirmed
    assert await d.drain(5)
    assert dest.sent == [("a", 1), ("a", 4), ("a", 3)]
    assert dest.conflated == [[("a", 2)]]


async def test_when_the_replacement_fails_a_newer_pending_record_takes_over_what_it_replaced():
    dest = Destination()
    d = dispatcher(dest)
    await in_flight(d, dest, ("a", 1))
    for n in range(2, 4):
        await d.submit("a", ("a", n))  # 2 replaced by 3
    await dest.answer(("a", 1))
    await dest.sent_to(("a", 3))
    await d.submit("a", ("a", 4))
    await d.submit("a", ("a", 5))  # 4 replaced by 5
    await dest.answer(("a", 3), confirmed=False)
    await dest.answer(("a", 5))
    assert await d.drain(5)
    assert dest.sent == [("a", 1), ("a", 3), ("a", 5)]
    assert dest.conflated == [[("a", 2), ("a", 4)]]  # acked with 5, oldest first


async def test_other_keys_are_not_delayed_by_a_busy_one():
    dest = Destination()
    d = dispatcher(dest, window=4, hold=1000)
    await in_flight(d, dest, ("a", 0))  # not answered until the end
    for n in range(1, 200):
        await d.submit("a", ("a", n))  # replace each other: no window slot taken
        await d.submit(f"b{n % 3}", (f"b{n % 3}", n))
        await dest.answer((f"b{n % 3}", n))
    await asyncio.sleep(0)
    assert [item for item in dest.sent if item[0] == "a"] == [("a", 0)]
    assert sum(1 for item in dest.sent if item[0] != "a") == 199
    await dest.answer(("a", 0))
    await dest.answer(("a", 199))
    assert await d.drain(5)
    assert dest.conflated[-1] == [("a", n) for n in range(1, 199)]


async def test_the_window_bounds_deliveries_in_flight_and_hold_what_waits_unacked():
    dest = Destination()
    d = dispatcher(dest, window=2, hold=2)
    await d.submit("a", ("a", 1))
    await dest.sent_to(("a", 1))
    await d.submit("b", ("b", 1))
    await dest.sent_to(("b", 1))  # both workers busy
    await d.submit("c", ("c", 1))  # in line for a worker; submit does not wait
    await d.submit("a", ("a", 2))  # pending behind 1: 2 records wait, the hold is full
    blocked = asyncio.create_task(d.submit("a", ("a", 3)))
    await asyncio.sleep(0.01)
    assert not blocked.done() and d.in_flight == 4 and dest.sent == [("a", 1), ("b", 1)]
    await dest.answer(("b", 1))  # the free worker takes c, first in line: room for 3, which replaces 2
    await asyncio.wait_for(blocked, 5)
    await dest.sent_to(("c", 1))
    await dest.answer(("a", 1))
    await dest.answer(("a", 3))
    await dest.answer(("c", 1))
    assert await d.drain(5) and d.in_flight == 0
    assert dest.sent == [("a", 1), ("b", 1), ("c", 1), ("a", 3)] and dest.conflated == [[("a", 2)]]


async def test_a_busy_key_takes_turns_with_the_others():
    dest = Destination()
    d = dispatcher(dest, window=1)
    await d.submit("a", ("a", 1))
    await dest.sent_to(("a", 1))
    await d.submit("b", ("b", 1))
    await d.submit("a", ("a", 2))
    await dest.answer(("a", 1))  # a has a record pending: it goes in line behind b
    await d.submit("a", ("a", 3))
    await dest.answer(("b", 1))
    await dest.answer(("a", 3))
    assert await d.drain(5)
    assert dest.sent == [("a", 1), ("b", 1), ("a", 3)] and dest.conflated == [[("a", 2)]]


async def test_abandon_drops_everything_unacked_and_leaves_nothing_behind():
    dest = Destination()
    d = dispatcher(dest)
    for n in range(1, 6):
        await d.submit("a", ("a", n))
    await d.submit("b", ("b", 1))
    assert await d.drain(0.01) is False
    assert await d.abandon() == 6
    assert d.in_flight == 0 and await d.drain(0) and dest.conflated == []
    await d.submit("a", ("a", 10))
    await dest.answer(("a", 10))
    assert await d.drain(5)


async def test_while_the_reader_is_behind_keys_wait_and_their_records_replace_each_other():
    dest = Destination()
    d = dispatcher(dest, max_defer=60)
    await in_flight(d, dest, ("a", 1))
    d.behind(True)
    await d.submit("a", ("a", 2))
    await d.submit("b", ("b", 1))
    await dest.answer(("a", 1))  # a's pending record is not sent while the reader is behind
    for n in range(3, 6):
        await d.submit("a", ("a", n))
        await d.submit("b", ("b", n))
    await asyncio.sleep(0.01)
    assert dest.sent == [("a", 1)]
    d.behind(False)  # caught up: the newest of each key goes out at once
    await dest.answer(("a", 5))
    await dest.answer(("b", 5))
    assert await d.drain(5)
    assert dest.sent == [("a", 1), ("b", 5), ("a", 5)]  # b got in line while a was in flight
    assert sorted(x for batch in dest.conflated for x in batch) == [
        ("a", 2),
        ("a", 3),
        ("a", 4),
        ("b", 1),
        ("b", 3),
        ("b", 4),
    ]


async def test_sends_wait_at_most_max_defer_while_the_reader_stays_behind():
    dest = Destination()
    d = dispatcher(dest, max_defer=0.05)
    d.behind(True)
    await d.submit("a", ("a", 1))
    loop = asyncio.get_running_loop()
    start = loop.time()
    await dest.answer(("a", 1))
    assert loop.time() - start >= 0.04
    d.behind(True)  # still behind: the next round waits again
    await d.submit("a", ("a", 2))
    await d.submit("a", ("a", 3))
    await dest.answer(("a", 3))
    assert await d.drain(5) and dest.sent == [("a", 1), ("a", 3)] and dest.conflated == [[("a", 2)]]


async def test_a_full_hold_and_a_drain_send_at_once_even_while_behind():
    dest = Destination()
    d = dispatcher(dest, hold=2, max_defer=60)
    d.behind(True)
    await d.submit("a", ("a", 1))
    await d.submit("b", ("b", 1))  # 2 pending: the hold is full
    blocked = asyncio.create_task(d.submit("c", ("c", 1)))
    await dest.answer(("a", 1))  # the reader waits for room: the keys are sent, not held 60 s
    await dest.answer(("b", 1))
    await asyncio.wait_for(blocked, 5)
    d.behind(True)
    draining = asyncio.create_task(d.drain(5))  # a rebalance or a shutdown: nothing more is read
    await dest.answer(("c", 1))
    assert await draining


def test_window_and_hold_must_be_positive():
    with pytest.raises(ValueError):
        ConflatingDispatcher(0, None, None, hold=1)
    with pytest.raises(ValueError):
        ConflatingDispatcher(1, None, None, hold=0)
