"""Liveness (``/livez``) and readiness (``/readyz``): what Kubernetes probes.

* **Live**: the event loop answers (it served the request), and the Kafka consumer is not stuck
  in a rebalance for longer than ``STREAMAPP_HEALTH_REBALANCE_STUCK`` seconds (a worker in that
  state never recovers by itself: restarting it is the cure). A Diffusion outage does not make a
  worker unlive: restarting it would not bring Diffusion back, and the sink reconnects by itself.
* **Ready**: the consumer has joined the group and finished its rebalance (partitions assigned,
  tables recovered); no connector has FAILED here; every Diffusion session a connector needs on
  this worker is connected.

Both answer JSON ``{"status": "UP"|"DOWN", "checks": [{"name", "status", "detail"}]}`` with 200 or
503, so ``curl`` shows which check failed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from faust.sensors import Sensor

if TYPE_CHECKING:
    import faust

    from .cluster_status import ClusterStatus

__all__ = ["HealthSensor", "liveness", "readiness"]


class HealthSensor(Sensor):
    """Faust calls these hooks around every rebalance."""

    def __init__(self, cluster: ClusterStatus, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster = cluster
        self.rebalance_started: float | None = None
        self.rebalances = 0
        self.assigned = False

    def on_rebalance_start(self, app: Any) -> dict:
        self.rebalance_started = time.monotonic()
        return {}

    def on_rebalance_end(self, app: Any, state: dict) -> None:
        self.rebalance_started = None
        self.rebalances += 1
        self.assigned = True
        self.cluster.on_rebalance_end()  # re-apply pauses right after Faust resumed every partition


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "status": "UP" if ok else "DOWN", "detail": detail}


def _result(checks: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    up = all(c["status"] == "UP" for c in checks)
    return (200 if up else 503), {"status": "UP" if up else "DOWN", "checks": checks}


def _consumer_check(app: faust.App, sensor: HealthSensor, stuck_after: float | None) -> dict[str, Any]:
    started = sensor.rebalance_started
    if started is not None:
        waited = time.monotonic() - started
        if stuck_after is not None and waited > stuck_after:
            return _check("kafka-consumer", False, f"stuck in a rebalance for {waited:.0f}s (limit {stuck_after:.0f}s)")
        return _check("kafka-consumer", stuck_after is not None, f"rebalancing for {waited:.1f}s")
    if not sensor.assigned:
        return _check("kafka-consumer", stuck_after is not None, "joining the consumer group")
    try:
        assigned = len(app.consumer.assignment())
    except Exception:  # noqa: BLE001
        assigned = 0
    return _check("kafka-consumer", True, f"{assigned} partition(s) assigned, {sensor.rebalances} rebalance(s)")


def liveness(app: faust.App, sensor: HealthSensor, stuck_after: float) -> tuple[int, dict[str, Any]]:
    return _result([_consumer_check(app, sensor, stuck_after)])


def readiness(app: faust.App, sensor: HealthSensor, cluster: ClusterStatus) -> tuple[int, dict[str, Any]]:
    checks = [_consumer_check(app, sensor, None)]
    for name, snap in cluster.local_snapshot().items():
        if snap["state"] == "FAILED":
            first = (snap.get("trace") or "failed").splitlines()[0]
            checks.append(_check(f"connector:{name}", False, first))
        else:
            checks.append(_check(f"connector:{name}", True, snap["state"]))
        session = snap.get("session")
        if session is not None:
            detail = session["state"] + (f": {session['last_error']}" if session.get("last_error") else "")
            checks.append(_check(f"diffusion:{name}", session["connected"], detail))
    return _result(checks)
