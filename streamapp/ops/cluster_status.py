"""What every worker runs, shared through Kafka, and the pause/resume/restart requests they follow.

Design (the Connect way: Connect workers share a status topic and a config topic): two small
compacted topics, as Faust GlobalTables so that every worker holds all of both:

* ``streamapp-worker-status``: key = worker id (``host:port`` of its web server, Connect's
  ``worker_id``), value = JSON snapshot of that worker's connectors (state, failure trace,
  assigned partitions with delivered offset and lag, counters, rates). Each worker rewrites its
  entry every ``STREAMAPP_STATUS_INTERVAL`` seconds; an entry older than three intervals (plus a
  margin) belongs to a worker that is gone and is ignored.
* ``streamapp-connector-control``: key = connector name, value = JSON ``{"restart": n}``. Any
  worker's REST API writes it; every worker applies it within half a second.

Pause, resume and stop are target states in the config topic (:mod:`streamapp.config.store`),
as in Connect: every worker applies them within half a second and after every rebalance, so a
pause outlives rebalances and worker restarts.

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
import signal
import time
from typing import TYPE_CHECKING, Any

from streamapp.core.contract import ConnectorStatus

if TYPE_CHECKING:
    from streamapp.worker import Worker

__all__ = ["ClusterStatus", "STATUS_TABLE", "CONTROL_TABLE"]

logger = logging.getLogger(__name__)

STATUS_TABLE = "streamapp-worker-status"
CONTROL_TABLE = "streamapp-connector-control"
_STALE_MARGIN = 5.0  # s beyond three intervals: a loaded worker may publish late


def worker_id(app: Any) -> str:
    url = app.conf.canonical_url
    return f"{url.host}:{url.port}"


class ClusterStatus:
    """One per worker: publishes this worker's status and applies the control records."""

    def __init__(self, worker: Worker, interval: float) -> None:
        self.worker = worker
        self.app = worker.app
        self.interval = interval
        self.status = worker.table(
            STATUS_TABLE,
            value_type=str,
            help="Per worker: its connectors' state, assignment, delivered offsets, lag and counters (JSON).",
        )
        self.control = worker.table(
            CONTROL_TABLE,
            value_type=str,
            help="Per connector: paused or not, and restart requests (JSON), followed by every worker.",
        )
        self._previous: dict[str, tuple[float, dict[str, int]]] = {}
        self._restarts_seen: dict[str, int] = {}
        self._topic_resets_seen: dict[str, int] = {}
        self.ready = False  # tables recovered: the first rebalance ended

    def install(self) -> None:
        self.app.timer(self.interval, name="streamapp.ops.publish_status")(self._publish)
        self.app.timer(0.5, name="streamapp.ops.follow_control")(self._follow)

    @property
    def worker_id(self) -> str:
        return worker_id(self.app)

    # --- this worker --------------------------------------------------------------------------------

    def statuses(self) -> dict[str, ConnectorStatus | None]:
        """Each configured connector's status here; None for a type this version cannot run."""
        connectors = self.worker.connectors
        out: dict[str, ConnectorStatus | None] = {}
        for loaded in self.worker.loaded:
            connector = connectors.get(loaded.name)
            out[loaded.name] = connector.status() if connector is not None else None
        return out

    def local_snapshot(self) -> dict[str, dict[str, Any]]:
        """This worker's view of each configured connector (JSON-ready)."""
        kinds = {loaded.name: loaded.type for loaded in self.worker.loaded}
        out: dict[str, dict[str, Any]] = {}
        for name, status in self.statuses().items():
            if status is not None:
                out[name] = status.to_json()
                continue
            ctype = kinds[name]
            out[name] = {"kind": ctype.kind, "task": False, "counters": {}, "partitions": [], "topics": []}
            if ctype.implementation is None:
                out[name]["state"] = "FAILED"
                out[name]["trace"] = f"{ctype.class_name} is not implemented in this version of streamapp"
            else:  # stopped (target state STOPPED), or being started
                out[name]["state"] = "STOPPED" if self.worker.herder.target(name) == "STOPPED" else "UNASSIGNED"
        return out

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
        state = self.worker.herder.target(name)
        return {
            "paused": state == "PAUSED",
            "stopped": state == "STOPPED",
            "restart": int(doc.get("restart", 0)),
            "topics_reset": int(doc.get("topics_reset", 0)),
        }

    def _request(self, name: str, counter: str) -> None:
        raw = self.control.get(name)
        doc = json.loads(raw) if raw else {}
        doc[counter] = int(doc.get(counter, 0)) + 1
        doc["at"] = time.time()
        self.control[name] = json.dumps(doc)

    def request_restart(self, name: str) -> None:
        self._request(name, "restart")

    def request_topics_reset(self, name: str) -> None:
        """Connect's ``PUT /connectors/{name}/topics/reset``: forget the topics a source produced to."""
        self._request(name, "topics_reset")

    # --- following the control table ----------------------------------------------------------------

    def on_rebalance_end(self) -> None:
        self.ready = True
        self.apply()  # Faust's recovery has just resumed every partition: pause again what is paused

    async def _follow(self) -> None:
        if self.ready and not self.app.rebalancing:
            self.apply()

    def apply(self) -> None:
        """Make this worker's connectors match the control table (idempotent)."""
        for name, connector in list(self.worker.connectors.items()):
            target = self.target(name)
            connector.set_paused(target["paused"])
            self._apply_restart(name, connector, target["restart"])
            seen = self._topic_resets_seen.setdefault(name, target["topics_reset"])
            if target["topics_reset"] > seen:
                self._topic_resets_seen[name] = target["topics_reset"]
                reset = getattr(connector, "reset_active_topics", None)
                if reset is not None:  # a sink's active topics are those it reads: nothing to forget
                    reset()

    def _apply_restart(self, name: str, instance: Any, requested: int) -> None:
        seen = self._restarts_seen.setdefault(name, requested)  # requests made before this worker started are done
        if requested <= seen:
            return
        self._restarts_seen[name] = requested
        if instance.status().state != "FAILED":
            logger.info("connector %r: restart requested; it is running here, nothing to restart", name)
            return
        logger.warning(
            "connector %r: restart requested for its FAILED task on this worker: stopping the worker so that its "
            "supervisor starts it again; the failed record was not acked and is consumed again",
            name,
        )
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
