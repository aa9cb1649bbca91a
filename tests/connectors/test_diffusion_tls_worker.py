"""Diffusion sink and source over wss:// in a real worker: trusted servers carry data, an impostor is refused
and the refusal shows in the log, /readyz, /streamapp/status and `streamapp status`, never the passwords.

One worker runs every connector (worker processes are expensive), against two emulators serving TLS:

* ``trusted``: a certificate from the test CA for 127.0.0.1. The JKS sink and the PKCS#12 source
  trust the CA through their truststores; the "system" sink has no TLS keys and trusts it because
  the worker's ``SSL_CERT_FILE`` is a private copy of the machine's bundle with the test CA added.
* ``impostor``: a self-signed ``CN=evil.example`` certificate (naming 127.0.0.1 too). A sink that
  trusts the test CA (PEM truststore) and a source on the system trust store must both refuse it.

The worker's whole output is searched for the Diffusion password (plain and as the SDK encodes it
in its header) and the truststore password.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import diffusion
import diffusion.datatypes as dt
import pytest_asyncio

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import started_emulator
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.pki import STORE_PASSWORD, system_bundle
from tests.fixtures.worker import make_worker

PASSWORD = "W0rker-tls-pass-e41c"
TIMEOUT = 45
STREAMAPP = str(Path(sys.executable).with_name("streamapp"))
LOCATION = "diffusion.ssl.truststore.location"


def source_config(url: str, selector: str, kafka_topic: str, **extra: str) -> dict:
    return {
        "connector.class": "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "kafka.topic": kafka_topic,
        "diffusion.url": url,
        "diffusion.username": "admin",
        "diffusion.password": PASSWORD,
        "diffusion.selector": selector,
        "diffusion.poll.interval": "100",
        **extra,
    }


class Stack:
    def __init__(self, worker, trusted, impostor, bootstrap, suffix, cafile):
        self.worker, self.trusted, self.impostor = worker, trusted, impostor
        self.bootstrap, self.suffix, self.cafile = bootstrap, suffix, cafile
        self.url = f"http://127.0.0.1:{worker.web_port}"

    async def get(self, path: str) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http, http.get(self.url + path) as response:
            return response.status, await response.json()

    async def wait(self, check, what: str):
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while not (result := await check()):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; worker log:\n{self.worker.output[-4000:]}")
            await asyncio.sleep(0.3)
        return result


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, tmp_path_factory, pki, jks_stores):
    workdir = tmp_path_factory.mktemp("diffusion-tls")
    suffix = workdir.name[-6:].replace("-", "")
    configs = workdir / "connectors"
    configs.mkdir()
    _, jks = jks_stores
    for topic in ("tls_jks", "tls_system", "tls_evil"):
        await create_topic(kafka_bootstrap, f"{topic}_{suffix}", 1)
    principals = {"admin": PASSWORD}
    server = {"tls_cert": pki.path("server.pem"), "tls_key": pki.path("server.key")}
    evil = {"tls_cert": pki.path("evil.pem"), "tls_key": pki.path("evil.key")}
    async with (
        started_emulator(principals=principals, **server) as trusted,
        started_emulator(principals=principals, **evil) as impostor,
    ):
        pem = {LOCATION: pki.path("ca.pem"), "diffusion.ssl.truststore.type": "PEM"}
        sinks = {
            "tls-sink-jks": (trusted, "tls_jks", {LOCATION: jks, "diffusion.ssl.truststore.password": STORE_PASSWORD}),
            "tls-sink-system": (trusted, "tls_system", {}),
            "tls-sink-evil": (impostor, "tls_evil", pem),
        }
        for name, (emulator, topic, keys) in sinks.items():
            config = diffusion_sink_config(emulator.url, f"{topic}_{suffix}", f"{topic}/${{key}}", **keys)
            config["diffusion.password"] = PASSWORD
            write_connector(configs, name, config)
        p12 = {
            LOCATION: pki.path("truststore.p12"),
            "diffusion.ssl.truststore.type": "PKCS12",
            "diffusion.ssl.truststore.password": STORE_PASSWORD,
        }
        write_connector(configs, "tls-source-p12", source_config(trusted.url, "?tlssrc//", f"tls_src_{suffix}", **p12))
        write_connector(configs, "tls-source-evil", source_config(impostor.url, "?evil//", f"tls_nothing_{suffix}"))
        env = {"SSL_CERT_FILE": system_bundle(pki, f"bundle-{suffix}.pem")}
        worker = await make_worker(kafka_bootstrap, configs, workdir, env=env).start()
        try:
            await worker.wait_ready()
            yield Stack(worker, trusted, impostor, kafka_bootstrap, suffix, pki.path("ca.pem"))
        finally:
            code = await worker.stop()
            assert code == 0, worker.output[-3000:]
            output = worker.output
            encoded = base64.b64encode(b"\x01" + bytes([len(PASSWORD)]) + PASSWORD.encode()).decode()
            for secret in (PASSWORD, encoded, STORE_PASSWORD):
                assert secret not in output, f"{secret!r} is in the worker output"


async def test_sinks_deliver_over_verified_tls(stack):
    await produce(stack.bootstrap, f"tls_jks_{stack.suffix}", [(b"k1", b'{"via": "jks"}')])
    await produce(stack.bootstrap, f"tls_system_{stack.suffix}", [(b"k1", b'{"via": "system"}')])

    async def delivered():
        return stack.trusted.topic("tls_jks/k1") and stack.trusted.topic("tls_system/k1")

    await stack.wait(delivered, "both sinks' updates on the trusted emulator")
    assert stack.trusted.topic("tls_jks/k1") == ("json", {"via": "jks"})
    assert stack.trusted.topic("tls_system/k1") == ("json", {"via": "system"})


async def test_source_reads_over_verified_tls(stack):
    context = ssl.create_default_context(cafile=stack.cafile)
    factory = diffusion.sessions().principal("admin").credentials(diffusion.Credentials(PASSWORD))
    session = await asyncio.wait_for(factory.ssl_context(context).open(stack.trusted.url), TIMEOUT)
    try:
        await session.topics.add_and_set_topic("tlssrc/price", dt.JSON, {"px": 7})
    finally:
        await session.close()
    [record] = await consume(stack.bootstrap, f"tls_src_{stack.suffix}", 1, TIMEOUT)
    assert (record.key, json.loads(record.value)) == (b"tlssrc/price", {"px": 7})


async def test_impostor_is_refused_and_the_reason_shows_everywhere(stack):
    evil = stack.impostor.url

    async def refused():
        status, body = await stack.get("/readyz")
        checks = {c["name"]: c for c in body["checks"]}
        names = ("diffusion:tls-sink-evil", "diffusion:tls-source-evil")
        if status == 503 and all(checks.get(n, {}).get("detail", "").startswith("TLS_FAILED") for n in names):
            return checks

    checks = await stack.wait(refused, "/readyz to report both impostor sessions")
    for name in ("tls-sink-evil", "tls-source-evil"):
        check = checks[f"diffusion:{name}"]
        assert check["status"] == "DOWN"
        assert check["detail"].startswith(
            f"TLS_FAILED: connector '{name}': TLS handshake with the Diffusion server at {evil} failed; "
            "no credentials were sent: untrusted issuer: the server's certificate is self-signed"
        )
    assert "truststore '" in checks["diffusion:tls-sink-evil"]["detail"]  # the PEM truststore it trusts
    assert "the system trust store" in checks["diffusion:tls-source-evil"]["detail"]
    for name in ("tls-sink-jks", "tls-sink-system", "tls-source-p12"):
        assert checks[f"diffusion:{name}"]["status"] == "UP", checks

    _, status = await stack.get("/streamapp/status")
    [me] = status["workers"]
    session = me["connectors"]["tls-sink-evil"]["session"]
    assert (session["state"], session["connected"]) == ("TLS_FAILED", False)
    assert evil in session["last_error"] and "untrusted issuer" in session["last_error"]

    cli = subprocess.run([STREAMAPP, "status", "--url", stack.url], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"tls-sink-evil  Diffusion TLS_FAILED on {me['worker_id']}: connector 'tls-sink-evil'" in cli.stdout

    assert f"connector 'tls-sink-evil': TLS handshake with the Diffusion server at {evil} failed" in stack.worker.output
    assert f"connector 'tls-source-evil': TLS handshake with the Diffusion server at {evil} failed" in (
        stack.worker.output
    )
    # The impostor never saw a session, let alone credentials.
    assert stack.impostor.session_count == 0 and stack.impostor.sessions() == []
