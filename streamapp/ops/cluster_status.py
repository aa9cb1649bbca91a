"""What every worker runs, shared through Kafka, and the pause/resume/restart requests they follow.

Design (the Connect way: Connect workers share a status topic and a config topic): two small
compacted topics, as Faust GlobalTables so that every worker holds all of both:

* ``streamapp-worker-status``: key = worker id (``host:port`` of its web server, Connect's
  ``worker_id``), value = JSON snapshot of that worker's connectors (state, failure trace,
  assigned partitions with delivered offset and lag, counters, rates). Each worker rewrites its
  entry every ``STREAMAPP_STATUS_INTERVAL`` seconds; an entry older than three intervals (plus a
  margin) belongs to a worker that is gone and is ignored.
* ``streamapp-connector-control``: key = connector name, value = JSON ``{"paused": bool,
  "restart": n}``. Any worker's REST API writes it; every worker applies it within half a second
  and after every rebalance, so a pause outlives rebalances and worker restarts, like Connect's
  target state.

So any worker answers for the whole cluster from its own copy of the tables, without forwarding
requests to peers (which would need every worker to reach every other one, and the right one to
be up). The answering worker uses its own live snapshot for itself.

Pausing a sink pauses its topic partitions in this worker's consumer: nothing more is fetched,
nothing is skipped, and records already fetched are still delivered. Faust resumes every
partition when a rebalance's recovery ends, so the pause is re-applied from the Faust sensor hook
that runs right after (``on_rebalance_end``) and on every tick. Pausing a source stops draining
its queue, which keeps conflating (latest value per path) until the resume.

Restart follows Connect: a running connector has nothing to restart; a FAILED sink stopped with
its failing record unacked, and the way to run it again from that record is a fresh consumer, so
the worker running it shuts down gracefully and its supervisor (Kubernetes) starts it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import time
from typing import TYPE_CHECKING, Any

from streamapp.runtime import connector_instances, loaded_connectors
from streamapp.shared_tables import shared_table

if TYPE_CHECKING:
    import faust

__all__ = ["ClusterStatus", "STATUS_TABLE", "CONTROL_TABLE"]

logger = logging.getLogger(__name__)

STATUS_TABLE = "streamapp-worker-status"
CONTROL_TABLE = "streamapp-connector-control"
_STALE_MARGIN = 5.0  # s beyond three intervals: a loaded worker may publish late


def worker_id(app: "faust.App") -> str:
    url = app.conf.canonical_url
    return f"{url.host}:{url.port}"


class ClusterStatus:
    """One per app: publishes this worker's status and applies the control records."""

    def __init__(self, app: "faust.App", interval: float) -> None:
        self.app = app
        self.interval = interval
        self.status = shared_table(
            app,
            STATUS_TABLE,
            value_type=str,
            help="Per worker: its connectors' state, assignment, delivered offsets, lag and counters (JSON).",
        )
        self.control = shared_table(
            app,
            CONTROL_TABLE,
            value_type=str,
            help="Per connector: paused or not, and restart requests (JSON), followed by every worker.",
        )
        self._previous: dict[str, tuple[float, dict[str, int]]] = {}
        self._restarts_seen: dict[str, int] = {}
        self._paused_tps: dict[str, set[Any]] = {}
        self.ready = False  # tables recovered: the first rebalance ended

    def install(self) -> None:
        self.app.timer(self.interval, name="streamapp.ops.publish_status")(self._publish)
        self.app.timer(0.5, name="streamapp.ops.follow_control")(self._follow)

    @property
    def worker_id(self) -> str:
        return worker_id(self.app)

    # --- this worker --------------------------------------------------------------------------------

    def local_snapshot(self) -> dict[str, dict[str, Any]]:
        """This worker's view of each configured connector (JSON-ready)."""
        instances = connector_instances(self.app)
        out: dict[str, dict[str, Any]] = {}
        for loaded in loaded_connectors(self.app):
            instance = instances.get(loaded.name)
            if instance is None:
                out[loaded.name] = {
                    "type": loaded.type.kind,
                    "state": "FAILED",
                    "task": False,
                    "trace": f"{loaded.type.class_name} is not implemented in this version of streamapp",
                    "counters": {},
                    "partitions": [],
                    "topics": [],
                }
                continue
            if loaded.type.kind == "source":
                out[loaded.name] = self._source_snapshot(instance)
            else:
                out[loaded.name] = self._sink_snapshot(instance)
        return out

    def _sink_snapshot(self, sink: Any) -> dict[str, Any]:
        counters = sink.counters
        partitions = []
        for tp in sorted(self._assigned(sink)):
            delivered = sink.offsets.get(tp.topic, tp.partition)
            end = self._end_offset(tp)
            lag = None if end is None else max(0, end - delivered - 1)
            partitions.append(
                {"topic": tp.topic, "partition": tp.partition, "delivered": delivered, "end_offset": end, "lag": lag}
            )
        failed = sink.state == "FAILED"
        if failed:
            state = "FAILED"
        elif getattr(sink, "paused", False):
            state = "PAUSED"
        elif sink.state == "RUNNING":
            state = "RUNNING"
        else:
            state = "UNASSIGNED"
        connection = getattr(sink, "connection", None)
        return {
            "type": "sink",
            "state": state,
            "task": bool(partitions) or failed,
            "trace": _trace(sink.failure) if failed and sink.failure is not None else None,
            "counters": {
                "records_in": counters.records_in,
                "delivered": counters.delivered,
                "failed": counters.failed,
                "retried": counters.retried,
                "dead_lettered": counters.dead_lettered,
                "skipped": counters.skipped,
                "already_delivered": counters.already_delivered,
            },
            "diffusion": _session(connection),
            "partitions": partitions,
            "topics": sorted({p["topic"] for p in partitions}),
        }

    def _source_snapshot(self, source: Any) -> dict[str, Any]:
        counters = source.counters
        running = source.state == "RUNNING"
        subscriber = source.subscriber
        return {
            "type": "source",
            "state": ("PAUSED" if getattr(source, "paused", False) else "RUNNING") if running else "UNASSIGNED",
            "task": running,
            "trace": None,
            "counters": {
                "records_in": counters.received,
                "delivered": counters.produced,
                "failed": counters.conversion_errors + counters.invalid_topic,
                "retried": counters.send_retries,
                "dead_lettered": 0,
                "conflated": source.queue.conflated,
            },
            "diffusion": _session(subscriber.connection) if running and subscriber is not None else None,
            "queue_depth": len(source.queue),
            "partitions": [],
            "topics": sorted(source._declared),
        }

    def _assigned(self, sink: Any) -> set[Any]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 -- no consumer yet (starting)
            return set()
        topic = sink.source
        if topic.pattern is not None:
            pattern = re.compile(topic.pattern) if isinstance(topic.pattern, str) else topic.pattern
            return {tp for tp in assignment if pattern.fullmatch(tp.topic)}
        names = set(topic.topics or ())
        return {tp for tp in assignment if tp.topic in names}

    def _end_offset(self, tp: Any) -> int | None:
        try:
            end = self.app.consumer.highwater(tp)
        except Exception:  # noqa: BLE001 -- not fetched yet
            return None
        return None if end is None or end < 0 else int(end)

    async def _publish(self) -> None:
        if not self.ready or self.app.rebalancing:
            return  # tables are being recovered: a write now could be overwritten by the replay
        now = time.time()
        snapshot = self.local_snapshot()
        for name, snap in snapshot.items():
            counters = snap["counters"]
            previous = self._previous.get(name)
            if previous is not None and now > previous[0]:
                elapsed = now - previous[0]
                snap["rates"] = {
                    key: round(max(0, counters.get(key, 0) - previous[1].get(key, 0)) / elapsed, 2)
                    for key in ("records_in", "delivered", "failed")
                }
            self._previous[name] = (now, dict(counters))
        doc = {"worker_id": self.worker_id, "at": now, "leader": self.app.is_leader(), "connectors": snapshot}
        try:
            self.status[self.worker_id] = json.dumps(doc)
        except Exception as exc:  # noqa: BLE001 -- status is informational: never crash the worker for it
            logger.warning("cannot publish this worker's status: %s", exc)

    # --- the cluster --------------------------------------------------------------------------------

    def workers(self) -> list[dict[str, Any]]:
        """Live workers' status documents, this worker's own one fresh."""
        now = time.time()
        ttl = 3 * self.interval + _STALE_MARGIN
        me = self.worker_id
        docs = []
        for key, value in list(self.status.items()):
            if key == me:
                continue
            try:
                doc = json.loads(value)
            except (TypeError, ValueError):
                continue
            if now - float(doc.get("at", 0)) <= ttl:
                docs.append(doc)
        docs.append({"worker_id": me, "at": now, "leader": self._is_leader(), "connectors": self.local_snapshot()})
        return sorted(docs, key=lambda d: d["worker_id"])

    def _is_leader(self) -> bool:
        try:
            return bool(self.app.is_leader())
        except Exception:  # noqa: BLE001
            return False

    def target(self, name: str) -> dict[str, Any]:
        raw = self.control.get(name)
        doc = json.loads(raw) if raw else {}
        return {"paused": bool(doc.get("paused", False)), "restart": int(doc.get("restart", 0))}

    def request(self, name: str, *, paused: bool | None = None, restart: bool = False) -> None:
        doc = self.target(name)
        if paused is not None:
            doc["paused"] = paused
        if restart:
            doc["restart"] += 1
        doc["at"] = time.time()
        self.control[name] = json.dumps(doc)

    # --- following the control table ----------------------------------------------------------------

    def on_rebalance_end(self) -> None:
        self.ready = True
        self._paused_tps.clear()  # Faust's recovery has just resumed every partition
        self.apply()

    async def _follow(self) -> None:
        if self.ready and not self.app.rebalancing:
            self.apply()

    def apply(self) -> None:
        """Make this worker's connectors match the control table (idempotent)."""
        instances = connector_instances(self.app)
        for loaded in loaded_connectors(self.app):
            instance = instances.get(loaded.name)
            if instance is None:
                continue
            target = self.target(loaded.name)
            if loaded.type.kind == "sink":
                self._apply_sink_pause(loaded.name, instance, target["paused"])
            else:
                if getattr(instance, "paused", False) != target["paused"]:
                    logger.info("connector %r %s", loaded.name, "paused" if target["paused"] else "resumed")
                instance.paused = target["paused"]  # DiffusionSource stops draining its queue while set
            self._apply_restart(loaded.name, instance, target["restart"])

    def _apply_sink_pause(self, name: str, sink: Any, paused: bool) -> None:
        consumer = self.app.consumer
        held = self._paused_tps.get(name, set())
        if paused:
            tps = self._assigned(sink)
            # Pause every time: Faust re-activates partitions on its own (recovery, buffer drained).
            consumer.pause_partitions(tps)
            if not getattr(sink, "paused", False):
                logger.info("connector %r paused: partitions %s no longer fetched", name, _tps(tps))
            self._paused_tps[name] = tps
            sink.paused = True
        elif getattr(sink, "paused", False):
            consumer.resume_partitions(held & self._assigned(sink))
            self._paused_tps.pop(name, None)
            sink.paused = False
            logger.info("connector %r resumed", name)

    def _apply_restart(self, name: str, instance: Any, requested: int) -> None:
        seen = self._restarts_seen.setdefault(name, requested)  # requests made before this worker started are done
        if requested <= seen:
            return
        self._restarts_seen[name] = requested
        if getattr(instance, "state", None) != "FAILED":
            logger.info("connector %r: restart requested; it is running here, nothing to restart", name)
            return
        logger.warning(
            "connector %r: restart requested for its FAILED task on this worker: stopping the worker so that its "
            "supervisor starts it again; the failed record was not acked and is consumed again",
            name,
        )
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)


def _session(connection: Any) -> dict[str, Any] | None:
    if connection is None or not hasattr(connection, "connected"):
        return None
    return {"state": connection.state, "connected": bool(connection.connected), "last_error": connection.last_error}


def _trace(failure: Any) -> str:
    return failure.describe() + "\n" + failure.trace


def _tps(tps: set[Any]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(tps)) or "(none assigned here)"
