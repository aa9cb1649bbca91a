"""Kafka Connect's REST API on the worker's web port, for the whole cluster, plus probes and metrics.

Read paths answer from the cluster status tables (see cluster_status), so any worker answers for
all of them. Pause, resume and restart are written to the control table that every worker
follows. Creating, changing or deleting connectors answers Connect's error shape: connectors are
declarative here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import connect_shapes as shapes
from . import health
from .metrics import CONTENT_TYPE_LATEST, render

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamapp.worker import Worker

    from .cluster_status import ClusterStatus

__all__ = ["DECLARATIVE", "add_routes"]

DECLARATIVE = (
    "streamapp connectors are declarative: edit the connector config files (STREAMAPP_CONNECTORS; a ConfigMap on "
    "Kubernetes) and restart the workers (a rolling restart). This API does not create, change or delete connectors."
)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error_code": status, "message": message}, status=status)


class ConnectApi:
    def __init__(
        self, worker: Worker, cluster: ClusterStatus, sensor: health.HealthSensor, registry: CollectorRegistry
    ) -> None:
        self.worker = worker
        self.app = worker.app
        self.settings = worker.settings
        self.cluster = cluster
        self.sensor = sensor
        self.registry = registry

    # --- helpers ------------------------------------------------------------------------------------

    def views(self) -> list[shapes.ConnectorView]:
        return [
            shapes.ConnectorView(
                name=c.name,
                kind=c.type.kind,
                class_name=c.type.class_name,
                config=c.masked(),
                topics=tuple(getattr(c.config, "topics", ()) or ()),
                implemented=c.implemented,
            )
            for c in self.worker.loaded
        ]

    def view(self, request: web.Request) -> shapes.ConnectorView:
        name = request.match_info["name"]
        for view in self.views():
            if view.name == name:
                return view
        raise web.HTTPNotFound(
            text=f'{{"error_code": 404, "message": "Connector {_json_text(name)} not found"}}',
            content_type="application/json",
        )

    def paused(self, name: str) -> bool:
        return self.cluster.target(name)["paused"]

    # --- Connect paths ------------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        from streamapp import __version__

        return web.json_response({"version": __version__, "commit": "", "kafka_cluster_id": self.settings.app_id})

    async def list_connectors(self, request: web.Request) -> web.Response:
        views = self.views()
        expand = request.query.getall("expand", [])
        if not expand:
            return web.json_response([v.name for v in views])
        paused = {v.name: self.paused(v.name) for v in views}
        return web.json_response(shapes.expanded(views, self.cluster.workers(), paused, expand))

    async def get_connector(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response(shapes.connector_info(view, self.cluster.workers(), self.paused(view.name)))

    async def get_config(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response({**view.config, "name": view.name})

    async def get_status(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response(shapes.connector_status(view, self.cluster.workers(), self.paused(view.name)))

    async def get_tasks(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response(shapes.connector_tasks(view, self.cluster.workers(), self.paused(view.name)))

    async def get_task_status(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(view, self.cluster.workers(), self.paused(view.name))
        for task in status["tasks"]:
            if str(task["id"]) == request.match_info["task"]:
                return web.json_response(task)
        return _error(404, f"Unknown task {view.name}-{request.match_info['task']}")

    async def get_topics(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response(shapes.connector_topics(view, self.cluster.workers()))

    async def get_offsets(self, request: web.Request) -> web.Response:
        """Connect 3.5's offsets: for a sink, the next offset to read per partition (delivered + 1)."""
        view = self.view(request)
        offsets = []
        if view.kind == "sink":
            seen = set()
            for doc in self.cluster.workers():
                for part in (doc["connectors"].get(view.name) or {}).get("partitions", ()):
                    key = (part["topic"], part["partition"])
                    if key not in seen and part["delivered"] >= 0:
                        seen.add(key)
                        offsets.append(
                            {
                                "partition": {"kafka_topic": part["topic"], "kafka_partition": part["partition"]},
                                "offset": {"kafka_offset": part["delivered"] + 1},
                            }
                        )
        return web.json_response({"offsets": sorted(offsets, key=lambda o: tuple(o["partition"].values()))})

    async def pause(self, request: web.Request) -> web.Response:
        view = self.view(request)
        self.cluster.request(view.name, paused=True)
        self.cluster.apply()  # this worker at once; the others within half a second
        return web.Response(status=202)

    async def resume(self, request: web.Request) -> web.Response:
        view = self.view(request)
        self.cluster.request(view.name, paused=False)
        self.cluster.apply()
        return web.Response(status=202)

    async def restart(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(view, self.cluster.workers(), self.paused(view.name))
        only_failed = request.query.get("onlyFailed", "false").lower() == "true"
        include_tasks = request.query.get("includeTasks", "false").lower() == "true"
        failed = any(t["state"] == "FAILED" for t in status["tasks"])
        if failed or not only_failed:
            self.cluster.request(view.name, restart=True)
        if not (include_tasks or only_failed):
            return web.Response(status=204)
        for task in status["tasks"]:
            if task["state"] == "FAILED" or not only_failed:
                task["state"] = "RESTARTING"
        return web.json_response(status, status=202)

    async def restart_task(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(view, self.cluster.workers(), self.paused(view.name))
        if not any(str(t["id"]) == request.match_info["task"] for t in status["tasks"]):
            return _error(404, f"Unknown task {view.name}-{request.match_info['task']}")
        self.cluster.request(view.name, restart=True)
        return web.Response(status=204)

    async def plugins(self, request: web.Request) -> web.Response:
        from streamapp import __version__
        from streamapp.core.registry import registered

        return web.json_response(
            [{"class": t.class_name, "type": t.kind, "version": __version__} for t in registered()]
        )

    async def declarative(self, request: web.Request) -> web.Response:
        return _error(405, DECLARATIVE)

    async def create(self, request: web.Request) -> web.Response:
        try:
            name = (await request.json()).get("name")
        except Exception:  # noqa: BLE001 -- any body: the answer is the same
            name = None
        if name and any(v.name == name for v in self.views()):
            return _error(409, f"Connector {name} already exists. {DECLARATIVE}")
        return _error(405, DECLARATIVE)

    # --- streamapp's own ----------------------------------------------------------------------------

    async def cluster_view(self, request: web.Request) -> web.Response:
        """Everything ``streamapp status`` shows: per worker snapshots and Connect statuses."""
        workers = self.cluster.workers()
        connectors = {}
        for view in self.views():
            connectors[view.name] = shapes.connector_status(view, workers, self.paused(view.name))
        return web.json_response({"worker_id": self.cluster.worker_id, "connectors": connectors, "workers": workers})

    async def livez(self, request: web.Request) -> web.Response:
        status, body = health.liveness(self.app, self.sensor, self.settings.health_rebalance_stuck)
        return web.json_response(body, status=status)

    async def readyz(self, request: web.Request) -> web.Response:
        status, body = health.readiness(self.app, self.sensor, self.cluster)
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=render(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _json_text(value: str) -> str:
    import json

    return json.dumps(value)[1:-1]


def add_routes(router: web.UrlDispatcher, api: ConnectApi) -> None:
    c = "/connectors/{name}"
    router.add_get("/", api.root)
    router.add_get("/livez", api.livez)
    router.add_get("/readyz", api.readyz)
    router.add_get("/metrics", api.metrics)
    router.add_get("/streamapp/status", api.cluster_view)
    router.add_get("/connector-plugins", api.plugins)
    router.add_get("/connector-plugins/", api.plugins)
    router.add_put("/connector-plugins/{plugin}/config/validate", api.declarative)
    router.add_get("/connectors", api.list_connectors)
    router.add_get("/connectors/", api.list_connectors)
    router.add_post("/connectors", api.create)
    router.add_post("/connectors/", api.create)
    router.add_get(c, api.get_connector)
    router.add_delete(c, api.declarative)
    router.add_get(c + "/config", api.get_config)
    router.add_put(c + "/config", api.declarative)
    router.add_patch(c + "/config", api.declarative)
    router.add_get(c + "/status", api.get_status)
    router.add_get(c + "/tasks", api.get_tasks)
    router.add_get(c + "/tasks/{task}/status", api.get_task_status)
    router.add_post(c + "/tasks/{task}/restart", api.restart_task)
    router.add_get(c + "/topics", api.get_topics)
    router.add_put(c + "/topics/reset", api.declarative)
    router.add_get(c + "/offsets", api.get_offsets)
    router.add_patch(c + "/offsets", api.declarative)
    router.add_delete(c + "/offsets", api.declarative)
    router.add_put(c + "/pause", api.pause)
    router.add_put(c + "/resume", api.resume)
    router.add_put(c + "/stop", api.declarative)
    router.add_post(c + "/restart", api.restart)
