"""Kafka Connect REST API documents built from the workers' status snapshots (pure functions).

The shapes are Connect's (``ConnectorStateInfo``, ``ConnectorInfo``, ``TaskInfo``,
``ActiveTopicsInfo``), so scripts and tools written for Connect read them unchanged:

* a *task* is a worker that runs part of the connector: for a sink, each worker with partitions
  of its topics assigned (or where it failed); for a source, the one worker the source placement
  gave it to (:mod:`streamapp.core.source_placement`), subscribed to Diffusion. Task ids number
  those workers in ``worker_id`` order.
* the *connector* runs on one worker (as Connect runs each connector instance on one worker): a
  source's is the worker running its task; a sink's is the group leader. ``STOPPED`` when stopped
  (then it has no task), ``PAUSED`` when paused, ``FAILED`` when this version cannot run it or its
  config does not load, ``RUNNING`` while a live worker has it loaded, else ``UNASSIGNED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ConnectorView", "connector_info", "connector_status", "connector_tasks", "connector_topics", "expanded"]


@dataclass(frozen=True)
class ConnectorView:
    """What the API shows of one configured connector (config already masked)."""

    name: str
    kind: str  # "sink" | "source"
    class_name: str
    config: dict[str, str]
    topics: tuple[str, ...] = ()  # from the config (sinks with ``topics``)
    implemented: bool = True
    trace: str | None = None  # why it cannot run (its config does not load on this worker)


def _tasks(
    view: ConnectorView, workers: list[dict[str, Any]], paused: bool, stopped: bool = False
) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    if stopped:
        return tasks
    for doc in sorted(workers, key=lambda d: d["worker_id"]):
        snap = doc.get("connectors", {}).get(view.name)
        if not snap or not snap.get("task"):
            continue
        state = snap.get("state", "UNASSIGNED")
        if paused and state == "RUNNING":
            state = "PAUSED"  # requested, being applied on that worker
        task: dict[str, Any] = {"id": len(tasks), "state": state, "worker_id": doc["worker_id"]}
        if state == "FAILED" and snap.get("trace"):
            task["trace"] = snap["trace"]
        tasks.append(task)
    return tasks


def _connector_worker(view: ConnectorView, workers: list[dict[str, Any]]) -> str | None:
    having = [d for d in workers if view.name in d.get("connectors", {})]
    # A source runs where its task runs (one worker, placed by the group); a sink on the leader.
    running = [d for d in having if d["connectors"][view.name].get("task")] if view.kind == "source" else []
    leaders = [d for d in having if d.get("leader")]
    chosen = (running or leaders or having or [None])[0]
    return chosen["worker_id"] if chosen else None


def connector_status(
    view: ConnectorView, workers: list[dict[str, Any]], paused: bool, stopped: bool = False
) -> dict[str, Any]:
    worker = _connector_worker(view, workers)
    connector: dict[str, Any]
    if view.trace is not None:
        connector = {"state": "FAILED", "worker_id": worker or "", "trace": view.trace}
    elif stopped:
        connector = {"state": "STOPPED", "worker_id": worker or ""}
    elif not view.implemented:
        connector = {
            "state": "FAILED",
            "worker_id": worker or "",
            "trace": f"{view.class_name} is not implemented in this version of streamapp: its config is valid, "
            "but it does not run",
        }
    elif worker is None:
        connector = {"state": "UNASSIGNED", "worker_id": ""}
    else:
        connector = {"state": "PAUSED" if paused else "RUNNING", "worker_id": worker}
    return {
        "name": view.name,
        "connector": connector,
        "tasks": _tasks(view, workers, paused, stopped),
        "type": view.kind,
    }


def connector_info(
    view: ConnectorView, workers: list[dict[str, Any]], paused: bool, stopped: bool = False
) -> dict[str, Any]:
    return {
        "name": view.name,
        "config": {**view.config, "name": view.name},
        "tasks": [{"connector": view.name, "task": t["id"]} for t in _tasks(view, workers, paused, stopped)],
        "type": view.kind,
    }


def connector_tasks(
    view: ConnectorView, workers: list[dict[str, Any]], paused: bool, stopped: bool = False
) -> list[dict[str, Any]]:
    config = {**view.config, "name": view.name, "task.class": view.class_name}
    return [
        {"id": {"connector": view.name, "task": t["id"]}, "config": dict(config)}
        for t in _tasks(view, workers, paused, stopped)
    ]


def connector_topics(view: ConnectorView, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """Connect's active topics: what the connector reads (sink) or has produced to (source)."""
    topics = set(view.topics)
    for doc in workers:
        snap = doc.get("connectors", {}).get(view.name) or {}
        topics.update(snap.get("topics", ()))
    return {view.name: {"topics": sorted(topics)}}


def expanded(
    views: list[ConnectorView],
    workers: list[dict[str, Any]],
    paused: dict[str, bool],
    expand: list[str],
    stopped: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """``GET /connectors?expand=status&expand=info``."""
    out: dict[str, Any] = {}
    stopped = stopped or {}
    for view in views:
        entry: dict[str, Any] = {}
        args = (view, workers, paused.get(view.name, False), stopped.get(view.name, False))
        if "info" in expand:
            entry["info"] = connector_info(*args)
        if "status" in expand:
            entry["status"] = connector_status(*args)
        out[view.name] = entry
    return out
