"""Avro (Confluent Schema Registry) through the Diffusion sink, end to end.

Real broker, a real worker process, the Diffusion emulator, our in-memory registry, and records
written the way a Java producer writes them (an independent registry client + fastavro).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal

import pytest_asyncio

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.avro import AvroProducer, wire
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.worker import make_worker

TIMEOUT = 30
AVRO = "io.confluent.connect.avro.AvroConverter"
UTC = dt.UTC

EVERYTHING = {
    "type": "record",
    "name": "Everything",
    "namespace": "com.example",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "s", "type": "string"},
        {"name": "b", "type": "bytes"},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {"name": "maybe", "type": ["null", "string"], "default": None},
        {"name": "present", "type": ["string", "null"]},
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "Inner",
                "fields": [{"name": "z", "type": "int"}, {"name": "a", "type": ["null", "Color"]}],
            },
        },
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},
        {
            "name": "fixed_price",
            "type": {
                "type": "fixed",
                "name": "Money",
                "size": 8,
                "logicalType": "decimal",
                "precision": 12,
                "scale": 3,
            },
        },
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "choice", "type": ["null", "int", "string"]},
    ],
}
EVERYTHING_VALUE = {
    "flag": True,
    "i": -70000,
    "l": 2**40 + 1,
    "f": 1.5,
    "d": 0.1 + 0.2,
    "s": "héllo",
    "b": b"\x00\x01\xff",
    "color": "GREEN",
    "hash": b"abcd",
    "tags": ["x", "y"],
    "counts": {"a": 1, "b": 2},
    "maybe": None,
    "present": "here",
    "inner": {"z": 7, "a": "RED"},
    "price": decimal.Decimal("12.34"),
    "fixed_price": decimal.Decimal("-1.500"),
    "day": dt.date(2024, 1, 31),
    "tm": dt.time(13, 45, 0, 123000),
    "tu": dt.time(13, 45, 0, 123456),
    "ts": dt.datetime(2024, 1, 31, 13, 45, 0, 123000, tzinfo=UTC),
    "tsu": dt.datetime(2024, 1, 31, 13, 45, 0, 123456, tzinfo=UTC),
    "choice": "picked",
}
# What a browser subscribed to the Diffusion JSON topic sees, in the schema's field order.
EVERYTHING_JSON = {
    "flag": True,
    "i": -70000,
    "l": 2**40 + 1,
    "f": 1.5,
    "d": 0.30000000000000004,
    "s": "héllo",
    "b": b"\x00\x01\xff",
    "color": "GREEN",
    "hash": b"abcd",
    "tags": ["x", "y"],
    "counts": {"a": 1, "b": 2},
    "maybe": None,
    "present": "here",
    "inner": {"z": 7, "a": "RED"},
    "price": "12.34",
    "fixed_price": "-1.500",
    "day": "2024-01-31",
    "tm": "13:45:00.123",
    "tu": 49500123456,  # microsecond logical types stay numbers, as with Connect's AvroConverter
    "ts": "2024-01-31T13:45:00.123Z",
    "tsu": 1706708700123456,
    "choice": {"int": None, "string": "picked"},
}

V1 = {"type": "record", "name": "Reading", "fields": [{"name": "id", "type": "string"}, {"name": "v", "type": "int"}]}
V2 = {
    "type": "record",
    "name": "Reading",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "v", "type": "int"},
        {"name": "unit", "type": ["null", "string"], "default": None},
    ],
}


def avro_sink(url: str, registry: str, topic: str, destination: str, **extra: str) -> dict:
    return diffusion_sink_config(
        url,
        topic,
        destination,
        **{"value.converter": AVRO, "value.converter.schema.registry.url": registry, **extra},
    )


@pytest_asyncio.fixture(scope="module")
async def avro_stack(kafka_bootstrap, diffusion_emulator, _schema_registry_session, tmp_path_factory):
    registry = _schema_registry_session
    workdir = tmp_path_factory.mktemp("avro-sink")
    configs = workdir / "connectors"
    configs.mkdir()
    url = diffusion_emulator.url
    for topic in ("avro_all", "avro_evo", "avro_dlq", "avro_outage"):
        await create_topic(kafka_bootstrap, topic, 1)
    write_connector(configs, "avro-all", avro_sink(url, registry.url, "avro_all", "avro/all/${key}/v${value.version}"))
    write_connector(
        configs,
        "avro-evo",
        avro_sink(
            url,
            registry.url,
            "avro_evo",
            "avro/evo/${key}/k${key.version}/v${value.version}",
            **{"key.converter": AVRO, "key.converter.schema.registry.url": registry.url},
        ),
    )
    write_connector(
        configs,
        "avro-dlq",
        avro_sink(
            url,
            registry.url,
            "avro_dlq",
            "avro/dlq/${key}",
            **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "avro_dlq_out"},
        ),
    )
    write_connector(configs, "avro-outage", avro_sink(url, registry.url, "avro_outage", "avro/outage/${key}"))
    worker = await make_worker(kafka_bootstrap, configs, workdir).start()
    try:
        await worker.wait_ready()
        async with diffusion_session(url) as session:
            collector = await Collector(session).subscribe("?avro//")
            yield kafka_bootstrap, collector, worker, AvroProducer(registry.url)
    finally:
        code = await worker.stop()
        assert code == 0, worker.output[-3000:]


async def test_every_avro_type_reaches_diffusion_as_json_in_field_order(avro_stack, schema_registry):
    bootstrap, collector, _, producer = avro_stack
    value = await producer.encode("avro_all-value", EVERYTHING, EVERYTHING_VALUE)
    await produce(bootstrap, "avro_all", [(b"e1", value)])
    version = (await producer.client.get_schema("avro_all-value")).version
    got = await collector.wait_for(f"avro/all/e1/v{version}", timeout=TIMEOUT)
    got = {k: bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v for k, v in got.items()}
    assert got == EVERYTHING_JSON
    assert list(got) == [f["name"] for f in EVERYTHING["fields"]]
    assert list(got["inner"]) == ["z", "a"]
    assert collector.type_name(f"avro/all/e1/v{version}") == "json"


async def test_registry_versions_name_paths_and_schemas_evolve_mid_stream(avro_stack, schema_registry):
    bootstrap, collector, _, producer = avro_stack
    key1 = await producer.encode("avro_evo-key", "string", "sensor-1")
    first = await producer.encode("avro_evo-value", V1, {"id": "a", "v": 1})
    second = await producer.encode("avro_evo-value", V2, {"id": "b", "v": 2, "unit": "C"})
    third = await producer.encode("avro_evo-value", V1, {"id": "c", "v": 3})  # an old producer, still running
    await produce(bootstrap, "avro_evo", [(key1, first), (key1, second), (key1, third)])
    assert await producer.client.get_versions("avro_evo-value") == [1, 2]
    got_v2 = await collector.wait_for("avro/evo/sensor-1/k1/v2", timeout=TIMEOUT)
    assert got_v2 == {"id": "b", "v": 2, "unit": "C"} and list(got_v2) == ["id", "v", "unit"]
    await collector.wait_for("avro/evo/sensor-1/k1/v1", lambda v: v == {"id": "c", "v": 3}, timeout=TIMEOUT)
    assert collector.values("avro/evo/sensor-1/k1/v1") == [{"id": "a", "v": 1}, {"id": "c", "v": 3}]


async def test_unknown_schema_id_and_corrupt_payloads_are_dead_lettered(avro_stack, schema_registry):
    bootstrap, collector, _, producer = avro_stack
    good = await producer.encode("avro_dlq-value", V1, {"id": "ok", "v": 1})
    schema_id = int.from_bytes(good[1:5], "big")
    unknown = wire(987654, V1, {"id": "x", "v": 1})
    truncated = good[:-1]
    trailing = good + b"\x00"
    not_avro = b'{"id": "json"}'
    records = [(b"unknown", unknown), (b"truncated", truncated), (b"trailing", trailing), (b"json", not_avro)]
    await produce(bootstrap, "avro_dlq", [*records, (b"good", good)])
    assert await collector.wait_for("avro/dlq/good", timeout=TIMEOUT) == {"id": "ok", "v": 1}
    dead = await consume(bootstrap, "avro_dlq_out", 4, timeout=TIMEOUT)
    assert [(r.key, r.value) for r in dead] == records
    messages = [dict(r.headers)["__connect.errors.exception.message"].decode() for r in dead]
    assert "schema id 987654 is not in the Schema Registry" in messages[0] and "40403" in messages[0]
    assert f"corrupt Avro payload for schema id {schema_id}" in messages[1]
    assert "1 bytes left over" in messages[2]
    assert "magic byte 0" in messages[3]
    for record in dead:
        headers = dict(record.headers)
        assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
        assert headers["__connect.errors.topic"] == b"avro_dlq"
        assert headers["__connect.errors.connector.name"] == b"avro-dlq"
    assert not any(path.startswith("avro/dlq/") and path != "avro/dlq/good" for path in collector.subscribed_paths())


async def test_registry_outage_delays_delivery_and_loses_nothing(avro_stack, schema_registry):
    bootstrap, collector, worker, producer = avro_stack
    schema = {"type": "record", "name": "Outage", "fields": [{"name": "n", "type": "int"}]}
    values = [await producer.encode("avro_outage-value", schema, {"n": n}) for n in range(5)]
    await schema_registry.stop()  # the worker has never seen this schema id: it must fetch it
    await produce(bootstrap, "avro_outage", [(f"k{n}".encode(), v) for n, v in enumerate(values)])
    await worker.wait_for(r"Schema Registry unavailable.*check that the registry runs", timeout=TIMEOUT)
    await asyncio.sleep(1.0)
    assert not any(path.startswith("avro/outage/") for path in collector.subscribed_paths())
    await schema_registry.start()  # same port, same store
    for n in range(5):
        assert await collector.wait_for(f"avro/outage/k{n}", timeout=TIMEOUT) == {"n": n}
