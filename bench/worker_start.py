"""How soon data flows: a worker's first delivered record on a fresh broker, and `streamapp dev` end to end.

    .venv/bin/python bench/worker_start.py [--runs 3] [--engines kafka,tansu]

1. Worker: for each engine, a fresh broker (started and timed apart), one record in a topic, then
   `faust -A streamapp worker` with a Diffusion sink for it; printed: seconds from the worker's
   start to Faust's "Ready" and to the record's arrival in Diffusion (the target is 10 s).
2. Dev stack: `streamapp dev --no-demo --broker-engine E` from its start to "Ready", and to the
   first record produced then arriving at Diffusion `kafka/price` through the sample sink: what a
   newcomer waits for, per engine (the README says which is the default and why).
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
logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader elections of new topics are retried

import diffusion  # noqa: E402
import diffusion.datatypes as dt  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from diffusion.features.topics.streams import ValueStreamHandler  # noqa: E402

from bench._stack import STREAMAPP, free_port, service, worker_env  # noqa: E402
from streamapp.devstack.broker import make_broker  # noqa: E402
from streamapp.devstack.worker import WorkerProcess  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class FirstValue:
    def __init__(self) -> None:
        self.at: float | None = None
        self.arrived = asyncio.Event()

    async def on_update(self, **_) -> None:
        if self.at is None:
            self.at = time.perf_counter()
            self.arrived.set()


async def watch(url: str, selector: str) -> tuple[object, FirstValue]:
    session = await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)
    first = FirstValue()
    session.topics.add_value_stream("*.*", ValueStreamHandler(dt.JSON, update=first.on_update))
    await session.topics.subscribe(selector)
    return session, first


async def produce_one(bootstrap: str, topic: str, create: bool = True) -> None:
    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 1, 1)])
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, key=b"ABC", value=json.dumps({"symbol": "ABC", "px": 1.5}).encode())
    await producer.stop()


async def worker_run(engine: str, url: str, run: int) -> tuple[str, float, float, float]:
    broker = make_broker(engine, port=free_port())
    t0 = time.perf_counter()
    await broker.start()
    broker_ready = time.perf_counter() - t0
    try:
        topic = f"first_{run}"
        await produce_one(broker.bootstrap, topic)
        session, first = await watch(url, f">start/{engine}/{run}")
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            config = {
                "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
                "topics": topic,
                "diffusion.url": url,
                "diffusion.username": "admin",
                "diffusion.password": "password",
                "diffusion.destination": f"start/{engine}/{run}",
            }
            (configs / "sink.json").write_text(json.dumps({"name": "first", "config": config}))
            worker = WorkerProcess(
                broker=broker.url,
                connectors=configs,
                workdir=Path(tmp),
                web_port=free_port(),
                env={**worker_env(broker), "STREAMAPP_ENV_FILE": os.devnull, "STREAMAPP_TOPIC_PARTITIONS": "1"},
            )
            started = time.perf_counter()
            await worker.start()
            try:
                await worker.wait_ready(120)
                ready = time.perf_counter() - started
                await asyncio.wait_for(first.arrived.wait(), 120)
                delivered = first.at - started
            finally:
                await worker.stop()
                await session.close()
        return broker.description, broker_ready, ready, delivered
    finally:
        await broker.stop()


async def dev_run(engine: str) -> tuple[float, float]:
    ports = {name: free_port() for name in ("broker", "diffusion", "web", "registry")}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dev.out"
        with open(out, "wb") as sink:
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                STREAMAPP, "dev", "--no-demo", "--broker-engine", engine,
                "--broker-port", str(ports["broker"]), "--diffusion-port", str(ports["diffusion"]),
                "--coap-port", str(free_port()), "--web-port", str(ports["web"]),
                "--registry-port", str(ports["registry"]), "--connectors", str(ROOT / "settings/connectors"),
                cwd=tmp, stdout=sink, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "STREAMAPP_ENV_FILE": os.devnull},
            )  # fmt: skip
        try:
            while not re.search(r"Ready in [\d.]+s", out.read_text(errors="replace")):
                if proc.returncode is not None or time.perf_counter() - started > 180:
                    raise RuntimeError(out.read_text(errors="replace")[-3000:])
                await asyncio.sleep(0.05)
            ready = time.perf_counter() - started
            session, first = await watch(f"ws://127.0.0.1:{ports['diffusion']}", ">kafka/price")
            await produce_one(f"127.0.0.1:{ports['broker']}", "price", create=False)
            await asyncio.wait_for(first.arrived.wait(), 120)
            await session.close()
            return ready, first.at - started
        finally:
            proc.send_signal(2)  # Ctrl-C, as a user stops it
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def main(runs: int, engines: list[str]) -> None:
    diffusion_port = free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    print("1. a worker on a fresh broker: its first record in Diffusion (target: within 10 s of the worker's start)")
    async with service("diffusion-emulator", port=diffusion_port):
        for engine in engines:
            for run in range(runs):
                name, broker_ready, ready, delivered = await worker_run(engine, url, run)
                print(
                    f"   {name:<18} broker ready in {broker_ready:5.2f} s; worker: Ready after {ready:5.2f} s, "
                    f"first record delivered after {delivered:5.2f} s"
                )
    print("2. streamapp dev: from the command to 'Ready', and to a record produced then arriving in Diffusion")
    for engine in engines:
        for _ in range(runs):
            ready, delivered = await dev_run(engine)
            print(
                f"   --broker-engine {engine:<6} Ready after {ready:5.2f} s, "
                f"first record in Diffusion after {delivered:5.2f} s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="kafka,tansu")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.engines.split(",")))
