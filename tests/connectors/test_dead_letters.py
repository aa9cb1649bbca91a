"""A dead letter Kafka refuses stops its connector, visibly; with producer.override.max.request.size it goes through.

Three Diffusion sinks with ``errors.tolerance=all`` and a dead-letter topic each, in one worker,
each fed a good record, then a non-JSON record too large for Kafka's default 1 MB request, then
good records: the default settings stop the connector (FAILED with the trace, /readyz 503, the
state in /metrics, one log line saying which key to raise); a raised
``producer.override.max.request.size`` dead-letters the 1.2 MB record and goes on; a 20 MB record
is over even that, and stops its connector the same way.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import Collector, diffusion_session, started_emulator
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.worker import make_worker

TIMEOUT = 60
BIG_TOPIC = {"max.message.bytes": str(25 * 1024 * 1024)}  # the source topics take what the test sends
MB = 1024 * 1024


def junk(size: int) -> bytes:
    return b"<" + b"x" * (size - 2) + b">"  # not JSON: a value converter error


async def get(url: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
        return response.status, json.loads(text) if "json" in response.content_type else text


@pytest.mark.timeout(180)
async def test_dead_letters_too_large_for_kafka_stop_the_connector_visibly(kafka_bootstrap, tmp_path, suffix):
    cases = {
        "default": (int(1.2 * MB), {}),
        "raised": (int(1.2 * MB), {"producer.override.max.request.size": str(2 * MB)}),
        "huge": (20 * MB, {"producer.override.max.request.size": str(2 * MB)}),
    }
    configs = tmp_path / "connectors"
    configs.mkdir()
    async with started_emulator() as emulator, diffusion_session(emulator.url) as session:
        for name, (_, extra) in cases.items():
            await create_topic(kafka_bootstrap, f"dl_{name}_{suffix}", 1, config=BIG_TOPIC)
            config = diffusion_sink_config(
                emulator.url,
                f"dl_{name}_{suffix}",
                f"dl/{name}/" + "${key}",
                **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": f"dlq_{name}_{suffix}", **extra},
            )
            write_connector(configs, name, config)
        collector = await Collector(session).subscribe("?dl/")
        worker = await make_worker(kafka_bootstrap, configs, tmp_path / "w").start()
        try:
            await worker.wait_ready()
            for name, (size, _) in cases.items():
                records = [(b"first", b'{"n": 1}'), (b"big", junk(size)), (b"after", b'{"n": 3}')]
                await produce(kafka_bootstrap, f"dl_{name}_{suffix}", records, max_message_bytes=25 * MB)
            base = f"http://127.0.0.1:{worker.web_port}"

            # raised: the 1.2 MB dead letter is written, and the connector goes on
            assert await collector.wait_for("dl/raised/after", timeout=TIMEOUT) == {"n": 3}
            [dead] = await consume(kafka_bootstrap, f"dlq_raised_{suffix}", 1, timeout=TIMEOUT)
            assert dead.value == junk(cases["raised"][0]) and dead.key == b"big"

            for name in ("default", "huge"):
                assert await collector.wait_for(f"dl/{name}/first", timeout=TIMEOUT) == {"n": 1}
                await worker.wait_for(rf"connector '{name}' stopped \(its dead letter could not be written\)", TIMEOUT)

                async def failed(name=name):
                    _, status = await get(f"{base}/connectors/{name}/status")
                    return status if status["tasks"] and status["tasks"][0]["state"] == "FAILED" else None

                status = None
                for _ in range(100):
                    if status := await failed():
                        break
                    await asyncio.sleep(0.2)
                assert status, f"{name} never reported FAILED"
                trace = status["tasks"][0]["trace"]
                assert "KAFKA_PRODUCE" in trace and "producer.override.max.request.size" in trace
                assert "too large for dead-letter topic" in trace
            code, ready = await get(f"{base}/readyz")
            assert code == 503
            checks = {c["name"]: c["status"] for c in ready["checks"]}
            assert checks["connector:default"] == checks["connector:huge"] == "DOWN"
            assert checks["connector:raised"] == "UP"
            _, metrics = await get(f"{base}/metrics")
            for name, state in (("default", "FAILED"), ("huge", "FAILED"), ("raised", "RUNNING")):
                assert f'streamapp_connector_state{{connector="{name}",state="{state}"}} 1.0' in metrics
            assert 'streamapp_connector_records_dead_lettered_total{connector="raised"} 1.0' in metrics
            assert 'streamapp_connector_records_failed_total{connector="default"} 1.0' in metrics

            # nothing after the failed record is delivered, and nothing is lost: it stays unacked
            assert not collector.values("dl/default/after") and not collector.values("dl/huge/after")
            line = next(ln for ln in worker.output.splitlines() if "connector 'default' stopped" in ln)
            assert "raise producer.override.max.request.size (now 1,048,576)" in line
        finally:
            assert await worker.stop() == 0
