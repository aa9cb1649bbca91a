"""CoAP sink over DTLS with certificates, end to end: real broker, one worker process, Debian's libcoap
servers (OpenSSL and GnuTLS builds) requiring client certificates from the test PKI.

Delivery works with mutual authentication from PEM files, from a PKCS#12 keystore/truststore
pair and from a JKS pair made by keytool; an untrusted server, a client without a certificate, and a wrong keystore password each
fail with a clear error, and nothing is acked: the worker's consumer group has no committed offset
for those topics (while it has one for the delivered topics, so the check can see commits).
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid

import pytest_asyncio
from aiocoap import Context, Message
from aiocoap.numbers.codes import Code
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamapp.coap.dtls_x509 import X509Client, create_client_context
from tests.connectors.conftest import write_connector
from tests.connectors.test_coap_sink import coap_sink_config
from tests.fixtures.coap import libcoap_server
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.pki import STORE_PASSWORD, x509_settings
from tests.fixtures.worker import make_worker

TIMEOUT = 20
COMMIT_WAIT = 8  # Faust commits acked offsets every 2.8 s
SCHEMALESS = {"value.converter.schemas.enable": "false"}
WRONG_PASSWORD = "n0t-the-st0re-pass"


def pem_identity(pki) -> dict[str, str]:
    return {
        "connect.coap.dtls.certificate.chain.file": pki.path("client-chain.pem"),
        "connect.coap.dtls.private.key.file": pki.path("client.key"),
        "connect.coap.dtls.ca.file": pki.path("ca.pem"),
    }


def store_identity(pki, password: str = STORE_PASSWORD) -> dict[str, str]:
    return {
        "connect.coap.keystore.path": pki.path("keystore.p12"),
        "connect.coap.keystore.pass": password,
        "connect.coap.cert.chain.key": "client",
        "connect.coap.truststore.path": pki.path("truststore.p12"),
        "connect.coap.truststore.pass": STORE_PASSWORD,
        "connect.coap.certs": "root",
    }


def server_args(pki, certificate: str = "server", key: str = "server") -> list[str]:
    return ["-c", pki.path(f"{certificate}.pem"), "-j", pki.path(f"{key}.key"), "-C", pki.path("ca.pem")]


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, pki, jks_stores, tmp_path_factory):
    suffix = uuid.uuid4().hex[:6]
    workdir = tmp_path_factory.mktemp("coap-dtls")
    configs = workdir / "connectors"
    configs.mkdir()
    async with (
        libcoap_server("openssl", server_args(pki)) as openssl,
        libcoap_server("gnutls", server_args(pki)) as gnutls,
        libcoap_server("openssl", server_args(pki, "rogue-server", "rogue-server")) as rogue,
    ):
        uri = {
            name: f"coaps://127.0.0.1:{server.port + 1}"
            for name, server in (("openssl", openssl), ("gnutls", gnutls), ("rogue", rogue))
        }
        t = {name: f"coap_dtls_{name}_{suffix}" for name in ("pem", "p12", "jks", "untrusted", "nocert")}
        for topic in t.values():
            await create_topic(kafka_bootstrap, topic, 1)
        write_connector(
            configs,
            "pem",
            coap_sink_config(
                uri["openssl"],
                t["pem"],
                f"INSERT INTO pem/r SELECT * FROM {t['pem']}",
                **SCHEMALESS,
                **pem_identity(pki),
            ),
        )
        write_connector(
            configs,
            "p12",
            coap_sink_config(
                uri["gnutls"],
                t["p12"],
                f"INSERT INTO p12/r SELECT id, v FROM {t['p12']}",
                **SCHEMALESS,
                **store_identity(pki),
            ),
        )
        keystore, truststore = jks_stores
        write_connector(
            configs,
            "jks",
            coap_sink_config(
                uri["openssl"],
                t["jks"],
                f"INSERT INTO jks/r SELECT * FROM {t['jks']}",
                **SCHEMALESS,
                **{
                    **store_identity(pki),
                    "connect.coap.keystore.path": keystore,
                    "connect.coap.truststore.path": truststore,
                },
            ),
        )
        write_connector(
            configs,
            "untrusted",
            coap_sink_config(
                uri["rogue"],
                t["untrusted"],
                f"INSERT INTO u/r SELECT * FROM {t['untrusted']}",
                **SCHEMALESS,
                **pem_identity(pki),
            ),
        )
        write_connector(
            configs,
            "nocert",
            coap_sink_config(
                uri["gnutls"],
                t["nocert"],
                f"INSERT INTO n/r SELECT * FROM {t['nocert']}",
                **SCHEMALESS,
                **{"connect.coap.dtls.ca.file": pki.path("ca.pem")},
            ),
        )
        app_id = f"coap-dtls-{suffix}"
        worker = await make_worker(kafka_bootstrap, configs, workdir, env={"STREAMAPP_APP_ID": app_id}).start()
        client = X509Client(x509_settings(pki))
        reader = await create_client_context(client)
        try:
            await worker.wait_ready()
            yield {
                "bootstrap": kafka_bootstrap,
                "topics": t,
                "worker": worker,
                "uri": uri,
                "reader": reader,
                "app_id": app_id,
                "workdir": workdir,
                "pki": pki,
            }
        finally:
            await reader.shutdown()
            await worker.stop(signal.SIGKILL)  # the stopped connectors hold records unacked: end it as a crash would
            assert STORE_PASSWORD not in worker.output


async def _poll(client: Context, uri: str, expected: int, timeout: float = TIMEOUT) -> list[bytes]:
    """GET ``uri`` until it holds the ``expected``-th payload (libcoap keeps the last PUT)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await asyncio.wait_for(client.request(Message(code=Code.GET, uri=uri)).response, 5)
        if response.code.is_successful() and response.payload and json.loads(response.payload).get("id") == expected:
            return response.payload
        if loop.time() > deadline:
            raise AssertionError(f"{uri}: {response.code} {response.payload!r} after {timeout} s")
        await asyncio.sleep(0.1)


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def test_mutual_authentication_from_pem_files_to_libcoap_openssl(stack):
    records = [(None, json.dumps({"id": i, "v": "pem"}).encode()) for i in range(1, 6)]
    await produce(stack["bootstrap"], stack["topics"]["pem"], records)
    got = await _poll(stack["reader"], f"{stack['uri']['openssl']}/pem/r", 5)
    assert json.loads(got) == {"id": 5, "v": "pem"}
    await stack["worker"].wait_for(
        r"connector 'pem': DTLS 1\.2 with certificates; client certificate: CN=coap sink,O=streamapp tests"
    )


