"""A permissive CoAP server (aiocoap) for the dev stack and the tests.

:class:`DevCoapServer` accepts PUT and POST on *any* path, creating the resource on first use
(2.01 Created, later 2.04 Changed, as libcoap's ``coap-server -d`` does). A GET returns the last
payload with its content format; resources are observable, so observers are notified on every
PUT/POST; ``/.well-known/core`` lists what exists. Every request is logged (method, path, content
format, payload preview) under ``streamapp.devstack.coap_server``::

    async with DevCoapServer(port=5683) as server:
        ...                                   # a sink PUTs to coap://127.0.0.1:5683/sensors/temp
        await server.wait_for("/sensors/temp", count=3)

Test hooks: :meth:`DevCoapServer.received` / :meth:`~DevCoapServer.last` /
:meth:`~DevCoapServer.wait_for` give the accepted payloads per path (bounded);
:attr:`DevCoapServer.history` holds every request seen, including rejected ones (bounded);
:meth:`DevCoapServer.fail_with` makes the server answer an error code for one path or all paths;
:meth:`~DevCoapServer.stop` then :meth:`~DevCoapServer.start` rebinds the same port and keeps the
stored resources.

Only the UDP transport is bound: aiocoap's default server transports would also open TCP and
WebSocket listeners on the same port number, which a dev stack does not need.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocoap import Context, Message, resource
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat
from aiocoap.pipe import Pipe

from streamapp.errors import StreamAppError

__all__ = ["DevCoapServer", "RequestRecord", "WaitTimeout", "run_coap_server"]

log = logging.getLogger(__name__)

_WELL_KNOWN_CORE = (".well-known", "core")
_STORING_METHODS = (Code.PUT, Code.POST)
_PREVIEW_BYTES = 64


class WaitTimeout(StreamAppError, TimeoutError):
    """:meth:`DevCoapServer.wait_for` gave up; ``received`` holds what did arrive."""

    def __init__(self, path: str, count: int, timeout: float, received: list[bytes]) -> None:
        self.path = path
        self.received = received
        super().__init__(
            f"{path}: expected {count} payload(s) within {timeout} s, got {len(received)}: "
            f"{[_preview(p) for p in received[-10:]]}"
        )


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (a block of a blockwise transfer counts as one)."""

    method: str
    path: str
    content_format: int | None
    payload: bytes
    #: The code answered by fault injection, or None when the request was handled normally.
    injected: Code | None
    at: float


def normalize_path(path: str) -> str:
    """``"sensors/temp"`` and ``"/sensors/temp"`` name the same resource: ``"/sensors/temp"``."""
    return "/" + path.lstrip("/")


def _path_of(uri_path: tuple[str, ...]) -> str:
    return "/" + "/".join(uri_path)


def _preview(payload: bytes) -> str:
    text = repr(payload[:_PREVIEW_BYTES])
    return text + ("..." if len(payload) > _PREVIEW_BYTES else "")


def _as_response_code(code: Code | int | str) -> Code:
    """Accept ``Code.SERVICE_UNAVAILABLE``, ``163`` or ``"5.03"``."""
    if isinstance(code, str):
        klass, _, detail = code.partition(".")
        code = int(klass) * 32 + int(detail)
    result = Code(code)
    if not result.is_response() or result.is_successful():
        raise ValueError(f"{result!r} is not an error response code")
    return result


class _StoredResource(resource.ObservableResource):
    """A resource created by a PUT/POST: it keeps the last payload and notifies observers."""

    def __init__(self, server: DevCoapServer, path: str) -> None:
        super().__init__()
        self._server = server
        self.path = path
        self.payload = b""
        self.content_format: ContentFormat | None = None
        self._stored_once = False

    def get_link_description(self) -> dict[str, Any]:
        link = super().get_link_description()
        if self.content_format is not None:
            link["ct"] = str(int(self.content_format))
        return link

    async def render_get(self, request: Message) -> Message:
        return Message(payload=self.payload, content_format=self.content_format)

    async def render_put(self, request: Message) -> Message:
        return self._store(request)

    async def render_post(self, request: Message) -> Message:
        return self._store(request)

    def _store(self, request: Message) -> Message:
        # Here the payload is whole: aiocoap has already reassembled any Block1 transfer.
        self.payload = request.payload
        self.content_format = request.opt.content_format
        code = Code.CHANGED if self._stored_once else Code.CREATED
        self._stored_once = True
        self._server._accepted(self.path, request.payload)
        self.updated_state()
        return Message(code=code)


class _DevSite(resource.Site):
    """A Site that creates a resource for any path on its first PUT/POST."""

    def __init__(self, server: DevCoapServer) -> None:
        super().__init__()
        self._server = server
        self._paths: set[tuple[str, ...]] = set()
        self._add(_WELL_KNOWN_CORE, resource.WKCResource(self.get_resources_as_linkheader, impl_info=None))

    def _add(self, uri_path: tuple[str, ...], res: resource.Resource) -> None:
        self._paths.add(uri_path)
        self.add_resource(uri_path, res)

    async def render_to_pipe(self, pipe: Pipe) -> None:
        request = pipe.request
        uri_path = tuple(request.opt.uri_path)
        injected = self._server._observe_request(request, _path_of(uri_path))
        if injected is not None:
            pipe.add_response(Message(code=injected), is_last=True)
            return
        if request.code in _STORING_METHODS and uri_path not in self._paths:
            self._add(uri_path, _StoredResource(self._server, _path_of(uri_path)))
        await super().render_to_pipe(pipe)


