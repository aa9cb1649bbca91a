"""Every use of the Diffusion Python SDK's internals, in one place (guard tests: tests/unit/test_sdk_internals.py).

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

**Credentials in debug logs** (:func:`hide_sdk_credentials`, installed by
:mod:`streamapp.diffusion.connection`). At DEBUG the SDK logs the headers of its WebSocket upgrade
request ("Connecting."), the ``password`` header included: base64 of the password, as good as the
password itself. ``STREAMAPP_DIFFUSION_SDK_LOG_LEVEL=DEBUG`` would put it in the worker log. A
filter on the two loggers that log those headers replaces the value.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["CONVERSATIONS_MODULE", "HEADER_LOGGERS", "RESOLVER_MODULE", "hide_sdk_credentials", "install"]

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
