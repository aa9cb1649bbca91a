"""CoAP sink throughput against raw aiocoap, and against one blocking request per record, in one run.

    .venv/bin/python bench/coap_sink.py [--records 20000] [--resources 16] [--delayed-records 4000]
                                        [--delayed-resources 32] [--dtls-records 10000]

Peer: Debian's ``coap-server-notls`` (package libcoap3-bin) in its own process, with dynamic
resources. Records carry a sequence number; resource ``r<j>`` holds the last record of topic ``j``.

1. Raw: confirmable PUTs of the same JSON with the best aiocoap client settings found here
   (``simple6`` transport, no blockwise wrapper for one-block payloads, several client contexts,
   since aiocoap sends one exchange at a time per context); the best of a few context counts is
   the limit.
2. Sink, loopback: N records (schemaless JSON) are produced beforehand to ``--resources`` topics,
   one KCQL statement per topic and resource (default ordering: one request at a time per
   resource); a worker is started, and the rate runs from the first record arriving to the last
   (polled with GETs). Printed next to the raw rate, with their ratio (target >= 0.85).
3. 10 ms round trip: the server gets 10 ms of added round-trip delay, in a network namespace with
   netem when the kernel has it, else through a userspace UDP relay on loopback that holds each
   datagram 5 ms each way. The sink's rate is printed next to one blocking request per record
   (what the Stream Reactor sink did), with their ratio (target >= 10x).

4. DTLS with certificates: ``coap-server-openssl`` with the test PKI (tests/fixtures/pki.py),
   requiring client certificates. Raw: confirmable PUTs through our X.509 DTLS transport
   (:mod:`streamapp.coap.dtls_x509`) and, on the same server's plain port, through ``simple6``.
   Sink: a connector with PEM certificates; its rate is printed next to the plain loopback
   sink's (phase 2) and the raw DTLS limit.

The sink's rate on loopback is bound by CPU, not by round trips: the line "CPU per record"
compares the worker's CPU per record (Faust, converter, KCQL and aiocoap in one process) with the
raw client's per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiocoap import Context, Message
from aiocoap.numbers.codes import Code
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import Producer

from bench._stack import free_port, kafka_broker, worker_env
from bench.floor import bare_faust_cpu, process_cpu
from streamapp.coap.credentials import dtls_psk_credentials
from streamapp.coap.dtls_x509 import X509Client, create_client_context
from streamapp.devstack.worker import WorkerProcess
from tests.fixtures.pki import Pki, make_pki, x509_settings

SEED = {"firstName": "John", "lastName": "Smith", "age": 30, "salary": 4830}
SERVER = "/usr/bin/coap-server-notls"
DTLS_SERVER = "/usr/bin/coap-server-openssl"
ONE_WAY_DELAY = 0.005  # s; 10 ms round trip
RAW_CPU: dict[int, float] = {}  # contexts -> client CPU seconds per request


def payload(seq: int) -> bytes:
    return json.dumps({**SEED, "seq": seq}).encode()


# -- peers ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def coap_server(host: str, port: int, netns: str | None = None, server: str = SERVER, extra: tuple = ()):
    """``server`` (``coap-server-notls``) on host:port (inside ``netns`` if given), stopped by PID."""
    argv = [server, "-A", host, "-p", str(port), "-d", "500", *extra]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        context = await Context.create_client_context(transports=["simple6"])
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    r = await asyncio.wait_for(
                        context.request(Message(code=Code.GET, uri=f"coap://{host}:{port}/")).response, 1
                    )
                    if r.code.is_successful():
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{server} did not start on {host}:{port}")
        finally:
            await context.shutdown()
        yield f"coap://{host}:{port}"
    finally:
        proc.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class _Relay(asyncio.DatagramProtocol):
    """UDP relay that holds each datagram ONE_WAY_DELAY in each direction (one upstream socket per client)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.clients: dict[tuple, asyncio.DatagramTransport] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        upstream = self.clients.get(addr)
        if upstream is None:
            self.loop.create_task(self._open(addr, data))
            return
        self.loop.call_later(ONE_WAY_DELAY, upstream.sendto, data)

    async def _open(self, addr: tuple, first: bytes) -> None:
        relay = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _addr: tuple) -> None:
                relay.loop.call_later(ONE_WAY_DELAY, relay.transport.sendto, data, addr)

        if addr not in self.clients:
            transport, _ = await self.loop.create_datagram_endpoint(Back, remote_addr=self.upstream)
            self.clients[addr] = transport
        self.loop.call_later(ONE_WAY_DELAY, self.clients[addr].sendto, first)

    def close(self) -> None:
        for transport in self.clients.values():
            transport.close()
        if self.transport:
            self.transport.close()


