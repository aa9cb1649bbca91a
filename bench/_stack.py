"""Shared set-up for benchmarks: broker and Diffusion emulator in their own processes, free ports.

The broker is Apache Kafka (the newest tested 4.x) unless ``STREAMAPP_BENCH_BROKER`` names another
engine (``tansu``, or ``kafka-3.9.2`` for a version); every benchmark prints it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from pathlib import Path

from streamapp.devstack.broker import BrokerProcess, make_broker

STREAMAPP = str(Path(sys.executable).with_name("streamapp"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_port(port: int, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def service(*args: str, port: int):
    """Run ``streamapp <args>`` in its own process (its own CPU), stop it by PID on exit."""
    proc = await asyncio.create_subprocess_exec(
        STREAMAPP, *args, "--port", str(port), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await _wait_port(port)
        await asyncio.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.asynccontextmanager
async def kafka_broker():
    """The benchmark's broker (its own process); prints engine and version before anything else."""
    choice = os.environ.get("STREAMAPP_BENCH_BROKER", "kafka")
    engine, _, version = choice.partition("-")
    broker = make_broker(engine, port=free_port(), kafka_version=version or None)
    await broker.start()
    print(f"broker: {broker.description} ({broker.bootstrap})", flush=True)
    try:
        yield broker
    finally:
        await broker.stop()


def worker_env(broker: BrokerProcess) -> dict[str, str]:
    """Group settings for a benchmark worker on this broker."""
    if broker.engine == "tansu":  # a new group's first join waits half the rebalance timeout there
        return {"STREAMAPP_BROKER_REBALANCE_TIMEOUT": "4", "STREAMAPP_BROKER_SESSION_TIMEOUT": "10"}
    return {}
