"""Writes to a shared table, coalesced: the latest value per key, written once per interval.

Each write to a shared table is a changelog record that every worker produces and consumes back;
writing on every record (a delivered offset, a source fingerprint) cost ~15% of a connector's CPU.
What is written within the interval before a crash is lost: the delivered-offset table then
delivers a few records again, the fingerprint table produces a few values again (at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["WriteBehind"]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class WriteBehind(Generic[K]):
    def __init__(self, write: Callable[[K, Any], None], interval: float, *, what: str) -> None:
        self._write = write
        self.interval = interval
        self.what = what  # for the warning, e.g. "connector 'x': delivered offset"
        self._dirty: dict[K, Any] = {}
        self._scheduled = False

    def put(self, key: K, value: Any) -> None:
        """Record ``value`` for ``key``; written at the next flush (at most ``interval`` from now)."""
        self._dirty[key] = value
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        """Write what is pending now (also before a hand-over: a rebalance, a stop)."""
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        for key, value in dirty.items():
            try:
                self._write(key, value)
            except Exception as exc:  # noqa: BLE001 -- an optimisation: never fail a delivery for it
                logger.warning("%s of %s not recorded: %s", self.what, key, exc)
