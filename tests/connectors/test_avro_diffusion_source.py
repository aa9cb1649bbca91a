"""The Diffusion source with the Avro converter: what it produces carries its inferred schema,
registered in the registry, in Confluent's wire format.

The emulator, an official-SDK publisher, a real worker process, our registry; what arrives is
decoded independently (python-schema-registry-client for the schema by id, fastavro for the value).
"""

from __future__ import annotations

import io

import diffusion.datatypes as dt
import fastavro
import pytest_asyncio

from tests.connectors.conftest import write_connector
from tests.connectors.test_avro_diffusion_sink import AVRO
from tests.connectors.test_diffusion_source import source_config
from tests.fixtures.avro import AvroProducer
from tests.fixtures.diffusion import diffusion_session
from tests.fixtures.kafka import consume
from tests.fixtures.worker import make_worker

TIMEOUT = 30
VALUES = {  # Diffusion path -> (topic type, value, Avro schema the registry holds)
    "avsrc/count": (dt.INT64, 42, "int"),  # the source infers INT32 for integers that fit
    "avsrc/name": (dt.STRING, "hello", "string"),
    "avsrc/levels": (dt.JSON, {"low": 1, "high": 9}, {"type": "map", "values": "int"}),
    "avsrc/series": (dt.JSON, [1.5, 2.25], {"type": "array", "items": "double"}),
}


@pytest_asyncio.fixture(scope="module")
async def avro_source(kafka_bootstrap, diffusion_emulator, _schema_registry_session, tmp_path_factory):
    registry = _schema_registry_session
    workdir = tmp_path_factory.mktemp("avro-source")
    configs = workdir / "connectors"
    configs.mkdir()
    url = diffusion_emulator.url
    async with diffusion_session(url) as publisher:
        for path, (kind, value, _) in VALUES.items():
            await publisher.topics.add_and_set_topic(path, kind, value)
        write_connector(
            configs,
            "avro-source",
            source_config(
                url,
                "?avsrc//",
                "avro_src.${topic}",
                **{
                    "key.converter": AVRO,
                    "key.converter.schema.registry.url": registry.url,
                    "value.converter": AVRO,
                    "value.converter.schema.registry.url": registry.url,
                },
            ),
        )
        worker = await make_worker(kafka_bootstrap, configs, workdir).start()
        try:
            await worker.wait_ready()
            yield kafka_bootstrap, publisher, worker, AvroProducer(registry.url)
        finally:
            code = await worker.stop()
            assert code == 0, worker.output[-3000:]


async def _decode(producer: AvroProducer, data: bytes):
    assert data[0] == 0, data[:8]
    schema_id = int.from_bytes(data[1:5], "big")
    schema = await producer.client.get_by_id(schema_id)
    return schema.raw_schema, fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(schema.raw_schema))


async def test_records_carry_their_inferred_schema_registered_in_the_registry(avro_source, schema_registry):
    bootstrap, _, _, producer = avro_source
    for path, (_, value, avro_schema) in VALUES.items():
        topic = "avro_src." + path.replace("/", "_")
        [record] = await consume(bootstrap, topic, 1, timeout=TIMEOUT)
        key_schema, key = await _decode(producer, record.key)
        value_schema, decoded = await _decode(producer, record.value)
        assert (key_schema, key) == ("string", path)
        assert decoded == value, path
        assert value_schema == avro_schema, path
        # Registered under Confluent's default TopicNameStrategy subjects, version 1.
        latest = await producer.client.get_schema(f"{topic}-value")
        assert latest.version == 1 and latest.schema_id == int.from_bytes(record.value[1:5], "big")
        assert (await producer.client.get_schema(f"{topic}-key")).version == 1


async def test_an_incompatible_new_schema_is_refused_and_compatible_values_flow(avro_source, schema_registry):
    bootstrap, publisher, worker, producer = avro_source
    # A map of ints becoming a list is incompatible (BACKWARD): the registry refuses, the source
    # logs it and skips that value; the next compatible value is produced.
    await publisher.topics.set_topic("avsrc/levels", ["not", "a", "map"], specification=dt.JSON)
    await worker.wait_for(r"cannot convert the value of Diffusion topic 'avsrc/levels'.*incompatible", timeout=TIMEOUT)
    await publisher.topics.set_topic("avsrc/levels", {"low": 2, "high": 8}, specification=dt.JSON)
    records = await consume(bootstrap, "avro_src.avsrc_levels", 2, timeout=TIMEOUT)
    assert [(await _decode(producer, r.value))[1] for r in records] == [{"low": 1, "high": 9}, {"low": 2, "high": 8}]
    assert await producer.client.get_versions("avro_src.avsrc_levels-value") == [1]
