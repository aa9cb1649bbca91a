"""Ordered dispatch with conflation: while a destination's update is in flight, newer records replace each other.

The opt-in alternative to :class:`~streamapp.core.dispatch.OrderedDispatcher` (same ``submit``,
``drain``, ``abandon``, ``in_flight``), for destinations where only the latest value matters
(a Diffusion topic: subscribers see its current value). Per key (destination):

* at most one delivery in flight and one record pending, the newest: a record submitted while
  one is pending replaces it, and the replaced record is *held*, unacked, by the one replacing it;
* when a delivery is confirmed (``deliver`` returned True), the records it replaced are handed to
  ``conflated`` together, to be acked: nothing is acked before the destination confirmed a newer
  value;
* when it is not (the error policy skipped it, or the connector stopped), the records it replaced
  are not acked: the pending record, newer, takes them over; without one, the newest of them is
  delivered next and takes over the rest;
* then the pending record goes out.

Worked example, one key: 1 is submitted and sent; 2, 3, 4 arrive while it is in flight (2 and 3
are replaced, held by 4); 1 is confirmed and acked; 4 is sent; once confirmed, 4 is acked and 2, 3
with it. Had 4 failed and been skipped, 3 would have been sent next, holding 2.

``window`` workers deliver; a key with a pending record waits in one first-in first-out line for
the next free worker, so a busy key takes its turn with the others and never holds up other
keys' records. ``submit`` waits only when ``hold`` records are pending or replaced (unacked and
not in flight): that bounds memory and what is read again after a crash.

Catching up (:meth:`ConflatingDispatcher.behind`): while the reader says more records are already
waiting to be read, workers hold their key instead of sending it, for at most ``max_defer``
seconds, so that the records being read replace its pending one. A Diffusion server answers an
update within a millisecond or two on a LAN: without this a key's next record mostly arrives
after its update was confirmed, and nothing is conflated while a backlog is read. A record read
while the reader is at the end of its partitions is sent at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from .dispatch import wait_set

__all__ = ["ConflatingDispatcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Key(Generic[T]):
    __slots__ = ("key", "pending", "replaced")

    def __init__(self, key: Hashable) -> None:
        self.key = key
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
        max_defer: float = 0.25,
    ) -> None:
        if window < 1 or hold < 1:
            raise ValueError("window and hold must be >= 1")
        self.window = window
        self.hold = hold
        self.max_defer = max_defer
        self._send = asyncio.Event()  # workers may send (cleared while the reader catches up)
        self._send.set()
        self._reopen: asyncio.TimerHandle | None = None
        self._deliver = deliver
        self._conflated = conflated
        self._keys: dict[Hashable, _Key[T]] = {}
        # Keys with a pending record and none in flight, in line for a worker (a put wakes one).
        self._ready: asyncio.Queue[_Key[T]] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        self._held = 0  # pending or replaced: taken in, not in flight, not finished
        self._room = asyncio.Event()  # for submit: _held went down
        self._idle = asyncio.Event()
        self._idle.set()
        self.in_flight = 0  # taken in and not finished: in flight, pending or replaced

    async def submit(self, key: Hashable, item: T) -> None:
        """Send ``item`` after the key's delivery in flight, replacing the key's pending record."""
        while self._held >= self.hold:
            self._open()  # what is held is freed only by sending
            self._room.clear()
            await self._room.wait()
        if not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(self.window)]
        self._held += 1
        self.in_flight += 1
        self._idle.clear()
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key(key)
            state.pending = item
            self._ready.put_nowait(state)
        elif state.pending is None:  # in flight: its worker puts the key in line once done
            state.pending = item
        else:
            state.replaced.append(state.pending)
            state.pending = item

    async def _work(self) -> None:
        ready = self._ready
        while True:
            state = await ready.get()
            if not self._send.is_set():  # catching up: the key's pending record may still be replaced
                await self._send.wait()
            item, replaced = state.pending, state.replaced
            state.pending, state.replaced = None, []
            self._held -= 1  # in flight now; what it replaced stays held until it is confirmed
            try:
                confirmed = await self._deliver(item)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 -- deliver handles its errors; a bug must not stop the worker
                logger.exception("delivery of %r failed unexpectedly", state.key)
                confirmed = False
            self.in_flight -= 1
            if replaced:
                if confirmed:
                    self._held -= len(replaced)
                    self.in_flight -= len(replaced)
                    self._conflated(replaced)
                elif state.pending is not None:
                    state.replaced[:0] = replaced  # older than what the pending one replaced
                else:  # nothing newer: the newest of them goes next and holds the rest
                    state.pending = replaced.pop()
                    state.replaced = replaced
            if state.pending is None:
                del self._keys[state.key]
            else:
                ready.put_nowait(state)  # behind the keys already waiting
            self._room.set()
            if not self.in_flight:
                self._idle.set()

    def behind(self, backlog: bool) -> None:
        """The reader has (True) or has not (False) more records waiting: hold sends, or send now."""
        if not backlog:
            self._open()
        elif self._send.is_set():
            self._send.clear()
            self._reopen = asyncio.get_running_loop().call_later(self.max_defer, self._open)

    def _open(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._send.set()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is in flight, pending or held; False if ``timeout`` passed first."""
        self._open()  # nothing more is read meanwhile
        return await wait_set(self._idle, timeout)

    async def abandon(self) -> int:
        """Cancel every delivery and forget every record (none acked); returns how many records there were."""
        abandoned = self.in_flight
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._keys.clear()
        self._ready = asyncio.Queue()
        self._held = self.in_flight = 0
        self._open()
        self._room.set()
        self._idle.set()
        return abandoned
