"""Worker memory over 300,000 records per connector: bounded, or leaking?

    .venv/bin/python bench/memory.py [--round 100000]

One worker runs a Diffusion sink (1,000 keys), a CoAP sink (16 resources) and a Diffusion source.
Each connector in turn gets three rounds of ``--round`` records (the source: updates published to
Diffusion with the official SDK); after each round, once the worker's /metrics counts every record
as delivered, the worker's resident memory (VmRSS) is printed. A connector that keeps something
per record grows by about the same amount every round; the target is at most 20 MB of growth
after the first round (round 3 - round 1). The broker, the emulator, the CoAP server and the
publisher run in their own processes.
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
logging.getLogger("aiokafka").setLevel(logging.ERROR)

import aiohttp  # noqa: E402
import diffusion  # noqa: E402
import diffusion.datatypes as dt  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from bench._stack import free_port, kafka_broker, service, worker_env  # noqa: E402
from streamapp.devstack.worker import WorkerProcess  # noqa: E402

RESOURCES = 16
KEYS = 1000
TARGET_MB = 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def delivered(web_port: int, connector: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{web_port}/metrics") as response:
        text = await response.text()
    match = re.search(rf'streamapp_connector_records_delivered_total{{connector="{connector}"}} (\S+)', text)
    return int(float(match[1])) if match else 0


async def wait_delivered(worker: WorkerProcess, connector: str, count: int, timeout: float = 900) -> float:
    started = time.perf_counter()
    while (done := await delivered(worker.web_port, connector)) < count:
        if worker.returncode is not None:
            raise RuntimeError(f"the worker exited:\n{worker.output[-3000:]}")
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{connector}: {done} of {count} delivered after {timeout} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


def produce(bootstrap: str, topic: str, start: int, n: int, key_of) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"})
    for i in range(start, start + n):
        while True:
            try:
                producer.produce(
                    topic, key=key_of(i), value=json.dumps({"seq": i, "px": 1.5, "pad": "x" * 40}).encode()
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)


async def publish(url: str, start: int, n: int, window: int = 100) -> None:
    session = await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)
    try:
        slots = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            try:
                await session.topics.set_topic(f"mem-src/p{i % KEYS}", {"seq": i}, dt.JSON)
            finally:
                slots.release()

        tasks = []
        for i in range(start, start + n):
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    finally:
        await session.close()


async def main(per_round: int) -> None:
    diffusion_port, coap_port = free_port(), free_port()
    url = f"ws://127.0.0.1:{diffusion_port}"
    async with kafka_broker() as broker, service("diffusion-emulator", port=diffusion_port):
        coap = await asyncio.create_subprocess_exec(
            "/usr/bin/coap-server-notls", "-A", "127.0.0.1", "-p", str(coap_port), "-d", "100",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        bootstrap = broker.bootstrap
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("mem_sink", 1, 1), NewTopic("mem_coap", 1, 1), NewTopic("mem_src", 1, 1)])
        await admin.close()
        session = await diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password")).open(url)
        for k in range(KEYS):  # the source's topics exist before it subscribes
            await session.topics.add_and_set_topic(f"mem-src/p{k}", dt.JSON, {"seq": -1})
        await session.close()
        common = {
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }
        connectors = {
            "sink": {**common, "connector.class": "diffusion-sink", "topics": "mem_sink", "diffusion.url": url,
                     "diffusion.username": "admin", "diffusion.password": "password",
                     "diffusion.destination": "mem-sink/${key}"},
            "coap": {**common, "connector.class": "coap-sink", "topics": "mem_coap",
                     "connect.coap.uri": f"coap://127.0.0.1:{coap_port}",
                     "connect.coap.kcql": "INSERT INTO r SELECT * FROM mem_coap"},
            "source": {**common, "connector.class": "diffusion-source", "diffusion.url": url,
                       "diffusion.username": "admin", "diffusion.password": "password",
                       "diffusion.selector": "?mem-src/", "kafka.topic": "mem_src"},
        }  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            for name, config in connectors.items():
                (configs / f"{name}.json").write_text(json.dumps({"name": name, "config": config}))
            worker = WorkerProcess(
                broker=broker.url,
                connectors=configs,
                workdir=Path(tmp),
                web_port=free_port(),
                env={**worker_env(broker), "STREAMAPP_ENV_FILE": os.devnull, "STREAMAPP_TOPIC_PARTITIONS": "1"},
                log_level="warn",
            )
            await worker.start()
            try:
                await worker.wait_ready(120)
                await wait_delivered(worker, "source", KEYS)  # the subscription's first snapshot
                base = rss_mb(worker.pid)
                print(f"worker RSS when ready: {base:.0f} MB ({per_round:,} records per round)")
                loop = asyncio.get_running_loop()
                rounds: dict[str, list[float]] = {}
                for name in ("sink", "coap", "source"):
                    sizes = rounds[name] = []
                    done = KEYS if name == "source" else 0
                    for r in range(3):
                        start = r * per_round
                        if name == "sink":
                            await loop.run_in_executor(None, produce, bootstrap, "mem_sink", start, per_round,
                                                       lambda i: f"k{i % KEYS}".encode())  # fmt: skip
                        elif name == "coap":
                            await loop.run_in_executor(None, produce, bootstrap, "mem_coap", start, per_round,
                                                       lambda i: None)  # fmt: skip
                        else:
                            await publish(url, start, per_round)
                        done += per_round
                        seconds = await wait_delivered(worker, name, done)
                        sizes.append(rss_mb(worker.pid))
                        print(f"  {name:<6} round {r + 1}: worker RSS {sizes[-1]:6.0f} MB ({seconds:.0f} s)")
                    growth = sizes[2] - sizes[0]
                    verdict = "ok" if growth <= TARGET_MB else "OVER"
                    print(
                        f"  {name:<6} growth after the first round: {growth:+.1f} MB (target <= {TARGET_MB} MB): {verdict}"
                    )
            finally:
                await worker.stop()
                coap.terminate()
                await coap.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().round))
