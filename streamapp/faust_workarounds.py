"""Workarounds for Faust 0.15.3 / aiokafka 0.14, in one place (they use Faust internals).

**Partitions without a commit** (:func:`install`). Faust fetches while it restores tables and
drops what it fetched for stream partitions then; its "seek stream partitions to committed
offsets" afterwards rewinds only partitions whose committed offset is above 0 (aiokafka's
``seek_to_committed`` skips None and 0). A partition nobody committed yet silently lost those
records: a sink restarted after its very first record failed delivered nothing. After each
rebalance (Faust's ``on_rebalance_complete`` signal, sent before it seeks and resumes the flow),
such partitions are sought to the earliest offset. Still needed on Apache Kafka 4.4: without it
``tests/connectors/test_coap_sink_policies.py::test_throw_exhausted_retry...`` fails (checked).

**Records handed out between the seek and the clear** (:func:`install`). The last steps of
Faust's recovery (``Recovery.on_recovery_completed``, or ``_resume_streams`` without tables)
resume the stream partitions, seek them to their committed offsets, and only then call
``flow_control.resume()``, which *clears* every channel's queue. The flow itself is already
running ("Resuming flow..." came earlier), so records fetched in between, after the seek, were put
into a queue, cleared, and never read again: the fetch loop's read offset had passed them. A sink
whose offsets were altered to 3 and resumed read from 4 (seen about once in 20 runs of
``tests/ops/test_connect_lifecycle.py``: offset 3 logged as fetched and routed, never handed to
the sink). The stream partitions Faust resumes there now stay paused until that clear is done,
then resume; nothing else changes (tables and the flow are left alone).

**A fetched batch dropped while the flow is stopped** (:func:`install`). Faust's fetch loop asks
aiokafka for records, and if the flow was stopped meanwhile (a rebalance began) it drops the
batch and seeks back to the committed offsets; aiokafka had already moved its positions past the
batch, and a partition without a committed offset is not sought: a table's changelog partition,
never committed by the group. A worker whose recovery had just sought a changelog partition to its
first record lost that record this way and waited for it until the next rebalance ("No event
received for active tp ... since recovery start": seen about once in 25 runs of
``tests/ops/test_connect_lifecycle.py``, the fingerprint record of a source the worker had just
written). Such a batch is now given back: each of its partitions is sought to its first record,
and the fetch loop gets an empty batch.

**Records a sink gives up on** (:func:`release_unacked`). Before a rebalance and on shutdown
Faust waits until every record it handed out is acked or garbage, and its stream iterator keeps
the last record of each stream referenced. A record a sink leaves unacked on purpose (a stopped
connector, an abandoned delivery) made that wait last forever. Nothing else reads the set it
waits on: the committed offset still stops below every unacked record. Still needed on Apache
Kafka 4.4: without it ``test_sigterm_with_diffusion_down...`` (test_worker_scaling.py) and
``test_restart_of_a_failed_connector_stops_its_worker_cleanly`` (test_worker_ops.py) fail (checked).

**The consumer's fetch wait** (:func:`install`). Faust hard-codes ``fetch_max_wait_ms=1500`` for
its worker consumer. Apache Kafka answers the requests of one connection in order, so every
metadata, offset and list-offsets request queued behind an idle long-poll fetch waits up to that
long: table recovery made three such requests in a row, and a worker was ready ~3 s later than it
had to be. The consumer takes ``STREAMAPP_CONSUMER_FETCH_MAX_WAIT_MS`` instead (Kafka's own
consumer default, 500 ms, unless set); a fetch still returns as soon as records arrive.
Measured with bench/worker_start.py: a worker is ready ~2 s after its start instead of ~5 s.

**A root logger left at DEBUG** (:func:`install`). With ``-l warn`` (or error), Faust's worker
sets the root logger to DEBUG and adds a handler so that its startup spinner sees every log call,
and sets its console handler to the requested level: for the rest of the worker's life every
``log.debug`` in aiokafka, aiocoap and Faust built a LogRecord and ran the handlers for nothing
(~2.5% of a CoAP sink's CPU). Once the worker has its partitions, the spinner's handler is removed
(the spinner is cosmetic, and ends with the startup) and the root logger's level raised to its
handlers' lowest.

**The consumer's flow and committed offsets** (:class:`Flow`, :func:`committed_offset`). A sink
must know when Faust stops the flow of records (before a rebalance, on shutdown) and when it may
resume, and reports lag against the group's committed offsets; Faust keeps both on its consumer
without a public accessor.

**A static member back with a new web URL** (:func:`install`). With static membership
(``STREAMAPP_GROUP_INSTANCE_ID``), a worker restarted within the session timeout gets the
assignment the leader made for its previous run, which names that run's web URL. Faust's
assignor asserts the URL is its own, so a worker whose host or port changed (a new
``STREAMAPP_WEB_PORT``, a rescheduled pod) crashed its consumer's coordinator and never became
ready until the session expired. The assignment itself is still right; the URL only feeds Faust's
key-to-worker router, which streamapp does not use. The mismatch is logged and accepted.
Without it ``tests/connectors/test_static_membership.py`` fails on every broker (checked).

**Connectors added and removed while the worker runs** (:func:`recording`, :func:`start`,
:func:`stop`, :func:`resubscribe`, :func:`subscription_stale`). Faust builds its agents, timers
and topic subscription once, at startup. A connector created, changed, stopped or deleted over the
REST API must start or stop its agents and timers at runtime and change what the consumer reads:

* What a connector's ``install()`` registers is recorded: the agents it adds to ``app.agents`` and
  the app tasks (timers) it appends to Faust's list of tasks to start. The tasks are taken out of
  that list and started by streamapp, which keeps their handles to cancel them.
* Stopping: the tasks are cancelled, each agent is stopped (Faust cancels its actor; the sink's
  ``finally`` finishes its deliveries in flight and closes its client) and removed from
  ``app.agents``; the stream channels Faust's topic conductor feeds for it are discarded from the
  conductor (found by their root channel, the agent's: a ``Topic`` clone lost its root, since
  ``Topic.__init__`` does not pass ``root`` on to ``Channel.__init__``; it is kept now), and the records still queued for them are released (unacked: the committed offset
  never passes them) so that Faust's next rebalance does not wait for them.
* Faust's conductor resubscribes 45 s after a change (``_resubscribe_sleep_lock_seconds``, to
  coalesce agents restarting together), drops a change made during a rebalance, and indexes a new
  channel of an already subscribed topic only at the next rebalance. streamapp lowers the delay to
  one second, and forces a resubscription whenever the conductor's index and its channels differ
  (:func:`subscription_stale`); aiokafka rejoins the group on every ``subscribe()`` (a new
  ``Subscription`` object), so the change goes through a normal rebalance: in-flight records are
  waited for, acked offsets are committed, partitions are assigned to the workers that read them
  and read again from the committed offset.
* The conductor checks that no rebalance is under way *before* its delay, not after it: a
  rebalance begun meanwhile (another worker's change) had its table recovery seek partitions of a
  subscription ``subscribe()`` had just replaced (aiokafka asserts the assignment is not None),
  and Faust's recovery crashed the worker. ``subscribe()`` now waits until the app's rebalance,
  recovery included, has ended (Faust clears ``app.rebalancing`` once the flow resumes). It also
  stops the flow first, as a rebalance does: Faust's fetch loop asks aiokafka for the high water
  mark of each record's partition, which asserts the partition is assigned, and the records
  fetched before ``subscribe()`` are not (the flow resumes once the rebalance it causes is over).
  A subscription change while the worker shuts down is dropped (it only made the group rebalance
  once more, and the shutdown waited for that rebalance). And it commits what is acked first:
  Faust commits only assigned partitions, and after ``subscribe()`` there are none, so the acks
  since the last periodic commit were never committed (a deleted connector's partition stayed
  committed behind what it had delivered).
* Faust's assignor assumes every worker subscribes to the same topics, and assigns each topic's
  partitions to any worker. While the workers change their subscriptions one after the other, a
  worker can be given a partition of a topic none of its agents reads (a connector stopped or
  deleted here, not yet on the others), and its conductor had no handler for that partition:
  ``KeyError`` in ``on_message``, the fetcher crashed, the worker stopped. Such records are now
  left alone (not tracked, not acked: the committed offset stays below them) and read again by
  the worker that gets the partition at the next rebalance, once every worker subscribes alike.

**Offsets of partitions nobody reads** (:func:`commit_offsets`). Altering a stopped sink's offsets
(``PATCH /connectors/{name}/offsets``) means committing offsets of partitions that are no longer
assigned in the worker group. Kafka refuses an admin client's commit for a group with members, and
both Faust's and aiokafka's ``commit()`` refuse unassigned partitions; the group coordinator itself
does not care (a member of the current generation may commit any partition), so the commit is made
through this worker's aiokafka group coordinator, in the consumer's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Flow",
    "Installed",
    "commit_offsets",
    "committed_offset",
    "install",
    "recording",
    "release_unacked",
    "resubscribe",
    "start",
    "stop",
    "subscription_stale",
]

RESUBSCRIBE_DELAY = 1.0  # s: Faust's conductor waits 45 s to coalesce subscription changes
STOP_TIMEOUT = 10.0  # s for a stopped connector's tasks and agents to finish

_FETCH_WAIT_ATTR = "_streamapp_fetch_max_wait_ms"

logger = logging.getLogger(__name__)


def _install(owner: Any, name: str, replacement: Any) -> None:
    """Put ``replacement`` in place of ``owner.name``, once: it is marked ``__streamapp__`` and keeps what
    it replaces as ``__wrapped__`` (the guard tests check both). Already patched: nothing changes, so a
    second app in the same process does not wrap the patch again."""
    current = getattr(owner, name)
    if getattr(current, "__streamapp__", False):
        return
    replacement.__streamapp__ = True
    replacement.__wrapped__ = current
    setattr(owner, name, replacement)


def _patch_fetch_max_wait() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, _FETCH_WAIT_ATTR, None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait  # read by AIOKafkaConsumer.start() when it builds its Fetcher
        return consumer

    _install(AIOKafkaConsumerThread, "_create_worker_consumer", _create_worker_consumer)


def _patch_static_rejoin() -> None:
    from faust.assignor.partition_assignor import ClientMetadata, PartitionAssignor

    original = PartitionAssignor.on_assignment

    def on_assignment(self: Any, assignment: Any) -> None:
        try:
            original(self, assignment)
        except AssertionError:
            metadata = ClientMetadata.loads(self._decompress(assignment.user_data))
            ours = sorted(self._assignment.kafka_protocol_assignment(self._table_manager))
            if metadata.url == str(self._url) or sorted(assignment.assignment) != ours:
                raise  # not the URL check: a real inconsistency
            logger.warning(
                "assignment made for this static member's previous run at %s, now %s: kept (the partitions are "
                "the same; only Faust's router used the URL)",
                metadata.url,
                self._url,
            )

    _install(PartitionAssignor, "on_assignment", on_assignment)


def _raise_root_logger_to_its_handlers() -> None:
    from faust.utils.terminal.spinners import SpinnerHandler

    root = logging.getLogger()
    for handler in list(root.handlers):  # the startup spinner's handler: startup is (nearly) over
        if isinstance(handler, SpinnerHandler):
            root.removeHandler(handler)
    levels = [handler.level for handler in root.handlers if handler.level > logging.NOTSET]
    if root.level == logging.DEBUG and levels and min(levels) > logging.DEBUG and len(levels) == len(root.handlers):
        root.setLevel(min(levels))


def _patch_topic_root() -> None:
    from faust.topics import Topic

    original = Topic.__init__

    def __init__(self: Any, *args: Any, root: Any = None, **kwargs: Any) -> None:
        original(self, *args, root=root, **kwargs)
        if root is not None and self._root is None:  # Topic.__init__ does not pass it on to Channel's
            self._root = root

    _install(Topic, "__init__", __init__)


def _patch_subscribe_after_rebalance() -> None:
    from faust.transport.consumer import ThreadDelegateConsumer

    original = ThreadDelegateConsumer.subscribe

    async def subscribe(self: Any, topics: Any) -> None:
        # See the module doc: a table recovery must not lose its assignment.
        while self.app.rebalancing and not self.should_stop:
            await asyncio.sleep(0.1)
        if self.should_stop:
            return  # shutting down: a new subscription would only make the group rebalance once more
        if self.assignment():
            self.stop_flow()  # the fetch loop must not ask for a partition of the replaced subscription
            try:  # what is acked now; once the subscription is replaced, Faust commits nothing at the revoke
                await self.commit()
            except Exception as exc:  # noqa: BLE001 -- uncommitted acks are read again (and not delivered again)
                logger.warning("committing before the subscription changes failed: %s", exc)
        await original(self, topics)

    _install(ThreadDelegateConsumer, "subscribe", subscribe)


def _resume_streams_after_the_clear(original: Any) -> Any:
    """Wrap one of Faust's last recovery steps: the stream partitions it resumes stay paused until its
    ``flow_control.resume()`` has cleared the queues (see the module doc)."""

    async def last_recovery_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        consumer, flow_control = self.app.consumer, self.app.flow_control
        held: set[Any] = set()

        def resume_partitions(tps: Any) -> None:
            held.update(tps)

        def resume() -> None:
            type(flow_control).resume(flow_control)  # clears the queues
            vars(consumer).pop("resume_partitions", None)
            if held:
                consumer.resume_partitions(held)

        # Instance attributes, for this call only: other recovery steps resume as Faust does.
        consumer.resume_partitions = resume_partitions
        flow_control.resume = resume
        try:
            return await original(self, *args, **kwargs)
        finally:  # also when a new rebalance cut the step short: its own recovery resumes them
            vars(consumer).pop("resume_partitions", None)
            vars(flow_control).pop("resume", None)

    return last_recovery_step


def _give_back_batches_fetched_while_stopped(original: Any) -> Any:
    """Wrap Faust's ``Consumer._wait_next_records``: a batch the fetch loop is about to drop (the flow
    stopped while it was fetched) is given back to aiokafka by seeking its partitions to their first
    record (see the module doc)."""

    async def _wait_next_records(self: Any, timeout: float) -> Any:
        records, active_partitions = await original(self, timeout)
        if records and not self.flow_active:  # the caller drops it: nothing awaited in between
            for tp, batch in records.items():
                if batch:
                    try:
                        await self.seek(tp, batch[0].offset)
                    except Exception as exc:  # noqa: BLE001 -- no longer assigned: its next owner reads it
                        logger.debug("not seeking %s back: %s", tp, exc)
            return {}, active_partitions
        return records, active_partitions

    return _wait_next_records


def _patch_give_back_batches_fetched_while_stopped() -> None:
    from faust.transport.consumer import Consumer

    _install(Consumer, "_wait_next_records", _give_back_batches_fetched_while_stopped(Consumer._wait_next_records))


def _patch_resume_streams_after_the_clear() -> None:
    from faust.tables.recovery import Recovery

    for name in ("on_recovery_completed", "_resume_streams"):
        _install(Recovery, name, _resume_streams_after_the_clear(getattr(Recovery, name)))


class _Routes(dict):  # type: ignore[type-arg]
    """The conductor's handler per partition, with one for partitions no channel reads here."""

    def __init__(self, routes: dict[Any, Any]) -> None:
        super().__init__(routes)
        self.unread: set[Any] = set()

    def __missing__(self, tp: Any) -> Callable[[Any], Awaitable[None]]:
        if tp not in self.unread:
            self.unread.add(tp)
            logger.info(
                "records of %s/%d reach this worker but none of its connectors reads them: left for the worker "
                "that gets the partition at the next rebalance",
                tp.topic,
                tp.partition,
            )
        return _leave_alone


