"""The worker's connectors: which should run here, started and stopped while the worker runs.

Kafka Connect calls this part of a worker its *herder*. Connectors come from two places:

* **files** (``STREAMAPP_CONNECTORS``), read when the worker starts, declarative: the REST API
  never changes or deletes them;
* **the config topic** (:mod:`streamapp.config.store`), written by the REST API, followed by every
  worker: a connector created, changed or deleted there starts, restarts or stops on every worker
  within a few seconds, without a restart.

Each connector also has a target state in the config topic (STARTED, PAUSED, STOPPED). A STOPPED
connector has nothing running: no agent, no client, no partition in the subscription.

When the worker starts, the config topic is read to its end before Faust starts, so the
connectors it holds are installed with the file connectors and the first subscription already
has their topics (no extra rebalance). While it runs, :meth:`Herder.reconcile` compares what should
run with what runs and starts or stops connectors (see ``faust_workarounds``: agents and timers
recorded from ``install()``, the subscription changed through a rebalance). A connector changed
by a new config is stopped (deliveries in flight finish, acked offsets are committed at the
rebalance) and started again with the new config from the committed offset; the delivered-offset
table keeps what was delivered since the last commit from being delivered again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import faust_workarounds
from .config.files import RawConnectorConfig
from .config.loader import LoadedConnector, load_connector
from .config.store import ConfigStore, TargetState
from .errors import ConfigErrors

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["API_SOURCE", "Herder", "Broken"]

logger = logging.getLogger(__name__)

API_SOURCE = "REST API"  # LoadedConnector.source of connectors from the config topic
# The Diffusion source's table (streamapp.diffusion.source.FINGERPRINT_TABLE): created with the
# worker, since a table created once the worker runs is never recovered.
_SOURCE_FINGERPRINTS = "streamapp-source-fingerprints"


@dataclass(frozen=True)
class Broken:
    """A connector of the config topic whose config does not load on this worker (a placeholder
    that does not resolve here, a file missing here): shown FAILED with the reasons."""

    name: str
    config: dict[str, Any]
    errors: str


class Herder:
    interval = 0.5  # s between reconciliations when nothing wakes it

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.app = worker.app
        self.store = ConfigStore(worker.settings)
        self.store.on_change = self.wake
        self.files: dict[str, LoadedConnector] = {}
        self.api: dict[str, LoadedConnector] = {}
        self.broken: dict[str, Broken] = {}
        self._api_raw: dict[str, dict[str, Any]] = {}  # the stored config each API entry was loaded from
        self._installed: dict[str, faust_workarounds.Installed] = {}
        self._running_loaded: dict[str, LoadedConnector] = {}
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        worker.table(
            _SOURCE_FINGERPRINTS,
            value_type=str,
            help="Last produced value fingerprint and sequence number per source connector and Diffusion path.",
        )

    # --- what should run ----------------------------------------------------------------------------

    def target(self, name: str) -> TargetState:
        return self.store.target(name)

    def defined_by_file(self, name: str) -> LoadedConnector | None:
        return self.files.get(name)

    def known(self, name: str) -> bool:
        return name in self.files or name in self.api or name in self.broken

    def _load_api(self) -> bool:
        """Load the config topic's connectors that are new or changed; True if anything changed."""
        changed = False
        stored = self.store.connectors
        for name in [n for n in self._api_raw if n not in stored]:
            self._api_raw.pop(name)
            self.api.pop(name, None)
            self.broken.pop(name, None)
            changed = True
        for name, entry in stored.items():
            if self._api_raw.get(name) == entry.config:
                continue
            self._api_raw[name] = dict(entry.config)
            changed = True
            self.api.pop(name, None)
            self.broken.pop(name, None)
            if name in self.files:
                logger.error(
                    "connector %r of the config topic is ignored: the file %s defines a connector of that name",
                    name,
                    self.files[name].source,
                )
                continue
            try:
                self.api[name] = load_connector(RawConnectorConfig(API_SOURCE, {**entry.config, "name": name}))
            except ConfigErrors as exc:
                text = "\n".join(str(error) for error in exc.errors)
                self.broken[name] = Broken(name, dict(entry.config), text)
                logger.error("connector %r (REST API) cannot run on this worker:\n%s", name, text)
        if changed:
            self.worker.loaded = list(self.files.values()) + list(self.api.values())
        return changed

    def _wanted(self) -> dict[str, LoadedConnector]:
        wanted = {}
        for name, loaded in [*self.files.items(), *self.api.items()]:
            if loaded.implemented and self.target(name) != "STOPPED":
                wanted[name] = loaded
        return wanted

    # --- at startup ---------------------------------------------------------------------------------

    def install_initial(self, files: list[LoadedConnector]) -> None:
        """Before Faust starts: read the config topic and install every connector that should run."""
        try:
            self.store.load()
        except Exception as exc:  # noqa: BLE001 -- the worker cannot know its connectors
            print(f"streamapp: cannot read the config topic {self.store.topic}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        self.files = {loaded.name: loaded for loaded in files}
        self.worker.loaded = list(files)
        self._load_api()
        for name, loaded in self._wanted().items():
            self._install(name, loaded)

        @self.app.task
        async def _run_herder() -> None:
            self._wake = asyncio.Event()
            self._lock = asyncio.Lock()
            for installed in self._installed.values():  # their agents Faust started; their timers are ours
                await faust_workarounds.start(self.app, installed, agents=False)
            follower = asyncio.ensure_future(self.store.follow())
            try:
                await self._reconcile_forever()
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)

    def _install(self, name: str, loaded: LoadedConnector) -> faust_workarounds.Installed:
        with faust_workarounds.recording(self.app) as installed:
            connector = loaded.type.create(self.worker, loaded)
            connector.install()
        self._installed[name] = installed
        self._running_loaded[name] = loaded
        self.worker.connectors[name] = connector
        return installed

    # --- while the worker runs ----------------------------------------------------------------------

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _reconcile_forever(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 -- the next round tries again
                logger.exception("applying connector changes failed; trying again")

    async def reconcile(self) -> None:
        """Start and stop connectors here until what runs is what should run."""
        if self._lock is None or self.app.rebalancing:
            return  # a rebalance is under way: Faust is stopping and starting the flow itself
        async with self._lock:
            self._load_api()
            wanted = self._wanted()
            for name in list(self._installed):
                if wanted.get(name) is not self._running_loaded[name]:
                    await self._stop(name, "deleted" if not self.known(name) else self._why_stopped(name))
            for name, loaded in wanted.items():
                if name not in self._installed:
                    await self._start(name, loaded)
            roots = {agent.channel for installed in self._installed.values() for agent in installed.agents}
            if faust_workarounds.subscription_stale(self.app, roots) and not self.app.rebalancing:
                faust_workarounds.resubscribe(self.app)

    def _why_stopped(self, name: str) -> str:
        return "stopped" if self.target(name) == "STOPPED" else "reconfigured"

    async def _start(self, name: str, loaded: LoadedConnector) -> None:
        installed = self._install(name, loaded)
        await faust_workarounds.start(self.app, installed)
        logger.info("connector %r (%s) started, from %s", name, loaded.type.name, loaded.source)

    async def _stop(self, name: str, why: str) -> None:
        installed = self._installed.pop(name)
        self._running_loaded.pop(name, None)
        self.worker.connectors.pop(name, None)
        await faust_workarounds.stop(self.app, installed)
        logger.info("connector %r %s: its agents and clients are stopped here", name, why)

    async def wait_applied(self, timeout: float = 30.0) -> None:
        """Wait until this worker runs what the config topic says (for REST answers that follow a change)."""
        self.wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._lock is not None and not self._lock.locked() and self._settled():
                return
            await asyncio.sleep(0.05)

    def _settled(self) -> bool:
        if set(self.store.connectors) != set(self._api_raw):
            return False
        if any(self._api_raw.get(n) != e.config for n, e in self.store.connectors.items()):
            return False
        return set(self._wanted()) == set(self._installed)