def _netns_up(ns: str, host_if: str, ns_if: str) -> None:
    """A namespace reached over a veth pair, with netem delaying each direction; raises CalledProcessError."""
    delay = f"{ONE_WAY_DELAY * 1000:g}ms"
    for cmd in (
        f"ip netns add {ns}",
        f"ip link add {host_if} type veth peer name {ns_if}",
        f"ip link set {ns_if} netns {ns}",
        f"ip addr add 10.213.7.1/30 dev {host_if}",
        f"ip link set {host_if} up",
        f"ip netns exec {ns} ip addr add 10.213.7.2/30 dev {ns_if}",
        f"ip netns exec {ns} ip link set {ns_if} up",
        f"ip netns exec {ns} ip link set lo up",
        f"tc qdisc add dev {host_if} root netem delay {delay}",
        f"ip netns exec {ns} tc qdisc add dev {ns_if} root netem delay {delay}",
    ):
        subprocess.run(cmd.split(), check=True, capture_output=True, text=True)


def _netns_down(ns: str, host_if: str) -> None:
    # Deleting the namespace deletes the veth pair; the second command is for a half-made setup.
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)


@contextlib.asynccontextmanager
async def delayed_server():
    """A coap-server-notls behind 10 ms of round trip; yields (uri, how)."""
    if os.geteuid() == 0 and shutil.which("ip") and shutil.which("tc"):
        ns = f"coapbench{os.getpid()}"
        host_if, ns_if = f"cb{os.getpid() % 100000}a", f"cb{os.getpid() % 100000}b"
        try:
            await asyncio.to_thread(_netns_up, ns, host_if, ns_if)
        except subprocess.CalledProcessError as exc:
            reason = (exc.stderr or "").strip() or str(exc)
            await asyncio.to_thread(_netns_down, ns, host_if)
            print(
                f"network namespace with netem not available here ({exc.cmd[0]} {exc.cmd[1]}...: {reason}); "
                f"using a userspace UDP relay on loopback instead ({ONE_WAY_DELAY * 1000:g} ms each way)"
            )
        else:
            try:
                async with coap_server("10.213.7.2", 5683, netns=ns) as uri:
                    yield uri, "network namespace, netem 5 ms each way"
                return
            finally:
                await asyncio.to_thread(_netns_down, ns, host_if)
    else:
        print("not root or no ip/tc: using a userspace UDP relay on loopback for the added delay")
    port, relay_port = free_port(), free_port()
    async with coap_server("127.0.0.1", port) as _:
        loop = asyncio.get_running_loop()
        _, relay = await loop.create_datagram_endpoint(
            lambda: _Relay(("127.0.0.1", port)), local_addr=("127.0.0.1", relay_port)
        )
        try:
            yield f"coap://127.0.0.1:{relay_port}", "userspace UDP relay, 5 ms each way"
        finally:
            relay.close()


# -- raw aiocoap ------------------------------------------------------------------------------------


async def client_context(transport: str = "simple6", x509: X509Client | None = None, psk: dict | None = None):
    """An aiocoap client context as the sink makes them: simple6, our X.509 DTLS, or tinydtls with a PSK."""
    if x509 is not None:
        return await create_client_context(x509)
    if psk is not None:
        context = await Context.create_client_context(transports=["tinydtls", "simple6"])
        context.client_credentials.load_from_dict(psk)
        return context
    return await Context.create_client_context(transports=[transport])


async def raw_rate(
    uri: str,
    n: int,
    contexts: int,
    resources: int,
    transport: str = "simple6",
    x509: X509Client | None = None,
    psk: dict | None = None,
) -> float:
    pool = [await client_context(transport, x509, psk) for _ in range(contexts)]
    idle = list(pool)
    slots = asyncio.Semaphore(contexts)
    uris = [f"{uri}/raw{j}" for j in range(resources)]

    async def one(i: int) -> None:
        async with slots:
            context = idle.pop()
            try:
                message = Message(code=Code.PUT, uri=uris[i % resources], payload=payload(i), content_format=50)
                try:  # a lost DTLS handshake otherwise hangs the benchmark until aiocoap's exchange lifetime
                    response = await asyncio.wait_for(context.request(message, handle_blockwise=False).response, 30)
                except TimeoutError:
                    raise RuntimeError(
                        f"raw request {i} to {uris[i % resources]} unanswered after 30 s; rerun"
                    ) from None
                assert response.code.is_successful(), response
            finally:
                idle.append(context)

    try:
        await asyncio.gather(*(one(i) for i in range(min(n, 500))))  # warm-up (creates the resources)
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(n)))
        RAW_CPU[contexts] = (time.process_time() - cpu) / n
        return n / (time.perf_counter() - start)
    finally:
        for context in pool:
            await context.shutdown()


