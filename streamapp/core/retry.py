"""The one exponential back-off, for everything that waits for something transient to come back
(a Diffusion session, the Schema Registry, a Kafka produce): the record waits, it is not dropped."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Backoff", "retry_transient"]

T = TypeVar("T")


class Backoff:
    """Delays ``initial``, ``2 x initial``, ... capped at ``maximum``; ``jitter`` spreads them (0..1)."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0, *, jitter: float = 0.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.delay = initial

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        if self.jitter:
            delay *= 1 - self.jitter * random.random()  # noqa: S311 -- spreading retries, not security
        return delay

    def reset(self) -> None:
        self.delay = self.initial


async def retry_transient(
    attempt: Callable[[], Awaitable[T]],
    on_wait: Callable[[BaseException, float], None],
    backoff: Backoff | None = None,
) -> T:
    """``await attempt()`` until it returns; errors with ``retriable = True`` are retried after a
    back-off (``on_wait(exc, delay)`` first, to count and warn), any other error propagates."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not getattr(exc, "retriable", False):
                raise
            delay = backoff.next()
            on_wait(exc, delay)
            await asyncio.sleep(delay)
