"""Diffusion source throughput and latency against the raw SDK subscriber, measured in one run.

    .venv/bin/python bench/diffusion_source.py [--updates 10000]

1. Raw: a publisher process (official SDK, 100 updates in flight) updates 100 JSON topics N times;
   an official-SDK subscriber in this process counts the updates it receives. Rate = N / (last
   arrival - first arrival).
2. Source: the same publisher updates another 100 topics N times while a worker runs the source
   connector; an aiokafka consumer in this process counts the records reaching Kafka. Rate = N /
   (last record - first record). A raw SDK subscriber counts the same updates at the same time:
   on 2 cores the publisher, emulator, broker and worker compete for CPU, so the publisher itself
   is slower in this phase; the second ratio says whether the source keeps up with what Diffusion
   delivers then. The worker is started and has produced the 100 snapshot values
   before the publisher starts, so startup is not in the rate.
3. Latency: the publisher updates at a steady 500 updates/s, each value carrying its send time;
   p50/p99 from ``set_topic`` to the record's arrival in Kafka (consumer with fetch_max_wait_ms=50:
   the Tansu engine answers a fetch only after the fetch max wait).
The broker, the emulator, the publisher and the worker each run in their own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import diffusion
import diffusion.datatypes as dt
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from diffusion.features.topics.streams import ValueStreamHandler

from bench._stack import free_port, kafka_broker, percentile, service, worker_env
from streamapp.devstack.worker import WorkerProcess

logging.getLogger("diffusion").setLevel(logging.CRITICAL)

KEYS = 100
WINDOW = 100


async def open_session(url: str):
    return await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)


# --- the publisher (run as a child process) ---------------------------------------------------------


async def publish(url: str, root: str, n: int, rate: float) -> None:
    session = await open_session(url)
    try:
        slots = asyncio.Semaphore(WINDOW)

        async def one(i: int) -> None:
            try:
                value = {"seq": i, "sent": time.time()}
                await session.topics.set_topic(f"{root}/k{i % KEYS}", value, specification=dt.JSON)
            finally:
                slots.release()

        tasks = []
        t0 = time.perf_counter()
        for i in range(n):
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
            if rate:
                delay = t0 + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        await asyncio.gather(*tasks)
    finally:
        await session.close()


async def run_publisher(url: str, root: str, n: int, rate: float = 0) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--publish", url, root, str(n), str(rate))
    if await proc.wait() != 0:
        raise RuntimeError("the publisher failed")


# --- measuring ---------------------------------------------------------------------------------------


class Arrivals:
    def __init__(self) -> None:
        self.count = 0
        self.snapshot = 0
        self.first: float | None = None
        self.last: float | None = None
        self.latencies: list[float] = []

    def add(self, value: dict | None) -> None:
        now = time.perf_counter()
        if not value or value.get("seq", -1) < 0:
            self.snapshot += 1
            return
        self.count += 1
        self.first = self.first or now
        self.last = now
        self.latencies.append(time.time() - value["sent"])

    @property
    def rate(self) -> float:
        return self.count / (self.last - self.first) if self.count > 1 else 0.0


async def create_topics(url: str, roots: list[str]) -> None:
    session = await open_session(url)
    try:
        for root in roots:
            for k in range(KEYS):
                await session.topics.add_and_set_topic(f"{root}/k{k}", dt.JSON, {"seq": -1})
    finally:
        await session.close()


async def sdk_subscriber(url: str, selector: str) -> tuple[object, Arrivals]:
    session = await open_session(url)
    arrivals = Arrivals()

    async def on_update(*, topic_value, **_) -> None:
        arrivals.add(topic_value)

    session.topics.add_value_stream("*.*", ValueStreamHandler(dt.JSON, update=on_update))
    await session.topics.subscribe(selector)
    return session, arrivals


async def kafka_counter(bootstrap: str, topic: str) -> tuple[asyncio.Task, Arrivals, AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=50)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    arrivals = Arrivals()

    async def run() -> None:
        while True:
            batch = await consumer.getmany(tp, timeout_ms=200)
            for records in batch.values():
                for record in records:
                    arrivals.add(json.loads(record.value) if record.value else None)

    return asyncio.create_task(run()), arrivals, consumer


async def wait_for(check, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(0.05)


async def main(n: int) -> None:
    diffusion_port = free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    async with (
        kafka_broker() as broker,
        service("diffusion-emulator", port=diffusion_port),
    ):
        bootstrap = broker.bootstrap
        await create_topics(url, ["raw", "src", "lat"])
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bench_source", 1, 1), NewTopic("bench_latency", 1, 1)])
        await admin.close()

        # 1. raw SDK subscriber
        session, raw = await sdk_subscriber(url, "?raw/.*")
        await wait_for(lambda: raw.snapshot >= KEYS, 30)
        await run_publisher(url, "raw", n)
        await wait_for(lambda: raw.count >= n, 60)
        await session.close()
        print(f"raw SDK subscriber: {raw.rate:8.0f} updates/s ({n} updates, publisher {WINDOW} in flight)")

        # 2. the source, into Kafka
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            base = {
                "connector.class": "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
                "diffusion.url": url,
                "diffusion.username": "admin",
                "diffusion.password": "password",
            }
            for name, selector, topic in (
                ("bench", "?src/.*", "bench_source"),
                ("latency", "?lat/.*", "bench_latency"),
            ):
                (configs / f"{name}.json").write_text(
                    json.dumps(
                        {
                            "name": name,
                            "config": {
                                **base,
                                "diffusion.selector": selector,
                                "kafka.topic": topic,
                            },
                        }
                    )
                )
            task, source, consumer = await kafka_counter(bootstrap, "bench_source")
            lat_task, lat, lat_consumer = await kafka_counter(bootstrap, "bench_latency")
            worker = WorkerProcess(
                broker=f"kafka://{bootstrap}",
                connectors=configs,
                workdir=Path(tmp),
                web_port=free_port(),
                env={
                    **worker_env(broker),
                    "STREAMAPP_ENV_FILE": os.devnull,
                    "STREAMAPP_TOPIC_PARTITIONS": "1",
                },
                log_level="warn",
            )
            started = time.perf_counter()
            await worker.start()
            try:
                await wait_for(lambda: source.snapshot >= KEYS and lat.snapshot >= KEYS, 120)
                ready = time.perf_counter() - started
                profiler = None
                if os.environ.get("STREAMAPP_BENCH_PROFILE"):  # py-spy the worker, e.g. =/tmp/source.txt
                    profiler = await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "-p",
                        str(worker.pid),
                        "-d",
                        "8",
                        "-f",
                        "raw",
                        "-o",
                        os.environ["STREAMAPP_BENCH_PROFILE"],
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                # The same updates, counted by a raw SDK subscriber at the same time: whether the source keeps up.
                along_session, along = await sdk_subscriber(url, "?src/.*")
                await run_publisher(url, "src", n)
                if profiler is not None:
                    await profiler.wait()
                await wait_for(lambda: source.count >= n, 120)
                await wait_for(lambda: along.count >= n, 60)
                await along_session.close()
                # 3. latency at a steady 500 updates/s
                await run_publisher(url, "lat", 5000, 500)
                await wait_for(lambda: lat.count >= 5000, 60)
            except TimeoutError:
                print(worker.output[-6000:], file=sys.stderr)
                print(f"source: {source.count}, latency: {lat.count}", file=sys.stderr)
                raise
            finally:
                if os.environ.get("STREAMAPP_BENCH_WORKER_LOG"):
                    print(worker.output[-3000:], file=sys.stderr)
                await worker.stop()
                for t in (task, lat_task):
                    t.cancel()
                await consumer.stop()
                await lat_consumer.stop()
        print(
            f"source into Kafka:  {source.rate:8.0f} records/s ({source.count} records; worker ready in {ready:.1f}s)"
        )
        print(f"raw SDK subscriber alongside the worker, same updates: {along.rate:8.0f} updates/s")
        print(f"ratio source / raw SDK subscriber alone: {source.rate / raw.rate:.2f}  (target >= 0.85)")
        print(f"ratio source / raw SDK subscriber alongside: {source.rate / along.rate:.2f}")
        ms = [x * 1000 for x in lat.latencies]
        print(
            f"latency set_topic -> Kafka at 500 updates/s: p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms"
        )
        raw_ms = [x * 1000 for x in raw.latencies]
        print(f"  (raw SDK subscriber set_topic -> update at full speed: p50 {percentile(raw_ms, 0.5):.1f} ms)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        _, _, url_, root_, n_, rate_ = sys.argv
        asyncio.run(publish(url_, root_, int(n_), float(rate_)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10000)
    asyncio.run(main(parser.parse_args().updates))
