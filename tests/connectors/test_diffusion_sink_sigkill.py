"""Diffusion sink under failure: a worker killed mid-stream, and Diffusion dropping every session."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import signal
import sys

import pytest

from tests.connectors.conftest import diffusion_sink_config, write_connector
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.kafka import create_topic, produce
from tests.fixtures.worker import make_worker

KEYS = 40
WINDOW = 50


def records(topic_count: int, start: int = 0, keys: int = KEYS) -> list[tuple[bytes, bytes]]:
    return [
        (f"k{i % keys}".encode(), json.dumps({"key": f"k{i % keys}", "seq": i}).encode())
        for i in range(start, start + topic_count)
    ]


async def wait_final(check, timeout: float, explain=lambda: "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for the final values; {explain()}")
        await asyncio.sleep(0.2)


@pytest.mark.compat
async def test_sigkill_mid_stream_then_restart_loses_nothing(kafka_bootstrap, diffusion_emulator, tmp_path, suffix):
    topic, root, total = f"kill_{suffix}", f"kill-{suffix}", 3000
    await create_topic(kafka_bootstrap, topic, 2)
    await produce(kafka_bootstrap, topic, records(total))
    last = {f"k{i % KEYS}": i for i in range(total)}
    configs = tmp_path / "connectors"
    configs.mkdir()
    write_connector(
        configs,
        f"kill-{suffix}",
        diffusion_sink_config(
            diffusion_emulator.url, topic, root + "/${key}", **{"diffusion.max.in.flight": str(WINDOW)}
        ),
    )

    async with diffusion_session(diffusion_emulator.url) as session:
        collector = await Collector(session).subscribe(f"?{root}/")
        seen = lambda: sum(len(collector.values(f"{root}/{k}")) for k in last)  # noqa: E731
        first = await make_worker(kafka_bootstrap, configs, tmp_path / "w1", app_id=f"kill-{suffix}").start()
        loop = asyncio.get_running_loop()
        try:
            await first.wait_ready()
            await wait_final(lambda: seen() >= 100, 60)
            rate_from, counted_from = loop.time(), seen()
            await wait_final(lambda: seen() >= total // 3, 60)
        finally:
            await first.stop(signal.SIGKILL)
        before_restart = seen()
        rate = (before_restart - counted_from) / (loop.time() - rate_from)
        assert before_restart < total, "the kill came too late to test anything"

        second = await make_worker(kafka_bootstrap, configs, tmp_path / "w2", app_id=f"kill-{suffix}").start()
        try:
            await second.wait_ready()
            await wait_final(
                lambda: all(
                    collector.values(f"{root}/{k}") and collector.latest(f"{root}/{k}")["seq"] == seq
                    for k, seq in last.items()
                ),
                90,
                lambda: (
                    f"latest per key: {[(collector.values(f'{root}/{k}') or [{}])[-1].get('seq') for k in last]}; "
                    f"worker output:\n{second.output[-3000:]}"
                ),
            )
        finally:
            assert await second.stop() == 0

    received = collections.Counter((v["key"], v["seq"]) for k in last for v in collector.values(f"{root}/{k}"))
    assert set(received) == {(f"k{i % KEYS}", i) for i in range(total)}, "some records never reached Diffusion"
    duplicates = sum(n - 1 for n in received.values())
    # Republished: what was in flight (unconfirmed, at most the window) plus what was confirmed but
    # not yet recorded in the delivered-offset table at the kill: table writes are batched every
    # 25 ms and then produced to its changelog, so allow 100 ms of deliveries at the measured rate.
    bound = WINDOW + int(rate * 0.1)
    print(
        f"SIGKILL after {before_restart} of {total} updates at {rate:.0f}/s: {duplicates} republished (bound {bound})"
    )
    assert duplicates <= bound


async def delivered_watermarks(bootstrap: str, app_id: str, connector: str) -> dict[tuple[str, int], int]:
    """The delivered-offset table's last value per topic-partition of ``connector``, read from its changelog."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streamapp.worker import DELIVERED_OFFSETS_TABLE
    from tests.fixtures.kafka import consume

    changelog = f"{app_id}-{DELIVERED_OFFSETS_TABLE}-changelog"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        end = (await consumer.end_offsets([TopicPartition(changelog, 0)]))[TopicPartition(changelog, 0)]
    finally:
        await consumer.stop()
    marks = {}
    for record in await consume(bootstrap, changelog, end) if end else []:
        key = json.loads(record.key)
        name, topic, partition = json.loads(key) if isinstance(key, str) else key
        if name == connector:
            marks[topic, partition] = json.loads(record.value)
    return marks


