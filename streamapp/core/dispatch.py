"""Bounded, per-key ordered delivery, and the watermark of what has been delivered per partition.

A sink hands each record to :class:`OrderedDispatcher` with an ordering key (the Diffusion topic
path, the CoAP resource). At most ``window`` deliveries are in flight; deliveries that share a key
run one after another in submission (Kafka) order, which is what keeps a Diffusion topic's value
from being overwritten by an older record. Different keys proceed in parallel.

:class:`PartitionWatermark` turns out-of-order completions into "every offset up to N is
delivered", the value the delivered-offset table stores. Worked example: offsets 5, 6, 7 are
pending; 6 completes (watermark stays 4), then 5 (watermark 6), then 7 (watermark 7).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["OrderedDispatcher", "PartitionWatermark", "wait_set"]


async def wait_set(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set; False if ``timeout`` passed first (a dispatcher's drain)."""
    if event.is_set():
        return True
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


T = TypeVar("T")


class OrderedDispatcher(Generic[T]):
    def __init__(self, window: int, deliver: Callable[[T], Awaitable[None]]) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self._slots = asyncio.Semaphore(window)
        self._deliver = deliver
        self._chains: dict[Hashable, collections.deque[T]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.in_flight = 0

    async def submit(self, key: Hashable, item: T) -> None:
        """Queue ``item`` behind earlier items of the same key; waits while the window is full."""
        await self._slots.acquire()
        self.in_flight += 1
        self._idle.clear()
        chain = self._chains.get(key)
        if chain is not None:
            chain.append(item)
            return
        self._chains[key] = collections.deque((item,))
        task = asyncio.create_task(self._run_chain(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_chain(self, key: Hashable) -> None:
        chain = self._chains[key]
        try:
            while chain:
                await self._deliver(chain[0])
                chain.popleft()
                self._release(1)
        finally:
            # Cancelled (abandon): what is left of the chain is dropped, its window slots freed.
            self._release(len(chain))
            chain.clear()
            del self._chains[key]

    def _release(self, count: int) -> None:
        for _ in range(count):
            self.in_flight -= 1
            self._slots.release()
        if not self.in_flight:
            self._idle.set()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is in flight; False if ``timeout`` passed first."""
        return await wait_set(self._idle, timeout)

    async def abandon(self) -> int:
        """Cancel every delivery, queued or in flight, and forget it; returns how many there were.

        Nothing abandoned is acked, so it is consumed again from the committed offset.
        """
        abandoned = self.in_flight
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return abandoned


class PartitionWatermark:
    """Highest offset N such that every tracked offset <= N completed, for one partition; and the
    acks of completed records, made in offset order as the watermark passes them.

    In offset order because Faust commits past an unacked record when later ones are acked: its
    ``Consumer._new_offset`` looks for a gap one offset too late (committed offset C, record C
    unacked, C+1 acked: it commits C+2), and not at all before the partition's first commit.
    Records of one partition go to different destinations concurrently and complete out of order;
    acked only once every record before them is done, the committed offset never passes a record
    still in flight, abandoned, or stopped on.
    """

    def __init__(self, start: int = -1) -> None:
        self.value = start
        self._pending: collections.deque[int] = collections.deque()  # offsets in arrival (increasing) order
        self._done: set[int] = set()
        self._acks: dict[int, Callable[[], Any]] = {}

    def track(self, offset: int, ack: Callable[[], Any] | None = None) -> None:
        """Follow ``offset``; ``ack`` is called once it and every offset tracked before it completed."""
        self._pending.append(offset)
        if ack is not None:
            self._acks[offset] = ack

    def complete(self, offset: int) -> bool:
        """Mark ``offset`` done; True if the watermark advanced (the acks it passed are made)."""
        self._done.add(offset)
        advanced = False
        pending, done, acks = self._pending, self._done, self._acks
        while pending and pending[0] in done:
            head = pending.popleft()
            done.discard(head)
            ack = acks.pop(head, None)
            if ack is not None:
                ack()
            self.value = head
            advanced = True
        return advanced

    @property
    def pending(self) -> int:
        return len(self._pending)
