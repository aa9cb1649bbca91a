"""Diffusion sink under failure: Diffusion dropping every session mid-stream.

(The worker-SIGKILL test is in wip/ until the restart race it found is fixed: see the closing note.)
"""

from __future__ import annotations

import asyncio
import json

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import started_emulator
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

KEYS = 40
WINDOW = 50


def records(topic_count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [
        (f"k{i % KEYS}".encode(), json.dumps({"key": f"k{i % KEYS}", "seq": i}).encode())
        for i in range(start, start + topic_count)
    ]


async def wait_final(check, timeout: float, explain=lambda: "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for the final values; {explain()}")
        await asyncio.sleep(0.2)


async def test_emulator_dropping_all_sessions_three_times_loses_nothing(kafka_bootstrap, tmp_path, suffix):
    topic, root, total = f"drop_{suffix}", f"drop-{suffix}", 2400
    await create_topic(kafka_bootstrap, topic, 1)
    last = {f"k{i % KEYS}": i for i in range(total)}
    configs = tmp_path / "connectors"
    configs.mkdir()
    async with started_emulator() as emulator:
        write_connector(
            configs,
            f"drop-{suffix}",
            diffusion_sink_config(
                emulator.url, topic, root + "/${key}", **{"diffusion.reconnect.backoff.max.ms": "500"}
            ),
        )
        worker = await make_worker(kafka_bootstrap, configs, tmp_path / "w").start()
        try:
            await worker.wait_ready()
            chunk = total // 4
            for n in range(4):
                await produce(kafka_bootstrap, topic, records(chunk, n * chunk))
                if n < 3:
                    await asyncio.sleep(0.3)  # let some of the chunk be in flight
                    await wait_final(lambda: emulator.session_count >= 1, 30)  # the sink is (re)connected
                    assert await emulator.drop_all_sessions() >= 1
            await wait_final(
                lambda: all(
                    (emulator.topic(f"{root}/{k}") or (None, {}))[1].get("seq") == seq for k, seq in last.items()
                ),
                90,
            )
            assert "reconnected to Diffusion" in worker.output
        finally:
            assert await worker.stop() == 0
