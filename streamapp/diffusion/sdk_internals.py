"""Every use of the Diffusion Python SDK's internals, in one place.

Guard tests: tests/unit/test_sdk_internals.py and tests/unit/test_direct_set_topic.py.

:func:`install` (called when ``streamapp`` is imported, before anything imports the SDK) patches
two SDK modules right after they are executed, through an import hook; nothing else changes.

**Import cost.** Importing the SDK (6.12) costs about a second of CPU, most of it in
``diffusion.internal.serialisers.base.log``: it computes ``inspect.stack()`` (the whole call stack,
with source lines read from disk) on every step of building its serialisers, to indent a debug
message it then drops unless ``DEBUG_RESOLVER`` is set. Every worker start paid it. The patched
function does the same when ``DEBUG_RESOLVER`` is set and nothing otherwise.

**Finished conversations kept for ever.** Every request (``set_topic``, ``add_and_set_topic``...)
is a ``Conversation`` in its session's ``ConversationSet``, and the set only ever loses entries
in ``discard_all``, when the session closes: a sink that keeps its session kept ~2.2 kB per
update (100,000 updates: ~230 MB), and Python's full garbage collections, walking that growing
heap, paused the worker for 100+ ms. A conversation that the server's response finished
(``respond`` returned HANDLED_AND_FINISHED, or an error response completed it exceptionally) gets
no further message, so it is removed from its set then. Conversations still open, and those
discarded without a response (a closing session), stay as the SDK keeps them.

**set_topic at a third of the CPU** (:class:`DirectSetTopic`, used by the Diffusion sink). The
SDK spends ~240 us of CPU per ``set_topic`` on request models, generic serialisers and two
watcher tasks per request, for a request of a few bytes; written directly on a conversation of
the SDK's own set, the same update costs ~70 us, and the SDK's read loop still completes it,
errors included. When the session is not built as expected, the public ``set_topic`` is used.

**Credentials in debug logs** (:func:`hide_sdk_credentials`, installed by
:mod:`streamapp.diffusion.connection`). At DEBUG the SDK logs the headers of its WebSocket upgrade
request ("Connecting."), the ``password`` header included: base64 of the password, as good as the
password itself. ``STREAMAPP_DIFFUSION_SDK_LOG_LEVEL=DEBUG`` would put it in the worker log. A
filter on the two loggers that log those headers replaces the value.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = [
    "CONVERSATIONS_MODULE",
    "HEADER_LOGGERS",
    "RESOLVER_MODULE",
    "DirectSetTopic",
    "hide_sdk_credentials",
    "install",
]

RESOLVER_MODULE = "diffusion.internal.serialisers.base"
CONVERSATIONS_MODULE = "diffusion.internal.protocol.conversations"
_MARK = "__streamapp__"


def _patched(function: Any) -> bool:
    return getattr(function, _MARK, False)


def _mark(function: Any, original: Any) -> Any:
    setattr(function, _MARK, True)
    function.__wrapped__ = original
    return function


def _quiet_resolver_log(module: ModuleType) -> None:
    original = getattr(module, "log", None)
    if original is None or _patched(original):
        return

    def log(x: str) -> None:
        if os.getenv("DEBUG_RESOLVER"):  # the only case where the SDK's own function logs anything
            original(x)

    module.log = _mark(log, original)


def _forget_finished_conversations(module: ModuleType) -> None:
    conversation = module.Conversation
    if _patched(conversation.respond):
        return
    respond, complete_exceptionally = conversation.respond, conversation.complete_exceptionally
    finished = module.Result.HANDLED_AND_FINISHED

    def forget(self: Any) -> None:
        conversations = self._cset
        if conversations._set_discard_reason is None:  # discard_all iterates the set: leave it alone
            conversations.conversations.pop(self.cid, None)

    async def respond_then_forget(self: Any, response: Any) -> Any:
        result = await respond(self, response)
        if result is finished:
            forget(self)
        return result

    async def complete_exceptionally_then_forget(self: Any, reason: Exception) -> None:
        await complete_exceptionally(self, reason)
        forget(self)

    conversation.respond = _mark(respond_then_forget, respond)
    conversation.complete_exceptionally = _mark(complete_exceptionally_then_forget, complete_exceptionally)


_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    RESOLVER_MODULE: _quiet_resolver_log,
    CONVERSATIONS_MODULE: _forget_finished_conversations,
}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, patch: Callable[[ModuleType], None]) -> None:
        self._inner = inner
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename...: the file loader's
        return getattr(self._inner, name)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


def install() -> None:
    """Install the import hook (idempotent); modules already imported are patched at once."""
    for name, patch in _PATCHES.items():
        loaded = sys.modules.get(name)
        if loaded is not None:
            patch(loaded)
    if not any(isinstance(finder, _PatchingFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchingFinder())


#: The SDK's loggers that log the connection request's headers (aiohttp and websockets transports).
HEADER_LOGGERS = ("diffusion.internal.session.connection", "diffusion.internal.session.transports.websockets")
# structlog renders the event to JSON before the stdlib record is made: the message is that JSON.
_PASSWORD_HEADER = re.compile(r'("password":\s*")[^"]*(")')


class _HideCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and '"password"' in record.msg:
            record.msg = _PASSWORD_HEADER.sub(r"\1[hidden]\2", record.msg)
        return True


def hide_sdk_credentials() -> None:
    """Install the filter (idempotent)."""
    for name in HEADER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideCredentials) for f in logger.filters):
            logger.addFilter(_HideCredentials())


# --- set_topic without the SDK's per-request machinery ------------------------------------------

_SET_TOPIC_HEADER = b"\x00\x76"  # SERVICE_REQUEST, service 118 (SET_TOPIC); both varints below 128
_UNCONSTRAINED = b"\x00"
_ONE_BYTE = [bytes((n,)) for n in range(128)]
_log = logging.getLogger(__name__)


def _varint(value: int) -> bytes:
    """The SDK's varint: unsigned LEB128 (non-negative values only here)."""
    if value < 128:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def set_topic_frame(cid: int, path: str, type_code: int, value: bytes) -> bytes:
    """The SET_TOPIC request frame the SDK sends for ``set_topic(path, value, type)`` (unconstrained)."""
    encoded = path.encode()
    return b"".join(
        (
            _SET_TOPIC_HEADER,
            _varint(cid),
            _varint(len(encoded)),
            encoded,
            _ONE_BYTE[type_code],
            _varint(len(value)),
            value,
            _UNCONSTRAINED,
        )
    )


