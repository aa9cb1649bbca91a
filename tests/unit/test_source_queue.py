"""The source's bounded conflating queue."""

from __future__ import annotations

import asyncio

from streamapp.diffusion.subscriber import ConflatingQueue, Update


def u(path: str, value, initial: bool = False) -> Update:
    return Update(path, "json", value, initial)


def test_fifo_below_capacity():
    q = ConflatingQueue(10)
    for i in range(5):
        q.put(u(f"p{i % 2}", i))
    assert [(x.path, x.value) for x in q.drain(100)] == [
        ("p0", 0),
        ("p1", 1),
        ("p0", 2),
        ("p1", 3),
        ("p0", 4),
    ]
    assert q.conflated == 0 and len(q) == 0


def test_drain_respects_the_limit_and_order():
    q = ConflatingQueue(100)
    for i in range(10):
        q.put(u("p", i))
    assert [x.value for x in q.drain(4)] == [0, 1, 2, 3]
    assert [x.value for x in q.drain(4)] == [4, 5, 6, 7]
    assert [x.value for x in q.drain(4)] == [8, 9]


def test_overflow_conflates_latest_value_per_path():
    q = ConflatingQueue(3)
    q.put(u("a", 1))
    q.put(u("b", 1))
    q.put(u("a", 2))  # full now
    q.put(u("a", 3))  # replaces a=2 (the last queued a)
    q.put(u("b", 2))  # replaces b=1
    q.put(u("a", 4))
    assert q.conflated == 3
    assert [(x.path, x.value) for x in q.drain(10)] == [("a", 1), ("b", 2), ("a", 4)]
    assert q.enqueued == 6


def test_overflow_bound_is_capacity_plus_one_per_path():
    q = ConflatingQueue(5)
    for round_ in range(100):
        for p in range(20):
            q.put(u(f"p{p}", round_))
    assert len(q) <= 5 + 20
    latest = {}
    for x in q.drain(1000):
        latest[x.path] = x.value
    assert latest == {f"p{p}": 99 for p in range(20)}  # the latest value of every path survives


def test_conflated_snapshot_is_no_longer_initial():
    q = ConflatingQueue(1)
    q.put(u("a", 1, initial=True))
    q.put(u("a", 2))
    (item,) = q.drain(10)
    assert item.value == 2 and item.initial is False


def test_wait_wakes_on_put_and_times_out():
    async def main():
        q = ConflatingQueue(10)
        assert await q.wait(0.01) is False
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, q.put, u("a", 1))
        assert await q.wait(5) is True
        q.drain(10)
        assert await q.wait(0.01) is False
        q.put(u("b", 1))
        q.clear()
        assert len(q) == 0 and await q.wait(0.01) is False

    asyncio.run(main())
