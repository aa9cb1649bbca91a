"""The Faust internals streamapp.faust_workarounds relies on: these fail loudly if Faust changes them."""

from __future__ import annotations

import asyncio
import inspect
import os
import types
import weakref

import faust
from aiokafka import AIOKafkaConsumer
from faust.types import Message

from streamapp.faust_workarounds import release_unacked


def _message(topic: str, offset: int) -> Message:
    return Message(topic, 0, offset, 0.0, 0, None, b"k", b"v", None)


def test_the_consumer_still_tracks_unacked_messages_in_a_weakset_and_signals_flow_with_events():
    app = faust.App("workarounds-test", broker="kafka://127.0.0.1:9")
    consumer = app.consumer
    assert isinstance(consumer._unacked_messages, weakref.WeakSet)
    assert isinstance(consumer.suspend_flow, asyncio.Event)
    assert isinstance(consumer.can_resume_flow, asyncio.Event)
    consumer.stop_flow()
    assert consumer.suspend_flow.is_set() and not consumer.can_resume_flow.is_set()
    consumer.resume_flow()
    assert not consumer.suspend_flow.is_set() and consumer.can_resume_flow.is_set()


def test_release_unacked_forgets_only_unacked_messages_of_the_given_topics():
    app = faust.App("workarounds-test-2", broker="kafka://127.0.0.1:9")
    unacked = app.consumer._unacked_messages
    ours, acked, theirs = _message("ours", 1), _message("ours", 2), _message("theirs", 3)
    acked.acked = True
    for message in (ours, acked, theirs):
        unacked.add(message)
    assert release_unacked(app, {"ours"}.__contains__) == 1
    assert ours not in unacked and acked in unacked and theirs in unacked


def test_aiokafka_still_skips_committed_offsets_of_zero_when_seeking_to_committed():
    # The reason for the rewind of uncommitted partitions; if aiokafka seeks offset 0 too one day,
    # the workaround is harmless but could go.
    assert "offset and offset > 0" in inspect.getsource(AIOKafkaConsumer.seek_to_committed)


