"""A pool of aiocoap client contexts: several requests in flight to one server.

aiocoap keeps at most one confirmable exchange in flight per server endpoint (NSTART=1, RFC 7252
section 4.7): requests sent through one :class:`aiocoap.Context` wait for each other, one round
trip each. Each context here has its own socket (and, for coaps://, its own DTLS session), which
the server sees as another client endpoint, so ``size`` contexts carry ``size`` requests at once
while every endpoint still follows NSTART=1.

A request borrows a context for its whole exchange (:meth:`EndpointPool.acquire` /
:meth:`~EndpointPool.release`); contexts are
created on first need and reused most-recently-returned first, so a lightly loaded sink keeps
few sockets (and few DTLS handshakes). A context whose request timed out or hit a network error
is shut down rather than reused: its exchange may still be retransmitting, and a DTLS session
may be dead (server restarted, handshake refused); the next request gets a fresh one.

Transports (:func:`client_transports`): ``simple6`` (a connected UDP socket per server) for
coap://, measured here about twice as fast as aiocoap's default ``udp6`` (which reads every
datagram with ``recvmsg`` and ancillary data), and safe for a client that only talks to the
server it addressed; ``udp6`` for a multicast host, which a connected socket cannot serve;
``tinydtls`` for coaps:// with a pre-shared key. With certificates (``x509``) each context gets
our own DTLS transport instead (:mod:`streamapp.coap.dtls_x509`), and all of them share one
:class:`~streamapp.coap.dtls_x509.X509Client`: one OpenSSL context and one session cache, so a
new endpoint resumes the session of an earlier one instead of a full handshake.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from aiocoap import Context

from .dtls_x509 import X509Client, create_client_context

__all__ = ["EndpointPool", "client_transports"]

logger = logging.getLogger(__name__)


def client_transports(uri: str) -> list[str]:
    """The aiocoap client transport for requests to ``uri``."""
    parts = urlsplit(uri)
    if parts.scheme == "coaps":
        return ["tinydtls"]
    try:
        if ipaddress.ip_address(parts.hostname or "").is_multicast:
            return ["udp6"]
    except ValueError:
        pass  # a host name: simple6 resolves it and connects to the address
    return ["simple6"]


class Endpoint:
    """One aiocoap client context and what it has done (for error messages)."""

    __slots__ = ("context", "discard", "exchanges")

    def __init__(self, context: Context) -> None:
        self.context = context
        self.exchanges = 0  # completed request/response exchanges
        self.discard = False  # set by a failed request: shut down instead of reusing


class EndpointPool:
    def __init__(
        self,
        size: int,
        transports: list[str],
        *,
        credentials: dict[str, Any] | None = None,
        x509: X509Client | None = None,
        loggername: str = "streamapp.coap.aiocoap",
    ) -> None:
        if size < 1:
            raise ValueError("an endpoint pool needs size >= 1")
        self.size = size
        self.transports = transports
        self.credentials = credentials
        self.x509 = x509
        self.loggername = loggername
        # aiocoap logs several DEBUG lines per request; when a worker's logging lets DEBUG through
        # everywhere, that costs more than the request. Its warnings still show; configure this
        # logger's level to see the rest.
        aiocoap_logger = logging.getLogger(loggername)
        if aiocoap_logger.level == logging.NOTSET:
            aiocoap_logger.setLevel(logging.WARNING)
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Endpoint] = []
        self._all: set[Endpoint] = set()
        self._closing: set[asyncio.Task] = set()
        self._closed = False

    @property
    def open_endpoints(self) -> int:
        return len(self._all)

    async def start(self) -> None:
        """Create one endpoint now, so a transport that cannot start fails at startup."""
        self._idle.append(await self._create())

    async def _create(self) -> Endpoint:
        if self.x509 is not None:
            context = await create_client_context(self.x509, loggername=self.loggername)
        else:
            context = await Context.create_client_context(transports=self.transports, loggername=self.loggername)
        if self.credentials:
            context.client_credentials.load_from_dict(self.credentials)
        endpoint = Endpoint(context)
        self._all.add(endpoint)
        return endpoint

    async def acquire(self) -> Endpoint:
        """Borrow an endpoint for one exchange; give it back with :meth:`release`."""
        if self._closed:
            raise RuntimeError("the endpoint pool is closed")
        await self._slots.acquire()
        try:
            return self._idle.pop() if self._idle else await self._create()
        except BaseException:
            self._slots.release()
            raise

    def release(self, endpoint: Endpoint) -> None:
        """Return a borrowed endpoint; one with ``discard`` set (or after close) is shut down instead."""
        if endpoint.discard or self._closed:
            self._retire(endpoint)
        else:
            self._idle.append(endpoint)
        self._slots.release()

    def _retire(self, endpoint: Endpoint) -> None:
        self._all.discard(endpoint)
        task = asyncio.get_running_loop().create_task(self._shutdown(endpoint))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _shutdown(self, endpoint: Endpoint) -> None:
        try:
            await endpoint.context.shutdown()
        except Exception as exc:  # noqa: BLE001 -- a context that fails to shut down is gone anyway
            logger.debug("shutting down a CoAP client context: %s", exc)

    async def close(self) -> None:
        """Shut every endpoint down (requests still in flight are abandoned)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for endpoint in list(self._all):
            self._all.discard(endpoint)
            await self._shutdown(endpoint)
        del idle
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
