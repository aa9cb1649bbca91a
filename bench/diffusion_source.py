"""Diffusion source throughput, CPU and latency against the raw SDK subscriber, measured in one run.

    .venv/bin/python bench/diffusion_source.py [--updates 10000]

The broker, the emulator, the publisher, the raw subscriber and the worker each run in their own
process (the raw subscriber and the publisher import only the SDK), on this machine's 2 cores.

1. Raw: a publisher (official SDK, 100 updates in flight) updates 100 JSON topics N times; a raw
   SDK subscriber counts them. Rate = N / (last arrival - first arrival).
2. Floor: a raw aiokafka producer sends N records like the source's (key, value, three headers),
   100 keys to one topic: its CPU per record. 2b. The floor of a source, in its own process: the
   SDK's value callback straight into an aiokafka producer (same linger), nothing else; the same
   publisher updates N times, records counted in Kafka like the source's: the rate any source
   built on the SDK and aiokafka could reach here.
3. Source: the same publisher updates another 100 topics N times while a worker runs the source
   connector (nothing else subscribed); an aiokafka consumer here counts the records reaching
   Kafka. The worker is started and has produced the 100 snapshot values before the publisher
   starts, so startup is not in the rate.
4. Latency: the publisher updates at a steady 500 updates/s, each value carrying its send time;
   p50/p99 from ``set_topic`` to the record's arrival in Kafka (consumer with fetch_max_wait_ms=50).
   Its floor, measured before the worker starts: the same from ``set_topic`` to a raw SDK
   subscriber's callback (phase 1b).

Printed: both rates and their ratio, and each process's CPU per update in phases 1 and 3: the
source's CPU per record against the raw subscriber's plus the raw producer's (the floor of a source
built on the SDK and aiokafka). ``STREAMAPP_BENCH_PROFILE=/tmp/x.txt`` records the worker with
py-spy during phase 3 (raw collapsed stacks).
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
from collections.abc import Callable
from pathlib import Path

import diffusion
import diffusion.datatypes as dt
from diffusion.features.topics.streams import ValueStreamHandler

logging.getLogger("diffusion").setLevel(logging.CRITICAL)

KEYS = 100
WINDOW = 100
LATENCY_RATE = 500  # updates/s
LATENCY_UPDATES = 5000
LINGER_MS = 20  # the source's (DiffusionSource.linger_ms)


async def open_session(url: str):
    return await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)


# --- child processes: they import only the SDK (or aiokafka), so "raw" is the plain client ----------


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
        cpu = time.process_time()
        t0 = time.perf_counter()
        for i in range(n):
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
            if rate:
                delay = t0 + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        await asyncio.gather(*tasks)
        rate_done = n / (time.perf_counter() - t0)
        print(json.dumps({"cpu": time.process_time() - cpu, "rate": rate_done}), flush=True)
    finally:
        await session.close()


async def subscribe(url: str, selector: str, n: int) -> None:
    """Print "ready" once the snapshot is in, then the rate and CPU once ``n`` updates arrived."""
    session = await open_session(url)
    state = {"snapshot": 0, "count": 0, "first": 0.0, "last": 0.0, "cpu": 0.0}
    latencies: list[float] = []
    done = asyncio.Event()

    async def on_update(*, topic_value, **_) -> None:
        if not topic_value or topic_value.get("seq", -1) < 0:
            state["snapshot"] += 1
            if state["snapshot"] == KEYS:
                print("ready", flush=True)
            return
        now = time.perf_counter()
        if not state["count"]:
            state["first"], state["cpu"] = now, time.process_time()
        state["count"] += 1
        state["last"] = now
        latencies.append(time.time() - topic_value["sent"])
        if state["count"] == n:
            state["cpu"] = time.process_time() - state["cpu"]
            done.set()

    session.topics.add_value_stream("*.*", ValueStreamHandler(dt.JSON, update=on_update))
    await session.topics.subscribe(selector)
    await done.wait()
    # CPU from the first update to the last: per update over the n - 1 after the first.
    rate = (n - 1) / (state["last"] - state["first"])
    print(json.dumps({"rate": rate, "cpu": state["cpu"] / (n - 1), "latencies": latencies}), flush=True)
    await session.close()


async def floor_source(url: str, selector: str, bootstrap: str, topic: str) -> None:
    """The least a source can do: the SDK's value callback straight into an aiokafka producer (JSON
    bytes, key = path, the source's three headers, its linger), nothing else. Prints "ready" once
    the snapshot is produced, then runs until killed."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=-1, linger_ms=LINGER_MS)
    await producer.start()
    session = await open_session(url)
    sequences: dict[str, int] = {}
    snapshot = 0

    async def on_update(*, topic_path, topic_value, **_) -> None:
        nonlocal snapshot
        seq = sequences[topic_path] = sequences.get(topic_path, 0) + 1
        headers = [
            ("diffusion.path", topic_path.encode()),
            ("diffusion.topic.type", b"JSON"),
            ("diffusion.sequence", str(seq).encode()),
        ]
        value = json.dumps(topic_value, separators=(",", ":")).encode()
        await producer.send(topic, value, key=topic_path.encode(), headers=headers)
        if seq == 1:
            snapshot += 1
            if snapshot == KEYS:
                await producer.flush()
                print("ready", flush=True)

    session.topics.add_value_stream("*.*", ValueStreamHandler(dt.JSON, update=on_update))
    await session.topics.subscribe(selector)
    await asyncio.Event().wait()


