"""Ordered dispatch with conflation: while a destination's update is in flight, newer records replace each other.

The opt-in alternative to :class:`~streamapp.core.dispatch.OrderedDispatcher` (same ``submit``,
``drain``, ``abandon``, ``in_flight``), for destinations where only the latest value matters
(a Diffusion topic: subscribers see its current value). Per key (destination):

* at most one delivery in flight and one record pending, the newest: a record submitted while
  one is pending replaces it, and the replaced record is *held*, unacked, by the one replacing it;
* when a delivery is confirmed (``deliver`` returned True), the records it replaced are handed to
  ``conflated`` together, to be acked: nothing is acked before Diffusion confirmed a newer value;
* when it is not (the error policy skipped it, or the connector stopped), the records it replaced
  are not acked: the pending record, newer, takes them over; without one, the newest of them is
  delivered next and takes over the rest;
* then the pending record goes out.

Worked example, one key: 1 is submitted and sent; 2, 3, 4 arrive while it is in flight (2 and 3
are replaced, held by 4); 1 is confirmed and acked; 4 is sent; once confirmed, 4 is acked and 2, 3
with it. Had 4 failed and been skipped, 3 would have been sent next, holding 2.

Per key the values sent keep Kafka order; other keys never wait for a busy one, except when the
``window`` (deliveries in flight or pending, at most two per key) or ``hold`` (records replaced
and not yet acked) is full: then ``submit`` waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ConflatingDispatcher"]

T = TypeVar("T")


class _Key(Generic[T]):
    __slots__ = ("pending", "replaced")

    def __init__(self) -> None:
        self.pending: T | None = None
        self.replaced: list[T] = []  # replaced by ``pending``, oldest first


class ConflatingDispatcher(Generic[T]):
    def __init__(
        self,
        window: int,
        deliver: Callable[[T], Awaitable[bool]],
        conflated: Callable[[list[T]], None],
        *,
        hold: int,
    ) -> None:
        if window < 1 or hold < 1:
            raise ValueError("window and hold must be >= 1")
        self.window = window
        self.hold = hold
        self._deliver = deliver
        self._conflated = conflated
        self._keys: dict[Hashable, _Key[T]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._sending = 0  # in flight or pending, <= window
        self._held = 0  # replaced, waiting for their replacement's confirmation, <= hold
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.in_flight = 0  # submitted and not finished: sending, pending or held

    async def submit(self, key: Hashable, item: T) -> None:
        """Send ``item`` after the key's delivery in flight, replacing the key's pending record."""
        while True:
            state = self._keys.get(key)
            if state is not None and state.pending is not None:
                if self._held < self.hold:
                    state.replaced.append(state.pending)
                    state.pending = item
                    self._held += 1
                    break
            elif self._sending < self.window:
                self._sending += 1
                if state is None:
                    state = self._keys[key] = _Key()
                    task = asyncio.create_task(self._run(key, state, item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    state.pending = item
                break
            self._room.clear()
            await self._room.wait()
        self.in_flight += 1
        self._idle.clear()

    async def _run(self, key: Hashable, state: _Key[T], item: T) -> None:
        replaced: list[T] = []  # the records ``item`` replaced
        try:
            while True:
                try:
                    confirmed = await self._deliver(item)
                except BaseException:
                    # Cancelled (abandon): everything of this key is dropped, unacked.
                    self.in_flight -= 1 + len(replaced) + len(state.replaced) + (state.pending is not None)
                    self._held -= len(replaced) + len(state.replaced)
                    self._sending -= 1 + (state.pending is not None)
                    state.pending, state.replaced = None, []
                    raise
                self.in_flight -= 1
                if replaced:
                    if confirmed:
                        self._held -= len(replaced)
                        self.in_flight -= len(replaced)
                        held, replaced = replaced, []
                        self._conflated(held)
                    elif state.pending is not None:
                        state.replaced[:0] = replaced  # older than what the pending one replaced
                        replaced = []
                    else:  # nothing newer: the newest of them takes the slot of the one that failed
                        item = replaced.pop()
                        self._held -= 1
                        self._freed()
                        continue
                if state.pending is None:
                    self._sending -= 1
                    return
                item, state.pending = state.pending, None
                replaced, state.replaced = state.replaced, []
                self._sending -= 1  # the pending record's slot is now the one in flight
                self._freed()
        finally:
            del self._keys[key]
            self._freed()

    def _freed(self) -> None:
        self._room.set()
        if not self.in_flight:
            self._idle.set()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is in flight, pending or held; False if ``timeout`` passed first."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def abandon(self) -> int:
        """Cancel every delivery and forget every record (none acked); returns how many records there were."""
        abandoned = self.in_flight
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return abandoned
