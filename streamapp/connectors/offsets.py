"""The delivered-offset table: per connector and topic-partition, the last offset confirmed delivered.

A Faust GlobalTable, so every worker holds all of it: after a restart or a rebalance the worker
that gets a partition skips what was already delivered, and any worker can report progress and
lag for the whole cluster (see :mod:`streamapp.shared_tables`).
"""

from __future__ import annotations

import json
from typing import Any

from streamapp.shared_tables import shared_table

__all__ = ["DeliveredOffsets", "delivered_table", "TABLE_NAME"]

TABLE_NAME = "streamapp-delivered-offsets"

def delivered_table(app: Any) -> Any:
    """The app's delivered-offset table."""
    return shared_table(
        app, TABLE_NAME, value_type=int, help="Last offset confirmed delivered per connector and topic-partition."
    )


class DeliveredOffsets:
    """One connector's view of the table."""

    def __init__(self, app: Any, connector: str) -> None:
        self.table = delivered_table(app)
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
