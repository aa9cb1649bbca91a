"""Diffusion source under failure: two workers in one group, the leader SIGKILLed and restarted.

(Session drops are tested in test_diffusion_source.py, on the module's worker.)"""

from __future__ import annotations

import asyncio
import collections
import json
import signal

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
from tests.fixtures.worker import make_worker

TIMEOUT = 60
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
