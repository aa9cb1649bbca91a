"""The Faust application, built from the worker settings.

Connectors are installed when a Faust command initialises the worker (``on_worker_init``), not
at import, so importing the app stays side-effect free. A configuration error stops the worker
before it joins the consumer group, with every error listed.
"""

from __future__ import annotations

import logging
import sys

import faust
from pydantic import ValidationError

from . import faust_workarounds
from .ops import install_ops
from .runtime import install_connectors
from .settings import WorkerSettings, load_settings

__all__ = ["app", "settings", "create_app"]

logger = logging.getLogger(__name__)


def _settings_or_exit() -> WorkerSettings:
    try:
        return load_settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            name = "STREAMAPP_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
            lines.append(f"  {name}: {err['msg']}")
        print("streamapp: invalid worker settings:\n" + "\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None


def create_app(settings: WorkerSettings) -> faust.App:
    logging.getLogger("diffusion").setLevel(settings.diffusion_sdk_log_level)
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=settings.broker_credentials(),
        store=settings.store,
        datadir=settings.datadir,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        broker_session_timeout=settings.broker_session_timeout,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        consumer_group_instance_id=settings.group_instance_id,
        autodiscover=False,
    )

    faust_workarounds.install(app)
    install_ops(app, settings)  # before Faust adds its own routes at worker init

    @app.on_worker_init.connect
    def _install(sender: faust.App, **_: object) -> None:
        install_connectors(sender, settings)

    return app


settings = _settings_or_exit()
app = create_app(settings)
