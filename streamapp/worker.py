"""The runtime of one worker process: its Faust app, settings, connectors and shared tables.

One :class:`Worker` is built with the app (:func:`streamapp.application.create_app`) and owns
everything the worker runs; nothing is kept in module-level state. Connectors are loaded and
installed when a Faust command initialises the worker (Faust does that more than once per command:
the root command, then the subcommand; the second time changes nothing).

Source connectors run on one worker each, placed by :class:`~.core.source_placement.SourcePlacement`.

Shared tables are Faust GlobalTables with one changelog partition: every worker holds all of
each, and writes go through the producer's partitioner, so any worker may write from outside a
stream event (delivery callbacks, timers). They hold the delivered offsets, the sources'
fingerprints, and the cluster status and control records.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config.loader import LoadedConnector, load_connectors
from .core.source_placement import SourcePlacement
from .errors import RequestRefused

if TYPE_CHECKING:
    import faust

    from .core.contract import Connector
    from .settings import WorkerSettings

__all__ = ["DELIVERED_OFFSETS_TABLE", "RequestRefused", "Worker"]  # RequestRefused: what ops answers

logger = logging.getLogger(__name__)

DELIVERED_OFFSETS_TABLE = "streamapp-delivered-offsets"


class Worker:
    def __init__(self, app: faust.App, settings: WorkerSettings) -> None:
        self.app = app
        self.settings = settings
        self.loaded: list[LoadedConnector] = []
        self.connectors: dict[str, Connector] = {}
        self._tables: dict[str, Any] = {}
        self._installed = False
        # Set by streamapp.ops when metrics are installed: (connector, seconds) per confirmed delivery.
        self.observe_delivery: Callable[[str, float], None] = lambda connector, seconds: None
        # Which worker runs each source connector (sources add themselves when installed).
        self.placement = SourcePlacement(self)
        self.delivered_offsets = self.table(
            DELIVERED_OFFSETS_TABLE,
            value_type=int,
            help="Last offset confirmed delivered per connector and topic-partition.",
        )
        from .herder import Herder

        self.herder = Herder(self)  # the connectors that run here, started and stopped at runtime

    def table(self, name: str, *, value_type: type, help: str) -> Any:
        """The shared table ``name``, created on first use (before the worker starts)."""
        table = self._tables.get(name)
        if table is None:
            # recovery_buffer_size=1: the worker that owns the changelog partition reads it as an
            # active one, whose records Faust applies in batches of this size, also after recovery
            # (GlobalTable gives standbys 1, not actives). With the default 1000, a pause written
            # by another worker reached the owner 1000 table writes later, in practice never.
            table = self._tables[name] = self.app.GlobalTable(
                name,
                key_type=str,
                value_type=value_type,
                partitions=1,
                use_partitioner=True,
                recovery_buffer_size=1,
                help=help,
            )
        return table

    def install_connectors(self) -> list[LoadedConnector]:
        """Load every connector config and install the implemented ones; exit 2 on any config error."""
        import streamapp.connector_types  # noqa: F401  (registers the connector types)

        if self._installed:
            return self.loaded
        settings = self.settings
        connectors, errors = load_connectors(settings.connector_paths)
        if errors:
            print(
                f"streamapp: {len(errors)} connector configuration error(s) in {settings.connectors}:", file=sys.stderr
            )
            for error in errors:
                print(f"  {error}", file=sys.stderr)
            print(
                "Fix them (streamapp check-config PATH shows every problem) and start the worker again.",
                file=sys.stderr,
            )
            raise SystemExit(2)
        # --- connectors from files and from the config topic (REST API): see streamapp.herder ---
        self.herder.install_initial(connectors)
        self._installed = True

        @self.app.task
        async def _report_connectors() -> None:
            # Logged once the worker runs, so the lines go through Faust's log configuration.
            if not self.loaded:
                logger.warning(
                    "no connector configs in %s (STREAMAPP_CONNECTORS) nor in the config topic: the worker is idle",
                    settings.connectors,
                )
            for loaded in self.loaded:
                if self.herder.target(loaded.name) == "STOPPED":
                    logger.info("connector %r (%s, from %s) is STOPPED", loaded.name, loaded.type.name, loaded.source)
                elif loaded.implemented:
                    logger.info("connector %r (%s) running, from %s", loaded.name, loaded.type.name, loaded.source)
                else:
                    logger.warning(
                        "connector %r (%s, from %s) is not implemented yet in this version of streamapp: "
                        "its configuration is valid, but it does not run",
                        loaded.name,
                        loaded.type.class_name,
                        loaded.source,
                    )

        return connectors