def test_faust_still_hard_codes_the_fetch_wait_and_aiokafka_reads_it_at_start():
    # If the first assertion fails, Faust made fetch_max_wait_ms configurable: use its setting instead.
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    faust_own = inspect.unwrap(AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms=1500" in inspect.getsource(faust_own)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


async def test_the_worker_consumer_gets_the_configured_fetch_wait():
    from streamapp import faust_workarounds

    app = faust.App("workarounds-test-3", broker="kafka://127.0.0.1:9")
    faust_workarounds.install(app, fetch_max_wait_ms=250)
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    assert consumer._fetch_max_wait_ms == 250
    other = faust.App("workarounds-test-4", broker="kafka://127.0.0.1:9")  # not installed: Faust's own value
    assert other.consumer._thread._create_worker_consumer(other.transport)._fetch_max_wait_ms == 1500


def test_faust_still_asserts_its_own_url_after_storing_the_assignment():
    # The static-rejoin workaround relies on on_assignment storing everything before its asserts
    # (tests/connectors/test_static_membership.py fails without it). If this fails, re-read Faust.
    from faust.assignor.partition_assignor import PartitionAssignor

    source = inspect.getsource(inspect.unwrap(PartitionAssignor.on_assignment))
    assert "assert metadata.url == str(self._url)" in source
    stored = max(
        source.index(f"self.{name} =")
        for name in (
            "_assignment",
            "_topic_groups",
            "_active_tps",
            "_standby_tps",
            "changelog_distribution",
            "external_topic_distribution",
        )
    )
    assert stored < source.index("assert a == b") < source.index("assert metadata.url")


def test_faust_still_puts_the_root_logger_at_debug_for_its_spinner_and_the_workaround_restores_it():
    import logging

    from faust.worker import Worker

    from streamapp.faust_workarounds import _raise_root_logger_to_its_handlers

    assert "logger.setLevel(logging.DEBUG)" in inspect.getsource(Worker._setup_spinner_handler)
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    from faust.utils.terminal.spinners import Spinner, SpinnerHandler

    handler = logging.StreamHandler()
    spinner = Spinner(file=open(os.devnull, "w"))  # noqa: SIM115
    try:
        root.handlers[:] = [handler, SpinnerHandler(spinner, level=logging.DEBUG)]
        handler.setLevel(logging.WARNING)
        root.setLevel(logging.DEBUG)  # what Faust leaves after startup with -l warn
        assert logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
        _raise_root_logger_to_its_handlers()
        assert root.handlers == [handler]  # the spinner's handler is gone
        assert root.level == logging.WARNING and not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
        root.setLevel(logging.DEBUG)
        handler.setLevel(logging.NOTSET)  # a handler that wants everything: leave the level alone
        _raise_root_logger_to_its_handlers()
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


# --- connectors added and removed at runtime (streamapp.herder) -------------------------------------


async def test_faust_topic_clones_still_lose_their_root_and_the_workaround_keeps_it():
    from faust.topics import Topic

    from streamapp import faust_workarounds

    # Faust's own Topic.__init__ takes ``root`` but does not pass it on to Channel.__init__.
    assert "root=root" not in inspect.getsource(inspect.unwrap(Topic.__init__))
    app = faust.App("workarounds-test-5", broker="kafka://127.0.0.1:9")
    faust_workarounds.install(app)
    topic = app.topic("runtime-topic")
    clone = topic.clone(is_iterator=True)
    assert clone._root is topic  # the stream channel is found by its agent's channel when it stops


async def test_recording_takes_a_connectors_agents_and_timers_out_of_fausts_startup():
    from streamapp.faust_workarounds import recording

    app = faust.App("workarounds-test-6", broker="kafka://127.0.0.1:9")
    before = len(app._app_tasks)
    with recording(app) as installed:

        @app.agent(app.topic("recorded"))
        async def recorded_agent(stream):  # pragma: no cover -- never run
            async for _ in stream:
                pass

        @app.timer(1.0)
        async def recorded_timer():  # pragma: no cover -- never run
            pass

    assert installed.agents == [app.agents[recorded_agent.name]]
    assert len(installed.tasks) == 1 and len(app._app_tasks) == before  # started by streamapp, not Faust
    assert installed.topics() == {"recorded"}


async def test_faust_conductor_still_checks_rebalancing_before_its_delay_and_keeps_its_indices():
    from faust.transport.conductor import Conductor

    source = inspect.getsource(Conductor._subscriber.fun)  # a mode ServiceTask
    # The check comes before the delay, not after it: the reason subscribe() waits (module doc).
    assert source.index("if self.app.rebalancing") < source.index("await self.sleep(self._resubscribe_sleep_lock")
    app = faust.App("workarounds-test-7", broker="kafka://127.0.0.1:9")
    conductor = app.topics
    for name in ("_topics", "_tp_index", "_topic_name_index", "_subscription_changed"):
        assert hasattr(conductor, name), name
    assert callable(conductor._flag_changes) and callable(conductor.discard)


def test_faust_fetch_loop_still_asks_for_each_records_high_water_mark():
    from faust.transport.consumer import Consumer

    # aiokafka's highwater() asserts the partition is assigned: the reason subscribe() stops the flow.
    assert "self.highwater(tp)" in inspect.getsource(Consumer.getmany)
    assert "if not self.flow_active:" in inspect.getsource(Consumer.getmany)


async def test_subscribe_waits_for_the_rebalance_to_end_and_stops_the_flow_first():
    from faust.types import TP

    from streamapp import faust_workarounds

    app = faust.App("workarounds-test-8", broker="kafka://127.0.0.1:9")
    faust_workarounds.install(app)
    consumer = app.consumer
    calls = []

    async def thread_subscribe(topics):
        calls.append((set(topics), consumer.flow_active))

    consumer._thread.subscribe = thread_subscribe
    consumer.assignment = lambda: {TP("a", 0)}

    async def commit():
        calls.append("commit")

    consumer.commit = commit
    consumer.resume_flow()
    app.rebalancing = True
    task = asyncio.ensure_future(consumer.subscribe(["a", "b"]))
    await asyncio.sleep(0.3)
    assert calls == []  # still rebalancing: not subscribed yet
    app.rebalancing = False
    await asyncio.wait_for(task, 5)
    # Subscribed once the rebalance ended, with the flow stopped and what was acked committed first.
    assert calls == ["commit", ({"a", "b"}, False)]


def test_aiokafka_coordinator_still_commits_offsets_for_an_assignment():
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    assert list(inspect.signature(GroupCoordinator.commit_offsets).parameters) == ["self", "assignment", "offsets"]


async def test_records_of_a_partition_no_channel_reads_are_left_alone_instead_of_crashing_the_fetcher():
    from faust.transport.conductor import Conductor

    from streamapp import faust_workarounds

    # Faust looks the handler up with the dict's __getitem__: a partition without one is a KeyError.
    assert "self._tp_to_callback.__getitem__" in inspect.getsource(Conductor._compile_message_handler)
    app = faust.App("workarounds-test-9", broker="kafka://127.0.0.1:9")
    faust_workarounds.install(app)
    assert app.consumer.callback == app.topics.on_message  # the consumer takes the recompiled handler
    message = _message("nobody-reads-this", 7)
    assert await app.topics.on_message(message) is None
    assert message not in app.consumer._unacked_messages and not message.acked


def test_faust_last_recovery_steps_still_resume_streams_and_seek_before_clearing_the_queues():
    # Why the stream partitions wait for the clear (module doc): each of the two steps resumes them,
    # seeks them, then resumes flow control, which clears the channels' queues.
    from faust.tables.recovery import Recovery

    for method in (Recovery.on_recovery_completed, Recovery._resume_streams):
        source = inspect.getsource(inspect.unwrap(method))
        resume_streams = source.index("consumer.resume_partitions(")
        seek = source.index("consumer.perform_seek()")
        assert resume_streams < seek < source.index("flow_control.resume()"), method
        assert source.count("consumer.resume_partitions(") == 1, method
    app = faust.App("workarounds-test-flow", broker="kafka://127.0.0.1:9")
    channel = app.channel()
    channel.queue.put_nowait("fetched after the seek")
    app.flow_control.resume()
    assert channel.queue.empty(), "flow_control.resume() no longer clears queues: the hold may not be needed"


async def test_stream_partitions_resumed_by_the_last_recovery_step_wait_for_the_queues_to_be_cleared():
    from faust.tables.recovery import Recovery

    from streamapp import faust_workarounds

    app = faust.App("workarounds-test-hold", broker="kafka://127.0.0.1:9")
    faust_workarounds.install(app)
    for name in ("on_recovery_completed", "_resume_streams"):
        assert getattr(Recovery, name).__streamapp__, name
    consumer, channel = app.consumer, app.channel()
    stream = faust.types.TP("stream", 0)
    seen = []

    async def faust_last_step(self) -> None:  # what Faust does there, in its order
        self.app.consumer.resume_partitions({stream})
        seen.append(stream in consumer._get_active_partitions())  # not yet: a fetch now would be cleared
        channel.queue.put_nowait("fetched before the clear")
        self.app.flow_control.resume()
        seen.append(stream in consumer._get_active_partitions())

    step = faust_workarounds._resume_streams_after_the_clear(faust_last_step)
    await step(types.SimpleNamespace(app=app))
    assert seen == [False, True] and channel.queue.empty()
    assert "resume_partitions" not in vars(consumer) and "resume" not in vars(app.flow_control)
    consumer.resume_partitions({faust.types.TP("later", 0)})  # Faust's own again
    assert faust.types.TP("later", 0) in consumer._get_active_partitions()


def test_faust_still_commits_past_an_unacked_record_when_the_next_one_is_acked():
    # Why sinks ack in offset order (core.dispatch.PartitionWatermark). Committed offset 3 (the next
    # to read), record 3 unacked, 4 acked: Faust commits 5. Before a first commit, no check at all.
    app = faust.App("workarounds-test-commit", broker="kafka://127.0.0.1:9")
    consumer = app.consumer
    tp = faust.types.TP("t", 0)
    consumer._committed_offset[tp] = 3
    consumer._acked[tp] = [4]
    assert consumer._new_offset(tp) == 5
    fresh = faust.types.TP("t", 1)
    consumer._acked[fresh] = [1, 2]  # record 0 unacked
    assert consumer._new_offset(fresh) == 3


def test_faust_fetch_loop_still_drops_a_batch_fetched_while_the_flow_was_stopped():
    # Why such a batch is given back (module doc): getmany drops it and seeks back only to the
    # committed offsets, which aiokafka skips for partitions without one (changelogs).
    from faust.transport.consumer import Consumer

    source = inspect.getsource(Consumer.getmany)
    assert "await self._wait_next_records(timeout)" in source
    assert source.index("if self.flow_active:") < source.index("await self.perform_seek()")


async def test_a_batch_fetched_while_the_flow_is_stopped_is_given_back_and_not_handed_out():
    from streamapp import faust_workarounds

    app = faust.App("workarounds-test-give-back", broker="kafka://127.0.0.1:9")
    consumer = app.consumer
    changelog, stream = faust.types.TP("app-table-changelog", 0), faust.types.TP("orders", 3)
    batch = {
        changelog: [types.SimpleNamespace(offset=0), types.SimpleNamespace(offset=1)],
        stream: [types.SimpleNamespace(offset=7)],
    }
    sought = []

    async def _seek(tp, offset):
        sought.append((tp, offset))

    consumer._seek = _seek

    async def fetched(self, timeout):
        return batch, {changelog, stream}

    wait_next_records = faust_workarounds._give_back_batches_fetched_while_stopped(fetched)
    assert await wait_next_records(consumer, 1.0) == (batch, {changelog, stream})  # flow active: as fetched
    assert sought == []
    consumer.stop_flow()
    assert await wait_next_records(consumer, 1.0) == ({}, {changelog, stream})
    assert sorted(sought) == sorted([(changelog, 0), (stream, 7)])
    assert consumer._read_offset[stream] == 7 and consumer._read_offset[changelog] is None  # read again
