"""The contract between connectors and the operations layer.

Every connector, whatever its destination, is a :class:`Connector`: Faust runs it (agents and
timers it installs), the worker pauses and resumes it, and anyone may ask its
:meth:`~Connector.status`. Health, metrics, the REST API and ``streamapp status`` read nothing
else, so a new connector kind changes nothing in :mod:`streamapp.ops`.

Counters have one set of names for every connector. Each record taken in ends in exactly one of
``delivered``, ``failed`` (the connector stopped on it; left unacked), ``dead_lettered``,
``skipped`` (tolerated without a dead-letter topic) or ``conflated`` (replaced by a newer record of
the same destination before it was sent); until then it is in flight::

    records_in == delivered + failed + dead_lettered + skipped + conflated + in_flight

Records read again after a restart or rebalance that were already delivered are counted apart
(``already_delivered``), not in ``records_in``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "COUNTER_NAMES",
    "STATES",
    "Connector",
    "ConnectorStatus",
    "Counters",
    "PartitionStatus",
    "SessionStatus",
    "State",
]

State = Literal["UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "STOPPED"]
STATES: tuple[State, ...] = ("UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "STOPPED")


@dataclass
class Counters:
    """Per connector and worker; mutated on the record path, copied into each status."""

    records_in: int = 0
    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    conflated: int = 0
    retried: int = 0  # delivery attempts repeated (transient errors, retry policies)
    already_delivered: int = 0  # read again below the delivered offset: not sent, not in records_in

    @property
    def in_flight(self) -> int:
        return self.records_in - (self.delivered + self.failed + self.dead_lettered + self.skipped + self.conflated)

    def copy(self) -> Counters:
        return Counters(**asdict(self))


COUNTER_NAMES = tuple(Counters.__dataclass_fields__)


@dataclass(frozen=True)
class PartitionStatus:
    """A source partition of a sink on this worker. ``lag`` = end offset - committed offset."""

    topic: str
    partition: int
    delivered: int  # last offset confirmed delivered (the delivered-offset table), -1 if none
    committed: int | None  # the group's committed offset (next to read), None if never committed
    end_offset: int | None  # the partition's end (high watermark), None until fetched

    @property
    def lag(self) -> int | None:
        if self.end_offset is None:
            return None
        return max(0, self.end_offset - (self.committed or 0))


@dataclass(frozen=True)
class SessionStatus:
    """The connector's session to its destination (Diffusion), when it has one."""

    state: str
    connected: bool
    last_error: str | None = None


@dataclass(frozen=True)
class ConnectorStatus:
    kind: Literal["sink", "source"]
    state: State
    task: bool  # this worker runs part of the connector (sink partitions, or the source's subscription)
    counters: Counters
    trace: str | None = None  # the failure, when FAILED
    partitions: tuple[PartitionStatus, ...] = ()
    topics: tuple[str, ...] = ()  # read (sink) or written (source) here
    session: SessionStatus | None = None
    queue_depth: int | None = None  # values queued between the destination and Kafka (sources)
    extra: dict[str, Any] = field(default_factory=dict)  # connector-specific facts, shown as they are

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["counters"]["in_flight"] = self.counters.in_flight
        doc["partitions"] = [{**asdict(p), "lag": p.lag} for p in self.partitions]
        return doc


@runtime_checkable
class Connector(Protocol):
    """One configured connector running in this worker."""

    name: str
    kind: Literal["sink", "source"]

    def install(self) -> None:
        """Add its agents and timers to the Faust app (before the worker starts)."""

    def set_paused(self, paused: bool) -> None:
        """Pause or resume here; idempotent, called often (Faust re-activates partitions on its own)."""

    def status(self) -> ConnectorStatus:
        """What it is doing on this worker, now."""
