"""Connectors created, changed, stopped and deleted through the Kafka Connect REST API, with an
independent Connect client (kafka-connect-py's ``KafkaConnect``, basic auth) and plain HTTP with
``requests`` (not the server's aiohttp) for status codes and headers, against two real worker
processes of one group, the session's Apache Kafka broker and a private Diffusion emulator. The
tests run in order and share the stack (one start-up for all of them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
import pytest_asyncio
import requests
from kafka_connect import KafkaConnect

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import started_emulator
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

API_USER, API_PASSWORD = "operator", "lifecycle-s3cret"
AUTH = (API_USER, API_PASSWORD)
DIFFUSION_PASSWORD = "password"
NAME = "api-sink"
DELIVERY = 15  # s: a created or changed connector delivers within this


class Stack:
    def __init__(self, workers, emulator, bootstrap, topic, root, configs, workdir, app_id):
        self.workers, self.emulator, self.bootstrap = workers, emulator, bootstrap
        self.topic, self.root, self.configs, self.workdir, self.app_id = topic, root, configs, workdir, app_id
        self.updates = 0  # records u0, u1... produced after the update (offsets 5, 6...)

    def url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.workers[i].web_port}"

    def client(self, i: int = 0) -> KafkaConnect:
        return KafkaConnect(url=self.url(i), auth=f"{API_USER}:{API_PASSWORD}")

    async def call(self, method: str, path: str, i: int = 0, auth=AUTH, **kwargs) -> tuple[int, Any, Any]:
        response = await asyncio.to_thread(
            requests.request, method, self.url(i) + path, auth=auth, timeout=60, **kwargs
        )
        return response.status_code, (response.json() if response.content else None), response.headers

    async def wait(self, check, timeout: float = 30, what: str = ""):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await check()
            if result:
                return result
            if loop.time() > deadline:
                logs = "\n".join(w.output[-2500:] for w in self.workers)
                raise AssertionError(f"timed out ({timeout}s) waiting for {what}; worker logs:\n{logs}")
            await asyncio.sleep(0.3)

    async def settle(self, timeout: float = 20) -> None:
        """Wait until no worker is rebalancing (readyz 200 on each, twice 1.5 s apart: a subscription
        change is applied a second after it is made). A worker stopped in the middle of a rebalance
        can take longer than the test's bound to stop."""

        async def ready() -> bool:
            for i in range(len(self.workers)):
                if self.workers[i].returncode is not None:
                    continue
                status, _, _ = await self.call("GET", "/readyz", i=i, auth=None)
                if status != 200:
                    return False
            return True

        async def twice() -> bool:
            if not await ready():
                return False
            await asyncio.sleep(1.5)
            return await ready()

        await self.wait(twice, timeout, "every worker out of its rebalances")

    async def stopped_everywhere(self, name: str) -> bool:
        """Every worker has applied the stop: its own snapshot (not the target state) says STOPPED."""
        for i in range(len(self.workers)):
            _, status, _ = await self.call("GET", "/streamapp/status", i=i)
            mine = [d for d in status["workers"] if d["worker_id"].endswith(f":{self.workers[i].web_port}")]
            if not mine or mine[0]["connectors"].get(name, {}).get("state") != "STOPPED":
                return False
        return True

    def value(self, path: str):
        found = self.emulator.topic(f"{self.root}/{path}")
        return None if found is None else found[1]

    def config(self, destination: str, **extra: str) -> dict:
        return diffusion_sink_config(self.emulator.url, self.topic, f"{self.root}/{destination}", **extra)


