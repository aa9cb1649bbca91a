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

The herder also carries out the REST API's requests (create, change, delete, target states,
validate, offsets), as Connect's herder does: the API layer (:mod:`streamapp.ops`) only maps them
to routes, and each refusal is a :class:`~streamapp.errors.RequestRefused` with Connect's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import connector_offsets, faust_workarounds
from .config import validate as validation
from .config.files import RawConnectorConfig
from .config.loader import LoadedConnector, load_connector
from .config.store import ConfigStore, StoreUnavailable, TargetState
from .core import registry
from .errors import ConfigErrors, RequestRefused
from .kafka_admin import KafkaAdmin

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["API_SOURCE", "Herder", "Broken"]

logger = logging.getLogger(__name__)

API_SOURCE = "REST API"  # LoadedConnector.source of connectors from the config topic
INITIAL_STATES: dict[str, TargetState] = {"RUNNING": "STARTED", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}
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
        self.admin = KafkaAdmin(worker.settings)  # the cluster id, partitions and the group's offsets
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
        await self.worker.placement.remove(name)  # a source: its Diffusion session and slot
        await faust_workarounds.stop(self.app, installed)
        # What it recorded last (delivered offsets, fingerprints) is in Kafka before this worker
        # counts it stopped: an offsets change waits for that, and must not be overwritten by it.
        await self.app.producer.flush()
        logger.info("connector %r %s: its agents and clients are stopped here", name, why)

    # --- requests (the Connect REST API's: create, change, delete, validate, offsets) ---------------
    # Each raises RequestRefused with Connect's status and message; nothing returned holds a password.

    def masked(self, config: dict[str, Any]) -> dict[str, Any]:
        return validation.masked(config)

    def connector(self, name: str) -> LoadedConnector:
        for loaded in self.worker.loaded:
            if loaded.name == name:
                return loaded
        raise RequestRefused(404, f"Connector {name} not found")

    def _refuse_file(self, name: str, what: str) -> None:
        loaded = self.files.get(name)
        if loaded is not None:
            raise RequestRefused(
                409,
                f"Connector {name} is defined by the file {loaded.source} (STREAMAPP_CONNECTORS) and cannot be "
                f"{what} through the REST API: change the file and restart the workers (a rolling restart)",
            )

    def _validated(self, config: dict[str, Any]) -> validation.Validation:
        class_name = config.get("connector.class")
        if not isinstance(class_name, str) or not class_name.strip():
            raise RequestRefused(400, "Connector config contains no connector type: 'connector.class' is missing")
        try:
            registry.lookup(class_name)
        except registry.UnknownConnectorClass as exc:
            raise RequestRefused(400, str(exc)) from None
        checked = validation.validate(config)
        if checked.errors:
            raise RequestRefused(400, validation.invalid_message(checked.errors))
        assert checked.loaded is not None
        plain = validation.plain_secrets(checked.loaded, config)
        if plain:
            logger.warning(
                "connector %r: %s given in plain text through the REST API; it is stored as given in the config "
                "topic %s. Prefer a config provider: ${env:NAME}, ${file:/path:key} or ${directory:/dir:file}",
                checked.loaded.name,
                ", ".join(plain),
                self.store.topic,
            )
        return checked

    def _info(self, name: str, config: dict[str, Any], kind: str) -> dict[str, Any]:
        return {"name": name, "config": {**self.masked(config), "name": name}, "tasks": [], "type": kind}

    def _applied(self) -> None:
        """After a write: this worker's answers show it at once (read your writes); the connectors
        start or stop at the next reconciliation, woken now."""
        self._load_api()
        self.wake()

    @contextlib.contextmanager
    def _store_call(self) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable as exc:
            raise RequestRefused(503, f"The config topic is not available: {exc}") from None

    async def create_connector(self, name: str, config: dict[str, Any], initial_state: Any = None) -> dict[str, Any]:
        """``POST /connectors``: Connect's ConnectorInfo of the new connector."""
        config = _with_name(config, name)
        target = None
        if initial_state is not None:
            target = INITIAL_STATES.get(str(initial_state).upper())
            if target is None:
                raise RequestRefused(
                    400, f"initial_state must be one of RUNNING, PAUSED, STOPPED (got {initial_state!r})"
                )
        with self._store_call():
            await self.store.catch_up()
            if name and (name in self.store.connectors or name in self.files):
                raise RequestRefused(409, f"Connector {name} already exists")
            checked = self._validated(config)
            await self.store.put_connector(self.app.producer, name, config, target)
        self._applied()
        return self._info(name, config, checked.connector_type.kind)

    async def put_connector_config(self, name: str, config: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """``PUT /connectors/{name}/config``: (created, ConnectorInfo)."""
        config = _with_name(config, name)
        self._refuse_file(name, "changed")
        with self._store_call():
            await self.store.catch_up()
            checked = self._validated(config)
            created = name not in self.store.connectors
            await self.store.put_connector(self.app.producer, name, config)
        self._applied()
        return created, self._info(name, config, checked.connector_type.kind)

    async def delete_connector(self, name: str) -> None:
        self._refuse_file(name, "deleted")
        with self._store_call():
            await self.store.catch_up()
            if name not in self.store.connectors:
                raise RequestRefused(404, f"Connector {name} not found")
            await self.store.delete_connector(self.app.producer, name)
        self._applied()

    async def set_target(self, name: str, state: TargetState) -> None:
        """Pause, resume or stop, for file and API connectors alike (the target state is in the config topic)."""
        with self._store_call():
            await self.store.put_target(self.app.producer, name, state)
        self.wake()

    def validate(self, plugin: str, config: dict[str, Any]) -> dict[str, Any]:
        """``PUT /connector-plugins/{plugin}/config/validate``: Connect's ConfigInfos."""
        try:
            plugin_type = registry.lookup(plugin)
        except registry.UnknownConnectorClass as exc:
            raise RequestRefused(404, f"Unknown plugin {plugin}. {exc}") from None
        class_name = config.get("connector.class")
        if not isinstance(class_name, str) or not class_name.strip():
            raise RequestRefused(400, "Connector config contains no connector type: 'connector.class' is missing")
        try:
            included = registry.lookup(class_name)
        except registry.UnknownConnectorClass as exc:
            raise RequestRefused(400, str(exc)) from None
        if included is not plugin_type:
            raise RequestRefused(400, f"Included connector type {class_name} does not match request type {plugin}")
        return validation.config_infos(validation.validate(config))

    async def offsets(self, name: str) -> list[dict[str, Any]]:
        return await connector_offsets.read_offsets(self.worker, self.admin, self.connector(name))

    async def alter_offsets(self, name: str, entries: list[Any] | None) -> str:
        """``PATCH`` (``entries``) or ``DELETE`` (None) of the offsets; Connect's message."""
        return await connector_offsets.alter_offsets(self.worker, self.admin, self.connector(name), entries)


def _with_name(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Connect's checkAndPutConnectorConfigName: a name in the config must be the connector's."""
    included = config.get("name")
    if included is not None and str(included) != name:
        raise RequestRefused(
            400, f"Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        )
    return {**config, "name": name}
