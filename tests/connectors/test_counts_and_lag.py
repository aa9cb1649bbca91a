"""Counts that add up under an outage, and lag as Connect users read it (end offset - committed offset).

* A CoAP sink under NOOP with a dead-letter topic while its server is down for part of the
  stream: each record is either delivered or dead-lettered, and /metrics says which, exactly
  (NOOP used to count skipped records as delivered).
* A Diffusion sink with a backlog (Diffusion slowed down): ``streamapp_connector_lag_records`` is
  the partition's end offset minus the group's committed offset, read from the broker, while the
  backlog lasts and when it is gone.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import started_emulator
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

TIMEOUT = 60


async def metrics(worker) -> dict[str, float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{worker.web_port}/metrics") as response:
            text = await response.text()
    out = {}
    for line in text.splitlines():
        match = re.match(r"(streamapp_connector_\w+)\{([^}]*)\} (\S+)$", line)
        if match:
            out[f"{match[1]}{{{match[2]}}}"] = float(match[3])
    return out


def counter(samples: dict[str, float], name: str, connector: str) -> float:
    return samples.get(f'streamapp_connector_{name}{{connector="{connector}"}}', 0.0)


async def until(condition, timeout: float = TIMEOUT, explain=lambda: ""):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await condition()
        if result:
            return result
        assert loop.time() < deadline, f"timed out; {explain()}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(180)
async def test_noop_under_a_server_outage_delivers_or_dead_letters_each_record_and_counts_it_so(
    kafka_bootstrap, coap_server, tmp_path, suffix
):
    topic, resource, name = f"outage_{suffix}", f"outage-{suffix}", "outage"
    await create_topic(kafka_bootstrap, topic, 1)
    configs = tmp_path / "connectors"
    configs.mkdir()
    write_connector(configs, name, {
        "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
        "connect.coap.uri": coap_server.uri,
        "connect.coap.kcql": f"INSERT INTO {resource} SELECT * FROM {topic}",
        "topics": topic,
        "connect.coap.error.policy": "NOOP",
        "connect.coap.request.timeout.ms": "500",
        "errors.deadletterqueue.topic.name": f"{topic}_dead",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter.schemas.enable": "false",
    })  # fmt: skip
    worker = await make_worker(kafka_bootstrap, configs, tmp_path / "w").start()
    try:
        await worker.wait_ready()
        await produce(kafka_bootstrap, topic, [(None, json.dumps({"n": i}).encode()) for i in range(100)])
        await coap_server.wait_for(f"/{resource}", 100, timeout=TIMEOUT)
        await coap_server.stop()  # the outage: every request times out, NOOP dead-letters the record
        await produce(kafka_bootstrap, topic, [(None, json.dumps({"n": i}).encode()) for i in range(100, 140)])

        async def dead_lettered() -> bool:
            return counter(await metrics(worker), "records_dead_lettered_total", name) >= 40

        await until(dead_lettered, explain=lambda: worker.output[-2000:])
        await coap_server.start()
        await produce(kafka_bootstrap, topic, [(None, json.dumps({"n": i}).encode()) for i in range(140, 200)])

        async def settled() -> dict[str, float] | None:
            samples = await metrics(worker)
            if counter(samples, "records_in_total", name) == 200 and counter(samples, "records_in_flight", name) == 0:
                return samples
            return None

        samples = await until(settled, explain=lambda: worker.output[-2000:])
        delivered = counter(samples, "records_delivered_total", name)
        dead = counter(samples, "records_dead_lettered_total", name)
        received = {json.loads(p)["n"] for p in coap_server.received(f"/{resource}")}
        assert delivered == len(received) and delivered >= 160  # what the server got, no more
        assert dead == 200 - delivered  # the rest, all of it dead-lettered
        assert counter(samples, "records_failed_total", name) == 0
        assert counter(samples, "records_skipped_total", name) == 0
    finally:
        if not coap_server.running:
            await coap_server.start()
        assert await worker.stop() == 0


@pytest.mark.timeout(180)
async def test_lag_is_the_end_offset_minus_the_committed_offset(kafka_bootstrap, tmp_path, suffix):
    topic, name = f"lag_{suffix}", "lag"
    await create_topic(kafka_bootstrap, topic, 1)
    configs = tmp_path / "connectors"
    configs.mkdir()
    async with started_emulator() as emulator:
        write_connector(configs, name, diffusion_sink_config(emulator.url, topic, "lag/${key}"))
        worker = await make_worker(kafka_bootstrap, configs, tmp_path / "w", app_id=f"lag-{suffix}").start()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()

        async def committed() -> int:
            offsets = await admin.list_consumer_group_offsets(f"lag-{suffix}")
            meta = offsets.get(TopicPartition(topic, 0))
            return meta.offset if meta and meta.offset >= 0 else 0

        label = f'streamapp_connector_lag_records{{connector="{name}",partition="0",topic="{topic}"}}'
        try:
            await worker.wait_ready()
            emulator.delay_responses(0.05)  # Diffusion confirms 20 updates a second: a backlog builds up
            await produce(kafka_bootstrap, topic, [(f"k{i % 10}".encode(), b'{"v": 1}') for i in range(2000)])

            async def backlog() -> float | None:
                lag = (await metrics(worker)).get(label)
                return lag if lag is not None and lag > 500 else None

            await until(backlog)
            for _ in range(3):  # while the backlog lasts, the metric follows the broker's committed offset
                before = await committed()
                lag = (await metrics(worker)).get(label)
                after = await committed()  # a commit may land between the two reads
                assert lag is not None and 2000 - after <= lag <= 2000 - before, (before, lag, after)
                await asyncio.sleep(0.5)
            emulator.delay_responses(0)

            async def caught_up() -> bool:
                return await committed() == 2000 and (await metrics(worker)).get(label) == 0

            await until(caught_up)
        finally:
            await admin.close()
            assert await worker.stop() == 0
