"""Diffusion sink throughput and latency against the raw SDK limit, measured in one run.

    .venv/bin/python bench/diffusion_sink.py [--records 20000]

1. Raw: one official-SDK session publishes N values (public ``set_topic``) with 100 in flight,
   the sink's default window: the limit this machine's SDK reaches against the emulator.
2. Sink: N records over 100 keys are produced to Kafka beforehand, a worker is started, and the
   rate is taken from the first value arriving in Diffusion to the moment every path holds its
   last value (startup time is printed apart). Only one path is watched live, so that a
   subscriber's CPU does not compete with the worker; final values are then checked with a fresh
   subscription.
3. Latency: records produced at a steady 500/s carry their send time; p50/p99 at the subscriber,
   after one warm-up record per key has created the Diffusion topics.
4. Conflation: the same N records in another topic, read by a second worker whose connector has
   ``diffusion.conflate=true``; the rate from the first record read (its /metrics counter polled:
   the first update is held while the worker catches up) to every path holding its last value
   (every path watched live: there are few updates); its ``conflated`` count. Target: 5x raw.
Then a bare Faust agent reads the N records: its CPU per event plus the raw SDK's per set_topic is
the floor the sink's CPU per record is compared with. The broker and the emulator run in their own
processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.getLogger("diffusion").setLevel(logging.CRITICAL)

import aiohttp  # noqa: E402
import diffusion  # noqa: E402
import diffusion.datatypes as dt  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from diffusion.features.topics.streams import ValueStreamHandler  # noqa: E402

from bench._stack import free_port, kafka_broker, percentile, service, worker_env  # noqa: E402
from bench.floor import bare_faust, process_cpu  # noqa: E402
from streamapp.devstack.worker import WorkerProcess  # noqa: E402

KEYS = 100
WINDOW = 100  # updates in flight: the raw SDK's and the sink's (diffusion.max.in.flight)
RAW_CPU: dict[int, float] = {}  # window -> the SDK client's CPU seconds per set_topic
CONNECTOR = {
    "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
    "diffusion.username": "admin",
    "diffusion.password": "password",
    "diffusion.max.in.flight": str(WINDOW),
}


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


def bench_worker(broker, configs: Path, workdir: Path) -> WorkerProcess:
    return WorkerProcess(
        broker=f"kafka://{broker.bootstrap}",
        connectors=configs,
        workdir=workdir,
        web_port=free_port(),
        env={**worker_env(broker), "STREAMAPP_ENV_FILE": os.devnull, "STREAMAPP_TOPIC_PARTITIONS": "1"},
        log_level="warn",
    )


async def counters(worker: WorkerProcess, connector: str) -> dict[str, float]:
    """The connector's counters from the worker's /metrics, e.g. ``{"records_conflated_total": 19000.0}``."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{worker.web_port}/metrics") as response:
            text = await response.text()
    pattern = rf'^streamapp_connector_(\w+){{connector="{connector}"}} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.M)}


