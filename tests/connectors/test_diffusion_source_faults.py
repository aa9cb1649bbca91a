"""Diffusion source under failure: two workers in one group, the one running a source SIGKILLed
(and restarted); two sources spread over two workers, one moving when its worker is killed.

(Session drops are tested in test_diffusion_source.py, on the module's worker.)"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import socket

import aiohttp
import diffusion.datatypes as dt
import pytest

from streamapp.diffusion.source import FINGERPRINT_TABLE
from tests.connectors.conftest import write_connector
from tests.connectors.test_diffusion_source import (
    consume_exactly,
    headers_of,
    source_config,
)
from tests.fixtures.diffusion import diffusion_session
from tests.fixtures.kafka import TANSU_END_OFFSETS, ConsumeTimeout, consume
from tests.fixtures.worker import _GROUP_TIMEOUTS, make_worker

TIMEOUT = 60
SESSION_TIMEOUT = float(_GROUP_TIMEOUTS["STREAMAPP_BROKER_SESSION_TIMEOUT"])  # the workers' on Apache Kafka
SETTLE = 4  # s after the session timeout: the rebalance, the tables caught up, the placement's next check
SUBSCRIBED = "subscribed to Diffusion selector"


async def wait_for_leader(workers, count: int = 1, timeout: float = TIMEOUT):
    """The worker that logged its ``count``-th subscription."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for worker in workers:
            if worker.returncode is None and worker.output.count(SUBSCRIBED) >= count:
                return worker
        await asyncio.sleep(0.1)
    raise AssertionError("no worker subscribed: " + "\n".join(w.output[-2000:] for w in workers))


