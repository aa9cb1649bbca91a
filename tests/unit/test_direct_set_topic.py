"""Guards for DirectSetTopic (streamapp.diffusion.sdk_internals): each fails loudly when the Diffusion SDK
changes what it relies on, and the sink still works through the public set_topic when it cannot be used."""

from __future__ import annotations

import asyncio
import inspect
import logging

import diffusion.datatypes as dt
import pytest
from diffusion.session.exceptions import IncompatibleTopicError, NoSuchTopicError

import streamapp  # noqa: F401  (installs the import hook before the SDK is imported)
from streamapp.diffusion.sdk_internals import DirectSetTopic, set_topic_frame
from tests.fixtures.diffusion import Collector, diffusion_session, wait_until


def _varint_at(frame: bytes, offset: int) -> int:
    value, shift = 0, 0
    while True:
        byte = frame[offset]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        offset, shift = offset + 1, shift + 7


def test_the_sdk_still_completes_conversations_as_direct_set_topic_expects():
    # If this fails, re-read how the SDK's read loop completes a conversation and adapt DirectSetTopic.
    from diffusion.internal.protocol import conversations, message_types

    response = inspect.getsource(message_types.ServiceResponseMessage.process)
    assert "service.consume(stream, session)" in response and "conversation.respond(" in response
    header = inspect.getsource(message_types.ServiceResponseMessage._read_header)
    assert "session.get_conversation(cid)" in header and "conversation.service" in header
    error = inspect.getsource(message_types.ServiceErrorMessage.process_exception)
    assert "conversation.complete_exceptionally(reason)" in error
    assert "handler" in inspect.signature(conversations.ConversationSet.new_conversation).parameters
    respond = inspect.getsource(inspect.unwrap(conversations.Conversation.respond))
    assert "self.handler.on_response(response)" in respond
    discard = inspect.getsource(inspect.unwrap(conversations.Conversation.complete_exceptionally))
    assert "self.handler.on_discard(reason)" in discard


async def test_direct_frames_are_byte_for_byte_the_sdks_own(diffusion_emulator, diffusion_topic_root):
    root = diffusion_topic_root
    cases = [
        (dt.JSON, dt.JSON.encode({"px": 1.5, "sym": "ABC"})),
        (dt.JSON, dt.JSON.encode({"long": "x" * 300})),  # a multi-byte value length
        (dt.STRING, dt.STRING.encode("héllo")),
        (dt.STRING, dt.STRING.encode(None)),
        (dt.INT64, dt.INT64.encode(-(2**63))),
        (dt.DOUBLE, dt.DOUBLE.encode(0.1)),
        (dt.BINARY, b"\x00\xff"),
    ]
    async with diffusion_session(diffusion_emulator.url) as session:
        for n, (datatype, value) in enumerate(cases):
            await session.topics.add_and_set_topic(f"{root}/{n}/é" + "p" * 130 * (n == 1), datatype, value)
        sent: list[bytes] = []
        transport = session._internal.connection.ws_impl
        send = transport.send_bytes

        async def recording(data: bytes) -> None:
            sent.append(data)
            await send(data)

        transport.send_bytes = recording
        for _ in range(130):  # cids above 127 take two bytes
            await session.topics.set_topic(f"{root}/0/é", cases[0][1], dt.JSON)
        for n, (datatype, value) in enumerate(cases):
            path = f"{root}/{n}/é" + "p" * 130 * (n == 1)
            sent.clear()
            await session.topics.set_topic(path, value, datatype)
            (theirs,) = sent
            assert theirs[:2] == b"\x00\x76"
            cid = _varint_at(theirs, 2)
            assert cid > 127
            assert set_topic_frame(cid, path, datatype.type_code, value) == theirs, datatype


