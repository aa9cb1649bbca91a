"""Prometheus metrics: Faust's own sensor metrics plus per-connector ones, served at ``/metrics``.

Counters are read from the connectors' own counters when Prometheus scrapes (a custom
collector), so the record path pays nothing for them and they can never disagree with what the
status API shows. The one instrument fed from the record path is the delivery-latency histogram
(``observe_delivery``), because a histogram needs every observation.

Each app gets its own :class:`CollectorRegistry`: tests build several apps in one process, and the
global registry would refuse the second app's metric names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    import faust

__all__ = ["CONTENT_TYPE_LATEST", "install_metrics", "observe_delivery", "render", "SESSION_STATES"]

# DiffusionConnection.state values, exported one-hot like prometheus_client's Enum.
SESSION_STATES = ("DISCONNECTED", "CONNECTING", "CONNECTED", "RECONNECTING", "AUTH_FAILED", "TLS_FAILED", "CLOSED")
CONNECTOR_STATES = ("UNASSIGNED", "RUNNING", "PAUSED", "FAILED")

_registries: dict[int, CollectorRegistry] = {}
_latency: dict[int, Histogram] = {}


def install_metrics(app: "faust.App", snapshot: Any) -> CollectorRegistry:
    """Create the app's registry: Faust's sensor metrics (its PrometheusMonitor) and ours.

    ``snapshot()`` returns this worker's connector snapshots (see cluster_status.local_snapshot).
    """
    registry = _registries.get(id(app))
    if registry is not None:
        return registry
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    registry = CollectorRegistry()
    prefix = app.conf.id.replace("-", "_").replace(".", "_")
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, prefix))
    _latency[id(app)] = Histogram(
        "streamapp_connector_delivery_latency_seconds",
        "Seconds from a record entering the connector to its delivery being confirmed.",
        ["connector"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )
    registry.register(_ConnectorCollector(snapshot))
    _registries[id(app)] = registry
    return registry


def observe_delivery(app: Any, connector: str, seconds: float) -> None:
    """Record one confirmed delivery's latency (a no-op when metrics are not installed)."""
    histogram = _latency.get(id(app))
    if histogram is not None:
        histogram.labels(connector).observe(seconds)


def render(app: Any) -> bytes:
    return generate_latest(_registries[id(app)])


# (metric suffix, help, snapshot counter key)
_COUNTERS = (
    ("records_in", "Records the connector received (from Kafka for sinks, from Diffusion for sources).", "records_in"),
    ("records_delivered", "Records confirmed delivered (by Diffusion/CoAP for sinks, by Kafka for sources).", "delivered"),
    ("records_failed", "Records that failed (conversion, mapping or delivery).", "failed"),
    ("records_retried", "Delivery attempts retried after a retriable error.", "retried"),
    ("records_dead_lettered", "Records sent to the dead-letter topic.", "dead_lettered"),
    ("records_conflated", "Source values replaced by a newer value of the same path while queued.", "conflated"),
)


class _ConnectorCollector:
    def __init__(self, snapshot: Any) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # names are fixed but label values are not known before the worker runs

    def collect(self) -> Iterator[Metric]:
        connectors = self.snapshot()
        for suffix, text, key in _COUNTERS:
            family = CounterMetricFamily(f"streamapp_connector_{suffix}", text, labels=["connector"])
            for name, snap in connectors.items():
                family.add_metric([name], snap["counters"].get(key, 0))
            yield family
        state = GaugeMetricFamily(
            "streamapp_connector_state", "1 for the connector's current state on this worker.", labels=["connector", "state"]
        )
        session = GaugeMetricFamily(
            "streamapp_diffusion_session_state",
            "1 for the current state of the connector's Diffusion session on this worker.",
            labels=["connector", "state"],
        )
        queue = GaugeMetricFamily(
            "streamapp_source_queue_depth", "Values queued between Diffusion and Kafka.", labels=["connector"]
        )
        delivered = GaugeMetricFamily(
            "streamapp_connector_delivered_offset",
            "Last offset confirmed delivered (the delivered-offset table), per assigned partition.",
            labels=["connector", "topic", "partition"],
        )
        lag = GaugeMetricFamily(
            "streamapp_connector_lag_records",
            "Records in the partition after the last delivered offset (end offset - delivered - 1).",
            labels=["connector", "topic", "partition"],
        )
        for name, snap in connectors.items():
            for value in CONNECTOR_STATES:
                state.add_metric([name, value], 1.0 if snap["state"] == value else 0.0)
            if snap.get("diffusion") is not None:
                current = snap["diffusion"]["state"]
                for value in SESSION_STATES:
                    session.add_metric([name, value], 1.0 if current == value else 0.0)
            if snap.get("queue_depth") is not None:
                queue.add_metric([name], snap["queue_depth"])
            for part in snap.get("partitions", ()):
                labels = [name, part["topic"], str(part["partition"])]
                delivered.add_metric(labels, part["delivered"])
                if part.get("lag") is not None:
                    lag.add_metric(labels, part["lag"])
        yield from (state, session, queue, delivered, lag)
