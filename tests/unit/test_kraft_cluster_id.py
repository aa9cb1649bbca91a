"""The KRaft cluster id given to ``kafka-storage format``: one in 64 random ids started with "-"."""

from __future__ import annotations

from streamapp.devstack.apache_kafka import _cluster_id


def test_cluster_ids_are_22_url_safe_characters_never_starting_with_a_dash():
    ids = [_cluster_id() for _ in range(5000)]  # without the redraw, about 78 would start with "-"
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert all(set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for i in ids)
    assert len(set(ids)) == len(ids)
