"""Confluent's own Avro serializer and deserializer against the connectors, end to end.

Records are written by confluent-kafka's ``AvroSerializer`` with its ``SchemaRegistryClient``
(what Python producers in Confluent shops use) against the project's registry, on a real Apache
Kafka broker, and carry what the Avro mapping once got wrong: a union of two records with the
same fields (the value is in the second one), a union of a string and an enum (the value is the
enum), a map with int keys (Connect writes those as arrays of key/value records) and a recursive
record. A worker runs a Diffusion sink, a CoAP sink and a Diffusion source; what Diffusion and
CoAP receive is checked, and what the source writes is read back by Confluent's
``AvroDeserializer``.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import diffusion.datatypes as dt
import pytest_asyncio
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer

from streamapp.devstack.coap_server import DevCoapServer
from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.connectors.test_diffusion_source import source_config
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.net import free_udp_port
from tests.fixtures.worker import make_worker

TIMEOUT = 30
AVRO = "io.confluent.connect.avro.AvroConverter"

SHIPMENT = {
    "type": "record",
    "name": "Shipment",
    "namespace": "e2e",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "party",
            "type": [
                {"type": "record", "name": "Person", "fields": [{"name": "name", "type": "string"}]},
                {"type": "record", "name": "Company", "fields": [{"name": "name", "type": "string"}]},
            ],
        },
        {"name": "status", "type": ["string", {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"]}]},
        {
            "name": "route",
            "type": {
                "type": "record",
                "name": "Stop",
                "fields": [
                    {"name": "place", "type": "string"},
                    {"name": "next", "type": ["null", "Stop"], "default": None},
                ],
            },
        },
    ],
}
# fastavro's (branch, value) notation, which confluent-kafka's serializer passes on: the branch is
# chosen here, so the bytes say Company (not Person) and Status (not string).
SHIPMENT_VALUE = {
    "id": "s1",
    "party": ("e2e.Company", {"name": "ACME"}),
    "status": ("e2e.Status", "DONE"),
    "route": {"place": "Hamburg", "next": {"place": "Rotterdam", "next": {"place": "Leith", "next": None}}},
}
# Connect's view: a union is a struct with one field per branch, the written branch set.
SHIPMENT_JSON = {
    "id": "s1",
    "party": {"Person": None, "Company": {"name": "ACME"}},
    "status": {"string": None, "Status": "DONE"},
    "route": {"place": "Hamburg", "next": {"place": "Rotterdam", "next": {"place": "Leith", "next": None}}},
}
TALLY = {
    "type": "record",
    "name": "Tally",
    "namespace": "e2e",
    "fields": [
        {
            "name": "counts",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "MapEntry",
                    "namespace": "io.confluent.connect.avro",
                    "fields": [{"name": "key", "type": "int"}, {"name": "value", "type": "string"}],
                },
            },
        },
    ],
}
TALLY_VALUE = {"counts": [{"key": 1, "value": "one"}, {"key": 20, "value": "twenty"}]}
# Diffusion JSON topics the source reads. Values of one type get a schema (a map, an array);
# objects mixing types are schemaless, which Confluent writes as its Anything record.
SOURCE_TYPED = {
    "e2esrc/levels": {"low": 1, "high": 9},
    "e2esrc/series": [[1.5, 2.25], [3.0]],
}
SOURCE_SCHEMALESS = {
    "e2esrc/order": {"id": "o-1", "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}], "paid": True},
    "e2esrc/plain": {"note": "hello", "ratio": 0.25, "tags": None},
}
SOURCE_VALUES = {**SOURCE_TYPED, **SOURCE_SCHEMALESS}


def serializer(registry_url: str) -> tuple[SchemaRegistryClient, dict[str, AvroSerializer]]:
    client = SchemaRegistryClient({"url": registry_url})
    return client, {
        "shipment": AvroSerializer(client, json.dumps(SHIPMENT)),
        "tally": AvroSerializer(client, json.dumps(TALLY)),
    }


@pytest_asyncio.fixture(scope="module")
async def e2e(kafka_bootstrap, diffusion_emulator, _schema_registry_session, tmp_path_factory):
    registry = _schema_registry_session
    suffix = uuid.uuid4().hex[:6]
    workdir = tmp_path_factory.mktemp("avro-e2e")
    configs = workdir / "connectors"
    configs.mkdir()
    topics = {name: f"e2e_{name}_{suffix}" for name in ("shipments", "tallies")}
    for topic in topics.values():
        await create_topic(kafka_bootstrap, topic, 1)
    coap = DevCoapServer("127.0.0.1", free_udp_port())
    await coap.start()
    url = diffusion_emulator.url
    avro = {"value.converter": AVRO, "value.converter.schema.registry.url": registry.url}
    write_connector(
        configs,
        "e2e-diffusion",
        diffusion_sink_config(
            url,
            f"{topics['shipments']},{topics['tallies']}",
            "e2e/${topic}/${key}",
            **avro,
            **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": f"e2e_dlq_{suffix}"},
        ),
    )
    write_connector(
        configs,
        "e2e-coap",
        {
            "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
            "tasks.max": "1",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            **avro,
            "connect.coap.uri": coap.uri,
            "connect.coap.kcql": f"INSERT INTO shipment SELECT * FROM {topics['shipments']};"
            f"INSERT INTO tally SELECT * FROM {topics['tallies']}",
            "topics": f"{topics['shipments']},{topics['tallies']}",
            "connect.coap.request.timeout.ms": "3000",
        },
    )
    async with diffusion_session(url) as publisher:
        for path, value in SOURCE_VALUES.items():
            await publisher.topics.add_and_set_topic(path, dt.JSON, value)
        write_connector(
            configs,
            "e2e-source",
            source_config(
                url,
                "?e2esrc//",
                f"e2e_src_{suffix}.${{topic}}",
                **{  # a Kafka topic (and subject) per path
                    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                    **avro,
                },
            ),
        )
        worker = await make_worker(kafka_bootstrap, configs, workdir).start()
        try:
            await worker.wait_ready()
            async with diffusion_session(url) as session:
                collector = await Collector(session).subscribe("?e2e//")
                yield {
                    "bootstrap": kafka_bootstrap,
                    "registry": registry.url,
                    "topics": topics,
                    "coap": coap,
                    "collector": collector,
                    "source_topic": f"e2e_src_{suffix}",
                    "dlq": f"e2e_dlq_{suffix}",
                }
        finally:
            code = await worker.stop()
            await coap.stop()
            assert code == 0, worker.output[-3000:]


async def _serialize(serialize: AvroSerializer, topic: str, value: dict) -> bytes:
    # confluent-kafka's client is synchronous (HTTP to the registry): keep the loop free.
    return await asyncio.to_thread(serialize, value, SerializationContext(topic, MessageField.VALUE))


async def test_confluent_serialized_unions_and_recursion_reach_diffusion_and_coap(e2e, schema_registry):
    _, serializers = serializer(e2e["registry"])
    topic = e2e["topics"]["shipments"]
    data = await _serialize(serializers["shipment"], topic, SHIPMENT_VALUE)
    await produce(e2e["bootstrap"], topic, [(b"s1", data)])
    got = await e2e["collector"].wait_for(f"e2e/{topic}/s1", timeout=TIMEOUT)
    assert got == SHIPMENT_JSON
    payload = (await e2e["coap"].wait_for("/shipment", 1, timeout=TIMEOUT))[-1]
    assert json.loads(payload) == SHIPMENT_JSON


async def test_a_map_with_int_keys_reaches_coap_and_diffusion_as_key_value_pairs(e2e, schema_registry):
    _, serializers = serializer(e2e["registry"])
    topic = e2e["topics"]["tallies"]
    data = await _serialize(serializers["tally"], topic, TALLY_VALUE)
    await produce(e2e["bootstrap"], topic, [(b"t1", data)])
    # CoAP's JSON writes a map with non-text keys as Connect's JsonConverter does: [key, value] pairs
    payload = (await e2e["coap"].wait_for("/tally", 1, timeout=TIMEOUT))[-1]
    assert json.loads(payload) == {"counts": [[1, "one"], [20, "twenty"]]}
    # JSON object keys are text: Diffusion gets the same [key, value] pairs (the Java connector failed).
    got = await e2e["collector"].wait_for(f"e2e/{topic}/t1", timeout=TIMEOUT)
    assert got == {"counts": [[1, "one"], [20, "twenty"]]}


def anything(record: dict | None) -> object:
    """The value in Confluent's Anything record (what its AvroConverter unwraps for schemaless data)."""
    if record is None:
        return None
    for kind in ("boolean", "bytes", "double", "float", "int", "long", "string"):
        if record[kind] is not None:
            return record[kind]
    if record["array"] is not None:
        return [anything(item) for item in record["array"]]
    if record["map"] is not None:
        return {anything(entry["key"]): anything(entry["value"]) for entry in record["map"]}
    return None


async def test_the_source_avro_reads_back_with_confluents_deserializer(e2e, schema_registry):
    client = SchemaRegistryClient({"url": e2e["registry"]})
    deserialize = AvroDeserializer(client)
    got = {}
    for path in SOURCE_VALUES:
        topic = f"{e2e['source_topic']}.{path.replace('/', '_')}"
        [record] = await consume(e2e["bootstrap"], topic, 1, timeout=TIMEOUT)
        assert StringDeserializer()(record.key, None) == path
        context = SerializationContext(topic, MessageField.VALUE)
        got[path] = await asyncio.to_thread(deserialize, record.value, context)
    assert {path: got[path] for path in SOURCE_TYPED} == SOURCE_TYPED
    for path, value in SOURCE_SCHEMALESS.items():
        assert set(got[path]) == {"boolean", "bytes", "double", "float", "int", "long", "string", "array", "map"}
        assert anything(got[path]) == value, path