async def blocking_rate(uri: str, seconds: float) -> float:
    """One request at a time, each waiting for its response: the Stream Reactor sink's pattern."""
    context = await Context.create_client_context(transports=["simple6"])
    try:
        target = f"{uri}/blocking"
        await context.request(Message(code=Code.PUT, uri=target, payload=payload(0), content_format=50)).response
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            message = Message(code=Code.PUT, uri=target, payload=payload(count), content_format=50)
            response = await context.request(message, handle_blockwise=False).response
            assert response.code.is_successful()
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        await context.shutdown()


# -- the sink -----------------------------------------------------------------------------------------


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topics: list[str], n: int, partitions: int = 1) -> None:
    """Records as most users' producers send them: librdkafka (confluent-kafka); round robin over
    the topics and over ``partitions`` partitions of each."""

    def run() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for i in range(n):
            while True:
                try:
                    producer.produce(topics[i % len(topics)], value=payload(i), partition=i % partitions)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(60)

    await asyncio.to_thread(run)


def connector(name: str, uri: str, topics: list[str], prefix: str, window: int, **extra: str) -> dict:
    kcql = "; ".join(f"INSERT INTO {prefix}{j} SELECT * FROM {t}" for j, t in enumerate(topics))
    return {
        "name": name,
        "config": {
            "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
            "connect.coap.uri": uri,
            "connect.coap.kcql": kcql,
            "topics": ",".join(topics),
            "connect.coap.max.in.flight": str(window),
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter.schemas.enable": "false",
            **extra,
        },
    }


def pem_settings(pki: Pki) -> dict[str, str]:
    return {
        "connect.coap.dtls.certificate.chain.file": pki.path("client-chain.pem"),
        "connect.coap.dtls.private.key.file": pki.path("client.key"),
        "connect.coap.dtls.ca.file": pki.path("ca.pem"),
    }


def x509_client(pki: Pki) -> X509Client:
    return X509Client(x509_settings(pki))


async def arrivals(
    uri: str,
    prefix: str,
    resources: int,
    n: int,
    timeout: float,
    worker: WorkerProcess,
    x509: X509Client | None = None,
    psk: dict | None = None,
) -> tuple[float, float]:
    """(first, last) arrival times of records 0..n-1 spread over the resources, by polling GETs."""
    final = {j: max(i for i in range(n) if i % resources == j) for j in range(resources)}
    context = await client_context(x509=x509, psk=psk)
    deadline = time.perf_counter() + timeout
    first = None
    polls = 0
    done: set[int] = set()
    try:
        while len(done) < resources:
            if worker.returncode is not None:
                raise RuntimeError(f"the worker exited ({worker.returncode}):\n{worker.output[-3000:]}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(done)} of {resources} resources got their last record in {timeout} s")
            # One GET per poll, so that polling does not compete for the CPU with what it measures:
            # round robin over all resources until the first record arrives, then the lowest
            # resource not final yet (they all advance together, so they finish together).
            if first is None:
                j = polls % resources
                polls += 1
            else:
                j = min(set(range(resources)) - done)
            response = await context.request(Message(code=Code.GET, uri=f"{uri}/{prefix}{j}")).response
            if response.code.is_successful() and response.payload:
                first = first or time.perf_counter()
                if json.loads(response.payload)["seq"] == final[j]:
                    done.add(j)
                    continue
            await asyncio.sleep(0.002 if first is None else 0.05)
        return first, time.perf_counter()  # type: ignore[return-value]
    finally:
        await context.shutdown()


PSK_IDENTITY, PSK_SECRET = "bench-identity", "bench-psk-secret"


async def floor_line(label: str, sink_cpu: float, raw_cpu: float, bare_cpu: float) -> float:
    ratio = sink_cpu / (raw_cpu + bare_cpu)
    print(
        f"  {label}: CPU per record {sink_cpu * 1e6:.0f} us; floor = raw {raw_cpu * 1e6:.0f} us per request "
        f"+ bare Faust {bare_cpu * 1e6:.0f} us per event = {(raw_cpu + bare_cpu) * 1e6:.0f} us; "
        f"sink / floor = {ratio:.2f}  (target <= 1.2)"
    )
    return ratio