async def produce_floor(bootstrap: str, topic: str, n: int) -> None:
    """A raw aiokafka producer sending records shaped like the source's: CPU per record."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=-1, linger_ms=0)
    await producer.start()
    try:
        slots = asyncio.Semaphore(2000)
        futures = []
        cpu = time.process_time()
        for i in range(n):
            path = f"floor/k{i % KEYS}"
            value = json.dumps({"seq": i, "sent": time.time()}).encode()
            headers = [
                ("diffusion.path", path.encode()),
                ("diffusion.topic.type", b"json"),
                ("diffusion.sequence", str(i // KEYS + 1).encode()),
            ]
            await slots.acquire()
            future = await producer.send(topic, value, key=path.encode(), headers=headers)
            future.add_done_callback(lambda _: slots.release())
            futures.append(future)
        await asyncio.gather(*futures)
        print(json.dumps({"cpu": (time.process_time() - cpu) / n}), flush=True)
    finally:
        await producer.stop()


class Child:
    """A child process of this script; its last JSON line is its result."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self) -> Child:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, *self.args, stdout=asyncio.subprocess.PIPE, limit=2**24
        )
        return self

    async def line(self, timeout: float = 60) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"child {self.args[0]} exited ({await self.proc.wait()})")
        return raw.decode().strip()

    async def result(self, timeout: float = 120) -> dict:
        doc = json.loads(await self.line(timeout))
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), 30)
        return doc

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def run_publisher(url: str, root: str, n: int, rate: float = 0) -> dict:
    return await (await Child("--publish", url, root, str(n), str(rate)).start()).result(300)


# --- measuring ---------------------------------------------------------------------------------------


class Arrivals:
    def __init__(self) -> None:
        self.count = 0
        self.snapshot = 0
        self.first: float | None = None
        self.last: float | None = None
        self.latencies: list[float] = []
        self.on_first: Callable[[], None] | None = None  # called when the first update arrives

    def add(self, value: dict | None) -> None:
        now = time.perf_counter()
        if not value or value.get("seq", -1) < 0:
            self.snapshot += 1
            return
        if not self.count and self.on_first is not None:
            self.on_first()
        self.count += 1
        self.first = self.first or now
        self.last = now
        self.latencies.append(time.time() - value["sent"])

    @property
    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.count > 1 else 0.0


async def create_topics(url: str, roots: list[str]) -> None:
    session = await open_session(url)
    try:
        for root in roots:
            for k in range(KEYS):
                await session.topics.add_and_set_topic(f"{root}/k{k}", dt.JSON, {"seq": -1})
    finally:
        await session.close()


async def kafka_counter(bootstrap: str, topic: str):
    from aiokafka import AIOKafkaConsumer, TopicPartition

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


def us(seconds: float) -> str:
    return f"{seconds * 1e6:6.0f} us"