class _SetTopicService:
    """Stands in for the SDK's Service on our conversations: its read loop asks it to read the
    response (SET_TOPIC's is empty) and passes ``.response`` to the conversation."""

    response = None

    async def consume(self, stream: Any, session: Any) -> _SetTopicService:
        return self

    def __repr__(self) -> str:
        return "SET_TOPIC(streamapp)"


_SERVICE = _SetTopicService()


class _Reply:
    """The conversation's response handler (the SDK's ResponseHandler protocol) completing a future."""

    __slots__ = ("conversation", "deadline", "future")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.conversation: Any = None
        self.deadline = 0.0

    async def on_response(self, value: Any) -> bool:
        if not self.future.done():
            self.future.set_result(None)
        return True  # the conversation is finished

    async def on_discard(self, error: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class DirectSetTopic:
    """``set_topic`` for values already encoded, at a fraction of the SDK's CPU per update.

    The SDK's ``session.topics.set_topic`` costs ~240 us of CPU per update on these machines:
    building and validating a request model, mapping it through its generic serialisers, copying
    its Service, and two watcher tasks per request (one around the send, one around the wait). The
    request itself is a few bytes (diffusion-protocol.md 4.1). This writes those bytes for a
    conversation registered in the SDK's own ConversationSet, so the SDK's read loop completes it
    as any other: an empty response resolves it, an error response raises the SDK's own exception
    (NoSuchTopicError...). One watcher per session replaces the per-request ones: it fails what is
    pending when the session disconnects or closes, and what is older than ``timeout``.

    :meth:`for_session` answers None when the session is not built as expected (another SDK
    version, another transport); the caller then uses the public ``set_topic``.
    """

    def __init__(self, session: Any, internal: Any, timeout: float) -> None:
        self.session = session
        self.timeout = timeout
        self._conversations = internal.conversations
        self._connection = internal.connection
        self._send = internal.connection.ws_impl.send_bytes
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, _Reply] = {}  # by cid, i.e. in sending order
        self._watcher = asyncio.create_task(self._watch(), name="diffusion-set-topic-watcher")

    @classmethod
    def for_session(cls, session: Any, timeout: float) -> DirectSetTopic | None:
        try:
            from diffusion.internal.protocol.conversations import ConversationSet
            from diffusion.internal.session.connection import AbstractConnection, AioHttpTransportBase

            internal = session._internal
            connection = internal.connection
            usable = (
                isinstance(internal.conversations, ConversationSet)
                and isinstance(connection, AbstractConnection)
                and isinstance(connection.ws_impl, AioHttpTransportBase)
                and isinstance(connection.disconnected_event, asyncio.Event)
                and connection.protocol.VERSION == 25
            )
        except (ImportError, AttributeError) as exc:
            usable, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "the session is not built as this SDK version builds it"
        if not usable:
            _log.warning("Diffusion SDK internals not as expected (%s): updates use the public set_topic", why)
            return None
        return cls(session, internal, timeout)

    async def set(self, path: str, type_code: int, value: bytes) -> None:
        """Set the topic at ``path`` (of type ``type_code``) to the encoded ``value``; raises as the SDK does."""
        reply = _Reply(self._loop.create_future())
        conversation = await self._conversations.new_conversation(_SERVICE, handler=reply)
        future = reply.future
        if future.done():  # the session is closing: the SDK discarded the conversation at once
            return await future
        cid = conversation.cid
        reply.deadline = self._loop.time() + self.timeout
        pending = self._pending
        pending[cid] = reply
        try:
            await self._send(set_topic_frame(cid, path, type_code, value))
            await future
        except BaseException:
            self._conversations.conversations.pop(cid, None)  # no response will come for it
            raise
        finally:
            del pending[cid]

    def fail_all(self, error: Exception) -> None:
        for reply in list(self._pending.values()):
            if not reply.future.done():
                reply.future.set_exception(error)

    def close(self) -> None:
        self._watcher.cancel()
        self.fail_all(ConnectionError("the Diffusion session was closed"))

    async def _watch(self) -> None:
        connection = self._connection
        period = min(1.0, self.timeout / 4)
        while True:
            try:
                await asyncio.wait_for(connection.disconnected_event.wait(), period)
            except TimeoutError:
                pass
            state = connection.state
            if connection.disconnected_event.is_set() or state.closed:
                self.fail_all(ConnectionError(f"the Diffusion session is {state.name}"))
                if state.closed:
                    return
                await asyncio.sleep(period)  # reconnecting (an SDK reconnection strategy)
                continue
            now = self._loop.time()
            for reply in list(self._pending.values()):
                if reply.deadline > now:
                    break  # in sending order: the rest are younger
                if not reply.future.done():
                    reply.future.set_exception(TimeoutError(f"no response from Diffusion in {self.timeout:g}s"))
