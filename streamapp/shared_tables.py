"""Small tables every worker holds whole: a Faust GlobalTable with one changelog partition.

Writes go through the producer's partitioner, so any worker may write from outside a stream event
(delivery callbacks, timers); every worker consumes the changelog and so reads all of it. Used for
the delivered offsets, the source's fingerprints, and the cluster status and control tables.
"""

from __future__ import annotations

from typing import Any

__all__ = ["shared_table"]

_tables: dict[tuple[int, str], Any] = {}


def shared_table(app: Any, name: str, *, value_type: type, help: str) -> Any:
    """The app's table ``name``, created on first use (before the worker starts)."""
    table = _tables.get((id(app), name))
    if table is None:
        table = _tables[(id(app), name)] = app.GlobalTable(
            name, key_type=str, value_type=value_type, partitions=1, use_partitioner=True, help=help
        )
    return table
