"""Every use of the Diffusion Python SDK's internals, in one place (guard tests: tests/unit/test_sdk_internals.py).

**Import cost** (:func:`speed_up_sdk_import`). Importing the SDK (6.12) costs ~3-4 s of CPU, ~90%
of it in ``diffusion.internal.serialisers.base.log``: it computes ``inspect.stack()`` (the whole
call stack, with source lines read from disk) on every step of building its serialisers, to
indent a debug message that it then drops unless ``DEBUG_RESOLVER`` is set. Every worker start
and every CLI command that touches Diffusion paid it. The hook below replaces that function,
right after its module is executed, by one that does the same when ``DEBUG_RESOLVER`` is set and
nothing otherwise; nothing else in the SDK changes.

**Credentials in debug logs** (:func:`hide_sdk_credentials`). At DEBUG the SDK logs the headers of
its WebSocket upgrade request ("Connecting."), the ``password`` header included: base64 of the
password, as good as the password itself. ``STREAMAPP_DIFFUSION_SDK_LOG_LEVEL=DEBUG`` would put
it in the worker log. A filter on the two loggers that log those headers replaces the value.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
from types import ModuleType
from typing import Any

__all__ = ["HEADER_LOGGERS", "RESOLVER_MODULE", "hide_sdk_credentials", "speed_up_sdk_import"]

RESOLVER_MODULE = "diffusion.internal.serialisers.base"


def _patch_resolver_log(module: ModuleType) -> None:
    original = getattr(module, "log", None)
    if original is None or getattr(original, "__streamapp_quiet__", False):
        return

    def log(x: str) -> None:
        if os.getenv("DEBUG_RESOLVER"):  # the only case where the SDK's own function logs anything
            original(x)

    log.__streamapp_quiet__ = True  # type: ignore[attr-defined]
    log.__wrapped__ = original  # type: ignore[attr-defined]
    module.log = log


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _patch_resolver_log(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename...: the file loader's
        return getattr(self._inner, name)


class _ResolverFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != RESOLVER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def speed_up_sdk_import() -> None:
    """Install the import hook (idempotent); patches at once if the SDK is already imported."""
    loaded = sys.modules.get(RESOLVER_MODULE)
    if loaded is not None:
        _patch_resolver_log(loaded)
        return
    if not any(isinstance(finder, _ResolverFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ResolverFinder())


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
