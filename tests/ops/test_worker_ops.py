"""Health, metrics, the Connect REST API and `streamapp status` against one real worker process,
the session's Kafka broker and a private Diffusion emulator (whose fault hooks take the session down)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys

import aiohttp
import pytest_asyncio

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import started_emulator
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

TOKEN = "t0ken-for-tests"
DIFFUSION_PASSWORD = "password"  # the emulator's; must never appear in an answer
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT = 30


class Stack:
    def __init__(self, worker, emulator, bootstrap, topic, strict_topic, root):
        self.worker, self.emulator, self.bootstrap = worker, emulator, bootstrap
        self.topic, self.strict_topic, self.root = topic, strict_topic, root
        self.url = f"http://127.0.0.1:{worker.web_port}"

    async def get(self, path: str, headers=AUTH, expect: int | None = 200):
        async with aiohttp.ClientSession() as http:
            async with http.get(self.url + path, headers=headers) as response:
                body = await response.read()
                if expect is not None:
                    assert response.status == expect, (path, response.status, body[:500])
                try:
                    return response.status, json.loads(body)
                except ValueError:
                    return response.status, body.decode()

    async def call(self, method: str, path: str, headers=AUTH, **kwargs):
        async with aiohttp.ClientSession() as http:
            async with http.request(method, self.url + path, headers=headers, **kwargs) as response:
                body = await response.read()
                return response.status, (json.loads(body) if body else None)

    async def wait(self, check, timeout: float = TIMEOUT, what: str = ""):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await check()
            if result:
                return result
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; worker log:\n{self.worker.output[-3000:]}")
            await asyncio.sleep(0.3)

    def values(self, keys):
        return {k: (self.emulator.topic(f"{self.root}/{k}") or (None, None))[1] for k in keys}


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ops")
    configs = workdir / "connectors"
    configs.mkdir()
    suffix = workdir.name[-6:].replace("-", "")
    topic, strict_topic, root = f"ops_in_{suffix}", f"ops_strict_{suffix}", f"ops-{suffix}"
    await create_topic(kafka_bootstrap, topic, 2)
    await create_topic(kafka_bootstrap, strict_topic, 1)
    async with started_emulator() as emulator:
        write_connector(
            configs,
            "ops-sink",
            diffusion_sink_config(
                emulator.url, topic, root + "/${key}", **{"diffusion.reconnect.backoff.max.ms": "500"}
            ),
        )
        write_connector(
            configs, "ops-strict", diffusion_sink_config(emulator.url, strict_topic, root + "/strict/${key}")
        )
        worker = make_worker(
            kafka_bootstrap,
            configs,
            workdir,
            env={"STREAMAPP_API_TOKEN": TOKEN, "STREAMAPP_STATUS_INTERVAL": "0.5"},
        )
        await worker.start()
        try:
            await worker.wait_ready()
            yield Stack(worker, emulator, kafka_bootstrap, topic, strict_topic, root)
        finally:
            if worker.returncode is None:  # the last test has the worker exit by itself
                code = await worker.stop()
                assert code == 0, worker.output[-3000:]
            assert TOKEN not in worker.output


def _check(body, name):
    return next(c for c in body["checks"] if c["name"] == name)


async def test_probes_are_open_and_report_consumer_connectors_and_sessions(stack):
    async def ready():
        status, body = await stack.get("/readyz", headers={}, expect=None)
        return body if status == 200 else None

    body = await stack.wait(ready, what="/readyz 200")
    assert body["status"] == "UP"
    assert _check(body, "kafka-consumer")["status"] == "UP"
    assert _check(body, "connector:ops-sink") == {"name": "connector:ops-sink", "status": "UP", "detail": "RUNNING"}
    assert _check(body, "diffusion:ops-sink")["detail"] == "CONNECTED"
    assert _check(body, "diffusion:ops-strict")["status"] == "UP"
    _, live = await stack.get("/livez", headers={})
    assert live["status"] == "UP"


async def test_auth_rejects_missing_or_wrong_credentials_and_accepts_the_token(stack):
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode()},
        {"Authorization": "Basic %%%"},
    ):
        for path in ("/connectors", "/metrics", "/connectors/ops-sink/config", "/streamapp/status"):
            status, body = await stack.get(path, headers=headers, expect=401)
            assert body["error_code"] == 401 and "authentication required" in body["message"], (path, headers)
            assert TOKEN not in json.dumps(body)
    status, _ = await stack.call("PUT", "/connectors/ops-sink/pause", headers={"Authorization": "Bearer wrong"})
    assert status == 401
    _, names = await stack.get("/connectors")
    assert names == ["ops-sink", "ops-strict"]


async def test_connect_rest_api_paths_and_shapes(stack):
    _, root = await stack.get("/")
    assert set(root) == {"version", "commit", "kafka_cluster_id"} and root["version"]

    _, config = await stack.get("/connectors/ops-sink/config")
    assert config["name"] == "ops-sink"
    assert config["topics"] == stack.topic
    assert config["diffusion.password"] == "[hidden]"
    assert config["connector.class"] == "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector"

    async def status_with_task():
        _, status = await stack.get("/connectors/ops-sink/status")
        return status if status["tasks"] else None

    status = await stack.wait(status_with_task, what="a task in the status")
    worker_id = status["connector"]["worker_id"]
    assert re.fullmatch(rf"[^:]+:{stack.worker.web_port}", worker_id)
    assert status == {
        "name": "ops-sink",
        "connector": {"state": "RUNNING", "worker_id": worker_id},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": worker_id}],
        "type": "sink",
    }

    _, info = await stack.get("/connectors/ops-sink")
    assert info == {
        "name": "ops-sink",
        "config": config,
        "tasks": [{"connector": "ops-sink", "task": 0}],
        "type": "sink",
    }
    _, tasks = await stack.get("/connectors/ops-sink/tasks")
    assert [t["id"] for t in tasks] == [{"connector": "ops-sink", "task": 0}]
    assert tasks[0]["config"]["diffusion.password"] == "[hidden]"
    _, task_status = await stack.get("/connectors/ops-sink/tasks/0/status")
    assert task_status == {"id": 0, "state": "RUNNING", "worker_id": worker_id}
    _, topics = await stack.get("/connectors/ops-sink/topics")
    assert topics == {"ops-sink": {"topics": [stack.topic]}}

    _, expanded = await stack.get("/connectors?expand=status&expand=info")
    assert set(expanded) == {"ops-sink", "ops-strict"}
    assert expanded["ops-sink"]["info"] == info
    assert expanded["ops-sink"]["status"]["connector"]["state"] == "RUNNING"
    _, only_status = await stack.get("/connectors?expand=status")
    assert set(only_status["ops-strict"]) == {"status"}

    _, plugins = await stack.get("/connector-plugins")
    assert {p["class"] for p in plugins} >= {
        "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
        "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector",
        "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
    }
    assert {p["type"] for p in plugins} == {"sink", "source"}

    status, missing = await stack.get("/connectors/nope/status", expect=404)
    assert missing == {"error_code": 404, "message": "Connector nope not found"}

    # Created, changed and deleted connectors: tests/ops/test_connect_lifecycle.py. Here: what the
    # API refuses on a worker whose connectors come from files.
    new = {"name": "x", "config": {"connector.class": "diffusion-sink"}}
    status, body = await stack.call("POST", "/connectors", json=new)
    assert status == 400 and body["error_code"] == 400 and "diffusion.url" in body["message"], body
    status, body = await stack.call("POST", "/connectors", json={"name": "ops-sink", "config": {}})
    assert (status, body) == (409, {"error_code": 409, "message": "Connector ops-sink already exists"})
    for method, path, kwargs in (
        ("PUT", "/connectors/ops-sink/config", {"json": {}}),
        ("DELETE", "/connectors/ops-sink", {}),
    ):
        status, body = await stack.call(method, path, **kwargs)
        assert status == 409 and body["error_code"] == 409, (method, path, body)
        assert "is defined by the file" in body["message"] and "restart" in body["message"]

    for path in ("/connectors?expand=status&expand=info", "/connectors/ops-sink/tasks", "/streamapp/status"):
        _, body = await stack.get(path)
        assert json.dumps(DIFFUSION_PASSWORD) not in json.dumps(body), path  # as a value


def _sample(metrics: str, name: str, **labels) -> float | None:
    for line in metrics.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_and_offsets_match_what_was_delivered(stack):
    keys = [f"m{i}" for i in range(20)]
    await produce(
        stack.bootstrap, stack.topic, [(k.encode(), json.dumps({"n": i}).encode(), i % 2) for i, k in enumerate(keys)]
    )
    await stack.wait(lambda: _async(all(v is not None for v in stack.values(keys).values())), what="20 deliveries")

    async def settled():
        _, text = await stack.get("/metrics")
        return (
            text if _sample(text, "streamapp_connector_records_delivered_total", connector="ops-sink") == 20 else None
        )

    text = await stack.wait(settled, what="20 delivered in /metrics")
    assert _sample(text, "streamapp_connector_records_in_total", connector="ops-sink") == 20
    assert _sample(text, "streamapp_connector_records_failed_total", connector="ops-sink") == 0
    assert _sample(text, "streamapp_connector_records_delivered_total", connector="ops-strict") == 0
    assert _sample(text, "streamapp_connector_delivery_latency_seconds_count", connector="ops-sink") == 20
    assert _sample(text, "streamapp_connector_state", connector="ops-sink", state="RUNNING") == 1
    assert _sample(text, "streamapp_diffusion_session_state", connector="ops-sink", state="CONNECTED") == 1
    assert re.search(r"^test_\w+_messages_received_total \d", text, re.M), "Faust's own sensor metrics"

    async def offsets_settled():
        _, text = await stack.get("/metrics")
        lags = [
            _sample(text, "streamapp_connector_lag_records", connector="ops-sink", partition=str(p)) for p in (0, 1)
        ]
        return text if lags == [0, 0] else None

    text = await stack.wait(offsets_settled, what="lag 0")
    for p in (0, 1):
        assert _sample(text, "streamapp_connector_delivered_offset", connector="ops-sink", partition=str(p)) == 9
    _, offsets = await stack.get("/connectors/ops-sink/offsets")
    assert offsets == {
        "offsets": [
            {"partition": {"kafka_topic": stack.topic, "kafka_partition": p}, "offset": {"kafka_offset": 10}}
            for p in (0, 1)
        ]
    }


async def _async(value):
    return value


async def test_pause_stops_delivery_and_resume_delivers_everything(stack):
    status, body = await stack.call("PUT", "/connectors/ops-sink/pause")
    assert (status, body) == (202, None)

    async def paused():
        _, status = await stack.get("/connectors/ops-sink/status")
        return status["connector"]["state"] == "PAUSED" and [t["state"] for t in status["tasks"]] == ["PAUSED"]

    await stack.wait(paused, what="PAUSED")
    await asyncio.sleep(1)  # the worker applies the pause to its consumer at once; leave it its tick anyway
    keys = [f"p{i}" for i in range(10)]
    await produce(
        stack.bootstrap, stack.topic, [(k.encode(), json.dumps({"p": i}).encode(), i % 2) for i, k in enumerate(keys)]
    )
    await asyncio.sleep(3)
    assert stack.values(keys) == dict.fromkeys(keys), "delivered while paused"
    _, ready = await stack.get("/readyz", headers={})  # paused is not unready
    assert ready["status"] == "UP"

    status, _ = await stack.call("PUT", "/connectors/ops-sink/resume")
    assert status == 202
    await stack.wait(
        lambda: _async(all(v is not None for v in stack.values(keys).values())), what="delivery after resume"
    )
    assert stack.values(keys) == {k: {"p": i} for i, k in enumerate(keys)}
    _, status = await stack.get("/connectors/ops-sink/status")
    assert status["connector"]["state"] == "RUNNING"


async def test_unready_while_diffusion_is_down_and_ready_after(stack):
    stack.emulator.refuse_connections(6)
    assert await stack.emulator.drop_all_sessions() >= 1

    async def unready():
        status, body = await stack.get("/readyz", headers={}, expect=None)
        return body if status == 503 else None

    body = await stack.wait(unready, timeout=10, what="/readyz 503")
    assert body["status"] == "DOWN"
    assert _check(body, "diffusion:ops-sink")["status"] == "DOWN"
    assert _check(body, "kafka-consumer")["status"] == "UP"
    status, live = await stack.get("/livez", headers={}, expect=None)
    assert status == 200, live  # Diffusion down is not a reason to restart the worker

    async def ready():
        status, body = await stack.get("/readyz", headers={}, expect=None)
        return body if status == 200 else None

    body = await stack.wait(ready, timeout=40, what="/readyz 200 again")
    assert _check(body, "diffusion:ops-sink")["detail"] == "CONNECTED"


async def test_streamapp_status_prints_the_connectors(stack):
    async def run(*args):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streamapp.cli",
            "status",
            "--url",
            stack.url,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await run("--token", TOKEN)
    assert code == 0, err
    lines = out.splitlines()
    sink_row = next(line for line in lines if line.startswith("ops-sink "))
    assert re.search(r"ops-sink\s+sink\s+RUNNING\s+0:RUNNING\s+30\s+30\s+0\s+0", sink_row), out
    assert re.search(r"ops-strict\s+sink\s+RUNNING", out), out
    assert re.search(rf"ops-sink  {stack.topic}/0  delivered offset 14  end offset 15  lag 0", out), out
    assert "1 worker(s)" in out

    code, out, err = await run("--token", "wrong")
    assert code == 1
    assert "refused the credentials (HTTP 401)" in err and "wrong" not in err


async def test_failed_connector_shows_its_trace_is_unready_and_restart_restarts_the_worker(stack):
    await produce(stack.bootstrap, stack.strict_topic, [(b"k", b"not json")])

    async def failed():
        _, status = await stack.get("/connectors/ops-strict/status")
        return status if status["tasks"] and status["tasks"][0]["state"] == "FAILED" else None

    status = await stack.wait(failed, what="ops-strict FAILED")
    assert "VALUE_CONVERTER" in status["tasks"][0]["trace"]
    assert f"{stack.strict_topic}/0@0" in status["tasks"][0]["trace"]
    code, body = await stack.get("/readyz", headers={}, expect=503)
    assert _check(body, "connector:ops-strict")["status"] == "DOWN"
    assert _check(body, "connector:ops-sink")["status"] == "UP"

    status, body = await stack.call("POST", "/connectors/ops-sink/restart")  # running: nothing to do
    assert status == 204
    await asyncio.sleep(1.5)
    assert stack.worker.returncode is None

    status, body = await stack.call("POST", "/connectors/ops-strict/restart?includeTasks=true&onlyFailed=true")
    assert status == 202
    assert body["tasks"][0]["state"] == "RESTARTING"
    await stack.worker.wait_for("restart requested for its FAILED task", timeout=10)


async def test_restart_of_a_failed_connector_stops_its_worker_cleanly(stack):
    # Follows the test above: its restart request made the worker running the FAILED task stop,
    # so that its supervisor (Kubernetes) starts it again from the unacked record.
    assert await stack.worker.wait_exit(timeout=40) == 0
