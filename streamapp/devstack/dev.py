"""``streamapp dev``: the whole system on loopback, for a newcomer's first minute.

Starts, in order, a Kafka broker (Apache Kafka; Tansu where there is no Java), the Diffusion
emulator, the CoAP server, the Schema Registry
(for connectors with ``io.confluent.connect.avro.AvroConverter``), one worker running the
sample connectors and the web view (the Diffusion topic tree live in a browser, a form to set
values, the connectors' states and counts); waits until each is ready; prints where each
listens; optionally feeds sample data and reports where it arrives; stops everything (worker
first, so it commits) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .apache_kafka import JavaMissing, java_binary
from .broker import BrokerProcess, make_broker
from .coap_server import DevCoapServer
from .demo import DEMO_TOPICS, DemoFeed
from .diffusion_emulator import DiffusionEmulator
from .schema_registry import SchemaRegistryServer
from .webview import WebView
from .worker import WorkerProcess

__all__ = ["DevPorts", "run_dev"]


@dataclass(frozen=True)
class DevPorts:
    broker: int = 9092
    diffusion: int = 8080
    coap: int = 5683
    web: int = 6066
    registry: int = 8081
    view: int = 8090
    host: str = "127.0.0.1"


def choose_engine(requested: str | None, echo: Callable[[str], object]) -> str:
    """Apache Kafka unless asked otherwise; Tansu (with a note) where no Java 17+ is installed."""
    if requested:
        return requested
    try:
        java_binary()
    except JavaMissing:
        echo("no Java found: using the Tansu broker (run scripts/setup.sh to get Apache Kafka)")
        return "tansu"
    return "kafka"


def _worker_env(broker: BrokerProcess) -> dict[str, str]:
    env = {"STREAMAPP_TOPIC_PARTITIONS": "4"}
    if broker.engine == "tansu":
        # Tansu holds a new group's first join for half the rebalance timeout (30 s by default).
        env |= {"STREAMAPP_BROKER_REBALANCE_TIMEOUT": "4", "STREAMAPP_BROKER_SESSION_TIMEOUT": "10"}
    return env


async def _create_topics(bootstrap: str, names: tuple[str, ...], partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


def _point_at_ports(connectors: str, ports: DevPorts, workdir: Path) -> str:
    """Connector files for this run: the samples target the default ports; on other ports, copies
    with those URLs rewritten are used instead (the originals are not touched)."""
    defaults = DevPorts()
    replacements = {
        f"ws://{defaults.host}:{defaults.diffusion}": f"ws://{ports.host}:{ports.diffusion}",
        f"coap://{defaults.host}:{defaults.coap}": f"coap://{ports.host}:{ports.coap}",
        f"http://{defaults.host}:{defaults.registry}": f"http://{ports.host}:{ports.registry}",
    }
    replacements = {old: new for old, new in replacements.items() if old != new}
    paths = [Path(p.strip()).resolve() for p in connectors.split(",") if p.strip()]
    if not replacements:
        return ",".join(map(str, paths))
    target = workdir / "connectors"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        old.unlink()
    for path in paths:
        for file in sorted(path.iterdir()) if path.is_dir() else [path]:
            if file.suffix not in (".json", ".properties"):
                continue
            text = file.read_text(encoding="utf-8")
            for old, new in replacements.items():
                text = text.replace(old, new)
            (target / file.name).write_text(text, encoding="utf-8")
    return str(target)


async def run_dev(
    ports: DevPorts,
    *,
    connectors: str = "settings/connectors/",
    demo: bool = True,
    workdir: str | Path = ".streamapp-dev",
    broker_engine: str | None = None,
    echo: Callable[[str], object] = print,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until ``stop`` is set (or SIGINT/SIGTERM); returns the exit code for the command."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    workdir = Path(workdir).resolve()
    connectors_path = _point_at_ports(connectors, ports, workdir)
    host = ports.host
    async with contextlib.AsyncExitStack() as stack:
        broker = make_broker(choose_engine(broker_engine, echo), host, ports.broker, echo=echo)
        await broker.start()
        stack.push_async_callback(broker.stop)
        echo(f"Kafka broker       {broker.bootstrap}  ({broker.description})")
        await _create_topics(broker.bootstrap, DEMO_TOPICS, partitions=4)

        emulator = DiffusionEmulator(host, ports.diffusion)
        await emulator.start()
        stack.push_async_callback(emulator.stop)
        echo(f"Diffusion server   {emulator.url}  (principals admin/password, control/password)")

        coap = DevCoapServer(host, ports.coap)
        await coap.start()
        stack.push_async_callback(coap.stop)
        echo(f"CoAP server        {coap.uri}")

        registry = SchemaRegistryServer(host, ports.registry)
        await registry.start()
        stack.push_async_callback(registry.stop)
        echo(f"Schema Registry    {registry.url}  (in memory; value.converter.schema.registry.url)")

        worker = WorkerProcess(
            broker=broker.url,
            connectors=connectors_path,
            workdir=workdir,
            web_port=ports.web,
            env=_worker_env(broker),
        )
        await worker.start()
        stack.push_async_callback(worker.stop)
        try:
            await worker.wait_ready(timeout=90)
        except (RuntimeError, TimeoutError) as exc:
            echo(f"worker failed to start: {exc}")
            return 1
        echo(f"Worker             http://{host}:{ports.web}  (pid {worker.pid}, log {worker.log_path})")
        for line in worker.output.splitlines():
            if "not implemented yet" in line or "running, from" in line:
                echo("  " + line.split("] ", 3)[-1].strip())

        view = WebView(
            host,
            ports.view,
            diffusion_url=emulator.url,
            worker_url=f"http://{host}:{ports.web}",
            worker_headers=_worker_auth(),
        )
        await view.start()
        stack.push_async_callback(view.stop)
        echo(f"Web view           {view.url}  (Diffusion topics live, set a value, connector states)")
        echo(f"Ready in {time.monotonic() - started:.1f}s. Ctrl-C stops everything.")

        if demo:
            feed = DemoFeed(
                bootstrap=broker.bootstrap, diffusion_url=emulator.url, coap_received=coap.received, echo=echo
            )
            demo_task = asyncio.create_task(feed.run())
            stack.push_async_callback(_cancel, demo_task)

        stopper = asyncio.create_task(stop.wait())
        worker_exit = asyncio.create_task(worker.proc.wait())
        done, _ = await asyncio.wait({stopper, worker_exit}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopper, worker_exit):
            task.cancel()
        if worker_exit in done and not stop.is_set():
            echo(f"worker exited with code {worker.returncode}; see {worker.log_path}")
            return 1
        echo("stopping: web view, worker, Schema Registry, CoAP server, Diffusion emulator, broker")
    return 0


def _worker_auth() -> dict[str, str]:
    """The worker inherits this environment, so its API may want the token or user set here."""
    token = os.environ.get("STREAMAPP_API_TOKEN")
    user, password = os.environ.get("STREAMAPP_API_USERNAME"), os.environ.get("STREAMAPP_API_PASSWORD")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if user is not None and password is not None:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
