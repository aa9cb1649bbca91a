"""Diffusion sink end to end: real broker, a real worker process, the emulator, and an independent
official-SDK subscriber checking what arrives."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import pytest_asyncio

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import Collector, diffusion_session, started_emulator
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.worker import make_worker

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def envelope(schema: dict, payload) -> bytes:
    return json.dumps({"schema": schema, "payload": payload}).encode()


@pytest_asyncio.fixture(scope="module")
async def sink_stack(kafka_bootstrap, tmp_path_factory):
    """One worker running several Diffusion sink connectors against an emulator of its own (the seed's
    fixed paths start empty for each broker engine of the compatibility set)."""
    async with started_emulator() as emulator:
        async for stack in _sink_stack(kafka_bootstrap, emulator.url, tmp_path_factory):
            yield stack


async def _sink_stack(kafka_bootstrap, url, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("diffusion-sink")
    configs = workdir / "connectors"
    configs.mkdir()

    # The seed's sample, unchanged but for its URL.
    seed = json.loads((ROOT / "settings/connectors/diffusion-sink.json").read_text())
    seed["config"]["diffusion.url"] = url
    (configs / "seed.json").write_text(json.dumps(seed))

    topics = {
        "price": 1,
        "tokens": 2,
        "typed": 1,
        "schemaless": 1,
        "tomb_null": 1,
        "tomb_remove": 1,
        "dlq_src": 1,
        "bin_src": 1,
        "str_src": 1,
    }
    for topic, partitions in topics.items():
        await create_topic(kafka_bootstrap, topic, partitions)
    write_connector(
        configs, "tokens", diffusion_sink_config(url, "tokens", "tok/${topic}/${partition}/${key}/${offset}")
    )
    write_connector(
        configs,
        "typed",
        diffusion_sink_config(
            url, "typed", "typed/${key}/v${value.version}", **{"value.converter.schemas.enable": "true"}
        ),
    )
    write_connector(configs, "schemaless", diffusion_sink_config(url, "schemaless", "schemaless/${key}"))
    write_connector(configs, "tomb-null", diffusion_sink_config(url, "tomb_null", "tomb/null/${key}"))
    write_connector(
        configs,
        "tomb-remove",
        diffusion_sink_config(url, "tomb_remove", "tomb/remove/${key}", **{"diffusion.tombstone.policy": "remove"}),
    )
    write_connector(
        configs,
        "dlq",
        diffusion_sink_config(
            url,
            "dlq_src",
            "dlq/${key}",
            **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq_out", "errors.log.enable": "true"},
        ),
    )
    write_connector(
        configs,
        "binary",
        diffusion_sink_config(
            url,
            "bin_src",
            "bin/${key}",
            **{
                "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
                "diffusion.topic.type": "binary",
            },
        ),
    )
    write_connector(
        configs,
        "string",
        diffusion_sink_config(
            url,
            "str_src",
            "str/${key}",
            **{"value.converter": "org.apache.kafka.connect.storage.StringConverter", "diffusion.topic.type": "string"},
        ),
    )

    worker = await make_worker(kafka_bootstrap, configs, workdir).start()
    try:
        await worker.wait_ready()
        async with diffusion_session(url) as session:
            collector = await Collector(session).subscribe("?.*//")
            yield kafka_bootstrap, collector, worker
    finally:
        code = await worker.stop()
        assert code == 0, worker.output[-3000:]


@pytest.mark.compat
async def test_seed_example_price_to_kafka_price(sink_stack):
    bootstrap, collector, _ = sink_stack
    await produce(
        bootstrap, "price", [(b"ABC", b'{"symbol": "ABC", "px": 1.5}'), (b"ABC", b'{"symbol": "ABC", "px": 2.25}')]
    )
    value = await collector.wait_for("kafka/price", lambda v: v == {"symbol": "ABC", "px": 2.25}, timeout=TIMEOUT)
    assert collector.values("kafka/price")[-2:] == [{"symbol": "ABC", "px": 1.5}, value]
    assert collector.type_name("kafka/price") == "json"


async def test_every_token(sink_stack):
    bootstrap, collector, _ = sink_stack
    meta = await produce(bootstrap, "tokens", [(b"k1", b"1", 0), (b"k2", b"2", 1), (b"k1", b"3", 1)])
    for (key, value, partition), md in zip([("k1", 1, 0), ("k2", 2, 1), ("k1", 3, 1)], meta, strict=True):
        path = f"tok/tokens/{partition}/{key}/{md.offset}"
        assert await collector.wait_for(path, timeout=TIMEOUT) == value


SCHEMA_CASES = [
    ({"type": "int8"}, 5, 5),
    ({"type": "int16"}, -300, -300),
    ({"type": "int32"}, 70000, 70000),
    ({"type": "int64"}, 2**40 + 1, 2**40 + 1),
    ({"type": "float"}, 1.5, 1.5),
    ({"type": "double"}, 0.1 + 0.2, 0.30000000000000004),
    ({"type": "boolean"}, True, True),
    ({"type": "string"}, "héllo", "héllo"),
    ({"type": "bytes"}, base64.b64encode(b"\x00\x01\xff").decode(), b"\x00\x01\xff"),
    ({"type": "array", "items": {"type": "int32"}}, [1, 2, 3], [1, 2, 3]),
    ({"type": "map", "keys": {"type": "string"}, "values": {"type": "int64"}}, {"a": 1, "b": 2}, {"a": 1, "b": 2}),
    ({"type": "string", "optional": True}, None, None),
    (
        {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}},
        base64.b64encode((1234).to_bytes(2, "big")).decode(),
        "12.34",
    ),
    ({"type": "int32", "name": "org.apache.kafka.connect.data.Date"}, 19000, "2022-01-08"),
    ({"type": "int32", "name": "org.apache.kafka.connect.data.Time"}, 3723004, "01:02:03.004"),
    ({"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"}, 1700000000123, "2023-11-14T22:13:20.123Z"),
]


async def test_every_connect_type_with_versioned_schema(sink_stack):
    bootstrap, collector, _ = sink_stack
    records = []
    for i, (schema, payload, _) in enumerate(SCHEMA_CASES):
        records.append((f"v{i}".encode(), envelope({**schema, "version": 3}, payload)))
    await produce(bootstrap, "typed", records)
    for i, (_, _, expected) in enumerate(SCHEMA_CASES):
        got = await collector.wait_for(f"typed/v{i}/v3", timeout=TIMEOUT)
        assert got == expected, SCHEMA_CASES[i]


async def test_struct_keeps_schema_field_order_nested(sink_stack):
    bootstrap, collector, _ = sink_stack
    inner = {
        "type": "struct",
        "optional": True,
        "fields": [{"field": "z", "type": "int32"}, {"field": "a", "type": "string"}],
    }
    schema = {
        "type": "struct",
        "version": 7,
        "fields": [
            {"field": "name", "type": "string"},
            {"field": "inner", **inner},
            {"field": "tags", "type": "array", "items": {"type": "string"}},
            {"field": "age", "type": "int32"},
        ],
    }
    payload = {"age": 30, "tags": ["x"], "inner": {"a": "b", "z": 1}, "name": "John"}
    await produce(bootstrap, "typed", [(b"struct", envelope(schema, payload))])
    got = await collector.wait_for("typed/struct/v7", timeout=TIMEOUT)
    assert got == {"name": "John", "inner": {"z": 1, "a": "b"}, "tags": ["x"], "age": 30}
    assert list(got) == ["name", "inner", "tags", "age"] and list(got["inner"]) == ["z", "a"]


SCHEMALESS = [
    ("int", b"42", 42),
    ("float", b"0.30000000000000004", 0.30000000000000004),
    ("big", b"12345678901234567", 12345678901234567),
    ("bool", b"false", False),
    ("str", b'"text"', "text"),
    ("arr", b'[1, "a", null]', [1, "a", None]),
    ("nested", b'{"a": {"b": [1, {"c": 2}]}}', {"a": {"b": [1, {"c": 2}]}}),
    ("null", b"null", None),
]


@pytest.mark.parametrize("key,raw,expected", SCHEMALESS, ids=[c[0] for c in SCHEMALESS])
async def test_schemaless_json_values(sink_stack, key, raw, expected):
    bootstrap, collector, _ = sink_stack
    await produce(bootstrap, "schemaless", [(key.encode(), raw)])
    assert await collector.wait_for(f"schemaless/{key}", timeout=TIMEOUT) == expected


async def test_tombstone_publishes_null_by_default(sink_stack):
    bootstrap, collector, _ = sink_stack
    await produce(bootstrap, "tomb_null", [(b"k", b'{"v": 1}'), (b"k", None)])
    await collector.wait_for("tomb/null/k", lambda v: v is None, timeout=TIMEOUT)
    assert collector.values("tomb/null/k") == [{"v": 1}, None]
    assert "tomb/null/k" in collector.subscribed_paths()


async def test_tombstone_removes_topic_with_remove_policy(sink_stack):
    bootstrap, collector, _ = sink_stack
    await produce(bootstrap, "tomb_remove", [(b"k", b'{"v": 1}')])
    await collector.wait_for("tomb/remove/k", timeout=TIMEOUT)
    await produce(bootstrap, "tomb_remove", [(b"k", None)])
    reason = await collector.wait_for_unsubscription("tomb/remove/k", timeout=TIMEOUT)
    assert reason.name == "REMOVAL"


async def test_bad_records_go_to_dead_letter_topic_and_good_ones_flow(sink_stack):
    bootstrap, collector, _ = sink_stack
    await produce(
        bootstrap,
        "dlq_src",
        [
            (b"bad-json", b"{not json", None, [("trace", b"t-1")]),
            (None, b'{"ok": true}'),  # ${key} with a null key
            (b"nan", b'{"reading": NaN}'),  # not JSON: Connect's JsonConverter refuses it too
            (b"zeros", b'{"reading": 007}'),  # leading zeros: read as Connect 3.6+ reads them
            (b"good", b'{"ok": 1}'),
        ],
    )
    assert await collector.wait_for("dlq/good", timeout=TIMEOUT) == {"ok": 1}
    assert await collector.wait_for("dlq/zeros", timeout=TIMEOUT) == {"reading": 7}
    dead = await consume(bootstrap, "dlq_out", 3, timeout=TIMEOUT)
    assert [(r.key, r.value) for r in dead] == [
        (b"bad-json", b"{not json"),
        (None, b'{"ok": true}'),
        (b"nan", b'{"reading": NaN}'),
    ]
    first = dict(dead[0].headers)
    assert first["trace"] == b"t-1"
    assert first["__connect.errors.topic"] == b"dlq_src"
    assert first["__connect.errors.partition"] == b"0"
    assert first["__connect.errors.offset"] == b"0"
    assert first["__connect.errors.connector.name"] == b"dlq"
    assert first["__connect.errors.task.id"] == b"0"
    assert first["__connect.errors.stage"] == b"VALUE_CONVERTER"  # Connect's stage names
    assert first["__connect.errors.class.name"] == b"org.apache.kafka.connect.json.JsonConverter"  # what failed
    assert first["__connect.errors.exception.class.name"].endswith(b"ConversionError")
    assert b"json" in first["__connect.errors.exception.message"].lower()
    assert b"Traceback" in first["__connect.errors.exception.stacktrace"]
    second = dict(dead[1].headers)
    assert second["__connect.errors.stage"] == b"TASK_PUT"  # the connector's own work: mapping to a path
    assert second["__connect.errors.class.name"] == b"com.diffusiondata.connect.diffusion.sink.DiffusionSinkTask"
    assert b"${key}" in second["__connect.errors.exception.message"]
    third = dict(dead[2].headers)
    assert (third["__connect.errors.offset"], third["__connect.errors.stage"]) == (b"2", b"VALUE_CONVERTER")
    assert b"NaN is not a JSON number" in third["__connect.errors.exception.message"]


async def test_bytearray_to_binary_topics_and_strings_to_string_topics(sink_stack):
    bootstrap, collector, _ = sink_stack
    await produce(bootstrap, "bin_src", [(b"b", b"\x00\xffraw")])
    await produce(bootstrap, "str_src", [(b"s", "plain text ✓".encode())])
    binary = await collector.wait_for("bin/b", timeout=TIMEOUT)
    assert bytes(binary) == b"\x00\xffraw" and collector.type_name("bin/b") == "binary"
    assert await collector.wait_for("str/s", timeout=TIMEOUT) == "plain text ✓"
    assert collector.type_name("str/s") == "string"