async def _leave_alone(message: Any) -> None:
    return None  # not tracked, so not waited for; not acked, so not committed


def _route_unread_partitions(app: Any) -> None:
    conductor = app.topics
    if isinstance(conductor._tp_to_callback, _Routes):
        return
    conductor._tp_to_callback = _Routes(conductor._tp_to_callback)
    # on_message bound the dict's __getitem__ when the conductor was built; the consumer, created
    # later, takes the new one.
    conductor.on_message = conductor._compile_message_handler()


def install(app: Any, *, fetch_max_wait_ms: int | None = None) -> None:
    _route_unread_partitions(app)
    _patch_static_rejoin()
    _patch_topic_root()
    _patch_subscribe_after_rebalance()
    _patch_resume_streams_after_the_clear()
    _patch_give_back_batches_fetched_while_stopped()
    app.topics._resubscribe_sleep_lock_seconds = RESUBSCRIBE_DELAY  # an instance attribute: this app only

    @app.on_rebalance_complete.connect
    async def _after_startup(sender: Any, **_: Any) -> None:
        _raise_root_logger_to_its_handlers()  # the startup spinner is done by now

    if fetch_max_wait_ms is not None:
        setattr(app, _FETCH_WAIT_ATTR, fetch_max_wait_ms)
        _patch_fetch_max_wait()

    @app.on_rebalance_complete.connect
    async def _rewind_uncommitted(sender: Any, **_: Any) -> None:
        if sender.conf.consumer_auto_offset_reset != "earliest":
            return  # "latest": the position Faust fetched up to is where latest starts anyway
        consumer = sender.consumer
        changelogs = sender.tables.changelog_topics
        streams = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
        if not streams:
            return
        try:
            committed = await consumer.seek_to_committed()
            uncommitted = [tp for tp in streams if not committed.get(tp)]
            if uncommitted:
                earliest = await consumer.earliest_offsets(*uncommitted)
                await consumer.seek_wait({tp: earliest[tp] for tp in uncommitted})
                logger.info(
                    "no committed offset for %s: reading from the earliest offset",
                    ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(uncommitted)),
                )
        except Exception as exc:  # a rebalance again: the next one repeats this
            logger.warning("could not rewind uncommitted partitions (%s); a rebalance may be under way", exc)


