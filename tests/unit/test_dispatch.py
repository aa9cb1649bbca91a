"""Ordered, bounded dispatch and delivered watermarks."""

from __future__ import annotations

import asyncio
import random

import pytest

from streamapp.core.dispatch import OrderedDispatcher, PartitionWatermark


async def test_same_key_in_order_different_keys_in_parallel():
    log: list[tuple[str, int]] = []
    running: set[str] = set()
    overlap = []

    async def deliver(item):
        key, n = item
        assert key not in running, "two deliveries of one key ran at once"
        running.add(key)
        overlap.append(len(running))
        await asyncio.sleep(random.random() / 1000)
        running.discard(key)
        log.append(item)

    dispatcher = OrderedDispatcher(8, deliver)
    for n in range(200):
        key = f"k{n % 5}"
        await dispatcher.submit(key, (key, n))
    assert await dispatcher.drain(5)
    for key in {k for k, _ in log}:
        seq = [n for k, n in log if k == key]
        assert seq == sorted(seq) and len(seq) == 40
    assert max(overlap) > 1  # keys did run concurrently


async def test_window_bounds_in_flight():
    gate = asyncio.Event()
    started = 0

    async def deliver(item):
        nonlocal started
        started += 1
        await gate.wait()

    dispatcher = OrderedDispatcher(3, deliver)
    for n in range(3):
        await dispatcher.submit(n, n)
    blocked = asyncio.create_task(dispatcher.submit(99, 99))
    await asyncio.sleep(0.01)
    assert not blocked.done() and dispatcher.in_flight == 3
    gate.set()
    await asyncio.wait_for(blocked, 1)
    assert await dispatcher.drain(1) and started == 4 and dispatcher.in_flight == 0


async def test_drain_times_out_and_abandon_frees_the_window_for_new_deliveries():
    delivered = []

    async def deliver(item):
        if item < 10:
            await asyncio.sleep(10)  # a destination that does not answer
        delivered.append(item)

    dispatcher = OrderedDispatcher(2, deliver)
    await dispatcher.submit("a", 1)
    await dispatcher.submit("a", 2)  # queued behind 1; the window (2) is now full
    blocked = asyncio.create_task(dispatcher.submit("b", 3))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert await dispatcher.drain(0.05) is False
    assert await dispatcher.abandon() == 2
    await blocked  # a slot was freed
    await dispatcher.abandon()
    assert dispatcher.in_flight == 0 and await dispatcher.drain(0)
    await dispatcher.submit("a", 10)  # the abandoned chain of "a" left nothing behind
    await dispatcher.submit("a", 11)
    assert await dispatcher.drain(1)
    assert delivered == [10, 11]


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        OrderedDispatcher(0, None)


@pytest.mark.parametrize(
    "order,expected",
    [
        ([5, 6, 7], [5, 6, 7]),
        ([6, 5, 7], [4, 6, 7]),
        ([7, 6, 5], [4, 4, 7]),
        ([5, 7, 6], [5, 5, 7]),
    ],
)
def test_watermark_follows_contiguous_completions(order, expected):
    mark = PartitionWatermark(4)
    for offset in (5, 6, 7):
        mark.track(offset)
    seen = []
    for offset in order:
        mark.complete(offset)
        seen.append(mark.value)
    assert seen == expected and mark.pending == 0


def test_watermark_with_gaps_in_offsets():
    mark = PartitionWatermark()
    for offset in (10, 13, 20):  # compaction leaves gaps
        mark.track(offset)
    assert mark.complete(13) is False and mark.value == -1
    assert mark.complete(10) is True and mark.value == 13
    assert mark.complete(20) is True and mark.value == 20


def test_watermark_acks_in_offset_order_whatever_the_completion_order():
    # Faust commits past an unacked record when a later one is acked (faust_workarounds guard test).
    mark = PartitionWatermark(-1)
    acked: list[int] = []
    for offset in (0, 1, 2, 3):
        mark.track(offset, lambda offset=offset: acked.append(offset))
    mark.complete(2)
    mark.complete(1)
    assert acked == []  # record 0 still in flight: nothing after it is acked
    mark.complete(0)
    assert acked == [0, 1, 2]
    mark.complete(3)
    assert acked == [0, 1, 2, 3] and mark.value == 3


def test_watermark_never_acks_past_a_record_that_does_not_complete():
    mark = PartitionWatermark(9)
    acked: list[int] = []
    for offset in (10, 11, 12):
        mark.track(offset, lambda offset=offset: acked.append(offset))
    mark.complete(11)
    mark.complete(12)  # 10 failed and stopped the connector, or was abandoned: never completes
    assert acked == [] and mark.value == 9 and mark.pending == 3
