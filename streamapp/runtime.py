"""Connectors running in this worker: loading them from the settings and installing them on the app."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from .config.loader import LoadedConnector, load_connectors

if TYPE_CHECKING:
    import faust

    from .settings import WorkerSettings

__all__ = ["install_connectors", "installed_connectors"]

logger = logging.getLogger(__name__)

_installed: list[LoadedConnector] = []


def installed_connectors() -> list[LoadedConnector]:
    return list(_installed)


def install_connectors(app: "faust.App", settings: "WorkerSettings") -> list[LoadedConnector]:
    """Load every connector config and install the implemented ones; exit 2 on any config error."""
    import streamapp.connectors  # noqa: F401  (registers the connector types)

    connectors, errors = load_connectors(settings.connector_paths)
    if errors:
        print(
            f"streamapp: {len(errors)} connector configuration error(s) in {settings.connectors}:",
            file=sys.stderr,
        )
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        print("Fix them (streamapp check-config PATH shows all problems) and start the worker again.", file=sys.stderr)
        raise SystemExit(2)
    if not connectors:
        logger.warning(
            "no connector configs found in %s (STREAMAPP_CONNECTORS); the worker is idle", settings.connectors
        )
    for connector in connectors:
        ctype = connector.type
        if ctype.implementation is None:
            logger.warning(
                "connector %r (%s, from %s) is not implemented yet in this version of streamapp: "
                "its configuration is valid, but it will not run",
                connector.name,
                ctype.class_name,
                connector.source,
            )
            continue
        ctype.implementation(app, connector, settings)
        logger.info("connector %r (%s) installed from %s", connector.name, ctype.name, connector.source)
        _installed.append(connector)
    return connectors
