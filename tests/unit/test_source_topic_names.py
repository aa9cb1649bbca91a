"""Kafka topic names of the Diffusion source: ``kafka.topic`` patterns and sanitising."""

from __future__ import annotations

import pytest

from streamapp.diffusion.config import DiffusionSourceConfig
from streamapp.diffusion.topic_names import (
    KafkaTopicPattern,
    TopicNameError,
    sanitise,
)

CASES = [
    (
        "diffusion.price",
        "source/kafka/ABC",
        "diffusion.price",
    ),  # the seed: a fixed name
    ("${topic}", "a/b/c", "a_b_c"),
    ("kafka.${topic}", "prices/EUR USD", "kafka.prices_EUR_USD"),
    ("${topic}", "a$b", "a_b"),
    ("${topic}", "price/€", "price__"),
    ("${topic}", "日本/語", "____"),
    ("${topic}", "ok-1_2.v3", "ok-1_2.v3"),
    ("${topic}", "tab\there", "tab_here"),
    ("x-${topic}-y", "a/b", "x-a_b-y"),
    ("${topic}.${topic}", "a/b", "a_b.a_b"),
    (
        "kafka/${topic}",
        "a",
        "kafka_a",
    ),  # the literal part too, as the Java connector did for '/'
    (
        "kafka_${unknown}",
        "a",
        "kafka___unknown_",
    ),  # unknown tokens are left (sanitised), like Java
    (
        "${topic}",
        "a_b/c",
        "a_b_c",
    ),  # collides with a/b_c: allowed, the key tells them apart
    ("${topic}", "a/b_c", "a_b_c"),
    ("${topic}", "..a", "..a"),
    ("${topic}", "x" * 249, "x" * 249),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), CASES)
def test_render(pattern, path, expected):
    assert KafkaTopicPattern(pattern).render(path) == expected


@pytest.mark.parametrize(
    ("pattern", "path", "message"),
    [
        ("${topic}", "x" * 250, "at most 249"),
        ("p.${topic}", "x" * 248, "at most 249"),
        ("${topic}", ".", "'.'"),
        ("${topic}", "..", "'..'"),
        (".${topic}", ".", "'..'"),
    ],
)
def test_illegal_names_are_a_per_topic_error(pattern, path, message):
    pattern = KafkaTopicPattern(pattern)
    with pytest.raises(TopicNameError, match=message) as info:
        pattern.render(path)
    assert "Diffusion topic" in str(info.value)
    assert pattern.render("fine") is not None  # other paths still work


def test_sanitise_keeps_only_the_legal_set():
    every = "".join(chr(c) for c in range(32, 127))
    out = sanitise(every)
    assert len(out) == len(every)
    assert set(out) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_cache_is_bounded():
    pattern = KafkaTopicPattern("${topic}", cache_size=10)
    for i in range(100):
        assert pattern.render(f"p/{i}") == f"p_{i}"
    assert len(pattern._cache) <= 10


def _config(**extra):
    return {
        "name": "s",
        "connector.class": "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector",
        "diffusion.url": "ws://127.0.0.1:8080",
        "diffusion.username": "admin",
        "diffusion.password": "password",
        "diffusion.selector": "?a/.*",
        "kafka.topic": "t",
        **extra,
    }


def test_config_defaults_and_new_keys():
    cfg = DiffusionSourceConfig.model_validate(_config())
    assert (cfg.diffusion_poll_interval, cfg.diffusion_poll_size) == (1000, 128)
    assert cfg.diffusion_removal_tombstone is False
    assert cfg.diffusion_queue_size == 10000
    cfg = DiffusionSourceConfig.model_validate(_config(**{"diffusion.removal.tombstone": "true"}))
    assert cfg.diffusion_removal_tombstone is True


@pytest.mark.parametrize("topic", ["..", "x" * 250])
def test_a_fixed_illegal_kafka_topic_is_a_config_error(topic):
    with pytest.raises(ValueError, match="Kafka"):
        DiffusionSourceConfig.model_validate(_config(**{"kafka.topic": topic}))
