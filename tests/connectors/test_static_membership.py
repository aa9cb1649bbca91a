"""Kafka static membership (STREAMAPP_GROUP_INSTANCE_ID, as the StatefulSet sets it): a worker killed and
restarted within the session timeout gets its partitions back without a rebalance, and loses nothing."""

from __future__ import annotations

import asyncio
import json
import re
import signal

import pytest

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

TIMEOUT = 60


def generations(output: str) -> list[int]:
    return [int(g) for g in re.findall(r"Joined group '[^']+' \(generation (\d+)\)", output)]


async def wait_until(check, timeout: float, explain=lambda: "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out; {explain()}")
        await asyncio.sleep(0.1)


@pytest.mark.compat
async def test_a_static_member_restarted_within_the_session_timeout_keeps_its_partitions(
    kafka_bootstrap, diffusion_emulator, tmp_path, suffix
):
    topic, root, group = f"static_{suffix}", f"static-{suffix}", f"static-{suffix}"
    await create_topic(kafka_bootstrap, topic, 2)
    configs = tmp_path / "connectors"
    configs.mkdir()
    write_connector(configs, group, diffusion_sink_config(diffusion_emulator.url, topic, root + "/${key}"))
    # The session timeout outlasts the restart: the group keeps the member's place meanwhile.
    env = {"STREAMAPP_GROUP_INSTANCE_ID": "streamapp-0", "STREAMAPP_BROKER_SESSION_TIMEOUT": "15"}
    batch = lambda start: [(f"k{i % 10}".encode(), json.dumps({"seq": i}).encode()) for i in range(start, start + 50)]  # noqa: E731

    async with diffusion_session(diffusion_emulator.url) as session:
        collector = await Collector(session).subscribe(f"?{root}/")
        latest = lambda k: (collector.values(f"{root}/k{k}") or [{}])[-1].get("seq")  # noqa: E731
        first = await make_worker(kafka_bootstrap, configs, tmp_path / "w1", app_id=group, env=env).start()
        try:
            await first.wait_ready(timeout=TIMEOUT)
            await produce(kafka_bootstrap, topic, batch(0))
            await wait_until(lambda: all(latest(k) == 40 + k for k in range(10)), TIMEOUT)
        finally:
            await first.stop(signal.SIGKILL)
        await produce(kafka_bootstrap, topic, batch(50))  # while it is down

        second = await make_worker(kafka_bootstrap, configs, tmp_path / "w2", app_id=group, env=env).start()
        try:
            await second.wait_ready(timeout=TIMEOUT)
            await wait_until(
                lambda: all(latest(k) == 90 + k for k in range(10)),
                TIMEOUT,
                lambda: f"latest: {[latest(k) for k in range(10)]}\n{second.output[-3000:]}",
            )
        finally:
            assert await second.stop() == 0

    before, after = generations(first.output), generations(second.output)
    assert before and after, (first.output[-2000:], second.output[-2000:])
    # A dynamic member would have joined a new generation (the dead member waited out, a rebalance).
    assert after[0] == before[-1], f"rebalanced: generation {before[-1]} -> {after[0]}"
    assert set(re.findall(rf"reading {topic}/(\d+) from offset", second.output)) == {"0", "1"}