async def wait_for_fingerprints(bootstrap, changelog, paths, sequences, timeout: float = TIMEOUT):
    """Until the changelog's latest value per path names the expected sequence (1 by default)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    latest: dict[str, int] = {}
    while True:
        try:
            records = await consume(bootstrap, changelog, 10_000, timeout=2)
        except ConsumeTimeout as partial:
            records = partial.records
        latest = {}
        for record in records:
            key, value = json.loads(record.key), json.loads(record.value)
            path = next((p for p in paths if p in str(key)), None)
            if path is not None:
                latest[path] = int(str(value).split()[0])
        if all(latest.get(p) == sequences.get(p, 1) for p in paths):
            return
        if loop.time() > deadline:
            raise AssertionError(f"fingerprints in {changelog}: {latest}")


def summary(records) -> collections.Counter:
    return collections.Counter((r.key.decode(), json.loads(r.value)["n"]) for r in records)


# On Tansu the new leader recovers only part of the fingerprint table and produces unchanged
# values again; the broker defect has its own test.
@pytest.mark.compat(broken={"tansu": TANSU_END_OFFSETS})
async def test_two_workers_then_leader_sigkill_and_restart_emit_no_duplicates(
    kafka_bootstrap, diffusion_emulator, tmp_path, suffix
):
    root, topic, group = f"ha-{suffix}", f"ha_{suffix}", f"ha-{suffix}"
    paths = [f"{root}/p{i}" for i in range(5)]
    configs = tmp_path / "connectors"
    configs.mkdir()
    write_connector(
        configs,
        f"ha-{suffix}",
        source_config(diffusion_emulator.url, f"?{root}/.*", topic),
    )
    async with diffusion_session(diffusion_emulator.url) as publisher:
        for path in paths:
            await publisher.topics.add_and_set_topic(path, dt.JSON, {"n": 0})
        workers = [
            make_worker(
                kafka_bootstrap,
                configs,
                tmp_path / f"w{i}",
                app_id=group,
            )
            for i in range(2)
        ]
        try:
            for worker in workers:
                await worker.start()
            for worker in workers:
                await worker.wait_ready()
            leader = await wait_for_leader(workers)
            await publisher.topics.set_topic(paths[0], {"n": 1}, specification=dt.JSON)
            records = await consume_exactly(kafka_bootstrap, topic, 6, TIMEOUT)
            assert summary(records) == collections.Counter([(p, 0) for p in paths] + [(paths[0], 1)])
            assert sum(w.output.count(SUBSCRIBED) for w in workers) == 1, "only the leader subscribes"

            # The leader records what it produced in the fingerprint table; kill it only once that
            # reached the table's changelog (a kill before is a crash the table cannot cover).
            await wait_for_fingerprints(kafka_bootstrap, f"{group}-{FINGERPRINT_TABLE}-changelog", paths, {paths[0]: 2})
            await leader.stop(signal.SIGKILL)
            # Restart the killed worker at once (same group); it and the survivor compete for leadership.
            restarted = make_worker(kafka_bootstrap, configs, tmp_path / "w2", app_id=group)
            workers.append(restarted)
            await restarted.start()
            await publisher.topics.set_topic(paths[1], {"n": 1}, specification=dt.JSON)  # changed while down
            survivors = [w for w in workers if w is not leader]
            await wait_for_leader(survivors)  # the new leader subscribed
            records = await consume_exactly(kafka_bootstrap, topic, 7, TIMEOUT)
            assert summary(records) == collections.Counter([(p, 0) for p in paths] + [(paths[0], 1), (paths[1], 1)]), (
                "unchanged topics must not be produced again"
            )
            assert headers_of(records[-1])["diffusion.sequence"] == "2"  # continues from the table

            await restarted.wait_ready()
            await publisher.topics.set_topic(paths[2], {"n": 1}, specification=dt.JSON)
            records = await consume_exactly(kafka_bootstrap, topic, 8, TIMEOUT)
            counts = summary(records)
            assert counts[(paths[2], 1)] == 1 and max(counts.values()) == 1
        finally:
            for worker in workers:
                if worker.returncode is None:
                    await worker.stop()


async def connector_status(worker, name: str) -> dict:
    """``GET /connectors/{name}/status`` of one worker's REST API (it answers for the whole group)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{worker.web_port}/connectors/{name}/status") as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def running_on(workers, names, expected: dict[str, str] | None = None, timeout: float = TIMEOUT):
    """{connector: worker_id of its one RUNNING task} as /status shows it, once every connector has
    exactly one (and they are where ``expected`` says, when given)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        alive = next(w for w in workers if w.returncode is None)
        placed, seen = {}, {}
        for name in names:
            status = seen[name] = await connector_status(alive, name)
            tasks = status["tasks"]
            if len(tasks) == 1 and tasks[0]["state"] == "RUNNING":
                assert status["connector"]["worker_id"] == tasks[0]["worker_id"], status
                placed[name] = tasks[0]["worker_id"]
        if len(placed) == len(names) and (expected is None or placed == expected):
            return placed
        if loop.time() > deadline:
            logs = "\n".join(f"--- worker {w.web_port}:\n{w.output[-3000:]}" for w in workers)
            raise AssertionError(f"connector status: {seen}, expected {expected}\n{logs}")
        await asyncio.sleep(0.3)


async def wait_for_line(worker, line: str, count: int, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while worker.output.count(line) < count:
        if loop.time() > deadline:
            raise AssertionError(f"{line!r} not logged {count} time(s):\n{worker.output[-4000:]}")
        await asyncio.sleep(0.05)


def worker_id(worker) -> str:
    return f"{socket.gethostname()}:{worker.web_port}"  # Faust's canonical URL: the host name and web port


# Newest Apache Kafka only: the source's SIGKILL on Kafka 3.9 is the compatibility set's test above
# (same group, same placement topic); this one's 35 s on each engine was the suite's longest path.
async def test_two_sources_spread_over_two_workers_and_a_killed_ones_source_moves(
    kafka_bootstrap, diffusion_emulator, tmp_path, suffix
):
    group = f"spread-{suffix}"
    names = ("alpha", "beta")
    roots = {name: f"{name}-{suffix}" for name in names}
    topics = {name: f"{name}_{suffix}" for name in names}
    paths = {name: [f"{roots[name]}/p{i}" for i in range(3)] for name in names}
    configs = tmp_path / "connectors"
    configs.mkdir()
    for name in names:
        write_connector(configs, name, source_config(diffusion_emulator.url, f"?{roots[name]}/.*", topics[name]))
    async with diffusion_session(diffusion_emulator.url) as publisher:
        for name in names:
            for path in paths[name]:
                await publisher.topics.add_and_set_topic(path, dt.JSON, {"n": 0})
        workers = [make_worker(kafka_bootstrap, configs, tmp_path / f"w{i}", app_id=group) for i in range(2)]
        try:
            for worker in workers:
                await worker.start()
            for worker in workers:
                await worker.wait_ready()
            placed = await running_on(workers, names)
            assert sorted(placed.values()) == sorted(worker_id(w) for w in workers), "one source per worker"
            for worker in workers:
                assert worker.output.count(SUBSCRIBED) == 1, worker.output[-3000:]
            for name in names:
                records = await consume_exactly(kafka_bootstrap, topics[name], 3, TIMEOUT)
                assert summary(records) == collections.Counter((p, 0) for p in paths[name])

            # Kill the worker running alpha once its fingerprints reached the table's changelog.
            victim = next(w for w in workers if worker_id(w) == placed["alpha"])
            survivor = next(w for w in workers if w is not victim)
            changelog = f"{group}-{FINGERPRINT_TABLE}-changelog"
            await wait_for_fingerprints(kafka_bootstrap, changelog, paths["alpha"], {})
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            await victim.stop(signal.SIGKILL)
            await publisher.topics.set_topic(paths["alpha"][0], {"n": 1}, specification=dt.JSON)  # while moving
            await publisher.topics.set_topic(paths["beta"][0], {"n": 1}, specification=dt.JSON)

            # The group drops the killed worker after its session timeout; alpha then starts on the survivor.
            await wait_for_line(survivor, "connector 'alpha' runs on this worker", 1)
            moved_after = loop.time() - killed_at
            assert moved_after <= SESSION_TIMEOUT + SETTLE, f"alpha moved {moved_after:.1f}s after the kill"
            print(f"alpha running on the survivor {moved_after:.1f}s after the SIGKILL")
            # /status shows both on the survivor (the dead worker's last status ages out meanwhile).
            both = worker_id(survivor)
            assert await running_on([survivor], names, {"alpha": both, "beta": both}) == {"alpha": both, "beta": both}
            for name in names:
                records = await consume_exactly(kafka_bootstrap, topics[name], 4, TIMEOUT)
                assert summary(records) == collections.Counter([(p, 0) for p in paths[name]] + [(paths[name][0], 1)]), (
                    f"{name}: unchanged topics must not be produced again"
                )
                assert headers_of(records[-1])["diffusion.sequence"] == "2"  # continues from the table
            # beta went on with its session (held during the rebalance, not resubscribed); alpha subscribed once.
            assert survivor.output.count(SUBSCRIBED) == 2, survivor.output[-3000:]
            for name in names:
                await publisher.topics.set_topic(paths[name][1], {"n": 1}, specification=dt.JSON)
            for name in names:
                counts = summary(await consume_exactly(kafka_bootstrap, topics[name], 5, TIMEOUT))
                assert counts[(paths[name][1], 1)] == 1 and max(counts.values()) == 1, counts
        finally:
            for worker in workers:
                if worker.returncode is None:
                    await worker.stop()
