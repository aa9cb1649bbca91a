"""Diffusion sink under failure: Diffusion dropping every session mid-stream, and a refused update
while the records after it (other topics) are confirmed. The worker-SIGKILL tests are in
test_diffusion_sink_sigkill.py.
"""

from __future__ import annotations

import asyncio
import json

import diffusion.datatypes as dt
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import diffusion_session, started_emulator
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


async def test_a_refused_update_is_never_committed_past_and_is_delivered_after_the_fix_and_a_restart(
    kafka_bootstrap, tmp_path, suffix
):
    """Records of one partition go to different Diffusion topics concurrently, so they are confirmed
    out of order. The first one is refused (its topic exists with another type) and stops the
    connector (errors.tolerance=none); the five after it, already sent, are confirmed. Kafka's
    committed offset must stay at that record, on the worker's periodic commits and on its graceful
    stop: once the topic is fixed, a restarted worker delivers it. (Faust commits past an unacked
    record when a later one is acked: ``Consumer._new_offset`` checks for a gap one offset late, and
    not at all before the first commit.)"""
    topic, root, name, app_id = f"refused_{suffix}", f"refused-{suffix}", "refused", f"refused-{suffix}"
    await create_topic(kafka_bootstrap, topic, 1)
    configs = tmp_path / "connectors"
    configs.mkdir()
    async with started_emulator() as emulator, diffusion_session(emulator.url) as session:
        await session.topics.add_topic(f"{root}/k0", dt.STRING)  # the sink sets JSON: refused
        # Each answer comes 0.3 s after its request: the six updates are all sent before the refusal.
        emulator.delay_responses(0.3)
        await produce(kafka_bootstrap, topic, [(f"k{i}".encode(), json.dumps({"n": i}).encode()) for i in range(6)])
        write_connector(configs, name, diffusion_sink_config(emulator.url, topic, root + "/${key}"))
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()

        async def committed() -> int | None:
            meta = (await admin.list_consumer_group_offsets(app_id)).get(TopicPartition(topic, 0))
            return meta.offset if meta and meta.offset >= 0 else None

        try:
            first = await make_worker(kafka_bootstrap, configs, tmp_path / "w1", app_id=app_id).start()
            try:
                await first.wait_for(r"connector 'refused' stopped .*record " + topic + r"/0@0 failed", 60)
                # The updates sent with it are confirmed.
                await wait_final(
                    lambda: all(emulator.topic(f"{root}/k{i}") == ("json", {"n": i}) for i in range(1, 6)),
                    30,
                    lambda: f"values: {[emulator.topic(f'{root}/k{i}') for i in range(6)]}",
                )
            finally:
                assert await first.stop() == 0, first.output[-3000:]  # Faust commits on a graceful stop
            assert await committed() in (None, 0), "committed past the refused record: it would never be read again"

            emulator.delay_responses(0)
            await session.topics.remove_topic(f"{root}/k0")  # the cause fixed
            second = await make_worker(kafka_bootstrap, configs, tmp_path / "w2", app_id=app_id).start()
            try:
                await wait_final(
                    lambda: emulator.topic(f"{root}/k0") == ("json", {"n": 0}),
                    60,
                    lambda: f"{root}/k0 is {emulator.topic(f'{root}/k0')}; worker output:\n{second.output[-3000:]}",
                )
            finally:
                assert await second.stop() == 0, second.output[-3000:]
        finally:
            await admin.close()
