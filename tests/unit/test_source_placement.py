"""The placement slots of source connectors: their rank by name, the same on every worker."""

from __future__ import annotations

import pytest

from streamapp.core.source_placement import slots


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], {}),
        (["only"], {"only": 0}),
        (["beta", "alpha"], {"alpha": 0, "beta": 1}),
        (["b", "a", "c", "B"], {"B": 0, "a": 1, "b": 2, "c": 3}),  # code point order, as sorted()
        (("x-10", "x-9", "x-1"), {"x-1": 0, "x-10": 1, "x-9": 2}),
    ],
)
def test_slots_are_ranks_by_name(names, expected):
    assert slots(names) == expected


def test_every_order_of_the_same_names_gives_the_same_slots():
    names = [f"source-{i}" for i in range(12)]
    assert slots(names) == slots(reversed(names)) == slots(sorted(names, key=hash))
    assert sorted(slots(names).values()) == list(range(12))
