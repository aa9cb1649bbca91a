"""Operating the workers: health probes, Prometheus metrics and a Kafka Connect-compatible REST API.

All of it is served by Faust's own web server (aiohttp driver) on ``STREAMAPP_WEB_PORT``; see
``install_ops``. The modules: ``cluster_status`` (shared status and control tables), ``health``,
``metrics``, ``connect_shapes`` (Connect's JSON documents), ``connect_api`` (routes), ``auth``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .auth import auth_middleware
from .cluster_status import ClusterStatus
from .connect_api import ConnectApi, add_routes, connect_errors
from .health import HealthSensor
from .metrics import install_metrics

if TYPE_CHECKING:
    from streamapp.worker import Worker

__all__ = ["install_ops"]


def install_ops(worker: Worker) -> ClusterStatus:
    """Add the tables, timers, sensors and routes; call before the worker starts (routes are
    added before Faust's own, so ``GET /`` is Connect's version document, not Faust's index)."""
    app, settings = worker.app, worker.settings
    cluster = ClusterStatus(worker, settings.status_interval)
    cluster.install()
    sensor = HealthSensor(cluster)
    app.sensors.add(sensor)
    registry = install_metrics(worker, cluster.local_snapshot)
    web_app = app.web.web_app
    web_app.middlewares.append(
        auth_middleware(
            settings.api_token.get_secret_value() if settings.api_token else None,
            settings.api_username,
            settings.api_password.get_secret_value() if settings.api_password else None,
        )
    )
    web_app.middlewares.append(connect_errors)  # Connect's error shape for every error a handler raises
    api = ConnectApi(worker, cluster, sensor, registry)
    add_routes(web_app.router, api)

    @app.on_before_shutdown.connect
    async def _close_admin(sender: object, **_: object) -> None:
        await worker.herder.admin.close()

    return cluster