class DevCoapServer:
    """The dev stack's CoAP server on ``host:port`` (UDP).

    Args:
        host: address to bind (loopback by default).
        port: UDP port. aiocoap sets ``SO_REUSEPORT``, so binding a port another process already
            uses does *not* fail; pick a free one.
        history_limit: how many requests :attr:`history` keeps.
        per_path_limit: how many accepted payloads :meth:`received` keeps per path.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5683,
        *,
        history_limit: int = 1000,
        per_path_limit: int = 1000,
    ) -> None:
        self.host = host
        self.port = port
        self.per_path_limit = per_path_limit
        self.history: collections.deque[RequestRecord] = collections.deque(maxlen=history_limit)
        self._received: dict[str, collections.deque[bytes]] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._failures: dict[str | None, Code] = {}
        self._changed = asyncio.Event()
        self._site = _DevSite(self)
        self._context: Context | None = None

    @property
    def uri(self) -> str:
        return f"coap://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._context is not None

    async def start(self) -> None:
        """Bind the UDP port and serve. Stored resources survive a stop/start cycle."""
        if self._context is not None:
            raise StreamAppError(f"CoAP server {self.uri} already running")
        self._context = await Context.create_server_context(
            self._site,
            bind=(self.host, self.port),
            transports=["udp6"],
            loggername=f"{__name__}.aiocoap",
        )
        log.info("CoAP server listening on %s", self.uri)

    async def stop(self) -> None:
        """Release the port; active observations end (observers see no more notifications)."""
        context, self._context = self._context, None
        if context is not None:
            await context.shutdown()
            log.info("CoAP server %s stopped", self.uri)

    async def __aenter__(self) -> DevCoapServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- what arrived -------------------------------------------------------------------------

    def received(self, path: str) -> list[bytes]:
        """Payloads accepted by PUT/POST on ``path``, oldest first (the last ``per_path_limit``)."""
        return list(self._received.get(normalize_path(path), ()))

    def last(self, path: str) -> bytes | None:
        payloads = self._received.get(normalize_path(path))
        return payloads[-1] if payloads else None

    async def wait_for(self, path: str, count: int = 1, timeout: float = 10) -> list[bytes]:
        """Wait until ``path`` has accepted ``count`` payloads in total; return :meth:`received`.

        Raises :class:`WaitTimeout` carrying what did arrive.
        """
        path = normalize_path(path)
        if count > self.per_path_limit:
            raise ValueError(f"count {count} exceeds per_path_limit {self.per_path_limit}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._counts[path] < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(path, count, timeout, self.received(path))
            with contextlib.suppress(TimeoutError):  # the loop condition decides
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.received(path)

    def clear_history(self) -> None:
        """Forget received payloads and request history (resources keep their last value)."""
        self.history.clear()
        self._received.clear()
        self._counts.clear()

    # -- fault injection ----------------------------------------------------------------------

    def fail_with(self, code: Code | int | str, path: str | None = None) -> None:
        """Answer every request on ``path`` (or on all paths) with the error ``code``.

        A path-specific failure wins over an all-paths one. Failed requests are recorded in
        :attr:`history` but not in :meth:`received`.
        """
        key = None if path is None else normalize_path(path)
        self._failures[key] = _as_response_code(code)

    def clear_failures(self) -> None:
        self._failures.clear()

    # -- called by the site and resources ----------------------------------------------------

    def _observe_request(self, request: Message, path: str) -> Code | None:
        """Log and record one incoming request; return the code to inject, if any."""
        injected = self._failures.get(path, self._failures.get(None))
        content_format = request.opt.content_format
        block1 = request.opt.block1
        log.info(
            "%s %s ct=%s%s %d bytes %s%s",
            request.code,
            path,
            None if content_format is None else int(content_format),
            "" if block1 is None else f" block1={block1.block_number}{'+' if block1.more else ''}",
            len(request.payload),
            _preview(request.payload),
            "" if injected is None else f" -> injected {injected}",
        )
        self.history.append(
            RequestRecord(
                method=str(request.code),
                path=path,
                content_format=None if content_format is None else int(content_format),
                payload=request.payload,
                injected=injected,
                at=time.time(),
            )
        )
        return injected

    def _accepted(self, path: str, payload: bytes) -> None:
        payloads = self._received.setdefault(path, collections.deque(maxlen=self.per_path_limit))
        payloads.append(payload)
        self._counts[path] += 1
        # Wake every waiter; each re-checks its own path against a fresh event.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def __repr__(self) -> str:
        return f"<DevCoapServer {self.uri} {'running' if self.running else 'stopped'}>"


async def run_coap_server(
    host: str = "127.0.0.1",
    port: int = 5683,
    *,
    on_ready: Callable[[DevCoapServer], Awaitable[Any] | Any] | None = None,
) -> None:
    """Serve until cancelled (the ``streamapp coap-server`` command); ``on_ready(server)`` may be async."""
    async with DevCoapServer(host, port) as server:
        if on_ready is not None:
            result = on_ready(server)
            if inspect.isawaitable(result):
                await result
        await asyncio.get_running_loop().create_future()  # until cancelled
