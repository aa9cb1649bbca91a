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

from streamapp.config.store import StoreUnavailable, TargetState
from streamapp.core import registry

from . import connect_offsets, connect_validate, health
from . import connect_shapes as shapes
from .kafka_admin import KafkaAdmin
from .metrics import CONTENT_TYPE_LATEST, render

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamapp.config.loader import LoadedConnector
    from streamapp.worker import Worker

    from .cluster_status import ClusterStatus

__all__ = ["ConnectApi", "add_routes", "connect_errors"]

logger = logging.getLogger(__name__)

_INITIAL_STATES: dict[str, TargetState] = {"RUNNING": "STARTED", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}


class ApiError(Exception):
    """An answer in Connect's error shape: ``{"error_code": status, "message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error_code": status, "message": message}, status=status)


@web.middleware
async def connect_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.message)
    except connect_offsets.OffsetsError as exc:
        return _error(exc.status, exc.message)
    except StoreUnavailable as exc:
        return _error(503, f"The config topic is not available: {exc}")


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from None


class ConnectApi:
    def __init__(
        self, worker: Worker, cluster: ClusterStatus, sensor: health.HealthSensor, registry: CollectorRegistry
    ) -> None:
        self.worker = worker
        self.app = worker.app
        self.settings = worker.settings
        self.herder = worker.herder
        self.store = worker.herder.store
        self.cluster = cluster
        self.sensor = sensor
        self.registry = registry
        self.admin = KafkaAdmin(worker.settings)

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
            views.append(_broken_view(broken))
        return sorted(views, key=lambda v: v.name)

    def view(self, request: web.Request) -> shapes.ConnectorView:
        name = request.match_info["name"]
        for view in self.views():
            if view.name == name:
                return view
        raise ApiError(404, f"Connector {name} not found")

    def loaded(self, name: str) -> LoadedConnector:
        for loaded in self.worker.loaded:
            if loaded.name == name:
                return loaded
        raise ApiError(404, f"Connector {name} not found")

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
            cluster_id = await self.admin.cluster_id()
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
        loaded = self.loaded(request.match_info["name"])
        offsets = await connect_offsets.read_offsets(self.worker, self.admin, loaded)
        return web.json_response({"offsets": offsets})

    async def plugins(self, request: web.Request) -> web.Response:
        from streamapp import __version__

        return web.json_response(
            [{"class": t.class_name, "type": t.kind, "version": __version__} for t in registry.registered()]
        )

    # --- Connect paths: target states ---------------------------------------------------------------

    async def _set_target(self, request: web.Request, state: TargetState) -> str:
        name = self.view(request).name
        await self.store.put_target(self.app.producer, name, state)
        self.herder.wake()
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

    # --- Connect paths: creating, changing, deleting ------------------------------------------------

    def _refuse_file(self, name: str, what: str) -> None:
        loaded = self.herder.defined_by_file(name)
        if loaded is not None:
            raise ApiError(
                409,
                f"Connector {name} is defined by the file {loaded.source} (STREAMAPP_CONNECTORS) and cannot be "
                f"{what} through the REST API: change the file and restart the workers (a rolling restart)",
            )

    def _validated(self, config: dict[str, Any]) -> connect_validate.Validation:
        class_name = config.get("connector.class")
        if not isinstance(class_name, str) or not class_name.strip():
            raise ApiError(400, "Connector config contains no connector type: 'connector.class' is missing")
        try:
            registry.lookup(class_name)
        except registry.UnknownConnectorClass as exc:
            raise ApiError(400, str(exc)) from None
        validation = connect_validate.validate(config)
        if validation.errors:
            raise ApiError(400, connect_validate.invalid_message(validation.errors))
        assert validation.loaded is not None
        plain = connect_validate.plain_secrets(validation.loaded, config)
        if plain:
            logger.warning(
                "connector %r: %s given in plain text through the REST API; it is stored as given in the config "
                "topic %s. Prefer a config provider: ${env:NAME}, ${file:/path:key} or ${directory:/dir:file}",
                validation.loaded.name,
                ", ".join(plain),
                self.store.topic,
            )
        return validation

    def _info(self, name: str, config: dict[str, Any], kind: str) -> dict[str, Any]:
        masked = _masked(config)
        return {"name": name, "config": {**masked, "name": name}, "tasks": [], "type": kind}

    async def create(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise ApiError(400, 'The request body must be {"name": ..., "config": {...}}')
        name = str(body.get("name") or "").strip()
        config = dict(body["config"])
        _put_name(config, name)
        initial = body.get("initial_state")
        target = None
        if initial is not None:
            target = _INITIAL_STATES.get(str(initial).upper())
            if target is None:
                raise ApiError(400, f"initial_state must be one of RUNNING, PAUSED, STOPPED (got {initial!r})")
        await self.store.catch_up()
        if name and (name in self.store.connectors or self.herder.defined_by_file(name) is not None):
            raise ApiError(409, f"Connector {name} already exists")
        validation = self._validated(config)
        await self.store.put_connector(self.app.producer, name, config, target)
        self.herder.wake()
        return web.json_response(
            self._info(name, config, validation.connector_type.kind),
            status=201,
            headers={"Location": f"/connectors/{name}"},
        )

    async def put_config(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        config = await _json_body(request)
        if not isinstance(config, dict):
            raise ApiError(400, "The request body must be the connector config: a JSON object of keys and values")
        config = dict(config)
        _put_name(config, name)
        self._refuse_file(name, "changed")
        await self.store.catch_up()
        validation = self._validated(config)
        created = name not in self.store.connectors
        await self.store.put_connector(self.app.producer, name, config)
        self.herder.wake()
        response = self._info(name, config, validation.connector_type.kind)
        if created:
            return web.json_response(response, status=201, headers={"Location": f"/connectors/{name}"})
        return web.json_response(response)

    async def delete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self._refuse_file(name, "deleted")
        await self.store.catch_up()
        if name not in self.store.connectors:
            raise ApiError(404, f"Connector {name} not found")
        await self.store.delete_connector(self.app.producer, name)
        self.herder.wake()
        return web.Response(status=204)

    async def validate(self, request: web.Request) -> web.Response:
        plugin = request.match_info["plugin"]
        config = await _json_body(request)
        if not isinstance(config, dict):
            raise ApiError(400, "The request body must be the connector config: a JSON object of keys and values")
        try:
            plugin_type = registry.lookup(plugin)
        except registry.UnknownConnectorClass as exc:
            raise ApiError(404, f"Unknown plugin {plugin}. {exc}") from None
        class_name = config.get("connector.class")
        if not isinstance(class_name, str) or not class_name.strip():
            raise ApiError(400, "Connector config contains no connector type: 'connector.class' is missing")
        try:
            included = registry.lookup(class_name)
        except registry.UnknownConnectorClass as exc:
            raise ApiError(400, str(exc)) from None
        if included is not plugin_type:
            raise ApiError(400, f"Included connector type {class_name} does not match request type {plugin}")
        return web.json_response(connect_validate.config_infos(connect_validate.validate(config)))

    async def alter_offsets(self, request: web.Request) -> web.Response:
        loaded = self.loaded(request.match_info["name"])
        body = await _json_body(request)
        entries = body.get("offsets") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ApiError(400, "Partitions / offsets need to be provided for an alter offsets request")
        message = await connect_offsets.alter_offsets(self.worker, self.admin, loaded, entries)
        return web.json_response({"message": message})

    async def reset_offsets(self, request: web.Request) -> web.Response:
        loaded = self.loaded(request.match_info["name"])
        message = await connect_offsets.alter_offsets(self.worker, self.admin, loaded, None)
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


def _put_name(config: dict[str, Any], name: str) -> None:
    """Connect's checkAndPutConnectorConfigName: a name in the config must be the connector's."""
    included = config.get("name")
    if included is not None and str(included) != name:
        raise ApiError(
            400, f"Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        )
    config["name"] = name


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    """A config as given, with every password hidden (by its type where known, else by its name)."""
    from streamapp.config.loader import looks_secret
    from streamapp.config.types import HIDDEN

    secret: set[str] = set()
    try:
        ctype = registry.lookup(str(config.get("connector.class", "")))
        secret = ctype.config_model.secret_keys()
    except registry.UnknownConnectorClass:
        pass
    return {k: (HIDDEN if k in secret or looks_secret(k) else v) for k, v in config.items()}


def _broken_view(broken: Any) -> shapes.ConnectorView:
    try:
        ctype = registry.lookup(str(broken.config.get("connector.class", "")))
        kind, class_name = ctype.kind, ctype.class_name
    except registry.UnknownConnectorClass:
        kind, class_name = "sink", str(broken.config.get("connector.class", ""))
    return shapes.ConnectorView(
        name=broken.name,
        kind=kind,
        class_name=class_name,
        config={k: str(v) for k, v in _masked(broken.config).items()},
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