async def sink_phase(worker, uri, prefix, topics, n, bootstrap, x509=None, psk=None) -> tuple[float, float]:
    """(records/s, worker CPU s per record) for ``n`` records produced now to ``topics``."""
    await produce(bootstrap, topics, n)
    cpu_before = process_cpu(worker.pid)
    first, last = await arrivals(uri, prefix, len(topics), n, 300, worker, x509=x509, psk=psk)
    return n / (last - first), (process_cpu(worker.pid) - cpu_before) / n


async def main(n: int, resources: int, delayed_n: int, delayed_resources: int, dtls_n: int) -> None:
    for server in (SERVER, DTLS_SERVER):
        if not os.access(server, os.X_OK):
            raise SystemExit(f"{server} is missing: apt-get install libcoap3-bin")
    coap_port, dtls_port, psk_port = free_port(), free_port(), free_port()  # DTLS servers: coaps on port + 1
    run = uuid.uuid4().hex[:6]
    pki_dir = tempfile.TemporaryDirectory()
    pki = make_pki(Path(pki_dir.name))
    certificates = ("-c", pki.path("server.pem"), "-j", pki.path("server.key"), "-C", pki.path("ca.pem"))
    async with (
        kafka_broker() as broker,
        coap_server("127.0.0.1", coap_port) as uri,
        coap_server("127.0.0.1", dtls_port, server=DTLS_SERVER, extra=certificates) as dtls_plain_uri,
        coap_server("127.0.0.1", psk_port, server=DTLS_SERVER, extra=("-k", PSK_SECRET, "-h", "CoAP")),
        delayed_server() as (delayed_uri, how),
    ):
        bootstrap = broker.bootstrap
        dtls_uri = f"coaps://127.0.0.1:{dtls_port + 1}"
        psk_uri = f"coaps://127.0.0.1:{psk_port + 1}"
        psk = dtls_psk_credentials(psk_uri, PSK_IDENTITY, PSK_SECRET)
        # 1. raw aiocoap limit on loopback
        raw, raw_cpu = {}, {}
        for contexts in (1, 8, 16, 32):
            raw[contexts] = await raw_rate(uri, min(n, 10000), contexts, resources)
            raw_cpu[contexts] = RAW_CPU[contexts]
            print(f"raw aiocoap CON PUT, simple6, {contexts:>2} contexts: {raw[contexts]:7.0f} requests/s, "
                  f"{raw_cpu[contexts] * 1e6:.0f} us CPU per request")  # fmt: skip
        udp6 = await raw_rate(uri, min(n, 5000), 16, resources, transport="udp6")
        print(f"raw aiocoap CON PUT, udp6,    16 contexts: {udp6:7.0f} requests/s (aiocoap's default transport)")
        best_contexts = max(raw, key=raw.get)
        best = raw[best_contexts]

        # 2. + 3. one worker with a loopback connector and a delayed one (idle until phase 3)
        loop_topics = [f"bench_{run}_{j}" for j in range(resources)]
        slow_topics = [f"bench_slow_{run}_{j}" for j in range(delayed_resources)]
        dtls_topics = [f"bench_dtls_{run}_{j}" for j in range(resources)]
        psk_topics = [f"bench_psk_{run}_{j}" for j in range(resources)]
        await create_topics(bootstrap, loop_topics + slow_topics + dtls_topics + psk_topics)
        with tempfile.TemporaryDirectory() as tmp:
            configs = Path(tmp) / "connectors"
            configs.mkdir()
            window = max(best_contexts, resources)
            (configs / "loop.json").write_text(json.dumps(connector("loop", uri, loop_topics, "r", window)))
            (configs / "slow.json").write_text(json.dumps(connector("slow", delayed_uri, slow_topics, "s", 32)))
            (configs / "dtls.json").write_text(
                json.dumps(connector("dtls", dtls_uri, dtls_topics, "d", window, **pem_settings(pki)))
            )
            (configs / "psk.json").write_text(json.dumps(connector(
                "psk", psk_uri, psk_topics, "p", window,
                **{"connect.coap.username": PSK_IDENTITY, "connect.coap.password": PSK_SECRET})))  # fmt: skip
            worker = WorkerProcess(
                broker=f"kafka://{bootstrap}",
                connectors=configs,
                workdir=Path(tmp),
                web_port=free_port(),
                env={
                    **worker_env(broker),
                    "STREAMAPP_ENV_FILE": os.devnull,
                    "STREAMAPP_TOPIC_PARTITIONS": "1",
                    "STREAMAPP_APP_ID": f"bench-coap-{run}",
                },
                log_level="warn",
            )
            started = time.perf_counter()
            await worker.start()
            try:
                await worker.wait_ready(120)
                sink, sink_cpu = await sink_phase(worker, uri, "r", loop_topics, n, bootstrap)
                print(
                    f"sink end to end ({n} records, {resources} topics -> {resources} resources, "
                    f"max.in.flight {window}): {sink:7.0f} records/s ({time.perf_counter() - started:.1f} s "
                    "including worker start)"
                )
                print(f"ratio sink / raw aiocoap rate: {sink / best:.2f}  (a CPU-bound pair on 2 cores; see the floor)")
                bare = await bare_faust_cpu(broker.url, loop_topics, n)
                await floor_line("plain CoAP", sink_cpu, raw_cpu[best_contexts], bare)

                # 3. 10 ms round trip
                blocking = await blocking_rate(delayed_uri, 3)
                await produce(bootstrap, slow_topics, delayed_n)
                first, last = await arrivals(delayed_uri, "s", delayed_resources, delayed_n, 300, worker)
                slow = delayed_n / (last - first)
                print(f"10 ms round trip ({how}):")
                print(f"  one blocking request per record: {blocking:7.0f} records/s")
                print(
                    f"  sink ({delayed_n} records, {delayed_resources} topics -> {delayed_resources} resources, "
                    f"max.in.flight 32): {slow:7.0f} records/s"
                )
                print(f"  ratio sink / blocking: {slow / blocking:.1f}x  (target >= 10x)")

                # 4. DTLS with certificates (mutual authentication), same resources and window as phase 2
                client = x509_client(pki)
                raw_plain = await raw_rate(dtls_plain_uri, min(dtls_n, 10000), best_contexts, resources)
                raw_dtls = await raw_rate(dtls_uri, min(dtls_n, 10000), best_contexts, resources, x509=client)
                raw_dtls_cpu = RAW_CPU[best_contexts]
                dtls_sink, dtls_cpu = await sink_phase(
                    worker, dtls_uri, "d", dtls_topics, dtls_n, bootstrap, x509=client
                )
                print(f"DTLS 1.2 with certificates (coap-server-openssl, mutual auth, {best_contexts} endpoints):")
                print(f"  raw aiocoap CON PUT, plain simple6 on the same server: {raw_plain:7.0f} requests/s")
                print(f"  raw aiocoap CON PUT, our X.509 DTLS transport:         {raw_dtls:7.0f} requests/s "
                      f"({raw_dtls / raw_plain:.2f} of plain)")  # fmt: skip
                print(f"  sink ({dtls_n} records, {resources} topics -> {resources} resources): "
                      f"{dtls_sink:7.0f} records/s, next to the plain sink's {sink:7.0f} records/s")  # fmt: skip
                bare_dtls = await bare_faust_cpu(broker.url, dtls_topics, dtls_n)
                await floor_line("DTLS certificates", dtls_cpu, raw_dtls_cpu, bare_dtls)

                # 5. DTLS with a pre-shared key (aiocoap's tinydtls transport, as the sink uses it)
                raw_psk = await raw_rate(psk_uri, min(dtls_n, 10000), best_contexts, resources, psk=psk)
                raw_psk_cpu = RAW_CPU[best_contexts]
                psk_sink, psk_cpu = await sink_phase(worker, psk_uri, "p", psk_topics, dtls_n, bootstrap, psk=psk)
                print(f"DTLS 1.2 with a pre-shared key (coap-server-openssl -k, tinydtls, {best_contexts} endpoints):")
                print(f"  raw aiocoap CON PUT: {raw_psk:7.0f} requests/s; sink: {psk_sink:7.0f} records/s")
                bare_psk = await bare_faust_cpu(broker.url, psk_topics, dtls_n)
                await floor_line("DTLS pre-shared key", psk_cpu, raw_psk_cpu, bare_psk)
            finally:
                code = await worker.stop()
                if code != 0:
                    print(worker.output[-3000:])
    pki_dir.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--resources", type=int, default=16)
    parser.add_argument("--delayed-records", type=int, default=4000)
    parser.add_argument("--delayed-resources", type=int, default=32)
    parser.add_argument("--dtls-records", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.resources, args.delayed_records, args.delayed_resources, args.dtls_records))
