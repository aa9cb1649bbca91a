"""Avro (Confluent Schema Registry) through the CoAP sink: KCQL projections on Avro structs.

Real broker, a real worker process, our registry, records written like a Java producer's, and
what arrived read back from our aiocoap server and from Debian's coap-server-notls.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest_asyncio

from streamapp.devstack.coap_server import DevCoapServer
from tests.connectors.conftest import write_connector
from tests.connectors.test_avro_diffusion_sink import AVRO, EVERYTHING, EVERYTHING_VALUE
from tests.fixtures.avro import AvroProducer
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.net import free_udp_port
from tests.fixtures.worker import make_worker

TIMEOUT = 30

READING = {
    "type": "record",
    "name": "Probe",
    "namespace": "iot",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "name", "type": "string"},
        {
            "name": "reading",
            "type": {
                "type": "record",
                "name": "Reading",
                "fields": [
                    {"name": "t", "type": "double"},
                    {"name": "unit", "type": {"type": "enum", "name": "Unit", "symbols": ["C", "F"]}},
                    {"name": "raw", "type": ["null", "bytes"]},
                ],
            },
        },
        {"name": "secret", "type": "string"},
    ],
}
READING_VALUE = {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C", "raw": b"\x01\x02"}, "secret": "s"}
PROJECTIONS = (  # resource, KCQL select, clause after FROM, expected JSON
    ("all", "*", "", {**READING_VALUE, "reading": {"t": 21.5, "unit": "C", "raw": "AQI="}}),
    ("ignore", "*", " IGNORE secret, reading.raw", {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C"}}),
    ("alias", "id AS sensor, reading.t AS celsius, reading.unit", "", {"sensor": 7, "celsius": 21.5, "unit": "C"}),
    ("nested", "reading", "", {"reading": {"t": 21.5, "unit": "C", "raw": "AQI="}}),
)
EVERYTHING_JSON = {
    "flag": True,
    "i": -70000,
    "l": 2**40 + 1,
    "f": 1.5,
    "d": 0.30000000000000004,
    "s": "héllo",
    "b": base64.b64encode(b"\x00\x01\xff").decode(),
    "color": "GREEN",
    "hash": base64.b64encode(b"abcd").decode(),
    "tags": ["x", "y"],
    "counts": {"a": 1, "b": 2},
    "maybe": None,
    "present": "here",
    "inner": {"z": 7, "a": "RED"},
    "price": "12.34",
    "fixed_price": "-1.500",
    "day": "2024-01-31",
    "tm": "13:45:00.123",
    "tu": 49500123456,
    "ts": "2024-01-31T13:45:00.123Z",
    "tsu": 1706708700123456,
    "choice": {"int": None, "string": "picked"},
}


def avro_coap_sink(uri: str, registry: str, topic: str, kcql: str) -> dict:
    return {
        "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": AVRO,
        "value.converter.schema.registry.url": registry,
        "connect.coap.uri": uri,
        "connect.coap.kcql": kcql,
        "topics": topic,
        "connect.coap.request.timeout.ms": "3000",
    }


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, libcoap_notls_server, _schema_registry_session, tmp_path_factory):
    registry = _schema_registry_session
    suffix = uuid.uuid4().hex[:6]
    workdir = tmp_path_factory.mktemp("avro-coap")
    configs = workdir / "connectors"
    configs.mkdir()
    topics = {name: f"avro_coap_{name}_{suffix}" for name in ("probe", "all", "lib")}
    for topic in topics.values():
        await create_topic(kafka_bootstrap, topic, 1)
    server = DevCoapServer("127.0.0.1", free_udp_port())
    await server.start()
    kcql = ";".join(
        f"INSERT INTO probe/{name} SELECT {select} FROM {topics['probe']}{tail}"
        for name, select, tail, _ in PROJECTIONS
    )
    write_connector(configs, "probe", avro_coap_sink(server.uri, registry.url, topics["probe"], kcql))
    all_kcql = f"INSERT INTO all SELECT * FROM {topics['all']}"
    write_connector(configs, "all", avro_coap_sink(server.uri, registry.url, topics["all"], all_kcql))
    write_connector(
        configs,
        "lib",
        avro_coap_sink(
            libcoap_notls_server.uri,
            registry.url,
            topics["lib"],
            f"INSERT INTO lib/avro SELECT name, reading.t AS t FROM {topics['lib']}",
        ),
    )
    worker = await make_worker(kafka_bootstrap, configs, workdir).start()
    try:
        await worker.wait_ready()
        yield {
            "bootstrap": kafka_bootstrap,
            "server": server,
            "topics": topics,
            "producer": AvroProducer(registry.url),
            "libcoap": libcoap_notls_server,
        }
    finally:
        code = await worker.stop()
        await server.stop()
        assert code == 0, worker.output[-3000:]


async def test_kcql_projections_on_avro_structs_nested_fields_included(stack, schema_registry):
    topic = stack["topics"]["probe"]
    value = await stack["producer"].encode(f"{topic}-value", READING, READING_VALUE)
    await produce(stack["bootstrap"], topic, [(b"p", value)])
    for name, _, _, expected in PROJECTIONS:
        payload = (await stack["server"].wait_for(f"/probe/{name}", 1, timeout=TIMEOUT))[-1]
        assert json.loads(payload) == expected, name
        assert list(json.loads(payload)) == list(expected), f"{name}: field order"


async def test_every_avro_type_as_coap_json(stack, schema_registry):
    topic = stack["topics"]["all"]
    value = await stack["producer"].encode(f"{topic}-value", EVERYTHING, EVERYTHING_VALUE)
    await produce(stack["bootstrap"], topic, [(None, value)])
    payload = (await stack["server"].wait_for("/all", 1, timeout=TIMEOUT))[-1]
    assert json.loads(payload) == EVERYTHING_JSON
    assert list(json.loads(payload)) == list(EVERYTHING_JSON)


async def test_debian_libcoap_server_receives_a_projected_avro_record(stack, schema_registry, coap_client):
    from tests.connectors.test_coap_sink import _poll

    topic = stack["topics"]["lib"]
    value = await stack["producer"].encode(f"{topic}-value", READING, READING_VALUE)
    await produce(stack["bootstrap"], topic, [(None, value)])
    payload = await _poll(coap_client, f"{stack['libcoap'].uri}/lib/avro")
    assert json.loads(payload) == {"name": "probe", "t": 21.5}
