"""The delivered-offset entries: one per connector and worker, merged by the highest offset.

The table here is a plain dict standing in for the Faust GlobalTable (a mapping with items(),
get, set and delete); the table itself is exercised by the worker tests (restarts, SIGKILL, two
workers sharing partitions).
"""

from __future__ import annotations

import json

import pytest

from streamapp.connectors import offsets as offsets_module
from streamapp.connectors.offsets import STALE_AFTER, DeliveredOffsets


class _App:
    def __init__(self) -> None:
        self.table: dict = {}

    def GlobalTable(self, name, **_):  # noqa: N802 - Faust's method name
        return self.table


@pytest.fixture
def app():
    app = _App()
    yield app
    offsets_module._tables.pop(id(app), None)


def test_nothing_recorded_reads_minus_one(app):
    assert DeliveredOffsets(app, "c").get("t", 0) == -1
    assert DeliveredOffsets(app, "c").items() == []


def test_one_write_records_several_partitions_and_never_goes_back(app):
    offsets = DeliveredOffsets(app, "c")
    offsets.set_many({("t", 0): 10, ("t", 1): 4, ("u.v-w_x", 3): 7})
    offsets.set_many({("t", 0): 8})  # a stale, lower watermark (a mark from before a rebalance)
    assert len(app.table) == 1  # one entry for this worker
    assert offsets.get("t", 0) == 10 and offsets.get("t", 1) == 4 and offsets.get("u.v-w_x", 3) == 7
    assert offsets.items() == [("t", 0, 10), ("t", 1, 4), ("u.v-w_x", 3, 7)]


def test_workers_write_their_own_entries_and_readers_take_the_highest(app):
    a, b = DeliveredOffsets(app, "c"), DeliveredOffsets(app, "c")
    a.set_many({("t", 0): 100, ("t", 1): 50})
    b.set_many({("t", 1): 80})  # b took partition 1 over
    a.set_many({("t", 0): 120})  # a's newer write does not undo b's
    assert len(app.table) == 2
    for reader in (a, b, DeliveredOffsets(app, "c")):
        assert reader.get("t", 0) == 120 and reader.get("t", 1) == 80


def test_connectors_do_not_see_each_other(app):
    DeliveredOffsets(app, "c1").set_many({("t", 0): 5})
    assert DeliveredOffsets(app, "c2").get("t", 0) == -1


def test_entries_of_gone_workers_are_deleted_after_a_while_but_never_the_writers_own(app, monkeypatch):
    gone, alive = DeliveredOffsets(app, "c"), DeliveredOffsets(app, "c")
    clock = [1000.0]
    monkeypatch.setattr(offsets_module.time, "time", lambda: clock[0])
    gone.set_many({("t", 0): 5})
    clock[0] += STALE_AFTER / 2
    alive.set_many({("t", 1): 9})
    assert len(app.table) == 2  # not stale yet
    clock[0] += STALE_AFTER / 2 + 1
    alive.set_many({("t", 1): 10})
    assert len(app.table) == 1 and alive.get("t", 0) == -1 and alive.get("t", 1) == 10


def test_keys_of_another_format_are_ignored(app):
    app.table[json.dumps(["c", "t", 0])] = 42  # the per-partition format of an older streamapp
    app.table["not json"] = {"offsets": {"t/0": 99}}
    offsets = DeliveredOffsets(app, "c")
    assert offsets.get("t", 0) == -1
    offsets.set_many({("t", 0): 3})
    assert offsets.get("t", 0) == 3