async def test_direct_updates_reach_subscribers_and_raise_the_sdks_errors(diffusion_emulator, diffusion_topic_root):
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as session:
        direct = DirectSetTopic.for_session(session, 10.0)
        assert direct is not None
        try:
            await session.topics.add_and_set_topic(f"{root}/j", dt.JSON, {"n": 0})
            await session.topics.add_and_set_topic(f"{root}/s", dt.STRING, "a")
            async with diffusion_session(diffusion_emulator.url) as watcher:
                collector = await Collector(watcher).subscribe(f"?{root}/")
                await asyncio.gather(*(direct.set(f"{root}/j", 15, dt.JSON.encode({"n": n})) for n in range(1, 51)))
                await direct.set(f"{root}/s", 17, dt.STRING.encode("b"))
                await collector.wait_for(f"{root}/j", lambda v: v == {"n": 50})
                await collector.wait_for(f"{root}/s", lambda v: v == "b")
                assert [v["n"] for v in collector.values(f"{root}/j")] == list(range(51))  # in order, none lost
            with pytest.raises(NoSuchTopicError):
                await direct.set(f"{root}/missing", 15, dt.JSON.encode(1))
            with pytest.raises(IncompatibleTopicError):
                await direct.set(f"{root}/s", 15, dt.JSON.encode(1))
            # Nothing is kept once answered: neither by us nor in the SDK's conversation set.
            assert not direct._pending and len(session._internal.conversations) == 0
        finally:
            direct.close()


async def test_pending_direct_updates_fail_when_the_session_drops_or_the_server_does_not_answer(
    fresh_diffusion_emulator,
):
    emulator = fresh_diffusion_emulator
    async with diffusion_session(emulator.url) as session:
        await session.topics.add_and_set_topic("d/x", dt.JSON, {"n": 0})
        slow = DirectSetTopic.for_session(session, 0.3)
        emulator.delay_responses(30)
        with pytest.raises(TimeoutError):
            await slow.set("d/x", 15, dt.JSON.encode(1))
        slow.close()
        direct = DirectSetTopic.for_session(session, 60.0)
        pending = asyncio.ensure_future(direct.set("d/x", 15, dt.JSON.encode(2)))
        await wait_until(lambda: bool(direct._pending))  # sent, awaiting its response
        await emulator.drop_all_sessions()
        with pytest.raises(ConnectionError):  # long before the 60 s timeout
            await asyncio.wait_for(pending, 10)
        direct.close()


def test_a_session_not_built_as_expected_gets_none_and_a_warning(caplog):
    class Elsewhere:  # another SDK version, another transport...
        _internal = None

    with caplog.at_level(logging.WARNING, logger="streamapp.diffusion.sdk_internals"):
        assert DirectSetTopic.for_session(Elsewhere(), 1.0) is None
    assert "public set_topic" in caplog.text


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "public-sdk-fallback"])
async def test_the_sink_updates_and_creates_topics_either_way(
    diffusion_emulator, diffusion_topic_root, tmp_path, monkeypatch, direct
):
    from types import SimpleNamespace

    from streamapp.config.files import RawConnectorConfig
    from streamapp.config.loader import load_connector
    from streamapp.data import Record
    from streamapp.diffusion.sink import DiffusionSink
    from streamapp.settings import load_settings

    if not direct:
        monkeypatch.setattr(DirectSetTopic, "for_session", classmethod(lambda cls, session, timeout: None))
    config = {
        "connector.class": "diffusion-sink",
        "topics": "in",
        "diffusion.url": diffusion_emulator.url,
        "diffusion.username": "admin",
        "diffusion.password": "password",
        "diffusion.destination": diffusion_topic_root + "/${key}",
        "diffusion.topic.type": "string",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    }
    loaded = load_connector(RawConnectorConfig(str(tmp_path / "s.json"), {"name": "s", **config}))
    worker = SimpleNamespace(
        app=SimpleNamespace(), settings=load_settings(_env_file=None), delivered_offsets={}, observe_delivery=None
    )
    sink = DiffusionSink(worker, loaded)
    await sink.start_client()
    try:
        for offset, value in enumerate(["created", "updated", None]):
            record = Record("in", 0, offset, None, "k", None, value, None)
            await sink.deliver(sink.prepare(record), record)
            assert diffusion_emulator.topic(f"{diffusion_topic_root}/k") == ("string", value)
        assert (sink._direct is not None) is direct
    finally:
        await sink.stop_client()
