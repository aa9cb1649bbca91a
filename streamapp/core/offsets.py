"""The delivered-offset table: per connector and topic-partition, the last offset confirmed delivered.

A shared table (see :mod:`streamapp.worker`), so every worker holds all of it: after a restart or
a rebalance the worker that gets a partition skips what was already delivered, and any worker can
report progress for the whole cluster.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DeliveredOffsets"]


class DeliveredOffsets:
    """One connector's view of the table."""

    def __init__(self, table: Any, connector: str) -> None:
        self.table = table
        self.connector = connector

    def key(self, topic: str, partition: int) -> str:
        return json.dumps([self.connector, topic, partition])

    def get(self, topic: str, partition: int) -> int:
        """Last delivered offset, or -1 when nothing was recorded."""
        value = self.table.get(self.key(topic, partition))
        return -1 if value is None else int(value)

    def set(self, topic: str, partition: int, offset: int) -> None:
        self.table[self.key(topic, partition)] = offset

    def items(self) -> list[tuple[str, int, int]]:
        """(topic, partition, offset) for this connector."""
        out = []
        for key, value in self.table.items():
            connector, topic, partition = json.loads(key)
            if connector == self.connector:
                out.append((topic, partition, int(value)))
        return sorted(out)