async def test_sigkill_with_conflation_then_restart_ends_every_topic_on_its_last_value(
    kafka_bootstrap, diffusion_emulator, tmp_path, suffix
):
    """Killed while the keys' last values are being sent: what was acked must be in Diffusion.

    1,000 keys, so that their last values take a while to send and the kill, at the first key seen
    on its last value, finds most of them pending or in flight. A record acked before Diffusion
    confirmed it or a newer value of its key is then behind the delivered offset and never sent
    again: its topic stays on an older value and the test fails.
    """
    from tests.connectors.test_counts_and_lag import counter, metrics, until

    topic, root, name, keys, total = f"killc_{suffix}", f"killc-{suffix}", f"killc-{suffix}", 1000, 30000
    await create_topic(kafka_bootstrap, topic, 2)
    sent = await produce(kafka_bootstrap, topic, records(total, keys=keys))
    last = {f"k{i % keys}": i for i in range(total)}
    configs = tmp_path / "connectors"
    configs.mkdir()
    write_connector(
        configs,
        name,
        diffusion_sink_config(
            diffusion_emulator.url,
            topic,
            root + "/${key}",
            **{"diffusion.max.in.flight": str(WINDOW), "diffusion.conflate": "true"},
        ),
    )

    def latest(key: str) -> int:
        values = collector.values(f"{root}/{key}")
        return values[-1]["seq"] if values else -1

    def on_last_value() -> list[str]:
        return [k for k, seq in last.items() if latest(k) == seq]

    first_last = [f"k{i % keys}" for i in range(total - keys, total - keys + 20)]  # the first last values sent

    async with diffusion_session(diffusion_emulator.url) as session:
        collector = await Collector(session).subscribe(f"?{root}/")
        first = await make_worker(kafka_bootstrap, configs, tmp_path / "w1", app_id=name).start()
        try:
            await first.wait_ready()
            await collector.wait(lambda: any(latest(k) == last[k] for k in first_last), 90, "a key on its last value")
            await first.stop(signal.SIGKILL)
        finally:
            await first.stop(signal.SIGKILL)
        updates = sum(len(collector.values(f"{root}/{k}")) for k in last)
        assert len(on_last_value()) < keys, "the kill came too late to test anything"

        # What the killed worker recorded as delivered must be in Diffusion, or a newer value of its key.
        marks = await delivered_watermarks(kafka_bootstrap, name, name)
        covered: dict[str, int] = {}  # per key, the newest record the table counts as delivered
        for seq, where in enumerate(sent):
            if where.offset <= marks.get((where.topic, where.partition), -1):
                covered[f"k{seq % keys}"] = seq
        assert covered, "the killed worker recorded no delivery: nothing was tested"

        def behind() -> dict[str, tuple[int, int]]:
            return {k: (latest(k), seq) for k, seq in covered.items() if latest(k) < seq}

        await wait_final(lambda: not behind(), 10, lambda: f"(in Diffusion, acked) per key behind: {behind()}")
        at_kill = len(on_last_value())

        second = await make_worker(kafka_bootstrap, configs, tmp_path / "w2", app_id=name).start()
        try:
            await second.wait_ready()
            await wait_final(
                lambda: len(on_last_value()) == keys,
                90,
                lambda: (
                    f"{keys - len(on_last_value())} keys not on their last value, e.g. "
                    f"{[(k, latest(k), seq) for k, seq in last.items() if latest(k) != seq][:10]}; "
                    f"worker output:\n{second.output[-3000:]}"
                ),
            )

            ends = {}  # per partition, its last offset
            for where in sent:
                ends[where.partition] = max(ends.get(where.partition, -1), where.offset)

            async def settled() -> dict[str, float] | None:
                # Read to the end and nothing in flight. Keys can all be on their last value before this
                # worker read anything (the killed one's last sends still arriving), so the counters are
                # compared once there is nothing left to read.
                samples = await metrics(second)
                delivered_offsets = {
                    int(re.search(r'partition="(\d+)"', key)[1]): value
                    for key, value in samples.items()
                    if key.startswith("streamapp_connector_delivered_offset{") and f'connector="{name}"' in key
                }
                at_end = all(delivered_offsets.get(p) == end for p, end in ends.items())
                return samples if at_end and counter(samples, "records_in_flight", name) == 0 else None

            samples = await until(settled, 30, lambda: f"not read to the last offsets {ends} with nothing in flight")
            records_in, delivered, conflated = (
                counter(samples, f, name)
                for f in ("records_in_total", "records_delivered_total", "records_conflated_total")
            )

            printed = [""]

            async def status_row() -> re.Match | None:  # `streamapp status` counts them too
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "streamapp.cli", "status", "--url", f"http://127.0.0.1:{second.web_port}",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                out, err = await asyncio.wait_for(proc.communicate(), 60)
                assert proc.returncode == 0, err.decode()
                printed[0] = out.decode()
                row = re.search(
                    rf"^{name}\s+sink\s+RUNNING\s+\S+\s+(\d+)\s+(\d+)\s+0\s+0\s+0\s+(\d+)\s", printed[0], re.M
                )
                return row if row and [float(n) for n in row.groups()] == [records_in, delivered, conflated] else None

            await until(  # IN, DELIVERED, CONFLATED as /metrics says
                status_row,
                30,
                lambda: (
                    f"/metrics: in {records_in:.0f}, delivered {delivered:.0f}, conflated {conflated:.0f}; "
                    f"`streamapp status` printed:\n{printed[0]}"
                ),
            )
        finally:
            assert await second.stop() == 0

    print(
        f"killed after {updates} updates for {total} records, {at_kill} of {keys} keys on their last value; "
        f"restarted worker: {records_in:.0f} records in, {delivered:.0f} delivered, {conflated:.0f} conflated"
    )
    assert conflated > 0 and records_in == delivered + conflated  # nothing failed, skipped or left in flight
