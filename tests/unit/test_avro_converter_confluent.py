"""Confluent's AvroConverterTest, ported: the AvroConverter with the project's Schema Registry.

Each test is named after the Confluent test it ports (``test_<ConfluentName>``); the list of
Confluent tests and what is not ported (and why) is in ``tests/data/avro_confluent_cases.yaml``.
Records "written by KafkaAvroSerializer" are produced here like a Java producer does: the schema
registered under the subject, the value written by fastavro after Confluent's header.
"""

from __future__ import annotations

import aiohttp
import pytest

from streamapp.config.converter_options import AvroConverterOptions
from streamapp.converters import AvroConverter, ConversionError, make_converter
from streamapp.converters.json_schema import schema_from_json
from streamapp.converters.json_values import JsonValueCodec
from streamapp.converters.registry_client import RegistryUnavailableError
from streamapp.data import BOOLEAN_SCHEMA, BYTES_SCHEMA, Schema, Struct, Type
from tests.fixtures.avro import AvroProducer, wire
from tests.fixtures.net import free_tcp_port

RECORD_STRATEGY = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
_codec = JsonValueCodec(replace_null_with_default=False)


def converter(url: str, *, is_key: bool = False, **options: object) -> AvroConverter:
    opts = AvroConverterOptions.model_validate({"schema.registry.url": url, **options})
    return make_converter("io.confluent.connect.avro.AvroConverter", opts, is_key=is_key)


def connect(schema_json: dict, payload: object) -> tuple[Schema, object]:
    schema = schema_from_json(schema_json, _codec)
    return schema, _codec.reader(schema)(payload)


