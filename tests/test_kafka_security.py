"""Workers on a secured Apache Kafka: SASL_SSL (SCRAM-SHA-512, PLAIN as the README's Confluent Cloud
settings), SASL_PLAINTEXT and SSL with client certificates; and misconfigurations that stop the worker
with one line naming the setting, never the password."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import create_topic, produce, topic_partitions
from tests.fixtures.kafka_security import PLAIN_USER, SCRAM_USER, SecureKafka
from tests.fixtures.worker import make_worker

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 20
PASSWORDS = (PLAIN_USER[1], SCRAM_USER[1], "wr0ng-p4ss-Kv3")


def readme_confluent_cloud_settings(bootstrap: str) -> dict[str, str]:
    """The README's Confluent Cloud block, as written, with its placeholders filled in."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"Confluent Cloud \(SASL_SSL.*?```sh\n(.*?)```", readme, re.S)
    assert block, "the README lost its Confluent Cloud settings"
    env = dict(re.findall(r"^export (STREAMAPP_\w+)=(.*)$", block.group(1), re.M))
    filled = {"<bootstrap server>": bootstrap, "<API key>": PLAIN_USER[0], "<API secret>": PLAIN_USER[1]}
    for key, value in env.items():
        for placeholder, real in filled.items():
            value = value.replace(placeholder, real)
        env[key] = value
    assert not any("<" in value for value in env.values()), env
    return env


def security_settings(kafka: SecureKafka, case: str) -> tuple[str, dict[str, str]]:
    """(bootstrap, worker env) for each protocol and mechanism under test."""
    ca = kafka.pki.path("ca.pem")
    if case == "SASL_SSL+PLAIN (README's Confluent Cloud settings)":
        # The README trusts the system's CAs: the test CA becomes "the system's" for this worker.
        bootstrap = kafka.bootstrap("SASL_SSL").replace("127.0.0.1", "localhost")
        return bootstrap, {**readme_confluent_cloud_settings(bootstrap), "SSL_CERT_FILE": ca}
    if case == "SASL_SSL+SCRAM-SHA-512":
        return kafka.bootstrap("SASL_SSL"), {
            "STREAMAPP_BROKER_SECURITY_PROTOCOL": "SASL_SSL", "STREAMAPP_SASL_MECHANISM": "SCRAM-SHA-512",
            "STREAMAPP_SASL_USERNAME": SCRAM_USER[0], "STREAMAPP_SASL_PASSWORD": SCRAM_USER[1],
            "STREAMAPP_SSL_CAFILE": ca,
        }  # fmt: skip
    if case == "SASL_PLAINTEXT+SCRAM-SHA-512":
        return kafka.bootstrap("SASL_PLAINTEXT"), {
            "STREAMAPP_BROKER_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "STREAMAPP_SASL_MECHANISM": "SCRAM-SHA-512",
            "STREAMAPP_SASL_USERNAME": SCRAM_USER[0], "STREAMAPP_SASL_PASSWORD": SCRAM_USER[1],
        }  # fmt: skip
    if case == "SSL with a client certificate":
        return kafka.bootstrap("SSL"), {
            "STREAMAPP_BROKER_SECURITY_PROTOCOL": "SSL", "STREAMAPP_SSL_CAFILE": ca,
            "STREAMAPP_SSL_CERTFILE": kafka.pki.path("client-chain.pem"),
            "STREAMAPP_SSL_KEYFILE": kafka.pki.path("client.key"),
        }  # fmt: skip
    raise AssertionError(case)


CASES = [
    "SASL_SSL+SCRAM-SHA-512",
    "SASL_SSL+PLAIN (README's Confluent Cloud settings)",
    "SASL_PLAINTEXT+SCRAM-SHA-512",
    "SSL with a client certificate",
]


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, 0))
    return meta.offset if meta else -1


async def _run_secured_worker(kafka, diffusion_emulator, tmp_path, index, case):
    bootstrap, env = security_settings(kafka, case)
    topic, root, app_id = f"secure-{index}", f"secure-{index}", f"secure-app-{index}"
    await create_topic(kafka.plaintext, topic, 1)
    await produce(kafka.plaintext, topic, [(f"k{i}".encode(), json.dumps({"n": i}).encode()) for i in range(RECORDS)])
    configs = tmp_path / f"connectors-{index}"
    configs.mkdir()
    write_connector(configs, f"secure-{index}", diffusion_sink_config(diffusion_emulator.url, topic, root + "/${key}"))
    async with diffusion_session(diffusion_emulator.url) as session:
        collector = await Collector(session).subscribe(f"?{root}/")
        worker = await make_worker(bootstrap, configs, tmp_path / f"w{index}", app_id=app_id, env=env).start()
        try:
            await worker.wait_ready(timeout=90)
            for i in range(RECORDS):
                assert await collector.wait_for(f"{root}/k{i}", timeout=60) == {"n": i}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while await _committed(kafka.plaintext, app_id, topic) < RECORDS:  # commits every 2.8 s
                assert loop.time() < deadline, f"{case}: offsets not committed\n{worker.output[-3000:]}"
                await asyncio.sleep(0.3)
        finally:
            code = await worker.stop()
    assert code == 0, f"{case}:\n{worker.output[-3000:]}"
    # It produced too: its status and delivered-offset tables are changelog topics it writes.
    assert await topic_partitions(kafka.plaintext, f"{app_id}-streamapp-delivered-offsets-changelog") is not None
    for password in PASSWORDS:
        assert password not in worker.output, case
    return case


