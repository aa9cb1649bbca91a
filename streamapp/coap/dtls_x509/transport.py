"""aiocoap's ``MessageInterface`` for coaps:// with X.509 certificates, modelled on aiocoap's tinydtls transport.

aiocoap's message manager (CON retransmission, deduplication, NSTART) sits above it, unchanged:
this interface only maps a request's coaps://host:port to a :class:`~.connection.DtlsConnection`
(one per server, reused while it lasts) and hands encoded messages to it. Credentials are not
looked up in aiocoap's credentials map, whose entry types are fixed (``dtls`` is PSK only):
the interface is built for one :class:`~.client.X509Client`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiocoap import error as coap_error
from aiocoap import interfaces
from aiocoap.numbers import COAPS_PORT
from aiocoap.util import hostportsplit

from .client import X509Client
from .connection import DtlsConnection

__all__ = ["DtlsX509Interface"]


class DtlsX509Interface(interfaces.MessageInterface):
    def __init__(self, ctx: Any, log: logging.Logger, loop: asyncio.AbstractEventLoop, client: X509Client) -> None:
        self.ctx = ctx  # aiocoap's MessageManager
        self.log = log
        self.loop = loop
        self.client = client
        self._pool: dict[tuple[str, int], DtlsConnection] = {}
        self._shutting_down = False

    @classmethod
    async def create_client_transport_endpoint(
        cls, ctx: Any, log: logging.Logger, loop: asyncio.AbstractEventLoop, client: X509Client
    ) -> DtlsX509Interface:
        return cls(ctx, log, loop, client)

    @property
    def connections(self) -> list[DtlsConnection]:
        return list(self._pool.values())

    async def recognize_remote(self, remote: object) -> bool:
        return isinstance(remote, DtlsConnection) and self._pool.get(remote.server) is remote

    async def determine_remote(self, request: Any) -> DtlsConnection | None:
        if request.requested_scheme != "coaps":
            return None
        if self._shutting_down:
            raise coap_error.LibraryShutdown
        if request.unresolved_remote:
            host, port = hostportsplit(request.unresolved_remote)
        elif request.opt.uri_host:
            host, port = request.opt.uri_host, request.opt.uri_port
        else:
            raise ValueError("No location found to send message to (neither in .opt.uri_host nor in .remote)")
        server = (host, port or COAPS_PORT)
        connection = self._pool.get(server)
        if connection is None or connection.closed:
            connection = self._pool[server] = DtlsConnection(self, *server)
        return connection

    def forget(self, connection: DtlsConnection) -> None:
        """Drop a closed connection, so that the next request opens a new one."""
        if self._pool.get(connection.server) is connection:
            del self._pool[connection.server]

    def send(self, message: Any) -> None:
        message.remote.send(message.encode())

    async def shutdown(self) -> None:
        self._shutting_down = True
        for connection in list(self._pool.values()):
            connection.shutdown()
