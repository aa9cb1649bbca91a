"""The AvroConverter against our in-memory registry: wire format, caches, versions, subjects, errors."""

from __future__ import annotations

import asyncio

import pytest

from streamapp.config.converter_options import AvroConverterOptions
from streamapp.converters import AvroConverter, ConversionError, make_converter
from streamapp.converters.registry_client import RegistryUnavailableError, redact_url
from streamapp.core.retry import Backoff, retry_transient
from streamapp.data import INT32_SCHEMA, STRING_SCHEMA, Struct, struct_schema
from tests.fixtures.avro import AvroProducer, wire
from tests.fixtures.net import free_tcp_port

SCHEMA = {
    "type": "record",
    "name": "Reading",
    "namespace": "iot",
    "fields": [{"name": "id", "type": "string"}, {"name": "v", "type": "int"}],
}
RECORD_STRATEGY = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
TOPIC_RECORD_STRATEGY = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"


def converter(url: str, *, is_key: bool = False, **options: str) -> AvroConverter:
    opts = AvroConverterOptions.model_validate({"schema.registry.url": url, **options})
    return make_converter("io.confluent.connect.avro.AvroConverter", opts, is_key=is_key)


async def decode(conv: AvroConverter, topic: str, data: bytes):
    await conv.prepare_to_connect(topic, data)
    return conv.to_connect(topic, data)


async def test_decodes_the_wire_format_and_fetches_each_schema_once(schema_registry):
    producer = AvroProducer(schema_registry.url)
    data = await producer.encode("cache-value", SCHEMA, {"id": "a", "v": 1})
    conv = converter(schema_registry.url)
    try:
        got = await decode(conv, "cache", data)
        requests = conv.client.requests
        for n in range(20):
            again = await decode(conv, "cache", wire(int.from_bytes(data[1:5], "big"), SCHEMA, {"id": "b", "v": n}))
            assert again.value.get("v") == n
        assert conv.client.requests == requests == 2  # the schema by id, then its version under the subject
        assert got.schema.name == "iot.Reading" and got.schema.version == 1
        assert list(got.value.items()) == [("id", "a"), ("v", 1)]
    finally:
        await conv.close()


async def test_version_follows_the_registry_as_the_schema_evolves(schema_registry):
    producer = AvroProducer(schema_registry.url)
    v2 = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "unit", "type": ["null", "string"], "default": None}]}
    first = await producer.encode("evolve-value", SCHEMA, {"id": "a", "v": 1})
    second = await producer.encode("evolve-value", v2, {"id": "a", "v": 1, "unit": "C"})
    conv = converter(schema_registry.url)
    try:
        assert (await decode(conv, "evolve", first)).schema.version == 1
        second_value = await decode(conv, "evolve", second)
        assert second_value.schema.version == 2 and second_value.value.get("unit") == "C"
    finally:
        await conv.close()


@pytest.mark.parametrize(
    "strategy,subject",
    [(RECORD_STRATEGY, "iot.Reading"), (TOPIC_RECORD_STRATEGY, "strat-iot.Reading")],
)
async def test_record_name_strategies_find_the_version(schema_registry, strategy, subject):
    producer = AvroProducer(schema_registry.url)
    data = await producer.encode(subject, SCHEMA, {"id": "a", "v": 1})
    conv = converter(schema_registry.url, **{"value.subject.name.strategy": strategy})
    try:
        assert (await decode(conv, "strat", data)).schema.version == 1
    finally:
        await conv.close()


async def test_a_schema_under_another_subject_still_decodes_without_version(schema_registry):
    producer = AvroProducer(schema_registry.url)
    data = await producer.encode("elsewhere-value", SCHEMA, {"id": "a", "v": 1})
    conv = converter(schema_registry.url)
    try:
        got = await decode(conv, "not-elsewhere", data)
        assert got.schema.version is None and got.value.get("id") == "a"
    finally:
        await conv.close()


async def test_null_is_a_tombstone(schema_registry):
    conv = converter(schema_registry.url)
    await conv.prepare_to_connect("t", None)
    assert conv.to_connect("t", None).value is None and conv.from_connect("t", None, None) is None
    await conv.close()