@pytest.mark.timeout(240)
async def test_a_worker_consumes_delivers_and_commits_over_each_security_protocol(
    secure_kafka, diffusion_emulator, tmp_path
):
    done = await asyncio.gather(
        *(_run_secured_worker(secure_kafka, diffusion_emulator, tmp_path, i, case) for i, case in enumerate(CASES))
    )
    assert done == CASES


def _misconfigurations(kafka: SecureKafka) -> dict[str, tuple[str, dict[str, str], str]]:
    """case -> (bootstrap, env, what the one line must say)."""
    ca = kafka.pki.path("ca.pem")
    sasl_ssl = {"STREAMAPP_BROKER_SECURITY_PROTOCOL": "SASL_SSL", "STREAMAPP_SSL_CAFILE": ca}
    return {
        "wrong PLAIN password": (
            kafka.bootstrap("SASL_SSL"),
            {**sasl_ssl, "STREAMAPP_SASL_USERNAME": PLAIN_USER[0], "STREAMAPP_SASL_PASSWORD": PASSWORDS[2]},
            "STREAMAPP_SASL_USERNAME / STREAMAPP_SASL_PASSWORD: the broker refused user 'alice' with SASL PLAIN",
        ),
        "wrong SCRAM password": (
            kafka.bootstrap("SASL_PLAINTEXT"),
            {"STREAMAPP_BROKER_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "STREAMAPP_SASL_MECHANISM": "SCRAM-SHA-512",
             "STREAMAPP_SASL_USERNAME": SCRAM_USER[0], "STREAMAPP_SASL_PASSWORD": PASSWORDS[2]},
            "the broker refused user 'bob' with SASL SCRAM-SHA-512",
        ),
        "mechanism the broker does not enable": (
            kafka.bootstrap("SASL_SSL"),
            {**sasl_ssl, "STREAMAPP_SASL_MECHANISM": "SCRAM-SHA-256", "STREAMAPP_SASL_USERNAME": SCRAM_USER[0],
             "STREAMAPP_SASL_PASSWORD": SCRAM_USER[1]},
            "STREAMAPP_SASL_MECHANISM=SCRAM-SHA-256: the broker does not enable this mechanism",
        ),
        "untrusted broker certificate": (
            kafka.bootstrap("SASL_SSL"),
            {**sasl_ssl, "STREAMAPP_SSL_CAFILE": kafka.pki.path("rogue-ca.pem"),
             "STREAMAPP_SASL_USERNAME": PLAIN_USER[0], "STREAMAPP_SASL_PASSWORD": PLAIN_USER[1]},
            "STREAMAPP_SSL_CAFILE: the broker's certificate is not trusted",
        ),
        "no client certificate for an SSL listener that requires one": (
            kafka.bootstrap("SSL"),
            {"STREAMAPP_BROKER_SECURITY_PROTOCOL": "SSL", "STREAMAPP_SSL_CAFILE": ca},
            "STREAMAPP_SSL_CERTFILE / STREAMAPP_SSL_KEYFILE: the broker refused this worker's client certificate",
        ),
        "PLAINTEXT to a TLS listener": (
            kafka.bootstrap("SSL"),
            {},
            "STREAMAPP_BROKER_SECURITY_PROTOCOL=PLAINTEXT: the broker closed the connection",
        ),
    }  # fmt: skip


async def _run_misconfigured(bootstrap, env, expected, tmp_path, name):
    worker = await make_worker(bootstrap, ROOT / "settings/connectors", tmp_path / name, env=env).start()
    code = await worker.wait_exit(timeout=60)
    lines = [line for line in worker.output.splitlines() if line.startswith("streamapp:")]
    return code, lines, worker.output, expected


@pytest.mark.timeout(120)
async def test_misconfigured_security_stops_the_worker_with_one_line_and_no_password(secure_kafka, tmp_path):
    cases = _misconfigurations(secure_kafka)
    results = await asyncio.gather(
        *(
            _run_misconfigured(b, env, expected, tmp_path, f"bad{i}")
            for i, (b, env, expected) in enumerate(cases.values())
        )
    )
    for case, (code, lines, output, expected) in zip(cases, results, strict=True):
        assert code == 2, f"{case}: exit {code}\n{output[-3000:]}"
        assert len(lines) == 1 and expected in lines[0], f"{case}: {lines}\n{output[-3000:]}"
        assert "Traceback" not in output, case
        for password in PASSWORDS:
            assert password not in output, case


def test_the_settings_command_hides_the_kafka_passwords(tmp_path):
    env = {
        **os.environ,
        "STREAMAPP_ENV_FILE": str(tmp_path / "none.env"),
        "STREAMAPP_BROKER_SECURITY_PROTOCOL": "SASL_SSL",
        "STREAMAPP_SASL_USERNAME": PLAIN_USER[0], "STREAMAPP_SASL_PASSWORD": PLAIN_USER[1],
        "STREAMAPP_SSL_KEY_PASSWORD": SCRAM_USER[1],
    }  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).with_name("streamapp")), "settings"], env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert "STREAMAPP_SASL_PASSWORD=[hidden]" in done.stdout and "STREAMAPP_SSL_KEY_PASSWORD=[hidden]" in done.stdout
    assert f"STREAMAPP_SASL_USERNAME={PLAIN_USER[0]}" in done.stdout
    for password in PASSWORDS:
        assert password not in done.stdout + done.stderr
