"""Which worker runs each source connector: Kafka's group assignment decides.

**The rule.** The group's workers share a placement topic, ``<app id>-streamapp-source-placement``,
with one partition per source connector; the source connectors, sorted by name, are numbered 0,
1, 2...; connector *i* runs on the worker that holds partition *i*. Nothing is ever written to the
topic: its partitions are tokens that Kafka's group protocol hands to exactly one member each, and
hands to another member when that one leaves or is killed (after the session timeout). Faust's
assignor spreads a topic's partitions evenly over the workers, so N source connectors on W workers
run N/W per worker (rounded up or down).

Faust's assignor gives partition *i* of every topic with the same partition count to one worker
(co-partitioning). That is why each source connector is a partition of one topic and not a
topic of one partition: every single-partition topic of the app (the tables' changelogs, Faust's
leader topic) would have landed on one worker, which is how every source used to run on the group
leader. A placement topic whose partition count equals a sink topic's is co-partitioned with it:
source *i* then runs where that topic's partition *i* is read, which keeps both evenly spread.

**Hand-over.** Kafka's rebalance protocol (eager, as aiokafka speaks it) revokes every partition
from every member before it assigns any, and Faust awaits ``on_partitions_revoked`` before the
worker rejoins. So before a source can start anywhere else, the worker running it has stopped
producing, waited for Kafka's acknowledgements of what it sent, and written the fingerprints of
those records to the fingerprint table (:meth:`PlacedSource.hold`). After the rebalance a source
starts (or goes on, when it stayed) only once this worker's copies of the shared tables have
caught up with their changelogs (Faust's ``standbys_ready``), so a new owner sees the fingerprints
its predecessor wrote. A worker that kept a source goes on from its queue, nothing lost; one that
lost it closes its Diffusion session and drops its queue; the new owner's subscription replays
the current values, and the fingerprints keep unchanged ones from being produced again. A worker
killed outright (SIGKILL) hands over nothing: what it produced in the last
``fingerprint_flush_interval`` may be produced again (at least once, never lost).

**Changing the set of sources.** Every worker of the group reads the same connector files, so all
number the sources alike; a worker reads them when it starts, so a source is added or removed by
restarting the workers with the new files (as for sinks). The numbering follows the sorted names,
so adding or removing a source can move others to another slot (as Kafka Connect's rebalance of
connectors does); each move is a hand-over as above. When more sources than partitions exist, the
first worker to notice grows the topic (Kafka cannot shrink a topic: removed sources leave unused
partitions, which still count in the even spread). A source whose partition the group has not
assigned yet (Kafka's consumers notice new partitions at their next metadata refresh, at most
``consumer_metadata_max_age_ms`` later, 5 minutes by default) is not running anywhere until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from streamapp import faust_workarounds

if TYPE_CHECKING:
    from streamapp.worker import Worker

__all__ = ["PLACEMENT_TOPIC", "PlacedSource", "SourcePlacement", "slots"]

logger = logging.getLogger(__name__)

PLACEMENT_TOPIC = "streamapp-source-placement"


class PlacedSource(Protocol):
    """A source connector as the placement drives it."""

    name: str

    async def start(self) -> None:
        """Run on this worker from now on (or go on after :meth:`hold`)."""

    async def hold(self) -> None:
        """Stop producing and record what Kafka acknowledged (a rebalance began); keep the subscription."""

    async def stop(self) -> None:
        """Not on this worker any more: close the subscription, drop what is queued."""


def slots(names: Iterable[str]) -> dict[str, int]:
    """The placement partition of each source connector: its rank by name."""
    return {name: i for i, name in enumerate(sorted(names))}


class SourcePlacement:
    """One per worker: starts the source connectors whose placement partition is assigned here."""

    interval = 0.2  # s between checks of the assignment (a source starts at most this late)

    def __init__(self, worker: Worker) -> None:
        self.app = app = worker.app
        self.settings = worker.settings
        self.topic_name = f"{app.conf.id}-{PLACEMENT_TOPIC}"
        self.sources: dict[str, PlacedSource] = {}
        self._slots: dict[str, int] = {}
        self._running: set[str] = set()  # started here (running or held)
        self._topic: Any = None
        self._grown_to = 0
        self._lock = asyncio.Lock()
        app.timer(self.interval, name="streamapp.source_placement")(self.reconcile)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_before_shutdown.connect(self._on_shutdown)

    # --- the set of sources -------------------------------------------------------------------------

    def add(self, source: PlacedSource) -> None:
        """Place ``source`` with the others (when the connectors are installed, before the worker starts)."""
        self.sources[source.name] = source
        self._renumber()

    async def remove(self, name: str) -> None:
        """A source stopped or deleted while the worker runs (the REST API): stopped here if it runs
        here, and the others renumbered (every worker follows the same config topic)."""
        async with self._lock:
            source = self.sources.pop(name, None)
            if source is None:
                return
            if name in self._running:
                self._running.discard(name)
                await self._stop(source)
            self._renumber()

    def slot(self, name: str) -> int | None:
        """The placement partition of ``name`` (None for an unknown connector)."""
        return self._slots.get(name)

    def runs_here(self, name: str) -> bool:
        return name in self._running

    def _renumber(self) -> None:
        self._slots = slots(self.sources)
        count = max(1, len(self._slots))
        if self._topic is None:
            # Subscribed like Faust's own leader topic: no agent, nothing ever produced to it.
            self._topic = self.app.topic(
                self.topic_name, partitions=count, replicas=self.settings.topic_replication_factor,
                internal=True, acks=False, key_serializer="raw", value_serializer="raw",
            )  # fmt: skip
            self.app.topics.add(self._topic)
        else:
            self._topic.partitions = max(self._topic.partitions or 1, count)

    # --- following the group's assignment ------------------------------------------------------------

    def assigned_slots(self) -> set[int]:
        """The placement partitions assigned to this worker now."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 -- the consumer is not started yet
            return set()
        return {tp.partition for tp in assignment if tp.topic == self.topic_name}

    def _settled(self) -> bool:
        """Not in a rebalance, records flowing, and the shared tables caught up with their changelogs."""
        app = self.app
        try:
            return not app.rebalancing and faust_workarounds.Flow(app).active and bool(app.tables.standbys_ready)
        except Exception:  # noqa: BLE001 -- the consumer is not started yet
            return False

    async def reconcile(self) -> None:
        """Start what is assigned here, stop what is not (a timer; also safe to call directly)."""
        if not self.sources or not self._settled():
            return
        async with self._lock:
            if not self._settled():
                return
            await self._ensure_partitions()
            owned = self.assigned_slots()
            for name, slot in sorted(self._slots.items(), key=lambda item: item[1]):
                source = self.sources[name]
                if slot in owned:
                    if name not in self._running:
                        logger.info(
                            "connector %r runs on this worker (placement partition %d of %s)",
                            name,
                            slot,
                            self.topic_name,
                        )
                    self._running.add(name)
                    await source.start()  # also goes on after a hold
                elif name in self._running:
                    logger.info("connector %r moved to another worker: stopping it here", name)
                    self._running.discard(name)
                    await self._stop(source)

    async def _on_revoked(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        # Faust awaits this before the worker rejoins the group: no other worker can be running
        # these sources before they are held, with their fingerprints written.
        running = [self.sources[name] for name in self._running if name in self.sources]
        if not running:
            return
        async with self._lock:
            await asyncio.gather(*(self._hold(source) for source in running))
            with contextlib.suppress(Exception):
                await self.app.producer.flush()  # the fingerprint table's changelog records

    async def _hold(self, source: PlacedSource) -> None:
        try:
            await asyncio.wait_for(source.hold(), self.hand_over_grace)
        except Exception as exc:  # noqa: BLE001 -- a rebalance must never wait on Diffusion or Kafka for long
            logger.warning(
                "connector %r: not settled within %.0fs before the rebalance (%s); the next worker to run it "
                "may produce some values again",
                source.name,
                self.hand_over_grace,
                exc or type(exc).__name__,
            )

    @property
    def hand_over_grace(self) -> float:
        # Bounded by the rebalance timeout: the group waits for this worker to rejoin.
        return min(10.0, self.settings.broker_rebalance_timeout / 2)

    async def _on_shutdown(self, sender: Any, **_: Any) -> None:
        running = [self.sources[name] for name in self._running if name in self.sources]
        self._running.clear()
        await asyncio.gather(*(self._stop(source) for source in running))

    async def _stop(self, source: PlacedSource) -> None:
        try:
            await asyncio.wait_for(source.stop(), self.hand_over_grace)
        except Exception as exc:  # noqa: BLE001 -- closing is best effort
            logger.warning("connector %r: not stopped cleanly: %s", source.name, exc or type(exc).__name__)

    async def _ensure_partitions(self) -> None:
        """Grow the placement topic when there are more sources than partitions (once per count)."""
        wanted = len(self._slots)
        if wanted <= self._grown_to:
            return
        try:
            current = self.app.consumer.topic_partitions(self.topic_name) or 0
        except Exception:  # noqa: BLE001
            return
        if current >= wanted or not current:
            self._grown_to = max(self._grown_to, current)
            return
        from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

        self._grown_to = wanted
        admin = AIOKafkaAdminClient(**self.settings.kafka_client_options())
        try:
            await admin.start()
            await admin.create_partitions({self.topic_name: NewPartitions(total_count=wanted)})
            logger.info("placement topic %s grown from %d to %d partitions", self.topic_name, current, wanted)
        except Exception as exc:  # noqa: BLE001 -- another worker grew it first, or no rights: say so
            logger.warning("cannot grow placement topic %s to %d partitions: %s", self.topic_name, wanted, exc)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
