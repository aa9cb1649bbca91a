"""Diffusion sink throughput and latency against the raw SDK limit, measured in one run.

    .venv/bin/python bench/diffusion_sink.py [--records 20000]

1. Raw: one official-SDK session publishes N values with a bounded number in flight; the best
   window of a few is the limit this machine's SDK can reach against the emulator.
2. Sink: N records are produced to Kafka beforehand, a worker is started, and the rate is taken
   from the first value arriving in Diffusion to the moment every path holds its last value
   (startup time is printed apart). Only one path is watched live, so that a subscriber's CPU
   does not compete with the worker; final values are then checked with a fresh subscription.
3. Latency: records produced at a steady 500/s carry their send time; p50/p99 at the subscriber,
   after one warm-up record per key has created the Diffusion topics.
The broker and the emulator run in their own processes. Prints both rates and their ratio.
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
logging.getLogger("diffusion").setLevel(logging.CRITICAL)

import diffusion  # noqa: E402
import diffusion.datatypes as dt  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from diffusion.features.topics.streams import ValueStreamHandler  # noqa: E402

from bench._stack import free_port, kafka_broker, percentile, service, worker_env  # noqa: E402
from bench.floor import bare_faust_cpu, process_cpu  # noqa: E402
from streamapp.devstack.worker import WorkerProcess  # noqa: E402

KEYS = 100
RAW_CPU: dict[int, float] = {}  # window -> the SDK client's CPU seconds per set_topic


class Arrivals:
    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.latencies: list[float] = []
        self.stamps: list[float] = []
        self.final: dict[str, int] = {}
        self.pid: int | None = None  # the worker's: its CPU is read when the first update arrives
        self.cpu_at_first: float | None = None

    async def on_update(self, *, topic_path: str, topic_value, **_) -> None:
        now = time.perf_counter()
        self.count += 1
        if self.first is None:
            self.first = now
            if self.pid is not None:
                self.cpu_at_first = process_cpu(self.pid)
        self.last = now
        if isinstance(topic_value, dict):
            self.final[topic_path] = topic_value.get("seq", -1)
            sent = topic_value.get("sent")
            if sent is not None:
                self.latencies.append(time.time() - sent)
                self.stamps.append(time.time())


async def open_session(url: str):
    return await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)


async def subscriber(url: str, selector: str) -> tuple[object, Arrivals]:
    session = await open_session(url)
    arrivals = Arrivals()
    # The SDK routes values to streams with its own matcher, which mishandles trailing "/" and "//";
    # a catch-all stream plus the real subscription selector is reliable.
    session.topics.add_value_stream("*.*", ValueStreamHandler(dt.JSON, update=arrivals.on_update))
    await session.topics.subscribe(selector)
    return session, arrivals


async def raw_rate(url: str, n: int, window: int, root: str) -> float:
    session = await open_session(url)
    try:
        for k in range(KEYS):  # create the topics first: the sink's steady state updates existing topics
            await session.topics.add_and_set_topic(f"{root}/k{k}", dt.JSON, {"seq": -1})
        slots = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            try:
                await session.topics.set_topic(f"{root}/k{i % KEYS}", {"key": i % KEYS, "seq": i, "px": 1.5}, dt.JSON)
            finally:
                slots.release()

        tasks = []
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        RAW_CPU[window] = (time.process_time() - cpu) / n
        return n / (time.perf_counter() - start)
    finally:
        await session.close()


async def produce(bootstrap: str, topic: str, n: int, *, rate: float | None = None, start: int = 0) -> None:
    """Records as most users' producers send them: librdkafka (confluent-kafka), Kafka's partitioner."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "partitioner": "murmur2_random"})
    t0 = time.perf_counter()
    for i in range(start, start + n):
        value = {"key": i % KEYS, "seq": i, "px": 1.5}
        if rate:
            value["sent"] = time.time()
        while True:
            try:
                producer.produce(topic, key=f"k{i % KEYS}".encode(), value=json.dumps(value).encode())
                break
            except BufferError:  # the local queue is full: let it drain
                await asyncio.sleep(0.01)
                producer.poll(0)
        producer.poll(0)
        if rate:
            delay = t0 + (i - start + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    while await asyncio.to_thread(producer.flush, 1.0):
        pass


async def wait_for(check, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(0.05)


async def main(n: int) -> None:
    diffusion_port = free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    async with kafka_broker() as broker, service("diffusion-emulator", port=diffusion_port):
        bootstrap = broker.bootstrap
        # 1. raw SDK limit
        raw = {}
        for window in (50, 100, 200):
            raw[window] = await raw_rate(url, min(n, 10000), window, f"raw/w{window}")
            print(f"raw SDK set_topic, {window:>3} in flight: {raw[window]:8.0f} updates/s")
        best_window = max(raw, key=raw.get)

        # 2. sink end to end
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("bench_sink", 1, 1), NewTopic("bench_latency", 1, 1)])
        await admin.close()
        await produce(bootstrap, "bench_sink", n)
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            base = {
                "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
                "diffusion.url": url,
                "diffusion.username": "admin",
                "diffusion.password": "password",
                "diffusion.max.in.flight": str(best_window),
            }
            (configs / "sink.json").write_text(
                json.dumps(
                    {
                        "name": "bench",
                        "config": {**base, "topics": "bench_sink", "diffusion.destination": "sink/${key}"},
                    }
                )
            )
            (configs / "latency.json").write_text(
                json.dumps(
                    {
                        "name": "latency",
                        "config": {**base, "topics": "bench_latency", "diffusion.destination": "lat/${key}"},
                    }
                )
            )
            sub, arrivals = await subscriber(url, ">sink/k0")  # first and last update of one path
            last_k0 = max(i for i in range(n) if i % KEYS == 0)
            lat_sub, lat = await subscriber(url, "?lat/")
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
            arrivals.pid = worker.pid
            profiler = None
            if os.environ.get("STREAMAPP_BENCH_PROFILE"):  # py-spy the worker, e.g. =/tmp/sink.txt
                await wait_for(lambda: arrivals.count > 0, 120)
                profiler = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-p",
                    str(worker.pid),
                    "-d",
                    "10",
                    "-f",
                    "raw",
                    "-o",
                    os.environ["STREAMAPP_BENCH_PROFILE"],
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            try:
                await wait_for(lambda: arrivals.final.get("sink/k0") == last_k0, 300)
                # Every path must hold its last value: a fresh subscription receives current values.
                check, final = await subscriber(url, "?sink/")
                expected = {f"sink/k{k}": max(i for i in range(n) if i % KEYS == k) for k in range(KEYS)}
                try:
                    await wait_for(lambda: final.final == expected, 60)
                except TimeoutError:
                    wrong = {p: (final.final.get(p), v) for p, v in expected.items() if final.final.get(p) != v}
                    print(f"paths without their last value: {len(wrong)}: {list(wrong.items())[:5]}", file=sys.stderr)
                    raise
                done = time.perf_counter()  # conservative: includes the check's own round trip
                sink_cpu = (process_cpu(worker.pid) - arrivals.cpu_at_first) / n
                await check.close()
                total = done - started
                sink_rate = n / (done - arrivals.first)
                # 3. latency at a steady 500 records/s, on existing Diffusion topics (as the raw SDK's
                # rate is measured): one warm-up record per key creates them, then 10 s are measured.
                await produce(bootstrap, "bench_latency", KEYS, rate=500)
                await wait_for(lambda: len(lat.latencies) >= KEYS, 60)
                warmup = [x * 1000 for x in lat.latencies]
                lat.latencies.clear()
                lat.stamps.clear()
                await produce(bootstrap, "bench_latency", 5000, rate=500, start=KEYS)
                await wait_for(lambda: len(lat.latencies) >= 5000, 60)
            except TimeoutError:
                print(worker.output[-6000:], file=sys.stderr)
                print(f"arrivals: {arrivals.count}, final: {sorted(arrivals.final.items())[:5]}", file=sys.stderr)
                raise
            finally:
                if profiler is not None:
                    await profiler.wait()
                await worker.stop()
                await sub.close()
                await lat_sub.close()
        best = raw[best_window]
        print(
            f"sink end to end ({n} records, window {best_window}): {sink_rate:8.0f} records/s "
            f"({total:.1f}s including worker start)"
        )
        print(f"ratio sink / raw SDK: {sink_rate / best:.2f}  (target >= 0.85)")
        bare = await bare_faust_cpu(broker.url, ["bench_sink"], n)
        floor = RAW_CPU[best_window] + bare
        print(
            f"CPU per record: sink {sink_cpu * 1e6:.0f} us; floor = raw SDK {RAW_CPU[best_window] * 1e6:.0f} us per "
            f"set_topic + bare Faust {bare * 1e6:.0f} us per event = {floor * 1e6:.0f} us; sink / floor = "
            f"{sink_cpu / floor:.2f}"
        )
        ms = [x * 1000 for x in lat.latencies]
        if os.environ.get("STREAMAPP_BENCH_LATENCIES"):  # arrival time and latency of each record, for plots
            Path(os.environ["STREAMAPP_BENCH_LATENCIES"]).write_text(json.dumps(list(zip(lat.stamps, ms, strict=True))))
        print(
            f"latency at 500 records/s: p50 {percentile(ms, 0.5):.1f} ms, "
            f"p99 {percentile(ms, 0.99):.1f} ms (target <= 50 ms)"
        )
        print(f"  (warm-up: {KEYS} records creating their Diffusion topics, p50 {percentile(warmup, 0.5):.1f} ms)")
        first, last = ms[:500], ms[-500:]
        print(
            f"  (p50 of the first 500: {percentile(first, 0.5):.1f} ms, "
            f"of the last 500: {percentile(last, 0.5):.1f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    asyncio.run(main(parser.parse_args().records))
