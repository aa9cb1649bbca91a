"""Kafka Connect's REST API on the worker's web port, for the whole cluster, plus probes and metrics.

Read paths answer from the cluster status tables (see cluster_status), so any worker answers for
all of them. Connectors created, changed or deleted here, and every connector's target state
(pause, resume, stop), are written to the config topic (:mod:`streamapp.config.store`) that every
worker follows (:mod:`streamapp.herder`); restarts go to the control table. Connectors defined
in files stay declarative: changing or deleting them here is refused (409).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

import streamapp.core.registry as connector_types
from streamapp.worker import RequestRefused

from . import connect_shapes as shapes
from . import health
from .metrics import CONTENT_TYPE_LATEST, render

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamapp.worker import Worker

    from .cluster_status import ClusterStatus

__all__ = ["ConnectApi", "add_routes", "connect_errors"]

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error_code": status, "message": message}, status=status)


@web.middleware
async def connect_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestRefused as exc:
        return _error(exc.status, exc.message)


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError as exc:
        raise RequestRefused(400, f"The request body is not valid JSON: {exc}") from None


async def _config_body(request: web.Request) -> dict[str, Any]:
    config = await _json_body(request)
    if not isinstance(config, dict):
        raise RequestRefused(400, "The request body must be the connector config: a JSON object of keys and values")
    return config


class ConnectApi:
    def __init__(
        self, worker: Worker, cluster: ClusterStatus, sensor: health.HealthSensor, registry: CollectorRegistry
    ) -> None:
        self.worker = worker
        self.app = worker.app
        self.settings = worker.settings
        self.herder = worker.herder
        self.cluster = cluster
        self.sensor = sensor
        self.registry = registry

    # --- helpers ------------------------------------------------------------------------------------

    def views(self) -> list[shapes.ConnectorView]:
        views = [
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
        for broken in self.herder.broken.values():
            views.append(_broken_view(broken, self.herder.masked(broken.config)))
        return sorted(views, key=lambda v: v.name)

    def view(self, request: web.Request) -> shapes.ConnectorView:
        name = request.match_info["name"]
        for view in self.views():
            if view.name == name:
                return view
        raise RequestRefused(404, f"Connector {name} not found")

    def paused(self, name: str) -> bool:
        return self.cluster.target(name)["paused"]

    def stopped(self, name: str) -> bool:
        return self.herder.target(name) == "STOPPED"

    def _state_args(self, view: shapes.ConnectorView) -> tuple[Any, ...]:
        return view, self.cluster.workers(), self.paused(view.name), self.stopped(view.name)

    # --- Connect paths: reading ---------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        from streamapp import __version__

        try:
            cluster_id = await self.herder.admin.cluster_id()
        except Exception as exc:  # noqa: BLE001 -- Kafka unreachable: say so, keep answering
            logger.warning("cannot read the Kafka cluster id: %s", exc)
            cluster_id = None
        return web.json_response({"version": __version__, "commit": "", "kafka_cluster_id": cluster_id})

    async def list_connectors(self, request: web.Request) -> web.Response:
        views = self.views()
        expand = request.query.getall("expand", [])
        if not expand:
            return web.json_response([v.name for v in views])
        paused = {v.name: self.paused(v.name) for v in views}
        stopped = {v.name: self.stopped(v.name) for v in views}
        return web.json_response(shapes.expanded(views, self.cluster.workers(), paused, expand, stopped))

    async def get_connector(self, request: web.Request) -> web.Response:
        return web.json_response(shapes.connector_info(*self._state_args(self.view(request))))

    async def get_config(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response({**view.config, "name": view.name})

    async def get_status(self, request: web.Request) -> web.Response:
        return web.json_response(shapes.connector_status(*self._state_args(self.view(request))))

    async def get_tasks(self, request: web.Request) -> web.Response:
        return web.json_response(shapes.connector_tasks(*self._state_args(self.view(request))))

    async def get_task_status(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(*self._state_args(view))
        for task in status["tasks"]:
            if str(task["id"]) == request.match_info["task"]:
                return web.json_response(task)
        return _error(404, f"Unknown task {view.name}-{request.match_info['task']}")

    async def get_topics(self, request: web.Request) -> web.Response:
        view = self.view(request)
        return web.json_response(shapes.connector_topics(view, self.cluster.workers()))

    async def get_offsets(self, request: web.Request) -> web.Response:
        return web.json_response({"offsets": await self.herder.offsets(request.match_info["name"])})

    async def plugins(self, request: web.Request) -> web.Response:
        from streamapp import __version__

        return web.json_response(
            [{"class": t.class_name, "type": t.kind, "version": __version__} for t in connector_types.registered()]
        )

    # --- Connect paths: target states ---------------------------------------------------------------

    async def _set_target(self, request: web.Request, state: str) -> str:
        name = self.view(request).name
        await self.herder.set_target(name, state)  # type: ignore[arg-type]
        self.cluster.apply()  # pause/resume on this worker at once; the others within half a second
        return name

    async def pause(self, request: web.Request) -> web.Response:
        await self._set_target(request, "PAUSED")
        return web.Response(status=202)

    async def resume(self, request: web.Request) -> web.Response:
        await self._set_target(request, "STARTED")
        return web.Response(status=202)

    async def stop(self, request: web.Request) -> web.Response:
        await self._set_target(request, "STOPPED")
        return web.Response(status=204)

    async def restart(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(*self._state_args(view))
        only_failed = request.query.get("onlyFailed", "false").lower() == "true"
        include_tasks = request.query.get("includeTasks", "false").lower() == "true"
        failed = any(t["state"] == "FAILED" for t in status["tasks"])
        if failed or not only_failed:
            self.cluster.request_restart(view.name)
        if not (include_tasks or only_failed):
            return web.Response(status=204)
        for task in status["tasks"]:
            if task["state"] == "FAILED" or not only_failed:
                task["state"] = "RESTARTING"
        return web.json_response(status, status=202)

    async def restart_task(self, request: web.Request) -> web.Response:
        view = self.view(request)
        status = shapes.connector_status(*self._state_args(view))
        if not any(str(t["id"]) == request.match_info["task"] for t in status["tasks"]):
            return _error(404, f"Unknown task {view.name}-{request.match_info['task']}")
        self.cluster.request_restart(view.name)
        return web.Response(status=204)

    async def reset_topics(self, request: web.Request) -> web.Response:
        view = self.view(request)
        self.cluster.request_topics_reset(view.name)
        self.cluster.apply()
        return web.Response(status=202)

    # --- Connect paths: creating, changing, deleting, validating, offsets (see streamapp.herder) --

    async def create(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise RequestRefused(400, 'The request body must be {"name": ..., "config": {...}}')
        name = str(body.get("name") or "").strip()
        info = await self.herder.create_connector(name, body["config"], body.get("initial_state"))
        return web.json_response(info, status=201, headers={"Location": f"/connectors/{name}"})

    async def put_config(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        created, info = await self.herder.put_connector_config(name, await _config_body(request))
        if created:
            return web.json_response(info, status=201, headers={"Location": f"/connectors/{name}"})
        return web.json_response(info)

    async def delete(self, request: web.Request) -> web.Response:
        await self.herder.delete_connector(request.match_info["name"])
        return web.Response(status=204)

    async def validate(self, request: web.Request) -> web.Response:
        config = await _config_body(request)
        return web.json_response(self.herder.validate(request.match_info["plugin"], config))

    async def alter_offsets(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        entries = body.get("offsets") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise RequestRefused(400, "Partitions / offsets need to be provided for an alter offsets request")
        message = await self.herder.alter_offsets(request.match_info["name"], entries)
        return web.json_response({"message": message})

    async def reset_offsets(self, request: web.Request) -> web.Response:
        message = await self.herder.alter_offsets(request.match_info["name"], None)
        return web.json_response({"message": message})

    # --- streamapp's own ----------------------------------------------------------------------------

    async def cluster_view(self, request: web.Request) -> web.Response:
        """Everything ``streamapp status`` shows: per worker snapshots and Connect statuses."""
        workers = self.cluster.workers()
        connectors = {}
        for view in self.views():
            connectors[view.name] = shapes.connector_status(
                view, workers, self.paused(view.name), self.stopped(view.name)
            )
        return web.json_response({"worker_id": self.cluster.worker_id, "connectors": connectors, "workers": workers})

    async def livez(self, request: web.Request) -> web.Response:
        status, body = health.liveness(self.app, self.sensor, self.settings.health_rebalance_stuck)
        return web.json_response(body, status=status)

    async def readyz(self, request: web.Request) -> web.Response:
        status, body = health.readiness(self.app, self.sensor, self.cluster)
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=render(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _broken_view(broken: Any, masked: dict[str, Any]) -> shapes.ConnectorView:
    try:
        ctype = connector_types.lookup(str(broken.config.get("connector.class", "")))
        kind, class_name = ctype.kind, ctype.class_name
    except connector_types.UnknownConnectorClass:
        kind, class_name = "sink", str(broken.config.get("connector.class", ""))
    return shapes.ConnectorView(
        name=broken.name,
        kind=kind,
        class_name=class_name,
        config={k: str(v) for k, v in masked.items()},
        trace=f"the connector's config does not load on this worker:\n{broken.errors}",
    )


def add_routes(router: web.UrlDispatcher, api: ConnectApi) -> None:
    c = "/connectors/{name}"
    router.add_get("/", api.root)
    router.add_get("/livez", api.livez)
    router.add_get("/readyz", api.readyz)
    router.add_get("/metrics", api.metrics)
    router.add_get("/streamapp/status", api.cluster_view)
    router.add_get("/connector-plugins", api.plugins)
    router.add_get("/connector-plugins/", api.plugins)
    router.add_put("/connector-plugins/{plugin}/config/validate", api.validate)
    router.add_get("/connectors", api.list_connectors)
    router.add_get("/connectors/", api.list_connectors)
    router.add_post("/connectors", api.create)
    router.add_post("/connectors/", api.create)
    router.add_get(c, api.get_connector)
    router.add_delete(c, api.delete)
    router.add_get(c + "/config", api.get_config)
    router.add_put(c + "/config", api.put_config)
    router.add_get(c + "/status", api.get_status)
    router.add_get(c + "/tasks", api.get_tasks)
    router.add_get(c + "/tasks/{task}/status", api.get_task_status)
    router.add_post(c + "/tasks/{task}/restart", api.restart_task)
    router.add_get(c + "/topics", api.get_topics)
    router.add_put(c + "/topics/reset", api.reset_topics)
    router.add_get(c + "/offsets", api.get_offsets)
    router.add_patch(c + "/offsets", api.alter_offsets)
    router.add_delete(c + "/offsets", api.reset_offsets)
    router.add_put(c + "/pause", api.pause)
    router.add_put(c + "/resume", api.resume)
    router.add_put(c + "/stop", api.stop)
    router.add_post(c + "/restart", api.restart)