@pytest.mark.parametrize(
    "payload,message",
    [
        (b"", "expected magic byte 0"),
        (b"\x00\x00\x01", "expected magic byte 0"),
        (b"\x01\x00\x00\x00\x01abc", "expected magic byte 0"),
        (b'{"json": true}', "expected magic byte 0"),
    ],
)
async def test_bytes_that_are_not_confluent_avro(schema_registry, payload, message):
    conv = converter(schema_registry.url)
    with pytest.raises(ConversionError, match=message) as caught:
        await decode(conv, "t", payload)
    assert "AvroConverter (value)" in str(caught.value)
    await conv.close()


async def test_unknown_schema_id_and_corrupt_payloads_are_record_errors(schema_registry):
    producer = AvroProducer(schema_registry.url)
    good = await producer.encode("corrupt-value", SCHEMA, {"id": "abc", "v": 1})
    conv = converter(schema_registry.url)
    try:
        with pytest.raises(
            ConversionError, match=r"schema id 424242 is not in the Schema Registry \(error_code 40403\)"
        ):
            await decode(conv, "corrupt", wire(424242, SCHEMA, {"id": "a", "v": 1}))
        with pytest.raises(ConversionError, match="corrupt Avro payload .*EOFError"):
            await decode(conv, "corrupt", good[:-1])
        with pytest.raises(ConversionError, match="2 bytes left over"):
            await decode(conv, "corrupt", good + b"\x00\x00")
        bad_utf8 = good[:5] + b"\x06\xff\xfe\xfd\x02"
        with pytest.raises(ConversionError, match="corrupt Avro payload"):
            await decode(conv, "corrupt", bad_utf8)
        assert (await decode(conv, "corrupt", good)).value.get("id") == "abc"
    finally:
        await conv.close()


async def test_from_connect_registers_under_the_topic_subject_and_round_trips(schema_registry):
    schema = struct_schema([("id", STRING_SCHEMA), ("v", INT32_SCHEMA)], name="iot.Out")
    value = Struct(schema, {"id": "x", "v": 5})
    writer = converter(schema_registry.url)
    key_writer = converter(schema_registry.url, is_key=True)
    reader = converter(schema_registry.url)
    try:
        await writer.prepare_from_connect("out", schema)
        data = writer.from_connect("out", schema, value)
        await key_writer.prepare_from_connect("out", STRING_SCHEMA)
        key = key_writer.from_connect("out", STRING_SCHEMA, "k")
        assert schema_registry.store.subjects.keys() >= {"out-value", "out-key"}
        assert data[0] == 0 and key[0] == 0
        got = await decode(reader, "out", data)
        assert list(got.value.items()) == [("id", "x"), ("v", 5)] and got.schema.name == "iot.Out"
        # Schemaless values are written as Confluent's Anything record, and read back schemaless
        await writer.prepare_from_connect("out-schemaless", None)
        written = writer.from_connect("out-schemaless", None, {"a": [1, "b", None]})
        schemaless = await decode(reader, "out-schemaless", written)
        assert schemaless.schema is None and schemaless.value == {"a": [1, "b", None]}
        with pytest.raises(ConversionError, match="does not fit|expected"):
            writer.from_connect("out", schema, "not a struct")
    finally:
        for conv in (writer, key_writer, reader):
            await conv.close()


async def test_without_auto_register_an_unknown_schema_is_a_record_error(schema_registry):
    schema = struct_schema([("n", INT32_SCHEMA)], name="never.Registered")
    conv = converter(schema_registry.url, **{"auto.register.schemas": "false"})
    try:
        with pytest.raises(ConversionError, match="subject 'noreg-value'.*40401"):
            await conv.prepare_from_connect("noreg", schema)
    finally:
        await conv.close()


async def test_use_latest_version_writes_with_the_subjects_latest_schema(schema_registry):
    latest = {
        "type": "record",
        "name": "Latest",
        "fields": [{"name": "n", "type": "int"}, {"name": "extra", "type": "string", "default": "d"}],
    }
    producer = AvroProducer(schema_registry.url)
    schema_id = await producer.register("latest-value", latest)
    schema = struct_schema([("n", INT32_SCHEMA)], name="Latest")
    conv = converter(schema_registry.url, **{"use.latest.version": "true", "auto.register.schemas": "false"})
    try:
        await conv.prepare_from_connect("latest", schema)
        data = conv.from_connect("latest", schema, Struct(schema, {"n": 3}))
        assert int.from_bytes(data[1:5], "big") == schema_id
        assert list((await decode(conv, "latest", data)).value.items()) == [("n", 3), ("extra", "d")]
    finally:
        await conv.close()