async def main(n: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from bench._stack import free_port, kafka_broker, percentile, service, worker_env
    from bench.floor import process_cpu
    from streamapp.devstack.worker import WorkerProcess

    diffusion_port = free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    async with (
        kafka_broker() as broker,
        service("diffusion-emulator", port=diffusion_port) as emulator,
    ):
        bootstrap = broker.bootstrap
        await create_topics(url, ["raw", "rawlat", "flr", "src", "lat"])
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics(
            [NewTopic(t, 1, 1) for t in ("bench_source", "bench_latency", "bench_floor", "bench_floor_source")]
        )
        await admin.close()

        # 1. raw SDK subscriber
        raw_sub = await Child("--subscribe", url, "?raw/.*", str(n)).start()
        assert await raw_sub.line() == "ready"
        emulator_cpu = process_cpu(emulator.pid)
        raw_pub = await run_publisher(url, "raw", n)
        raw = await raw_sub.result()
        raw_emulator = (process_cpu(emulator.pid) - emulator_cpu) / n
        print(f"raw SDK subscriber: {raw['rate']:8.0f} updates/s ({n} updates, publisher {WINDOW} in flight)")
        # 1b. the raw subscriber's latency at 500 updates/s: the floor of the source's latency
        raw_lat_sub = await Child("--subscribe", url, "?rawlat/.*", str(LATENCY_UPDATES)).start()
        assert await raw_lat_sub.line() == "ready"
        await run_publisher(url, "rawlat", LATENCY_UPDATES, LATENCY_RATE)
        raw_lat = (await raw_lat_sub.result())["latencies"]

        # 2. the floor of a producer
        floor = await (await Child("--produce", bootstrap, "bench_floor", str(n)).start()).result()

        # 2b. the floor of a source: SDK callback -> aiokafka, nothing else, counted in Kafka like the source
        flr_task, flr, flr_consumer = await kafka_counter(bootstrap, "bench_floor_source")
        flr_child = await Child("--floor-source", url, "?flr/.*", bootstrap, "bench_floor_source").start()
        try:
            assert await flr_child.line() == "ready"
            flr_cpu = process_cpu(flr_child.proc.pid)
            flr_pub = await run_publisher(url, "flr", n)
            await wait_for(lambda: flr.count >= n, 120)
            flr_cpu = (process_cpu(flr_child.proc.pid) - flr_cpu) / n
        finally:
            await flr_child.stop()
            flr_task.cancel()
            await flr_consumer.stop()

        # 3. the source, into Kafka
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
                config = {**base, "diffusion.selector": selector, "kafka.topic": topic}
                (configs / f"{name}.json").write_text(json.dumps({"name": name, "config": config}))
            task, source, consumer = await kafka_counter(bootstrap, "bench_source")
            lat_task, lat, lat_consumer = await kafka_counter(bootstrap, "bench_latency")
            worker = WorkerProcess(
                broker=f"kafka://{bootstrap}",
                connectors=configs,
                workdir=Path(tmp),
                web_port=free_port(),
                env={**worker_env(broker), "STREAMAPP_ENV_FILE": os.devnull, "STREAMAPP_TOPIC_PARTITIONS": "1"},
                log_level="warn",
            )
            started = time.perf_counter()
            await worker.start()
            pids = {}
            try:
                await wait_for(lambda: source.snapshot >= KEYS and lat.snapshot >= KEYS, 120)
                ready = time.perf_counter() - started
                pids = {"worker": worker.pid, "broker": broker.pid, "emulator": emulator.pid, "bench": os.getpid()}
                at_first: dict[str, float] = {}

                def on_first() -> None:
                    at_first.update({name: process_cpu(pid) for name, pid in pids.items()})

                source.on_first = on_first
                profiler = None
                if os.environ.get("STREAMAPP_BENCH_PROFILE"):  # py-spy the worker, e.g. =/tmp/source.txt
                    profiler = await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).with_name("py-spy")),
                        "record", "-p", str(worker.pid), "-d", "6", "-r", "200", "-f", "raw",
                        "-o", os.environ["STREAMAPP_BENCH_PROFILE"],
                        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                    )  # fmt: skip
                src_pub = await run_publisher(url, "src", n)
                await wait_for(lambda: source.count >= n, 120)
                cpu = {name: (process_cpu(pid) - at_first[name]) / (n - 1) for name, pid in pids.items()}
                if profiler is not None:
                    await profiler.wait()
                # 4. latency at a steady 500 updates/s
                await run_publisher(url, "lat", LATENCY_UPDATES, LATENCY_RATE)
                await wait_for(lambda: lat.count >= LATENCY_UPDATES, 60)
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
        print(f"ratio source / raw SDK subscriber alone: {source.rate / raw['rate']:.2f}  (target >= 0.85)")
        print(
            f"floor source (SDK callback -> aiokafka, nothing else): {flr.rate:8.0f} records/s, "
            f"ratio to the raw subscriber {flr.rate / raw['rate']:.2f}; the source / the floor source: "
            f"{source.rate / flr.rate:.2f}"
        )
        print(
            f"publisher's own rate (set_topic completions): raw phase {raw_pub['rate']:.0f}/s, floor source phase "
            f"{flr_pub['rate']:.0f}/s, source phase {src_pub['rate']:.0f}/s; source / publisher in its phase: "
            f"{source.rate / src_pub['rate']:.2f}"
        )
        for what, seconds in (
            ("set_topic -> raw SDK subscriber", raw_lat),
            ("set_topic -> Kafka (the source)", lat.latencies),
        ):
            ms = [x * 1000 for x in seconds]
            print(
                f"latency {what} at {LATENCY_RATE} updates/s: p50 {percentile(ms, 0.5):.1f} ms, "
                f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, over 50 ms: {sum(x > 50 for x in ms)}"
            )
        print("  (target: the source's p99 <= 50 ms)")
        if os.environ.get("STREAMAPP_BENCH_LATENCIES"):  # one line per record: arrival order, latency in ms
            Path(os.environ["STREAMAPP_BENCH_LATENCIES"]).write_text(
                "\n".join(f"{x * 1000:.1f}" for x in lat.latencies) + "\n"
            )
        print("CPU per update (per record), by process:")
        print(
            f"  raw phase:    subscriber {us(raw['cpu'])}  publisher {us(raw_pub['cpu'] / n)}  emulator {us(raw_emulator)}"
        )
        print(
            f"  source phase: worker {us(cpu['worker'])}  publisher {us(src_pub['cpu'] / n)}  "
            f"emulator {us(cpu['emulator'])}  broker {us(cpu['broker'])}  bench consumer {us(cpu['bench'])}"
        )
        print(f"  raw aiokafka producer: {us(floor['cpu'])} per record; floor source process: {us(flr_cpu)} per record")
        floor_cpu = raw["cpu"] + floor["cpu"]
        others = src_pub["cpu"] / n + cpu["emulator"] + cpu["broker"] + cpu["bench"]
        cores = os.cpu_count() or 1
        print(
            f"CPU bound of the source phase on {cores} cores: {cores / (cpu['worker'] + others):.0f} records/s with this "
            f"worker, {cores / (floor_cpu + others):.0f}/s with a worker at the floor (same publisher, emulator, broker)"
        )
        print(
            f"ratio worker CPU per record / (raw subscriber + raw producer = {us(floor_cpu).strip()}): "
            f"{cpu['worker'] / floor_cpu:.2f}; worker / raw subscriber alone: {cpu['worker'] / raw['cpu']:.2f}"
        )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "--publish":
        _, _, url_, root_, n_, rate_ = sys.argv
        asyncio.run(publish(url_, root_, int(n_), float(rate_)))
    elif command == "--subscribe":
        _, _, url_, selector_, n_ = sys.argv
        asyncio.run(subscribe(url_, selector_, int(n_)))
    elif command == "--floor-source":
        _, _, url_, selector_, bootstrap_, topic_ = sys.argv
        asyncio.run(floor_source(url_, selector_, bootstrap_, topic_))
    elif command == "--produce":
        _, _, bootstrap_, topic_, n_ = sys.argv
        asyncio.run(produce_floor(bootstrap_, topic_, int(n_)))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--updates", type=int, default=10000)
        asyncio.run(main(parser.parse_args().updates))
