"""CoAP sink error policies against servers that refuse (4.xx/5.xx), are down, or hold another key.

One worker runs a RETRY, a THROW, an exhausted-RETRY and a wrong-PSK connector; a second worker
(same consumer group) shows that what the first left unacked is delivered once the cause is fixed.
Nothing is lost: every record produced arrives, and RETRY never sends a confirmed record again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import pytest_asyncio
from aiocoap import Context, Message
from aiocoap.numbers.codes import Code

from streamapp.devstack.coap_server import DevCoapServer
from tests.connectors.conftest import write_connector
from tests.connectors.test_coap_sink import coap_sink_config
from tests.fixtures.coap import libcoap_server
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.net import free_udp_port
from tests.fixtures.worker import make_worker

pytestmark = pytest.mark.filterwarnings("ignore:DTLS module did not shut down:UserWarning")

TIMEOUT = 20
RESTART_TIMEOUT = 60  # a worker under a loaded machine can take this long to get its partitions
PSK_IDENTITY, PSK = "sink-identity", "right-key"
SCHEMALESS = {"value.converter.schemas.enable": "false"}


def values(n: int, start: int = 0) -> list[tuple[bytes | None, bytes]]:
    return [(None, json.dumps({"seq": i}).encode()) for i in range(start, start + n)]


@pytest_asyncio.fixture(scope="module")
async def policies(kafka_bootstrap, tmp_path_factory):
    suffix = uuid.uuid4().hex[:6]
    workdir = tmp_path_factory.mktemp("coap-policies")
    configs = workdir / "connectors"
    configs.mkdir()
    server = DevCoapServer("127.0.0.1", free_udp_port())
    down = DevCoapServer("127.0.0.1", free_udp_port())  # started only once records wait for it
    await server.start()
    async with libcoap_server("openssl", ["-k", PSK]) as dtls_server:
        dtls_uri = f"coaps://127.0.0.1:{dtls_server.port + 1}"
        t = {name: f"coap_{name}_{suffix}" for name in ("retry", "down", "throw", "exhaust", "psk")}
        for topic in t.values():
            await create_topic(kafka_bootstrap, topic, 1)
        retry = {"connect.coap.error.policy": "RETRY", "connect.coap.retry.interval": "300", **SCHEMALESS}
        # Two workers, two consumer groups: one for the connectors that recover (RETRY), one for
        # those that stop. The stopping ones are restarted in a group whose delivered-offset table
        # is still empty (see test_throw_...).
        recovering, stopping = configs / "recovering", configs / "stopping"
        recovering.mkdir()
        stopping.mkdir()
        write_connector(
            recovering,
            "retry",
            coap_sink_config(server.uri, t["retry"], f"INSERT INTO retry/r SELECT * FROM {t['retry']}", **retry),
        )
        write_connector(
            recovering,
            "down",
            coap_sink_config(down.uri, t["down"], f"INSERT INTO down/r SELECT * FROM {t['down']}", **retry),
        )
        write_connector(
            stopping,
            "throw",
            coap_sink_config(server.uri, t["throw"], f"INSERT INTO throw/r SELECT * FROM {t['throw']}", **SCHEMALESS),
        )
        write_connector(
            stopping,
            "exhaust",
            coap_sink_config(
                server.uri,
                t["exhaust"],
                f"INSERT INTO exhaust/r SELECT * FROM {t['exhaust']}",
                **{**retry, "connect.coap.max.retries": "2", "connect.coap.retry.interval": "100"},
            ),
        )
        psk = coap_sink_config(
            dtls_uri,
            t["psk"],
            f"INSERT INTO psk/r SELECT * FROM {t['psk']}",
            **{
                **SCHEMALESS,
                "connect.coap.username": PSK_IDENTITY,
                "connect.coap.password": "wrong-key",
                "connect.coap.request.timeout.ms": "1500",
            },
        )
        write_connector(stopping, "psk", psk)
        env = {"STREAMAPP_APP_ID": f"coap-policies-stop-{suffix}"}
        first = make_worker(
            kafka_bootstrap, recovering, workdir / "recovering", env={"STREAMAPP_APP_ID": f"coap-policies-{suffix}"}
        ).start()
        worker, first = await asyncio.gather(
            make_worker(kafka_bootstrap, stopping, workdir / "w1", env=env).start(), first
        )
        try:
            await asyncio.gather(worker.wait_ready(), first.wait_ready())
            yield {
                "bootstrap": kafka_bootstrap,
                "server": server,
                "down": down,
                "topics": t,
                "worker": worker,
                "recovering": first,
                "configs": stopping,
                "workdir": workdir,
                "env": env,
                "psk_config": psk,
                "dtls_uri": dtls_uri,
            }
        finally:
            if worker.returncode is None:
                await worker.stop()
            assert await first.stop() == 0, first.output[-3000:]
            await server.stop()
            await down.stop()


async def test_retry_redelivers_only_the_failed_record_once_the_server_recovers(policies):
    server, bootstrap, topic = policies["server"], policies["bootstrap"], policies["topics"]["retry"]
    await produce(bootstrap, topic, values(2))
    await server.wait_for("/retry/r", 2, timeout=TIMEOUT)
    server.fail_with("5.03", "/retry/r")
    await produce(bootstrap, topic, values(3, start=2))
    await policies["recovering"].wait_for(
        r"connector 'retry': PUT \S+/retry/r answered 5\.03 Service Unavailable \(no payload\); retry 2 of 20 in 0\.3 s",
        timeout=TIMEOUT,
    )
    server.clear_failures()
    received = await server.wait_for("/retry/r", 5, timeout=TIMEOUT)
    assert [json.loads(p)["seq"] for p in received] == [0, 1, 2, 3, 4]  # in order, none twice
    refused = [r for r in server.history if r.path == "/retry/r" and r.injected is not None]
    assert refused and all(json.loads(r.payload)["seq"] == 2 for r in refused)  # only the failed one was retried


async def test_retry_delivers_everything_once_a_down_server_is_back(policies):
    down, worker = policies["down"], policies["recovering"]
    await produce(policies["bootstrap"], policies["topics"]["down"], values(5))
    await worker.wait_for(
        r"connector 'down': PUT \S+/down/r failed: \[Errno 111\] Connection refused.*retry 1 of 20", timeout=TIMEOUT
    )
    await down.start()
    received = await down.wait_for("/down/r", 5, timeout=TIMEOUT)
    assert [json.loads(p)["seq"] for p in received] == [0, 1, 2, 3, 4]


async def test_throw_exhausted_retry_and_wrong_psk_stop_unacked_then_deliver_after_a_restart(policies):
    server, worker, t = policies["server"], policies["worker"], policies["topics"]
    server.fail_with("5.00", "/throw/r")
    server.fail_with("4.00", "/exhaust/r")
    await produce(policies["bootstrap"], t["throw"], values(2))
    await produce(policies["bootstrap"], t["exhaust"], values(2))
    await produce(policies["bootstrap"], t["psk"], values(1))
    await worker.wait_for(
        rf"connector 'throw' stopped \(connect\.coap\.error\.policy=THROW\): record {t['throw']}/0@0 failed at TASK_PUT: Coap\w+: "
        r"PUT \S+/throw/r answered 5\.00 Internal Server Error \(no payload\)\. The record is not acked",
        timeout=TIMEOUT,
    )
    await worker.wait_for(
        rf"connector 'exhaust' stopped \(connect\.coap\.error\.policy=RETRY\): record {t['exhaust']}/0@0 failed at TASK_PUT: Coap\w+: "
        r"PUT \S+/exhaust/r answered 4\.00 Bad Request \(no payload\); gave up after 2 retries",
        timeout=TIMEOUT,
    )
    await worker.wait_for(
        rf"connector 'psk' stopped \(connect\.coap\.error\.policy=THROW\): record {t['psk']}/0@0 failed at TASK_PUT: Coap\w+: PUT coaps://\S+/psk/r: "
        r"no response within 1\.5 s; the DTLS handshake did not complete: check the pre-shared key",
        timeout=TIMEOUT,
    )
    assert len([r for r in server.history if r.path == "/throw/r"]) == 1  # THROW: tried once, nothing after it
    assert len([r for r in server.history if r.path == "/exhaust/r"]) == 3  # the first try and 2 retries

    # A stopped connector holds its record unacked; a graceful stop abandons it (nothing acked).
    started = time.monotonic()
    assert await worker.stop() == 0, worker.output[-3000:]
    assert time.monotonic() - started < 20
    server.clear_failures()
    write_connector(policies["configs"], "psk", {**policies["psk_config"], "connect.coap.password": PSK})
    second = await make_worker(
        policies["bootstrap"], policies["configs"], policies["workdir"] / "w2", env=policies["env"]
    ).start()
    try:
        await second.wait_ready()
        for path in ("/throw/r", "/exhaust/r"):
            received = await server.wait_for(path, 2, timeout=RESTART_TIMEOUT)
            assert [json.loads(p)["seq"] for p in received] == [0, 1], path
        context = await Context.create_client_context(transports=["tinydtls"])
        context.client_credentials.load_from_dict(
            {f"{policies['dtls_uri']}/*": {"dtls": {"psk": PSK.encode(), "client-identity": PSK_IDENTITY.encode()}}}
        )
        try:
            got = await _poll(context, f"{policies['dtls_uri']}/psk/r", timeout=RESTART_TIMEOUT)
        finally:
            await context.shutdown()
        assert json.loads(got) == {"seq": 0}
    finally:
        code = await second.stop()
    assert code == 0, second.output[-3000:]


async def _poll(client: Context, uri: str, timeout: float = TIMEOUT) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await asyncio.wait_for(client.request(Message(code=Code.GET, uri=uri)).response, 5)
        if response.code.is_successful() and response.payload:
            return response.payload
        if loop.time() > deadline:
            raise AssertionError(f"{uri}: {response.code} {response.payload!r} after {timeout} s")
        await asyncio.sleep(0.1)
