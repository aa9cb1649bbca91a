"""CoAP sink end to end: real broker, one real worker process running several CoAP sinks, and what
arrived read back from the servers (our aiocoap server in-process, Debian's coap-server-notls, and
coap-server-openssl over DTLS with a pre-shared key)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from aiocoap import Context, Message
from aiocoap.numbers.codes import Code

from streamapp.devstack.coap_server import DevCoapServer
from tests.connectors.conftest import write_connector
from tests.fixtures.coap import libcoap_server
from tests.fixtures.kafka import consume, create_topic, produce
from tests.fixtures.net import free_udp_port
from tests.fixtures.worker import make_worker

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20
PSK_IDENTITY, PSK = "sink-identity", "s3cr3t-psk"

SEED_RECORD = {"firstName": "John", "lastName": "Smith", "age": 30, "salary": 4830}
SEED_SCHEMA = {
    "type": "struct",
    "name": "User",
    "fields": [
        {"field": "firstName", "type": "string"},
        {"field": "lastName", "type": "string"},
        {"field": "age", "type": "int32"},
        {"field": "salary", "type": "double"},
    ],
}
# A nested record for projections: every payload kind carries the same data.
NESTED = {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C", "raw": "x"}, "secret": "s"}
NESTED_SCHEMA = {
    "type": "struct",
    "fields": [
        {"field": "id", "type": "int32"},
        {"field": "name", "type": "string"},
        {
            "field": "reading",
            "type": "struct",
            "fields": [
                {"field": "t", "type": "double"},
                {"field": "unit", "type": "string"},
                {"field": "raw", "type": "string"},
            ],
        },
        {"field": "secret", "type": "string"},
    ],
}
PROJECTIONS = (  # resource suffix, KCQL select list + IGNORE, expected JSON
    ("all", "*", NESTED),
    ("ignore", "* ", {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C"}}),
    ("alias", "id AS sensor, reading.t AS celsius, reading.unit", {"sensor": 7, "celsius": 21.5, "unit": "C"}),
    ("rename", "*, name AS label", {"id": 7, "label": "probe", "reading": NESTED["reading"], "secret": "s"}),
)
IGNORES = {"ignore": " IGNORE secret, reading.raw"}


def envelope(schema: dict, payload) -> bytes:
    return json.dumps({"schema": schema, "payload": payload}).encode()


def coap_sink_config(uri: str, topics: str, kcql: str, **extra: str) -> dict:
    return {
        "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "connect.coap.uri": uri,
        "connect.coap.kcql": kcql,
        "topics": topics,
        "connect.coap.request.timeout.ms": "3000",
        **extra,
    }


def kcql_for(topic: str, prefix: str) -> str:
    return ";".join(
        f"INSERT INTO {prefix}/{name} SELECT {select} FROM {topic}{IGNORES.get(name, '')}"
        for name, select, _ in PROJECTIONS
    )


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, libcoap_notls_server, tmp_path_factory):
    """One worker running every sink of this module; yields what the tests need to produce and read."""
    suffix = uuid.uuid4().hex[:6]
    workdir = tmp_path_factory.mktemp("coap-sink")
    configs = workdir / "connectors"
    configs.mkdir()
    server = DevCoapServer("127.0.0.1", free_udp_port())
    await server.start()
    async with libcoap_server("openssl", ["-k", PSK, "-h", "CoAP"]) as dtls_server:
        dtls_uri = f"coaps://127.0.0.1:{dtls_server.port + 1}"

        # The seed's quickstart .properties, unchanged but for its URI.
        seed = (ROOT / "settings/connectors/coap-sink.properties").read_text()
        seed = seed.replace("coap://127.0.0.1:5683", server.uri)
        assert "connect.coap.uri = " + server.uri in seed
        (configs / "coap-sink.properties").write_text(seed)

        t = {
            name: f"coap_{name}_{suffix}"
            for name in (
                "struct",
                "schemaless",
                "string",
                "fanout_a",
                "fanout_b",
                "noop",
                "dlq",
                "libcoap",
                "dtls",
                "post",
            )
        }
        for topic in t.values():
            await create_topic(kafka_bootstrap, topic, 2 if topic == t["fanout_a"] else 1)
        await create_topic(kafka_bootstrap, "coap_topic", 1)
        uri = server.uri
        write_connector(configs, "struct", coap_sink_config(uri, t["struct"], kcql_for(t["struct"], "struct")))
        write_connector(
            configs,
            "schemaless",
            coap_sink_config(
                uri,
                t["schemaless"],
                kcql_for(t["schemaless"], "schemaless"),
                **{"value.converter.schemas.enable": "false"},
            ),
        )
        write_connector(
            configs,
            "string",
            coap_sink_config(
                uri,
                t["string"],
                kcql_for(t["string"], "string"),
                **{"value.converter": "org.apache.kafka.connect.storage.StringConverter"},
            ),
        )
        write_connector(
            configs,
            "fanout",
            coap_sink_config(
                uri,
                f"{t['fanout_a']},{t['fanout_b']}",
                f"INSERT INTO fan/one SELECT * FROM {t['fanout_a']}; "
                f"insert into `fan/two words` select id from {t['fanout_a']} WITHFORMAT JSON PK id; "
                f"INSERT INTO fan/b SELECT * FROM {t['fanout_b']}",
                **{"value.converter.schemas.enable": "false", "connect.coap.ordering": "partition"},
            ),
        )
        write_connector(
            configs,
            "noop",
            coap_sink_config(
                uri,
                t["noop"],
                f"INSERT INTO noop/ok SELECT * FROM {t['noop']}; INSERT INTO noop/refused SELECT id FROM {t['noop']}",
                **{
                    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                    "connect.coap.error.policy": "noop",
                    "connect.progress.enabled": "true",
                    "connect.progress.interval.ms": "500",
                },
            ),
        )
        write_connector(
            configs,
            "dlq",
            coap_sink_config(
                uri,
                t["dlq"],
                f"INSERT INTO dlq/in SELECT a FROM {t['dlq']}",
                **{
                    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                    "connect.coap.error.policy": "NOOP",
                    "errors.deadletterqueue.topic.name": f"{t['dlq']}_dead",
                },
            ),
        )
        write_connector(
            configs,
            "libcoap",
            coap_sink_config(
                libcoap_notls_server.uri,
                t["libcoap"],
                f"INSERT INTO lib/seed SELECT * FROM {t['libcoap']}; "
                f"INSERT INTO lib/names SELECT firstName AS first, lastName FROM {t['libcoap']}",
            ),
        )
        write_connector(
            configs,
            "dtls",
            coap_sink_config(
                dtls_uri,
                t["dtls"],
                f"INSERT INTO secure/seed SELECT * FROM {t['dtls']}",
                **{"connect.coap.username": PSK_IDENTITY, "connect.coap.password": PSK},
            ),
        )
        write_connector(
            configs,
            "post",
            coap_sink_config(
                uri,
                t["post"],
                f"INSERT INTO post/nc SELECT * FROM {t['post']}",
                **{
                    "connect.coap.method": "post",
                    "connect.coap.confirmable": "false",
                    "value.converter.schemas.enable": "false",
                },
            ),
        )

        # the failing resources for the NOOP connector
        server.fail_with("4.04", "/noop/refused")

        worker = await make_worker(
            kafka_bootstrap, configs, workdir, env={"STREAMAPP_APP_ID": f"coap-test-{suffix}"}
        ).start()
        client = await Context.create_client_context(transports=["udp6"])
        dtls_client = await Context.create_client_context(transports=["tinydtls"])
        dtls_client.client_credentials.load_from_dict(
            {f"{dtls_uri}/*": {"dtls": {"psk": PSK.encode(), "client-identity": PSK_IDENTITY.encode()}}}
        )
        try:
            await worker.wait_ready()
            yield {
                "bootstrap": kafka_bootstrap,
                "server": server,
                "topics": t,
                "worker": worker,
                "libcoap": libcoap_notls_server,
                "client": client,
                "dtls_client": dtls_client,
                "dtls_uri": dtls_uri,
            }
        finally:
            code = await worker.stop()
            await client.shutdown()
            await dtls_client.shutdown()
            await server.stop()
            assert code == 0, worker.output[-3000:]
            assert "DELETE" not in {r.method for r in server.history}  # nothing is sent on shutdown
            assert PSK not in worker.output  # the secret is never logged


@pytest.mark.compat
async def test_seed_quickstart_puts_the_seed_record_as_json(stack):
    await produce(stack["bootstrap"], "coap_topic", [(None, envelope(SEED_SCHEMA, SEED_RECORD))])
    payloads = await stack["server"].wait_for("/unsecure", 1, timeout=TIMEOUT)
    assert json.loads(payloads[-1]) == {**SEED_RECORD, "salary": 4830.0}
    request = [r for r in stack["server"].history if r.path == "/unsecure"][-1]
    assert (request.method, request.content_format) == ("PUT", 50)
    await stack["worker"].wait_for(
        r"connector 'coap-sink': topic 'coap_topic' -> PUT coap://127\.0\.0\.1:\d+/unsecure \(CON, JSON\)"
    )


@pytest.mark.parametrize("kind", ["struct", "schemaless", "string"])
async def test_projection_for_each_payload_kind(stack, kind):
    value = envelope(NESTED_SCHEMA, NESTED) if kind == "struct" else json.dumps(NESTED).encode()
    await produce(stack["bootstrap"], stack["topics"][kind], [(None, value)])
    for name, _, expected in PROJECTIONS:
        payloads = await stack["server"].wait_for(f"/{kind}/{name}", 1, timeout=TIMEOUT)
        assert json.loads(payloads[-1]) == expected, name
        assert list(json.loads(payloads[-1])) == list(expected), f"{name}: field order"


async def test_one_topic_feeds_several_resources_and_order_per_resource_holds(stack):
    server, topics = stack["server"], stack["topics"]
    records = [(f"k{i % 3}".encode(), json.dumps({"id": i, "x": "y"}).encode(), 0) for i in range(20)]
    await produce(stack["bootstrap"], topics["fanout_a"], records)
    await produce(stack["bootstrap"], topics["fanout_b"], [(None, b'{"b": true}')])
    one = await server.wait_for("/fan/one", 20, timeout=TIMEOUT)
    two = await server.wait_for("/fan/two words", 20, timeout=TIMEOUT)
    assert [json.loads(p) for p in one] == [{"id": i, "x": "y"} for i in range(20)]  # every record, in order
    assert [json.loads(p) for p in two] == [{"id": i} for i in range(20)]
    assert json.loads((await server.wait_for("/fan/b", 1, timeout=TIMEOUT))[-1]) == {"b": True}
    # The ignored KCQL clauses are reported once, when the connector starts.
    output = stack["worker"].output
    assert output.count("the CoAP sink does not use WITHFORMAT JSON, PK id; ignored") == 1


async def test_noop_skips_bad_records_and_refused_requests_and_reports_progress(stack):
    server, topic, worker = stack["server"], stack["topics"]["noop"], stack["worker"]
    await produce(
        stack["bootstrap"],
        topic,
        [
            (None, b'{"id": 1}'),
            (None, b"not json"),  # a string that is not JSON: skipped at mapping
            (b"tombstone", None),  # a null value: skipped at mapping
            (None, b'{"id": 2}'),
        ],
    )
    ok = await server.wait_for("/noop/ok", 2, timeout=TIMEOUT)
    assert [json.loads(p) for p in ok] == [{"id": 1}, {"id": 2}]
    refused = [r for r in server.history if r.path == "/noop/refused"]
    assert {r.injected.dotted for r in refused} == {"4.04"}
    await worker.wait_for(
        rf"connector 'noop' progress, topic '{topic}': 4 processed, 0 delivered, 0 retried, 4 skipped", timeout=TIMEOUT
    )
    await worker.wait_for(r"answered 4\.04 Not Found \(no payload\); skipped \(connect\.coap\.error\.policy=NOOP\)")
    assert "is not JSON" in worker.output and "the value is null" in worker.output


async def test_noop_with_a_dead_letter_topic(stack):
    topic = stack["topics"]["dlq"]
    await produce(stack["bootstrap"], topic, [(b"1", b"[1, 2]", None, [("trace", b"t-1")]), (b"2", b'{"a": 5}')])
    assert json.loads((await stack["server"].wait_for("/dlq/in", 1, timeout=TIMEOUT))[-1]) == {"a": 5}
    dead = await consume(stack["bootstrap"], f"{topic}_dead", 1, timeout=TIMEOUT)
    assert (dead[0].key, dead[0].value) == (b"1", b"[1, 2]")
    headers = dict(dead[0].headers)
    assert headers["trace"] == b"t-1"
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert b"cannot select fields from a JSON array" in headers["__connect.errors.exception.message"]


async def test_debian_libcoap_server_receives_the_seed_record(stack):
    await produce(stack["bootstrap"], stack["topics"]["libcoap"], [(None, envelope(SEED_SCHEMA, SEED_RECORD))])
    base = stack["libcoap"].uri
    seed = await _poll(stack["client"], f"{base}/lib/seed")
    assert json.loads(seed) == {**SEED_RECORD, "salary": 4830.0}
    assert json.loads(await _poll(stack["client"], f"{base}/lib/names")) == {"first": "John", "lastName": "Smith"}


async def test_dtls_with_a_pre_shared_key_to_libcoap_openssl(stack):
    record = {**SEED_RECORD, "age": 31}
    await produce(stack["bootstrap"], stack["topics"]["dtls"], [(None, envelope(SEED_SCHEMA, record))])
    got = await _poll(stack["dtls_client"], f"{stack['dtls_uri']}/secure/seed")
    assert json.loads(got) == {**record, "salary": 4830.0}


async def test_post_non_confirmable(stack):
    await produce(stack["bootstrap"], stack["topics"]["post"], [(None, b'{"n": 1}')])
    await stack["server"].wait_for("/post/nc", 1, timeout=TIMEOUT)
    request = [r for r in stack["server"].history if r.path == "/post/nc"][-1]
    assert request.method == "POST"


async def _poll(client: Context, uri: str, timeout: float = TIMEOUT) -> bytes:
    """GET ``uri`` until it exists (libcoap answers 4.04 until the first PUT creates it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await asyncio.wait_for(client.request(Message(code=Code.GET, uri=uri)).response, 5)
        if response.code.is_successful() and response.payload:
            return response.payload
        if loop.time() > deadline:
            raise AssertionError(f"{uri}: {response.code} {response.payload!r} after {timeout} s")
        await asyncio.sleep(0.1)