async def compatibility_none(url: str, subject: str) -> None:
    """Confluent's mock registry checks no compatibility; these tests register incompatible versions."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{url}/config/{subject}",
            json={"compatibility": "NONE"},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        ) as response,
    ):
        response.raise_for_status()


async def write(conv: AvroConverter, topic: str, schema: Schema | None, value: object) -> bytes | None:
    await conv.prepare_from_connect(topic, schema)
    return conv.from_connect(topic, schema, value)


async def read(conv: AvroConverter, topic: str, data: bytes | None):
    await conv.prepare_to_connect(topic, data)
    return conv.to_connect(topic, data)


@pytest.mark.parametrize(
    "is_key,subject", [(True, "cfg-key"), (False, "cfg-value")], ids=["testConfigure", "testConfigureAlt"]
)
async def test_testConfigure_and_testConfigureAlt(schema_registry, is_key, subject):
    conv = converter(schema_registry.url, is_key=is_key)
    try:
        assert conv.is_key is is_key
        await write(conv, "cfg", BOOLEAN_SCHEMA, True)
        assert subject in schema_registry.store.subjects
    finally:
        await conv.close()


async def test_testPrimitive(schema_registry):
    conv = converter(schema_registry.url)
    try:
        got = await read(conv, "prim", await write(conv, "prim", BOOLEAN_SCHEMA, True))
        # the registry's version is added on the way back
        assert got.schema == Schema(Type.BOOLEAN, version=1) and got.value is True
    finally:
        await conv.close()


COMPLEX = {
    "type": "struct",
    "fields": [
        {"field": "int8", "type": "int8", "default": 2, "doc": "int8 field"},
        {"field": "int16", "type": "int16"},
        {"field": "int32", "type": "int32"},
        {"field": "int64", "type": "int64"},
        {"field": "float32", "type": "float32"},
        {"field": "float64", "type": "float64"},
        {"field": "boolean", "type": "boolean"},
        {"field": "string", "type": "string"},
        {"field": "bytes", "type": "bytes"},
        {"field": "array", "type": "array", "items": {"type": "string"}},
        {"field": "map", "type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}},
        {"field": "mapNonStringKeys", "type": "map", "keys": {"type": "int32"}, "values": {"type": "int32"}},
    ],
}
COMPLEX_VALUE = {
    "int8": 12,
    "int16": 12,
    "int32": 12,
    "int64": 12,
    "float32": 12.5,
    "float64": 12.2,
    "boolean": True,
    "string": "foo",
    "bytes": "Zm9v",
    "array": ["a", "b", "c"],
    "map": {"field": 1},
    "mapNonStringKeys": [[1, 1]],
}


async def test_testComplex(schema_registry):
    schema, value = connect(COMPLEX, COMPLEX_VALUE)
    expected_schema, expected = connect({**COMPLEX, "version": 1}, COMPLEX_VALUE)
    conv = converter(schema_registry.url)
    try:
        got = await read(conv, "complex", await write(conv, "complex", schema, value))
        assert got.schema == expected_schema and got.value == Struct._trusted(
            got.schema, {f.name: v for f, v in zip(got.schema.fields, expected.raw_values(), strict=True)}
        )
    finally:
        await conv.close()


async def test_testTypeBytes(schema_registry):
    conv = converter(schema_registry.url)
    try:
        got = await read(conv, "bytes", await write(conv, "bytes", BYTES_SCHEMA, b"jellomellow"))
        assert got.schema.type is Type.BYTES and got.value == b"jellomellow"
    finally:
        await conv.close()


async def test_testNull(schema_registry):
    conv = converter(schema_registry.url)
    try:
        # A null value is no message: no bytes, and no schema needed (nothing to register)
        assert conv.from_connect("nulls", Schema(Type.BOOLEAN, optional=True), None) is None
        assert "nulls-value" not in schema_registry.store.subjects
        got = await read(conv, "nulls", None)
        assert got.schema is None and got.value is None
    finally:
        await conv.close()


FOO_V1 = {"type": "record", "name": "Foo", "fields": [{"name": "key", "type": "int"}]}
FOO_V2 = {
    "type": "record",
    "name": "Foo",
    "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}],
}


@pytest.mark.parametrize(
    "strategy,subject",
    [(None, "{topic}-value"), (RECORD_STRATEGY, "Foo")],
    ids=["testVersionExtractedForDefaultSubjectNameStrategy", "testVersionExtractedForRecordSubjectNameStrategy"],
)
async def test_testVersionExtracted(schema_registry, strategy, subject):
    # Versions come from the registry even for records no Connect converter wrote.
    topic = f"versions-{strategy is None}"
    subject = subject.format(topic=topic) if strategy is None else f"{subject}"
    producer = AvroProducer(schema_registry.url)
    await compatibility_none(schema_registry.url, subject)
    first = await producer.encode(subject, FOO_V1, {"key": 15})
    second = await producer.encode(subject, FOO_V2, {"key": 15, "value": "bar"})
    options = {"value.subject.name.strategy": strategy} if strategy else {}
    conv = converter(schema_registry.url, **options)
    try:
        assert (await read(conv, topic, first)).schema.version == 1
        assert (await read(conv, topic, second)).schema.version == 2
    finally:
        await conv.close()


async def test_testVersionMaintained(schema_registry):
    # A version the Connect schema carries (connect.version) wins over the registry's.
    newer, newer_value = connect(
        {
            "type": "struct",
            "version": 2,
            "fields": [
                {"field": "orig", "type": "int16", "optional": True},
                {"field": "new", "type": "int16", "optional": True},
            ],
        },
        {},
    )
    older, older_value = connect(
        {"type": "struct", "version": 1, "fields": [{"field": "orig", "type": "int16", "optional": True}]}, {}
    )
    conv = converter(schema_registry.url)
    try:
        newer_bytes = await write(conv, "maintained", newer, newer_value)
        older_bytes = await write(conv, "maintained", older, older_value)
        assert (await read(conv, "maintained", newer_bytes)).schema.version == 2
        assert (await read(conv, "maintained", older_bytes)).schema.version == 1
    finally:
        await conv.close()


@pytest.mark.parametrize(
    "is_key", [False, True], ids=["testSameSchemaMultipleTopicForValue", "testSameSchemaMultipleTopicForKey"]
)
async def test_testSameSchemaMultipleTopic(schema_registry, is_key):
    # One schema under two subjects has a version per subject; each topic gets its own.
    suffix = "key" if is_key else "value"
    producer = AvroProducer(schema_registry.url)
    await compatibility_none(schema_registry.url, f"multi2-{suffix}")
    await producer.register(f"multi1-{suffix}", FOO_V2)
    await producer.register(f"multi2-{suffix}", FOO_V1)
    schema_id = await producer.register(f"multi2-{suffix}", FOO_V2)
    record = wire(schema_id, FOO_V2, {"key": 15, "value": "bar"})
    conv = converter(schema_registry.url, is_key=is_key)
    try:
        assert (await read(conv, "multi1", record)).schema.version == 1
        assert (await read(conv, "multi2", record)).schema.version == 2
        assert (await read(conv, "multi2", record)).schema.version == 2
    finally:
        await conv.close()


async def test_testExplicitlyNamedNestedMapsWithNonStringKeys(schema_registry):
    schema, value = connect(
        {
            "type": "map",
            "name": "biz.baz",
            "version": 1,
            "keys": {"type": "string", "optional": True},
            "values": {
                "type": "map",
                "name": "foo.bar",
                "keys": {"type": "string", "optional": True},
                "values": {"type": "int32"},
            },
        },
        {"foo": {"bar": 1}},
    )
    conv = converter(schema_registry.url)
    try:
        got = await read(conv, "named-maps", await write(conv, "named-maps", schema, value))
        assert got.schema == schema and got.value == {"foo": {"bar": 1}}
    finally:
        await conv.close()


async def test_testSingleFieldSerialization(schema_registry):
    # use.latest.version: values are written with the subject's latest schema, fields matched by name.
    producer = AvroProducer(schema_registry.url)
    await producer.register(
        "single-value", {"type": "record", "name": "MySchema", "fields": [{"name": "id", "type": "string"}]}
    )
    conv = converter(schema_registry.url, **{"auto.register.schemas": "false", "use.latest.version": "true"})
    try:
        first = connect(
            {"type": "struct", "fields": [{"field": "foo", "type": "string"}, {"field": "id", "type": "string"}]},
            {"foo": "123", "id": "456"},
        )
        second = connect(
            {"type": "struct", "fields": [{"field": "id", "type": "string"}, {"field": "foo", "type": "string"}]},
            {"id": "456", "foo": "123"},
        )
        got1 = await read(conv, "single", await write(conv, "single", *first))
        got2 = await read(conv, "single", await write(conv, "single", *second))
        assert got1.value == got2.value and list(got1.value.items()) == [("id", "456")]
    finally:
        await conv.close()


async def test_testSingleFieldSerializationDifferentCase(schema_registry):
    # A value without a field the latest schema needs (names are case-sensitive) is a record
    # error naming the converter, the same for the same input every time.
    producer = AvroProducer(schema_registry.url)
    await producer.register(
        "case-value", {"type": "record", "name": "MySchema", "fields": [{"name": "id", "type": "string"}]}
    )
    conv = converter(schema_registry.url, **{"auto.register.schemas": "false", "use.latest.version": "true"})
    try:
        schema, value = connect({"type": "struct", "fields": [{"field": "ID", "type": "string"}]}, {"ID": "456"})
        outcomes = []
        for _ in range(2):
            with pytest.raises(ConversionError, match="AvroConverter \\(value\\)") as caught:
                await write(conv, "case", schema, value)
            outcomes.append(str(caught.value))
        assert outcomes[0] == outcomes[1]
    finally:
        await conv.close()


@pytest.mark.parametrize(
    "direction",
    ["from_connect", "to_connect"],
    ids=[
        "testFromConnectDataThrowsNetworkExceptionOnSerializationExceptionCausedByNetworkConnectionException",
        "testToConnectDataThrowsNetworkExceptionOnSerializationExceptionCausedByNetworkConnectionException",
    ],
)
async def test_network_errors_are_retriable(direction):
    # Confluent's NetworkException: the connector retries; nothing is dropped.
    conv = converter(f"http://127.0.0.1:{free_tcp_port()}")
    try:
        with pytest.raises(RegistryUnavailableError) as caught:
            if direction == "from_connect":
                await conv.prepare_from_connect("down", BOOLEAN_SCHEMA)
            else:
                await conv.prepare_to_connect("down", wire(7, "boolean", True))
        assert caught.value.retriable
    finally:
        await conv.close()
