"""Two workers against one: the CoAP sink on 8 partitions, same records, same machine.

    .venv/bin/python bench/scaling.py [--records 40000]

One topic of 8 partitions (Faust spreads a topic's partitions over the workers, but gives
partition N of every topic a worker group reads to the same worker: 8 single-partition topics would
all land on one), to one resource of Debian's coap-server-notls with
``connect.coap.ordering=partition`` (order per partition, so 8 requests can be in flight).
For 1 and then 2 workers (one consumer group, so Kafka splits the 8 partitions between them):
the workers are started and assigned first, the connector is paused over the REST API (Connect's
``PUT /connectors/{name}/pause``), the records are produced, and the rate runs from the resume
until every worker's /metrics counts them all delivered: the producer's load (on the broker and
the benchmark) stays out of the measured window, as it runs elsewhere in production. Prints both rates and their ratio
(target >= 1.6 on this 2-core machine, where broker and CoAP server share the cores too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from bench._stack import free_port, kafka_broker, worker_env  # noqa: E402
from bench.coap_sink import SERVER, coap_server, connector, produce  # noqa: E402
from bench.floor import process_cpu  # noqa: E402
from streamapp.devstack.worker import WorkerProcess  # noqa: E402

PARTITIONS = 8


async def delivered(worker: WorkerProcess) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{worker.web_port}/metrics") as response:
        text = await response.text()
    match = re.search(r'streamapp_connector_records_delivered_total{connector="scale"} (\S+)', text)
    return int(float(match[1])) if match else 0


async def my_status(worker: WorkerProcess) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{worker.web_port}/streamapp/status") as response:
            doc = await response.json()
    me = next(d for d in doc["workers"] if d["worker_id"].endswith(f":{worker.web_port}"))
    return me["connectors"]["scale"]  # type: ignore[no-any-return]


async def assigned(worker: WorkerProcess) -> int:
    return len((await my_status(worker))["partitions"])


async def control(worker: WorkerProcess, action: str) -> None:
    """Connect's PUT /connectors/scale/{pause,resume}: every worker follows it."""
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{worker.web_port}/connectors/scale/{action}") as response:
            if response.status != 202:
                raise RuntimeError(f"{action}: HTTP {response.status} {await response.text()}")


def cpu_of(pid: int | None) -> float:
    return process_cpu(pid) if pid else 0.0


async def run(broker, uri: str, workers: int, n: int, tmp: Path, server_pid: int | None) -> tuple[float, float]:
    """The rate, and the CPU seconds per record of every process on the machine that serves it."""
    run_id = uuid.uuid4().hex[:6]
    topic = f"scale_{run_id}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    configs = tmp / f"connectors-{run_id}"
    configs.mkdir()
    config = connector("scale", uri, [topic], "s", 32, **{"connect.coap.ordering": "partition"})
    (configs / "scale.json").write_text(json.dumps(config))
    procs = [
        WorkerProcess(
            broker=broker.url,
            connectors=configs,
            workdir=tmp / f"w{run_id}{i}",
            web_port=free_port(),
            env={
                **worker_env(broker),
                "STREAMAPP_ENV_FILE": os.devnull,
                "STREAMAPP_TOPIC_PARTITIONS": "1",
                "STREAMAPP_APP_ID": f"bench-scale-{run_id}",
            },  # fmt: skip
            log_level="warn",
        )
        for i in range(workers)
    ]
    for proc in procs:
        await proc.start()
    try:
        for proc in procs:
            await proc.wait_ready(120)
        deadline = time.perf_counter() + 120
        while [await assigned(p) for p in procs] != [PARTITIONS // workers] * workers:  # the rebalance settled
            if time.perf_counter() > deadline:
                raise TimeoutError("the partitions were never split between the workers")
            await asyncio.sleep(0.2)
        await control(procs[0], "pause")
        while [(await my_status(p))["state"] for p in procs] != ["PAUSED"] * workers:
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"the connector was never paused on every worker: {[await my_status(p) for p in procs]}"
                )
            await asyncio.sleep(0.2)
        await produce(broker.bootstrap, [topic], n, partitions=PARTITIONS)
        pids = {"workers": [p.pid for p in procs], "coap server": [server_pid], "broker": [broker.pid],
                "benchmark": [os.getpid()]}  # fmt: skip
        before = {name: sum(cpu_of(pid) for pid in group) for name, group in pids.items()}
        started = time.perf_counter()
        await control(procs[0], "resume")
        while sum([await delivered(p) for p in procs]) < n:
            if time.perf_counter() - started > 600:
                raise TimeoutError("not all records were delivered")
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        used = {name: sum(cpu_of(pid) for pid in group) - before[name] for name, group in pids.items()}
        print(f"  {workers} worker(s): CPU per record " + ", ".join(
            f"{name} {cpu / n * 1e6:.0f} us" for name, cpu in used.items()
        ) + f"; cores busy {sum(used.values()) / elapsed:.2f} of {os.cpu_count()}")  # fmt: skip
        return n / elapsed, sum(used.values()) / n
    finally:
        for proc in procs:
            await proc.stop()


async def main(n: int) -> None:
    if not os.access(SERVER, os.X_OK):
        raise SystemExit(f"{SERVER} is missing: apt-get install libcoap3-bin")
    async with kafka_broker() as broker, coap_server("127.0.0.1", free_port()) as uri:
        server_pid = int(subprocess.run(["pgrep", "-n", "-f", f"coap-server-notls -A 127.0.0.1 -p {uri.rsplit(':', 1)[1]}"],
                                        capture_output=True, text=True, check=True).stdout.split()[0])  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            one, _ = await run(broker, uri, 1, n, Path(tmp), server_pid)
            print(f"1 worker,  {PARTITIONS} partitions: {one:7.0f} records/s")
            two, cpu_two = await run(broker, uri, 2, n, Path(tmp), server_pid)
            print(f"2 workers, {PARTITIONS} partitions: {two:7.0f} records/s")
            print(f"ratio 2 workers / 1 worker: {two / one:.2f}  (target >= 1.6; {os.cpu_count()} cores)")
            # Workers, broker, CoAP server and benchmark share the cores: with every core busy, two
            # workers cannot go faster than the cores divided by what a record costs them all.
            ceiling = (os.cpu_count() or 1) / cpu_two
            print(f"ceiling with every core busy: {ceiling:7.0f} records/s = {ceiling / one:.2f} x one worker's rate "
                  f"({cpu_two * 1e6:.0f} us of CPU per record, all processes, with 2 workers)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40000)
    asyncio.run(main(parser.parse_args().records))