async def test_an_unreachable_registry_is_retriable_and_never_shows_the_password():
    url = f"http://reg-user:reg-s3cret@127.0.0.1:{free_tcp_port()}"
    conv = converter(url)
    with pytest.raises(RegistryUnavailableError) as caught:
        await conv.prepare_to_connect("t", wire(1, "string", "x"))
    text = str(caught.value)
    assert caught.value.retriable
    assert "reg-s3cret" not in text and "reg-user" not in text
    assert "check that the registry runs" in text and "value.converter.schema.registry.url" in text
    await conv.close()


async def test_a_registry_outage_is_waited_out_and_record_errors_pass(schema_registry):
    producer = AvroProducer(schema_registry.url)
    data = await producer.encode("outage-value", SCHEMA, {"id": "a", "v": 1})
    conv = converter(schema_registry.url)
    waits = []
    await schema_registry.stop()
    task = asyncio.create_task(
        retry_transient(
            lambda: conv.prepare_to_connect("outage", data), lambda e, d: waits.append(d), Backoff(0.05, 0.2)
        )
    )
    await asyncio.sleep(0.6)
    assert not task.done() and len(waits) >= 3 and waits[:3] == [0.05, 0.1, 0.2]
    await schema_registry.start()
    await asyncio.wait_for(task, 5)
    assert conv.to_connect("outage", data).value.get("id") == "a"
    with pytest.raises(ConversionError):
        await retry_transient(
            lambda: conv.prepare_to_connect("outage", wire(999999, SCHEMA, {"id": "a", "v": 1})),
            lambda e, d: waits.append(d),
        )
    await conv.close()


@pytest.mark.parametrize(
    "url,options,expected",
    [
        ("http://url-user:url%3Apw@{host}", {}, ("url-user", "url:pw")),
        (
            "http://{host}",
            {"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "info:p:w"},
            ("info", "p:w"),
        ),
    ],
    ids=["URL", "USER_INFO"],
)
async def test_basic_auth_credentials_reach_the_registry(url, options, expected):
    from aiohttp import BasicAuth, web

    seen = []

    async def by_id(request):
        seen.append(BasicAuth.decode(request.headers["Authorization"]))
        return web.json_response({"schema": '"string"'})

    app = web.Application()
    app.router.add_get("/schemas/ids/{id}", by_id)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    conv = converter(url.format(host=f"127.0.0.1:{port}"), **options)
    try:
        await conv.prepare_to_connect("t", wire(1, "string", "x"))
        assert conv.to_connect("t", wire(1, "string", "x")).value == "x"
        assert [(a.login, a.password) for a in seen] == [expected]
    finally:
        await conv.close()
        await runner.cleanup()


def test_redact_url():
    assert redact_url("https://u:p@reg.example:8081/path") == "https://reg.example:8081/path"
    assert redact_url("http://reg:8081") == "http://reg:8081"


@pytest.mark.parametrize(
    "options,key,message",
    [
        ({"basic.auth.credentials.source": "SASL_INHERIT"}, "basic.auth.credentials.source", "not supported"),
        ({"basic.auth.credentials.source": "USER_INFO"}, "basic.auth.user.info", "<user>:<password>"),
        ({"schema.registry.ssl.truststore.location": "/x.jks"}, "schema.registry.ssl.truststore.type", "PEM"),
        (
            {"schema.registry.ssl.keystore.location": "/x.p12", "schema.registry.ssl.keystore.type": "PKCS12"},
            "schema.registry.ssl.keystore.type",
            "openssl pkcs12",
        ),
    ],
)
def test_options_connect_accepts_but_python_cannot_use_are_config_errors(options, key, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        AvroConverterOptions.model_validate({"schema.registry.url": "http://r:8081", **options})
    error = caught.value.errors()[0]["ctx"]["error"]
    assert error.key == key and message in str(error)


def test_a_missing_pem_truststore_is_a_config_error_naming_the_key(tmp_path):
    from streamapp.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        converter(
            "https://r:8081",
            **{
                "schema.registry.ssl.truststore.location": str(tmp_path / "none.pem"),
                "schema.registry.ssl.truststore.type": "PEM",
            },
        )
    assert caught.value.key == "schema.registry.ssl.truststore.location"
