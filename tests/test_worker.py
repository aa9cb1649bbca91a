"""`faust -A streamapp worker` against the real broker with the sample connector configs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from streamapp.devstack.broker import make_broker
from tests.fixtures.net import free_tcp_port
from tests.fixtures.worker import make_worker

ROOT = Path(__file__).resolve().parents[1]


async def test_worker_starts_with_sample_configs_and_stops_cleanly_on_sigterm(tmp_path):
    # A broker of its own: the samples' topics hold no records here. (With records pending for a
    # destination that is down, Faust's stop waits for them: the graceful-shutdown work of issue 8.)
    broker = make_broker("kafka", "127.0.0.1", free_tcp_port())
    await broker.start()
    try:
        await _sample_worker_run(broker.bootstrap, tmp_path)
    finally:
        await broker.stop()


async def _sample_worker_run(kafka_bootstrap, tmp_path):
    worker = await make_worker(kafka_bootstrap, ROOT / "settings/connectors", tmp_path).start()
    try:
        await worker.wait_ready()
        await worker.wait_for(r"connector 'coap-sink' \(coap-sink\) running", timeout=20)
        await worker.wait_for(r"connector 'DiffusionSinkConnector' \(diffusion-sink\) running", timeout=20)
        await worker.wait_for(r"connector 'DiffusionSourceConnector' \(diffusion-source\) running", timeout=20)
    finally:
        started = time.monotonic()
        code = await worker.stop(signal.SIGTERM, timeout=30)
    assert code == 0, worker.output[-3000:]
    assert time.monotonic() - started < 30
    assert "password" not in worker.output.replace("diffusion.password", "")  # no secret value in the logs
    assert "not implemented yet" not in worker.output  # every sample connector runs


async def test_worker_refuses_to_start_with_a_bad_config(kafka_bootstrap, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "sink",
                "config": {
                    "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
                    "topics": "price",
                    "diffusion.url": "ws://127.0.0.1:8080",
                    "diffusion.username": "admin",
                    "diffusion.password": "${env:STREAMAPP_TEST_UNSET_PASSWORD}",
                },
            }
        )
    )
    worker = await make_worker(kafka_bootstrap, bad, tmp_path).start()
    code = await worker.wait_exit(timeout=60)
    assert code == 2
    assert f"{bad}: key 'diffusion.destination': required key is missing" in worker.output
    assert (
        f"{bad}: key 'diffusion.password': ${{env:STREAMAPP_TEST_UNSET_PASSWORD}}: environment variable"
        in worker.output
    )


async def test_worker_refuses_invalid_worker_settings(kafka_bootstrap, tmp_path):
    worker = await make_worker(
        kafka_bootstrap, ROOT / "settings/connectors", tmp_path, env={"STREAMAPP_TOPIC_PARTITIONS": "none"}
    ).start()
    code = await worker.wait_exit(timeout=60)
    assert code == 2
    assert "STREAMAPP_TOPIC_PARTITIONS" in worker.output