def release_unacked(app: Any, owns: Callable[[str], bool]) -> int:
    """Stop Faust waiting for unacked records of the topics ``owns`` accepts; returns how many."""
    unacked = app.consumer._unacked_messages  # a WeakSet of faust Message
    released = [message for message in list(unacked) if not message.acked and owns(message.topic)]
    for message in released:
        unacked.discard(message)
    return len(released)


class Flow:
    """Faust's flow of records to the agents: stopped before a rebalance and on shutdown."""

    def __init__(self, app: Any) -> None:
        self._consumer = app.consumer

    @property
    def active(self) -> bool:
        return self._consumer.flow_active

    async def wait_stopped(self) -> None:
        await self._consumer.suspend_flow.wait()

    async def wait_resumable(self) -> None:
        await self._consumer.can_resume_flow.wait()


def committed_offset(app: Any, tp: Any) -> int | None:
    """The offset this worker last committed for ``tp`` (the next to read), None if none yet."""
    return app.consumer._committed_offset.get(tp)  # a defaultdict: .get does not insert


# --- connectors at runtime ------------------------------------------------------------------------


@dataclass
class Installed:
    """What one connector's ``install()`` registered with the Faust app."""

    agents: list[Any] = field(default_factory=list)
    tasks: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    running: list[asyncio.Future[Any]] = field(default_factory=list)

    def topics(self) -> set[str]:
        """Kafka topics its agents read."""
        return {name for agent in self.agents for name in _channel_topics(agent.channel)}


