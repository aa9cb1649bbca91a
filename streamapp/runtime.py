"""Connectors running in this worker: loading them from the settings and installing them on the app."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from .config.loader import LoadedConnector, load_connectors

if TYPE_CHECKING:
    import faust

    from .settings import WorkerSettings

__all__ = ["connector_instances", "install_connectors", "loaded_connectors"]

logger = logging.getLogger(__name__)

# Per app: Faust initialises the worker more than once per command (root command, then the
# subcommand), and installing agents twice would consume every record twice.
_loaded: dict[int, list[LoadedConnector]] = {}
_instances: dict[int, dict[str, Any]] = {}  # per app: running connector objects by name (status, health, pause)


def loaded_connectors(app: "faust.App") -> list[LoadedConnector]:
    return list(_loaded.get(id(app), []))


def connector_instances(app: "faust.App") -> dict[str, Any]:
    return dict(_instances.get(id(app), {}))


def install_connectors(app: "faust.App", settings: "WorkerSettings") -> list[LoadedConnector]:
    """Load every connector config and install the implemented ones; exit 2 on any config error."""
    import streamapp.connectors  # noqa: F401  (registers the connector types)

    if id(app) in _loaded:
        return _loaded[id(app)]
    connectors, errors = load_connectors(settings.connector_paths)
    if errors:
        print(f"streamapp: {len(errors)} connector configuration error(s) in {settings.connectors}:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        print("Fix them (streamapp check-config PATH shows every problem) and start the worker again.", file=sys.stderr)
        raise SystemExit(2)
    instances = _instances.setdefault(id(app), {})
    for connector in connectors:
        if connector.implemented:
            instances[connector.name] = connector.type.implementation(app, connector, settings)
    _loaded[id(app)] = connectors

    @app.task
    async def _report_connectors() -> None:
        # Logged once the worker runs, so the lines go through Faust's log configuration.
        if not connectors:
            logger.warning("no connector configs in %s (STREAMAPP_CONNECTORS): the worker is idle", settings.connectors)
        for connector in connectors:
            if connector.implemented:
                logger.info("connector %r (%s) running, from %s", connector.name, connector.type.name, connector.source)
            else:
                logger.warning(
                    "connector %r (%s, from %s) is not implemented yet in this version of streamapp: "
                    "its configuration is valid, but it does not run",
                    connector.name,
                    connector.type.class_name,
                    connector.source,
                )

    return connectors