async def conflated_sink(broker, url: str, n: int) -> tuple[float, float, int, float]:
    """Records/s and CPU s per record of a conflating sink over ``bench_conflate``; updates seen, conflated count."""
    expected = {f"conf/k{k}": max(i for i in range(n) if i % KEYS == k) for k in range(KEYS)}
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "connectors"
        configs.mkdir()
        config = {
            **CONNECTOR,
            "diffusion.url": url,
            "topics": "bench_conflate",
            "diffusion.destination": "conf/${key}",
            "diffusion.conflate": "true",
        }
        (configs / "conflate.json").write_text(json.dumps({"name": "conflate", "config": config}))
        sub, arrivals = await subscriber(url, "?conf/")  # few updates: every path is watched live
        worker = bench_worker(broker, configs, Path(tmp))
        await worker.start()
        # Timed from the first record read, not the first update: updates are held while the worker
        # catches up. The counter is polled; the time and CPU before the last poll that saw none
        # are the start (conservative: up to one poll early).
        start, cpu_start = time.perf_counter(), process_cpu(worker.pid)
        while True:
            before, cpu_before = time.perf_counter(), process_cpu(worker.pid)
            try:
                seen = (await counters(worker, "conflate")).get("records_in_total", 0)
            except aiohttp.ClientError:  # the web server is not up yet
                seen = 0
            if seen or before - start > 120:
                break
            start, cpu_start = before, cpu_before
            await asyncio.sleep(0.01)
        profiler = None
        if os.environ.get("STREAMAPP_BENCH_PROFILE_CONFLATE"):  # py-spy the conflating worker
            await wait_for(lambda: arrivals.count > 0, 120)
            profiler = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(worker.pid), "-d", "2", "-r", "1000", "-f",
                "raw", "-o", os.environ["STREAMAPP_BENCH_PROFILE_CONFLATE"],
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        try:
            try:
                await wait_for(lambda: arrivals.final == expected, 120)
            except TimeoutError:
                wrong = {p: (arrivals.final.get(p), v) for p, v in expected.items() if arrivals.final.get(p) != v}
                print(f"conflation: paths without their last value: {list(wrong.items())[:5]}", file=sys.stderr)
                print(worker.output[-6000:], file=sys.stderr)
                raise
            done = time.perf_counter()
            cpu = (process_cpu(worker.pid) - cpu_start) / n
            while True:  # every record delivered or conflated, as /metrics counts them
                counted = await counters(worker, "conflate")
                delivered, conflated = counted["records_delivered_total"], counted["records_conflated_total"]
                if delivered + conflated >= n or time.perf_counter() - done > 30:
                    break
                await asyncio.sleep(0.05)
        finally:
            if profiler is not None:
                await profiler.wait()
            await worker.stop()
            await sub.close()
    print(f"  (conflating sink: {delivered:.0f} delivered, {conflated:.0f} conflated, per /metrics)")
    return n / (done - start), cpu, arrivals.count, conflated


async def main(n: int) -> None:
    diffusion_port = free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    async with kafka_broker() as broker, service("diffusion-emulator", port=diffusion_port):
        bootstrap = broker.bootstrap
        # 1. raw SDK limit
        raw = await raw_rate(url, min(n, 10000), WINDOW, "raw")
        print(f"raw SDK set_topic, {WINDOW} in flight: {raw:8.0f} updates/s", flush=True)

        # 2. sink end to end
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics(
            [NewTopic("bench_sink", 1, 1), NewTopic("bench_latency", 1, 1), NewTopic("bench_conflate", 1, 1)]
        )
        await admin.close()
        await produce(bootstrap, "bench_sink", n)
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            base = {**CONNECTOR, "diffusion.url": url}
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
            worker = bench_worker(broker, configs, Path(tmp))
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
        print(
            f"sink end to end ({n} records, window {WINDOW}): {sink_rate:8.0f} records/s "
            f"({total:.1f}s including worker start)"
        )
        print(f"ratio sink / raw SDK: {sink_rate / raw:.2f}  (target >= 0.85)", flush=True)
        await produce(bootstrap, "bench_conflate", n)
        c_rate, c_cpu, c_updates, c_conflated = await conflated_sink(broker, url, n)
        print(
            f"sink with diffusion.conflate=true ({n} records over {KEYS} keys already in the topic): "
            f"{c_rate:8.0f} records/s, {c_updates} updates received by a subscriber, {c_conflated:.0f} conflated "
            f"(/metrics); every path on its last value"
        )
        print(f"ratio conflating sink / raw SDK: {c_rate / raw:.2f}  (target >= 5)", flush=True)
        bare, bare_rate = await bare_faust(broker.url, ["bench_conflate"], n)
        print(
            f"bare Faust agent (reads and acks, nothing else) on the same {n} records: {bare_rate:8.0f} events/s "
            f"= {bare_rate / raw:.2f}x raw: no sink of this design reads faster"
        )
        floor = RAW_CPU[WINDOW] + bare
        print(
            f"CPU per record: sink {sink_cpu * 1e6:.0f} us; floor = raw SDK {RAW_CPU[WINDOW] * 1e6:.0f} us per "
            f"set_topic + bare Faust {bare * 1e6:.0f} us per event = {floor * 1e6:.0f} us; sink / floor = "
            f"{sink_cpu / floor:.2f}; conflating sink {c_cpu * 1e6:.0f} us"
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