def _channel_topics(channel: Any) -> tuple[str, ...]:
    return tuple(getattr(channel, "topics", None) or ())


@contextlib.contextmanager
def recording(app: Any) -> Iterator[Installed]:
    """Record the agents and app tasks registered inside the block; the tasks are left to :func:`start`."""
    agents_before = set(app.agents)
    tasks = app._app_tasks
    tasks_before = len(tasks)
    installed = Installed()
    yield installed
    installed.agents = [agent for name, agent in app.agents.items() if name not in agents_before]
    installed.tasks = list(tasks[tasks_before:])
    del tasks[tasks_before:]


async def start(app: Any, installed: Installed, *, agents: bool = True) -> None:
    """Start what was recorded: its agents (unless Faust starts them: installed before the worker
    started) and its tasks."""
    if agents:
        for agent in installed.agents:
            await agent.maybe_start()
    for task in installed.tasks:
        installed.running.append(asyncio.ensure_future(task()))


async def stop(app: Any, installed: Installed) -> None:
    """Stop what :func:`start` (or Faust) started; the subscription changes at the next rebalance."""
    running, installed.running = installed.running, []
    for future in running:
        future.cancel()
    if running:
        # Bounded: a task whose cleanup hangs (a client that does not close) must not stop the
        # herder from applying every later change; it is named in the log.
        _, pending = await asyncio.wait(running, timeout=STOP_TIMEOUT)
        for future in pending:
            logger.warning("a connector task did not finish within %.0fs of its cancellation: %r", STOP_TIMEOUT, future)
    for agent in installed.agents:
        try:
            await asyncio.wait_for(agent.stop(), STOP_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 -- stopping goes on for the rest
            logger.warning("stopping agent %s: %s", agent.name, exc or type(exc).__name__)
        if app.agents.get(agent.name) is agent:
            del app.agents[agent.name]
        with contextlib.suppress(Exception):
            app.topics.beacon.discard(agent)
        _discard_channels(app, agent.channel)


def _discard_channels(app: Any, root: Any) -> None:
    conductor = app.topics
    unacked = app.consumer._unacked_messages
    for channel in [c for c in list(conductor._topics) if (c._root or c) is root]:
        conductor.discard(channel)
        for channels in conductor._tp_index.values():
            channels.discard(channel)  # the message handlers hold these sets: no more records for it
        queue = channel.queue
        for event in list(queue._queue):
            message = getattr(event, "message", None)
            if message is not None:
                unacked.discard(message)  # unacked on purpose: read again from the committed offset
        queue.clear()


def subscription_stale(app: Any, roots: set[Any]) -> bool:
    """The conductor's index differs from its channels (a change not applied to the subscription yet),
    or a channel of the agents whose channels are ``roots`` is not fed its assigned partitions."""
    conductor = app.topics
    channels = set(conductor._topics)
    indexed = {c for subscribers in conductor._topic_name_index.values() for c in subscribers}
    if indexed != channels:
        return True
    try:
        assignment = app.consumer.assignment()
    except Exception:  # noqa: BLE001 -- no consumer yet
        return False
    for channel in channels:  # a new channel of an already subscribed topic is indexed at a rebalance
        if (channel._root or channel) not in roots:
            continue
        for tp in assignment:
            if tp.topic in _channel_topics(channel) and channel not in conductor._tp_index.get(tp, ()):
                return True
    return False


def resubscribe(app: Any) -> bool:
    """Have the conductor subscribe again (a rebalance); False while it is not subscribed yet."""
    conductor = app.topics
    if conductor._subscription_changed is None:
        return False
    conductor._flag_changes()
    return True


async def commit_offsets(app: Any, offsets: dict[Any, int]) -> None:
    """Commit ``{TP: offset}`` for this worker's group, assigned to it or not (see the module doc)."""
    from aiokafka.structs import OffsetAndMetadata, TopicPartition

    thread = app.consumer._thread

    async def _commit() -> None:
        consumer = thread._ensure_consumer()
        subscription = consumer._subscription.subscription
        assignment = subscription.assignment if subscription is not None else None
        if assignment is None:
            from aiokafka.errors import RebalanceInProgressError

            raise RebalanceInProgressError("this worker has no assignment yet (a rebalance is under way)")
        await consumer._coordinator.commit_offsets(
            assignment,
            {TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "") for tp, offset in offsets.items()},
        )

    await thread.call_thread(_commit)
