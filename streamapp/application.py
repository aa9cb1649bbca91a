"""The Faust application, built from the worker settings.

Connectors are installed when a Faust command initialises the worker (``on_worker_init``), not
at import, so importing the app stays side-effect free. A configuration error stops the worker
before it joins the consumer group, with every error listed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import NoReturn

import faust
from pydantic import ValidationError

from . import faust_workarounds
from .kafka_preflight import BrokerMisconfigured, check_broker
from .ops import install_ops
from .settings import WorkerSettings, load_settings
from .worker import Worker

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


def _exit(line: str) -> NoReturn:
    print(f"streamapp: {line}", file=sys.stderr)
    raise SystemExit(2)


def _check_broker_or_exit(settings: WorkerSettings) -> None:
    """Fail fast, in one line, when the Kafka settings cannot work (see streamapp.kafka_preflight)."""
    loop = asyncio.new_event_loop()  # Faust's loop is not running yet; leave the default loop alone
    try:
        loop.run_until_complete(check_broker(settings))
    except BrokerMisconfigured as exc:
        _exit(str(exc))
    finally:
        loop.close()


def create_app(settings: WorkerSettings) -> faust.App:
    logging.getLogger("diffusion").setLevel(settings.diffusion_sdk_log_level)
    try:
        credentials = settings.broker_credentials()
    except ValueError as exc:
        _exit(str(exc))
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=credentials,
        store=settings.store,
        datadir=settings.datadir,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        broker_session_timeout=settings.broker_session_timeout,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        consumer_group_instance_id=settings.group_instance_id,
        autodiscover=False,
    )

    faust_workarounds.install(app, fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms)
    worker = Worker(app, settings)
    install_ops(worker)  # before Faust adds its own routes at worker init

    @app.on_rebalance_complete.connect
    async def _freeze_startup_objects(sender: faust.App, **_: object) -> None:
        # The modules, Faust, the SDK's serialisers and the connectors' set-up are ~1M objects that
        # live as long as the worker; every full collection walked them all (60-80 ms pauses every
        # second or so under load: the Diffusion sink's p99 latency). Once the worker is up, collect
        # what is garbage and move the rest out of the collector's sight (gc.freeze, meant for this).
        if not gc.get_freeze_count():
            gc.collect()
            gc.freeze()
            logger.info("%d long-lived objects frozen out of garbage collection", gc.get_freeze_count())

    checked = False

    @app.on_worker_init.connect
    def _install(sender: faust.App, **_: object) -> None:
        nonlocal checked
        if not checked:  # Faust initialises the worker more than once per command
            checked = True
            _check_broker_or_exit(settings)
        worker.install_connectors()

    return app


settings = _settings_or_exit()
app = create_app(settings)
