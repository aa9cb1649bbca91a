"""The source's partitioner: Kafka's default choice (murmur2 of the key), with each key's hash kept."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from streamapp.diffusion.source import KeyHashPartitioner

KEYS = [f"root/k{i}".encode() for i in range(500)] + [b"", b"a", "caf\u00e9/\u00fc".encode(), bytes(range(256))]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 12, 64])
def test_same_partition_as_kafkas_default_partitioner_first_time_and_cached(count):
    partitions = list(range(count))
    cached = KeyHashPartitioner()
    expected = [DefaultPartitioner()(key, partitions, partitions) for key in KEYS]
    assert [cached(key, partitions, partitions) for key in KEYS] == expected
    assert [cached(key, partitions, partitions) for key in KEYS] == expected  # from the cache


def test_known_values_of_javas_murmur2():
    # Vectors of Apache Kafka's UtilsTest.testMurmur2: the partitions a Java producer chooses.
    hashes = KeyHashPartitioner()
    partitions = range(2**31 - 1)  # the index is then the positive hash itself (a range: no list)
    for key, java in ((b"21", -973932308), (b"foobar", -790332482), (b"abc", 479470107)):
        assert hashes(key, partitions, partitions) == java & 0x7FFFFFFF


def test_a_topic_that_grew_gets_the_new_count_and_the_cache_is_bounded():
    cached = KeyHashPartitioner()
    cached.limit = 10
    for key in KEYS[:25]:
        for count in (1, 4):
            partitions = list(range(count))
            assert cached(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)
    assert len(cached._hashes) <= 10


def test_no_key_spreads_like_the_default():
    assert KeyHashPartitioner()(None, [0, 1, 2], [1]) == 1
