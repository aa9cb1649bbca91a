"""``connect.progress.enabled``: per-topic counts of what the sink did, logged periodically.

Stream Reactor's ``ProgressCounter`` logged processed-record counts per topic; here each line has
what an operator asks next: how many were delivered (confirmed 2.xx), retried (RETRY attempts),
and skipped (NOOP, or dead-lettered). A topic gets a line only when its counts changed since the
last one, so an idle connector stays quiet.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import astuple, dataclass

__all__ = ["ProgressLog", "TopicProgress"]

logger = logging.getLogger("streamapp.coap.sink.progress")


@dataclass
class TopicProgress:
    processed: int = 0  # records taken from the topic (converted and routed, or failed doing so)
    delivered: int = 0  # records whose every request was confirmed with 2.xx
    retried: int = 0  # retry attempts under RETRY
    skipped: int = 0  # records given up under NOOP (and dead-lettered when a DLQ is set)


class ProgressLog:
    def __init__(self, connector: str, interval: float) -> None:
        self.connector = connector
        self.interval = interval
        self.topics: dict[str, TopicProgress] = {}
        self._reported: dict[str, tuple[int, ...]] = {}

    def topic(self, name: str) -> TopicProgress:
        progress = self.topics.get(name)
        if progress is None:
            progress = self.topics[name] = TopicProgress()
        return progress

    def lines(self) -> list[str]:
        """One line per topic whose counts changed since the previous call."""
        out = []
        for name, progress in sorted(self.topics.items()):
            counts = astuple(progress)
            before = self._reported.get(name, (0, 0, 0, 0))
            if counts == before:
                continue
            self._reported[name] = counts
            out.append(
                f"connector {self.connector!r} progress, topic '{name}': {progress.processed} processed, "
                f"{progress.delivered} delivered, {progress.retried} retried, {progress.skipped} skipped "
                f"(+{progress.processed - before[0]} processed since the last report)"
            )
        return out

    async def run(self) -> None:
        """Log every ``interval`` seconds until cancelled, and once more then."""
        try:
            while True:
                await asyncio.sleep(self.interval)
                for line in self.lines():
                    logger.info("%s", line)
        finally:
            for line in self.lines():
                logger.info("%s", line)
