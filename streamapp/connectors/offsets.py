"""The delivered-offset table: per connector and topic-partition, the last offset confirmed delivered.

A Faust GlobalTable, so every worker holds all of it: after a restart or a rebalance the worker
that gets a partition skips what was already delivered, and any worker can report progress and
lag for the whole cluster. Writes use the producer's partitioner (one changelog partition), so a
sink may write it from delivery callbacks, outside any stream event.

One key per connector and worker process, its value the offsets that worker delivered
(``"topic/partition" -> offset``) and when it last wrote: a sink writes every partition it advanced
in one changelog record per flush (a record per partition cost a quarter of a CoAP sink's CPU with
16 partitions). A worker writes only its own key, so workers never overwrite each other; a reader
takes the highest offset any key holds for a partition (every offset written was delivered).
Keys not written for ``STALE_AFTER`` seconds (workers gone) are deleted: by then the committed
offsets have long passed what they hold.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["DeliveredOffsets", "delivered_table", "TABLE_NAME"]

TABLE_NAME = "streamapp-delivered-offsets"
STALE_AFTER = 600.0  # s

_tables: dict[int, Any] = {}


def delivered_table(app: Any) -> Any:
    """The app's delivered-offset table (created on first use, before the worker starts)."""
    table = _tables.get(id(app))
    if table is None:
        table = app.GlobalTable(
            TABLE_NAME,
            key_type=str,  # values: JSON maps (the app's default json serializer)
            partitions=1,
            use_partitioner=True,
            help="Last offset confirmed delivered per connector and topic-partition.",
        )
        _tables[id(app)] = table
    return table


class DeliveredOffsets:
    """One connector's entries of the table, and this worker's own."""

    def __init__(self, app: Any, connector: str) -> None:
        self.table = delivered_table(app)
        self.connector = connector
        self._key = json.dumps([connector, f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"])
        self._mine: dict[str, int] = {}
        self._pruned = 0.0

    def _entries(self) -> list[tuple[str, dict[str, Any]]]:
        entries = []
        for key, value in self.table.items():
            try:
                connector = json.loads(key)[0]
            except (ValueError, TypeError, IndexError, KeyError):
                continue  # a key of another format (an older streamapp): ignored
            if connector == self.connector and isinstance(value, Mapping):
                entries.append((key, value))
        return entries

    def _merged(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for _, value in self._entries():
            for name, offset in (value.get("offsets") or {}).items():
                if offset > merged.get(name, -1):
                    merged[name] = offset
        return merged

    def get(self, topic: str, partition: int) -> int:
        """Last delivered offset, or -1 when nothing was recorded."""
        return int(self._merged().get(f"{topic}/{partition}", -1))

    def set_many(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Record delivered offsets of several partitions in one write."""
        mine = self._mine
        for (topic, partition), offset in offsets.items():
            name = f"{topic}/{partition}"  # Kafka topic names cannot hold "/"
            if offset > mine.get(name, -1):
                mine[name] = offset
        now = time.time()
        self.table[self._key] = {"at": now, "offsets": dict(mine)}
        if now - self._pruned > STALE_AFTER / 10:
            self._pruned = now
            for key, value in self._entries():
                if key != self._key and now - float(value.get("at", 0)) > STALE_AFTER:
                    del self.table[key]

    def set(self, topic: str, partition: int, offset: int) -> None:
        self.set_many({(topic, partition): offset})

    def items(self) -> list[tuple[str, int, int]]:
        """(topic, partition, offset) for this connector."""
        out = []
        for name, offset in self._merged().items():
            topic, _, partition = name.rpartition("/")
            out.append((topic, int(partition), int(offset)))
        return sorted(out)
