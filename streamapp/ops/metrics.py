"""Prometheus metrics: Faust's own sensor metrics plus per-connector ones, served at ``/metrics``.

Counters are read from the connectors' own counters when Prometheus scrapes (a custom
collector), so the record path pays nothing for them and they can never disagree with what the
status API shows. The one instrument fed from the record path is the delivery-latency histogram
(``observe_delivery``), because a histogram needs every observation.

Each worker gets its own :class:`CollectorRegistry`: tests build several apps in one process, and
the global registry would refuse the second app's metric names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streamapp.core.contract import STATES

from .faust_metrics import FaustMonitorCollector

if TYPE_CHECKING:
    from streamapp.worker import Worker

__all__ = ["CONTENT_TYPE_LATEST", "install_metrics", "render", "SESSION_STATES"]

# DiffusionConnection.state values, exported one-hot like prometheus_client's Enum.
SESSION_STATES = ("DISCONNECTED", "CONNECTING", "CONNECTED", "RECONNECTING", "AUTH_FAILED", "TLS_FAILED", "CLOSED")


def install_metrics(worker: Worker, snapshot: Any) -> CollectorRegistry:
    """The worker's registry: Faust's Monitor read at scrape time, and ours.

    ``snapshot()`` returns this worker's connector status documents (see ClusterStatus.local_snapshot).
    Confirmed deliveries feed the latency histogram through ``worker.observe_delivery``.
    """
    app = worker.app
    registry = CollectorRegistry()
    prefix = app.conf.id.replace("-", "_").replace(".", "_")
    registry.register(FaustMonitorCollector(app.monitor, prefix))
    latency = Histogram(
        "streamapp_connector_delivery_latency_seconds",
        "Seconds from a record entering the connector to its delivery being confirmed.",
        ["connector"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )
    children: dict[str, Any] = {}

    def observe_delivery(connector: str, seconds: float) -> None:
        child = children.get(connector)
        if child is None:
            child = children[connector] = latency.labels(connector)
        child.observe(seconds)

    worker.observe_delivery = observe_delivery
    registry.register(_ConnectorCollector(snapshot))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


# (metric suffix, help, snapshot counter key)
_COUNTERS = (
    ("records_in", "Records the connector received (from Kafka for sinks, from Diffusion for sources).", "records_in"),
    (
        "records_delivered",
        "Records confirmed delivered (by Diffusion/CoAP for sinks, by Kafka for sources).",
        "delivered",
    ),
    ("records_failed", "Records that stopped the connector (an error its policy does not tolerate).", "failed"),
    ("records_dead_lettered", "Records that failed and were sent to the dead-letter topic.", "dead_lettered"),
    ("records_skipped", "Records that failed and were skipped (tolerated, no dead-letter topic).", "skipped"),
    (
        "records_conflated",
        "Records replaced by a newer one for the same destination before they were sent.",
        "conflated",
    ),
    ("records_retried", "Delivery attempts repeated (transient errors, retry policies).", "retried"),
    (
        "records_already_delivered",
        "Records read again below the delivered offset, and not sent again.",
        "already_delivered",
    ),
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
        in_flight = GaugeMetricFamily(
            "streamapp_connector_records_in_flight",
            "Records taken in whose fate is not decided yet.",
            labels=["connector"],
        )
        for name, snap in connectors.items():
            in_flight.add_metric([name], snap["counters"].get("in_flight", 0))
        yield in_flight
        state = GaugeMetricFamily(
            "streamapp_connector_state",
            "1 for the connector's current state on this worker.",
            labels=["connector", "state"],
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
            "Records in the partition after the group's committed offset (end offset - committed offset).",
            labels=["connector", "topic", "partition"],
        )
        for name, snap in connectors.items():
            for value in STATES:
                state.add_metric([name, value], 1.0 if snap["state"] == value else 0.0)
            if snap.get("session") is not None:
                current = snap["session"]["state"]
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