@pytest_asyncio.fixture(scope="module")
async def stack(kafka_bootstrap, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("lifecycle")
    configs = workdir / "connectors"
    configs.mkdir()
    suffix = workdir.name[-6:].replace("-", "")
    topic, root, app_id = f"life_{suffix}", f"life-{suffix}", f"test-life-{suffix}"
    await create_topic(kafka_bootstrap, topic, 1)
    await create_topic(kafka_bootstrap, f"file_{suffix}", 1)
    async with started_emulator() as emulator:
        write_connector(
            configs, "file-sink", diffusion_sink_config(emulator.url, f"file_{suffix}", root + "/file/${key}")
        )
        env = {
            "STREAMAPP_API_USERNAME": API_USER,
            "STREAMAPP_API_PASSWORD": API_PASSWORD,
            "STREAMAPP_STATUS_INTERVAL": "0.5",
        }
        workers = [make_worker(kafka_bootstrap, configs, workdir / f"w{i}", app_id=app_id, env=env) for i in range(2)]
        for worker in workers:
            await worker.start()
        try:
            for worker in workers:
                await worker.wait_ready()
            yield Stack(workers, emulator, kafka_bootstrap, topic, root, configs, workdir, app_id)
        finally:
            with contextlib.suppress(Exception):
                await Stack(workers, emulator, kafka_bootstrap, topic, root, configs, workdir, app_id).settle()
            for worker in workers:
                if worker.returncode is None:
                    await worker.stop()
            for worker in workers:
                assert API_PASSWORD not in worker.output
                assert f'"{DIFFUSION_PASSWORD}"' not in worker.output


async def test_create_answers_201_with_location_then_409_for_the_same_name(stack):
    payload = {"name": NAME, "config": stack.config("a/${key}")}
    status, body, headers = await stack.call("POST", "/connectors", json=payload)
    assert status == 201, body
    assert headers["Location"].endswith(f"/connectors/{NAME}")
    assert body["name"] == NAME and body["type"] == "sink" and body["tasks"] == []
    assert body["config"]["diffusion.password"] == "[hidden]"
    assert body["config"]["diffusion.destination"] == f"{stack.root}/a/${{key}}"

    with pytest.raises(requests.HTTPError) as taken:
        await asyncio.to_thread(stack.client(1).create_connector, payload)
    assert taken.value.response.status_code == 409
    assert taken.value.response.json() == {"error_code": 409, "message": f"Connector {NAME} already exists"}


async def test_a_created_connector_delivers_within_15s_and_every_worker_lists_it(stack):
    await produce(stack.bootstrap, stack.topic, [(f"k{i}".encode(), json.dumps({"n": i}).encode()) for i in range(5)])
    await stack.wait(
        lambda: _async(all(stack.value(f"a/k{i}") == {"n": i} for i in range(5))), DELIVERY, "delivery to a/k*"
    )
    for i in (0, 1):
        names = await asyncio.to_thread(stack.client(i).list_connectors)
        assert sorted(names) == [NAME, "file-sink"], i
        config = await asyncio.to_thread(stack.client(i).get_connector_config, NAME)
        assert config["diffusion.password"] == "[hidden]"


async def test_root_reports_the_kafka_cluster_id_and_topics_reset_is_accepted(stack):
    from confluent_kafka.admin import AdminClient

    def cluster_id() -> str:  # librdkafka's own answer, independent of the worker's aiokafka
        admin = AdminClient({"bootstrap.servers": stack.bootstrap})
        return admin.describe_cluster(request_timeout=30).result().cluster_id

    cluster_id = await asyncio.to_thread(cluster_id)
    for i in (0, 1):
        info = await asyncio.to_thread(stack.client(i).get_cluster_info)
        assert info["kafka_cluster_id"] == cluster_id and info["version"]
    status, body, _ = await stack.call("PUT", f"/connectors/{NAME}/topics/reset")
    assert (status, body) == (202, None)
    topics = await asyncio.to_thread(stack.client().list_connector_topics, NAME)
    assert topics == {NAME: {"topics": [stack.topic]}}  # a sink's active topics are the ones it reads


async def test_validate_attaches_each_error_to_its_key(stack):
    client = stack.client()
    config = stack.config("v/${key}")
    del config["diffusion.url"]
    config["name"] = "v"
    infos = await asyncio.to_thread(client.validate_connector_config, "DiffusionSinkConnector", config)
    assert infos["name"] == "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector"
    assert infos["error_count"] == 1
    by_name = {c["definition"]["name"]: c for c in infos["configs"]}
    url = by_name["diffusion.url"]
    assert url["value"]["errors"] and "required" in url["value"]["errors"][0]
    assert url["definition"]["required"] is True and url["definition"]["type"] == "STRING"
    assert by_name["diffusion.password"]["definition"]["type"] == "PASSWORD"
    assert by_name["diffusion.password"]["value"]["value"] == "[hidden]"
    assert by_name["topics"]["value"]["value"] == stack.topic
    assert {"Common", "Error Handling"} <= set(infos["groups"])
    for entry in infos["configs"]:
        assert entry["definition"]["importance"] in ("HIGH", "MEDIUM", "LOW")
        assert entry["definition"]["width"] in ("SHORT", "MEDIUM", "LONG", "NONE")
    assert json.dumps(DIFFUSION_PASSWORD) not in json.dumps(infos)  # as a value

    config = {**stack.config("v/x"), "name": "v"}
    valid = await asyncio.to_thread(client.validate_connector_config, "DiffusionSinkConnector", config)
    assert valid["error_count"] == 0 and not any(c["value"]["errors"] for c in valid["configs"])

    status, body, _ = await stack.call("PUT", "/connector-plugins/DiffusionSinkConnector/config/validate", json={})
    assert status == 400 and body["error_code"] == 400 and "connector.class" in body["message"]


async def test_update_uses_the_new_destination_within_15s(stack):
    result = await asyncio.to_thread(stack.client(1).update_connector, NAME, stack.config("b/${key}"))
    assert result["config"]["diffusion.destination"] == f"{stack.root}/b/${{key}}"
    # Records keep coming: those read before a worker applied the change go to the old destination
    # (as with Connect, the answer comes before the tasks restart), later ones to the new one.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVERY
    switched = None
    while switched is None:
        assert loop.time() < deadline, f"no record delivered to the new destination within {DELIVERY}s"
        await produce(stack.bootstrap, stack.topic, [(f"u{stack.updates}".encode(), b'{"u": 0}')])
        stack.updates += 1
        await asyncio.sleep(0.5)
        switched = next((i for i in range(stack.updates) if stack.value(f"b/u{i}") is not None), None)
    produced = stack.updates
    print(f"new destination used {DELIVERY - (deadline - loop.time()):.1f} s after the update was answered")

    async def each_delivered_once_where_expected() -> bool:
        for i in range(produced):
            old, new = stack.value(f"a/u{i}"), stack.value(f"b/u{i}")
            if i > switched and old is not None:
                raise AssertionError(f"u{i}, read after u{switched} went to the new destination, went to the old one")
            if old is None and new is None:
                return False  # not delivered yet
        return True

    await stack.wait(each_delivered_once_where_expected, DELIVERY, "every record delivered after the update")


async def test_stop_leaves_no_task_and_nothing_is_read_or_delivered(stack):
    status, body, _ = await stack.call("PUT", f"/connectors/{NAME}/stop")
    assert (status, body) == (204, None)
    await asyncio.to_thread(stack.client(1).stop_connector, NAME)  # idempotent, on any worker

    async def stopped():
        states = []
        for i in (0, 1):
            state = await asyncio.to_thread(stack.client(i).get_connector_status, NAME)
            states.append((state["connector"]["state"], state["tasks"]))
        return states == [("STOPPED", [])] * 2

    await stack.wait(stopped, what="STOPPED on both workers")
    await stack.wait(lambda: stack.stopped_everywhere(NAME), what="the stop applied on both workers")
    expected = {
        "offsets": [
            {
                "partition": {"kafka_topic": stack.topic, "kafka_partition": 0},
                "offset": {"kafka_offset": 5 + stack.updates},
            }
        ]
    }

    async def settled():  # the last delivered offset reaches every worker's table within moments
        status, body, _ = await stack.call("GET", f"/connectors/{NAME}/offsets")
        assert status == 200
        return body == expected

    await stack.wait(settled, what=f"offsets {expected}")
    await produce(stack.bootstrap, stack.topic, [(b"s0", b'{"s": 0}')])
    # The offsets can be altered only once no worker reads the partition: that answer proves it.
    status, body, _ = await stack.call(
        "PATCH",
        f"/connectors/{NAME}/offsets",
        json={
            "offsets": [
                {"partition": {"kafka_topic": stack.topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}
            ]
        },
    )
    assert (status, body) == (200, {"message": "The offsets for this connector have been altered successfully"})
    assert stack.value("b/s0") is None, "delivered while stopped"
    status, body, _ = await stack.call("GET", f"/connectors/{NAME}/offsets")
    assert body["offsets"][0]["offset"] == {"kafka_offset": 3}


async def test_resume_after_patch_delivers_those_records_again(stack):
    await asyncio.to_thread(stack.client().resume_connector, NAME)
    # Offsets 3 and 4 delivered again, to the current destination, and s0, produced while stopped
    # (records of different keys are delivered concurrently: in any order).
    expected = {"b/s0": {"s": 0}, "b/k3": {"n": 3}, "b/k4": {"n": 4}}
    await stack.wait(
        lambda: _async(all(stack.value(path) == value for path, value in expected.items())),
        DELIVERY,
        "delivery after the resume",
    )
    for i in (0, 1, 2):  # below the patched offset: not delivered again
        assert stack.value(f"b/k{i}") is None


async def test_offsets_cannot_change_unless_stopped_and_delete_resets(stack):
    status, body, _ = await stack.call("DELETE", f"/connectors/{NAME}/offsets")
    assert status == 400 and body["error_code"] == 400 and "STOPPED" in body["message"]
    await stack.call("PUT", f"/connectors/{NAME}/stop")
    status, body, _ = await stack.call("DELETE", f"/connectors/{NAME}/offsets")
    assert (status, body) == (200, {"message": "The offsets for this connector have been reset successfully"})
    status, body, _ = await stack.call("GET", f"/connectors/{NAME}/offsets")
    assert body["offsets"][0]["offset"] == {"kafka_offset": 0}


async def test_file_connectors_cannot_be_changed_or_deleted_or_taken(stack):
    for method, path, kwargs in (
        ("PUT", "/connectors/file-sink/config", {"json": stack.config("x")}),
        ("DELETE", "/connectors/file-sink", {}),
    ):
        status, body, _ = await stack.call(method, path, **kwargs)
        assert status == 409 and body["error_code"] == 409, body
        assert "file-sink.json" in body["message"] and "STREAMAPP_CONNECTORS" in body["message"]
    status, body, _ = await stack.call("POST", "/connectors", json={"name": "file-sink", "config": stack.config("x")})
    assert (status, body) == (409, {"error_code": 409, "message": "Connector file-sink already exists"})


async def test_error_codes_and_bodies(stack):
    status, body, _ = await stack.call("GET", "/connectors/nope/offsets")
    assert (status, body) == (404, {"error_code": 404, "message": "Connector nope not found"})
    status, body, _ = await stack.call("DELETE", "/connectors/nope")
    assert (status, body) == (404, {"error_code": 404, "message": "Connector nope not found"})
    bad = stack.config("x")
    del bad["diffusion.destination"]
    bad["diffusion.max.in.flight"] = "many"
    status, body, _ = await stack.call("POST", "/connectors", json={"name": "bad", "config": bad})
    assert status == 400 and body["error_code"] == 400
    assert "contains the following 2 error(s)" in body["message"]
    assert "diffusion.destination" in body["message"] and "diffusion.max.in.flight" in body["message"]
    assert DIFFUSION_PASSWORD not in body["message"]
    status, body, _ = await stack.call("PUT", "/connectors/one/config", json={**stack.config("x"), "name": "two"})
    assert status == 400 and "doesn't match connector name in the URL (one)" in body["message"]
    status, body, _ = await stack.call(
        "POST", "/connectors", json={"name": "s", "config": stack.config("x"), "initial_state": "MAYBE"}
    )
    assert status == 400 and "initial_state" in body["message"]
    for method, path in (("POST", "/connectors"), ("PUT", f"/connectors/{NAME}/config"), ("DELETE", f"/connectors/{NAME}"),
                         ("PUT", f"/connectors/{NAME}/stop"), ("PATCH", f"/connectors/{NAME}/offsets"),
                         ("DELETE", f"/connectors/{NAME}/offsets"), ("PUT", f"/connectors/{NAME}/topics/reset"),
                         ("PUT", "/connector-plugins/DiffusionSinkConnector/config/validate")):  # fmt: skip
        status, body, _ = await stack.call(method, path, auth=None, json={})
        assert status == 401 and body["error_code"] == 401, (method, path)


async def test_created_stopped_connector_and_a_restarted_worker_keeps_api_connectors(stack):
    payload = {"name": "api-second", "config": stack.config("c/${key}"), "initial_state": "STOPPED"}
    status, body, _ = await stack.call("POST", "/connectors", json=payload, i=1)
    assert status == 201, body

    async def seen_by_the_other_worker():  # it follows the config topic: a change reaches it within moments
        status, state, _ = await stack.call("GET", "/connectors/api-second/status")
        return status == 200 and state

    state = await stack.wait(seen_by_the_other_worker, 10, "the connector created on worker 1 seen on worker 0")
    assert state["connector"]["state"] == "STOPPED" and state["tasks"] == []

    worker = stack.workers[1]
    await stack.settle()
    assert await worker.stop() == 0
    await worker.start()
    await worker.wait_ready()
    names = await asyncio.to_thread(stack.client(1).list_connectors)
    assert sorted(names) == ["api-second", NAME, "file-sink"]
    _, state, _ = await stack.call("GET", "/connectors/api-second/status", i=1)
    assert state["connector"]["state"] == "STOPPED"
    await asyncio.to_thread(stack.client(1).resume_connector, "api-second")
    await produce(stack.bootstrap, stack.topic, [(b"r0", b'{"r": 0}')])
    await stack.wait(lambda: _async(stack.value("c/r0") == {"r": 0}), DELIVERY, "the resumed API connector delivers")


async def test_a_source_created_over_rest_produces_and_its_offsets_reset_produces_again(stack):
    import diffusion.datatypes as dt

    from tests.connectors.test_diffusion_source import source_config
    from tests.fixtures.diffusion import diffusion_session
    from tests.fixtures.kafka import consume

    kafka_topic, path = f"src_{stack.topic}", f"{stack.root}/src/p1"
    await create_topic(stack.bootstrap, kafka_topic, 1)
    config = source_config(stack.emulator.url, f"?{stack.root}/src/", kafka_topic)
    status, body, _ = await stack.call("POST", "/connectors", json={"name": "api-source", "config": config})
    assert status == 201 and body["type"] == "source", body
    async with diffusion_session(stack.emulator.url) as publisher:
        await publisher.topics.add_and_set_topic(path, dt.JSON, {"px": 1})
        first = await consume(stack.bootstrap, kafka_topic, 1, timeout=DELIVERY)
        assert json.loads(first[0].value) == {"px": 1}

        async def kept() -> Any:
            _, body, _ = await stack.call("GET", "/connectors/api-source/offsets")
            return body["offsets"] or None

        offsets = await stack.wait(kept, what="the source's offsets")
        assert [o["partition"] for o in offsets] == [{"diffusion.path": path}]
        assert set(offsets[0]["offset"]) == {"diffusion.sequence"}

        await asyncio.to_thread(stack.client().stop_connector, "api-source")

        await stack.wait(lambda: stack.stopped_everywhere("api-source"), what="the source stopped on every worker")
        status, body, _ = await stack.call("DELETE", "/connectors/api-source/offsets")
        assert (status, body) == (200, {"message": "The offsets for this connector have been reset successfully"})

        async def forgotten_everywhere() -> bool:  # the fingerprint table is shared: each worker's copy
            for i in (0, 1):
                _, body, _ = await stack.call("GET", "/connectors/api-source/offsets", i=i)
                if body["offsets"]:
                    return False
            return True

        await stack.wait(forgotten_everywhere, what="the reset reaching every worker")
        await asyncio.to_thread(stack.client().resume_connector, "api-source")
        again = await consume(stack.bootstrap, kafka_topic, 2, timeout=DELIVERY)  # its value produced again
        assert [json.loads(r.value) for r in again] == [{"px": 1}, {"px": 1}]
    await asyncio.to_thread(stack.client().delete_connector, "api-source")


async def test_delete_removes_the_connector_from_every_worker(stack):
    end = await asyncio.to_thread(_committed_and_end, stack)

    async def all_delivered() -> bool:  # nothing in flight when it is deleted
        _, body, _ = await stack.call("GET", "/connectors/api-second/offsets")
        return body["offsets"] == [
            {"partition": {"kafka_topic": stack.topic, "kafka_partition": 0}, "offset": {"kafka_offset": end[1]}}
        ]

    await stack.wait(all_delivered, what="api-second delivered everything")
    for name in (NAME, "api-second"):
        await asyncio.to_thread(stack.client().delete_connector, name)

    async def gone():
        for i in (0, 1):
            names = await asyncio.to_thread(stack.client(i).list_connectors)
            if names != ["file-sink"]:
                return False
            status, _, _ = await stack.call("GET", f"/connectors/{NAME}/status", i=i)
            if status != 404:
                return False
        return True

    await stack.wait(gone, what="deleted on both workers")
    await stack.wait(lambda: _async(stack.workers[0].output.count("connector 'api-second' deleted") == 1), what="log")

    # Its partition is left committed where it stopped: after everything it delivered (librdkafka's view).
    async def left_at_the_end() -> bool:
        committed, end = await asyncio.to_thread(_committed_and_end, stack)
        return committed == end

    await stack.wait(left_at_the_end, what="the group's committed offset at the end of the topic")


def _committed_and_end(stack: Stack) -> tuple[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": stack.app_id})
    try:
        tp = TopicPartition(stack.topic, 0)
        committed = consumer.committed([tp], timeout=30)[0].offset
        return committed, consumer.get_watermark_offsets(tp, timeout=30)[1]
    finally:
        consumer.close()


async def _async(value):
    return value