async def test_mutual_authentication_from_a_pkcs12_keystore_and_truststore_to_libcoap_gnutls(stack):
    records = [(None, json.dumps({"id": i, "v": "p12", "extra": True}).encode()) for i in range(1, 4)]
    await produce(stack["bootstrap"], stack["topics"]["p12"], records)
    got = await _poll(stack["reader"], f"{stack['uri']['gnutls']}/p12/r", 3)
    assert json.loads(got) == {"id": 3, "v": "p12"}  # projected by the KCQL
    await stack["worker"].wait_for(
        rf"client certificate: CN=coap sink,O=streamapp tests \(keystore '{stack['pki'].path('keystore.p12')}', "
        rf"alias 'client'\); trust anchors: truststore '{stack['pki'].path('truststore.p12')}' \(aliases root\)"
    )


async def test_mutual_authentication_from_a_jks_keystore_and_truststore_made_by_keytool(stack):
    await produce(stack["bootstrap"], stack["topics"]["jks"], [(None, b'{"id": 1, "v": "jks"}')])
    got = await _poll(stack["reader"], f"{stack['uri']['openssl']}/jks/r", 1)
    assert json.loads(got) == {"id": 1, "v": "jks"}


async def test_untrusted_server_and_missing_client_certificate_stop_with_nothing_acked(stack):
    t, worker = stack["topics"], stack["worker"]
    await produce(stack["bootstrap"], t["untrusted"], [(None, b'{"id": 1}')])
    await produce(stack["bootstrap"], t["nocert"], [(None, b'{"id": 1}')])
    await worker.wait_for(
        rf"connector 'untrusted' stopped \(connect\.coap\.error\.policy=THROW\): record {t['untrusted']}/0@0 failed at TASK_PUT: Coap\w+: "
        rf"PUT coaps://\S+/u/r failed: DTLS handshake with \S+ failed: the server is not trusted: the server's "
        r"certificate \(CN=rogue server,O=streamapp tests, issued by CN=rogue CA,O=streamapp tests\): its issuer is "
        r"not among the trust anchors",
        timeout=TIMEOUT,
    )
    await worker.wait_for(
        rf"connector 'nocert' stopped \(connect\.coap\.error\.policy=THROW\): record {t['nocert']}/0@0 failed at TASK_PUT: Coap\w+: "
        r"PUT coaps://\S+/n/r failed: DTLS handshake with \S+ failed: the server sent alert bad_certificate \(42\): "
        r"the server requires a client certificate and none is configured \(no client certificate is configured: "
        r"set connect\.coap\.keystore\.path",
        timeout=TIMEOUT,
    )
    # delivered topics get their offsets committed; the failed records stay unacked
    await _poll(stack["reader"], f"{stack['uri']['openssl']}/pem/r", 5)
    await asyncio.sleep(COMMIT_WAIT)
    assert await committed(stack["bootstrap"], stack["app_id"], t["pem"]) == 5
    assert await committed(stack["bootstrap"], stack["app_id"], t["untrusted"]) is None
    assert await committed(stack["bootstrap"], stack["app_id"], t["nocert"]) is None


async def test_wrong_keystore_password_stops_the_worker_at_startup(stack, tmp_path):
    pki = stack["pki"]
    configs = tmp_path / "connectors"
    configs.mkdir()
    topic = f"coap_dtls_badpass_{uuid.uuid4().hex[:6]}"
    await create_topic(stack["bootstrap"], topic, 1)
    await produce(stack["bootstrap"], topic, [(None, b'{"id": 1}')])
    path = write_connector(
        configs,
        "badpass",
        coap_sink_config(
            stack["uri"]["gnutls"],
            topic,
            f"INSERT INTO b/r SELECT * FROM {topic}",
            **SCHEMALESS,
            **store_identity(pki, WRONG_PASSWORD),
        ),
    )
    app_id = f"coap-dtls-badpass-{uuid.uuid4().hex[:6]}"
    worker = await make_worker(stack["bootstrap"], configs, tmp_path, env={"STREAMAPP_APP_ID": app_id}).start()
    assert await worker.wait_exit(timeout=60) == 2
    assert (
        f"{path}: key 'connect.coap.keystore.pass': wrong password for keystore "
        f"'{pki.path('keystore.p12')}' (or the file is damaged)"
    ) in worker.output
    assert WRONG_PASSWORD not in worker.output and STORE_PASSWORD not in worker.output
    assert await committed(stack["bootstrap"], app_id, topic) is None
