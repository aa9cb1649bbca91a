"""The seed's REST steps, as a new user takes them: ``streamapp dev``, then the seed's sink JSON
(unchanged but for the Diffusion URL) POSTed with curl, then the same with kafka-connect-py's
``kc`` CLI; each delivers the Kafka topic ``price`` to the Diffusion topic ``kafka/price``, seen
with the official Diffusion SDK. Run with ``-s`` to see each command and its output."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.fixtures.dev_stack import start_dev, stop_dev, wait_line
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import produce
from tests.fixtures.net import free_tcp_port, free_udp_port

KC = str(Path(sys.executable).with_name("kc"))

# The seed's "sample configuration to add a Sink connector via the REST API", as printed there.
SEED_SINK = """{
  "name": "DiffusionSinkConnector",
  "config": {
    "tasks.max": "1",
    "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
    "topics": "price",
    "diffusion.url": "wss://<diffusion_server_hostname>",
    "diffusion.username": "admin",
    "diffusion.password": "password",
    "diffusion.destination": "kafka/${topic}"
  }
}
"""


async def _run(*argv: str) -> str:
    """Run a client command, print it with its output (the report shows both), return its stdout."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    print(f"$ {' '.join(argv)}\n{text}")
    assert proc.returncode == 0, text
    return text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_seed_sink_json_posted_with_curl_then_with_kc_delivers_price_to_kafka_price(tmp_path):
    broker, diff, web = free_tcp_port(), free_tcp_port(), free_tcp_port()
    connectors = tmp_path / "connectors"
    connectors.mkdir()  # no file connector: the seed's connector is the only one
    seed = tmp_path / "seed-sink.json"
    seed.write_text(SEED_SINK.replace("wss://<diffusion_server_hostname>", f"ws://127.0.0.1:{diff}"))
    proc, out = await start_dev(
        tmp_path,
        {
            "--broker-port": broker,
            "--diffusion-port": diff,
            "--coap-port": free_udp_port(),
            "--web-port": web,
            "--registry-port": free_tcp_port(),
            "--view-port": free_tcp_port(),
        },
        "--no-demo",
        "--connectors",
        str(connectors),
    )
    url = f"http://127.0.0.1:{web}"
    try:
        await wait_line(out, r"Ready in ([\d.]+)s", proc, timeout=120)
        async with diffusion_session(f"ws://127.0.0.1:{diff}") as session:
            collector = await Collector(session).subscribe("kafka/price")

            created = await _run(
                "curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data", f"@{seed}",
                f"{url}/connectors",
            )  # fmt: skip
            body = json.loads(created)
            assert body["name"] == "DiffusionSinkConnector" and body["type"] == "sink"
            assert body["config"]["diffusion.password"] == "[hidden]"
            await produce(f"127.0.0.1:{broker}", "price", [(b"GBPUSD", b'{"bid": 1.27, "ask": 1.28}')])
            await collector.wait_for("kafka/price", lambda v: v == {"bid": 1.27, "ask": 1.28}, timeout=30)
            await _run("curl", "-sS", f"{url}/connectors/DiffusionSinkConnector/status")
            await _run("curl", "-sS", "-X", "DELETE", "-w", "%{http_code}", f"{url}/connectors/DiffusionSinkConnector")

            await _run(KC, "--url", url, "create", "--config-file", str(seed))
            await _run(KC, "--url", url, "list")
            await produce(f"127.0.0.1:{broker}", "price", [(b"GBPUSD", b'{"bid": 1.31, "ask": 1.32}')])
            await collector.wait_for("kafka/price", lambda v: v == {"bid": 1.31, "ask": 1.32}, timeout=30)
            await _run(KC, "--url", url, "status", "DiffusionSinkConnector")
    finally:
        code = await stop_dev(proc)
    text = out.read_text()
    assert code == 0, text[-3000:]
    assert '"password"' not in text and "Traceback" not in text
