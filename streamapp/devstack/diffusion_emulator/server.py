"""The aiohttp WebSocket server: handshake, per-session tasks, fault hooks and introspection.

The SDK connects to ``<base url>/diffusion`` with its connection parameters in HTTP headers
(``v``, ``ca``, ``username``, ``password``, ``r``, ``ty``, ``sp``; ``c`` only when resuming).
The first binary message the server sends is the connection response: 55 bytes on success,
3 bytes (``23 19 <code>``) on refusal, after which the socket is closed.

Each accepted session runs three tasks besides the aiohttp handler that reads frames:

* a *processor* that handles requests in arrival order, each no earlier than its arrival time
  plus the configured response delay (so delays overlap instead of adding up);
* a *writer* that drains the session's outbound FIFO onto the socket (ordering matters:
  NOTIFY_SUBSCRIPTION must precede the values of that topic id);
* a *pinger* that sends SYSTEM_PING every ``system_ping_period`` seconds, the period the
  handshake announces; the SDK answers with an empty response, which is counted.

Fault hooks:

* ``drop_all_sessions()`` closes every WebSocket from the server side; the SDK moves straight to
  ``CLOSED_BY_SERVER`` (it has no reconnection strategy unless the application sets one).
* ``refuse_connections(seconds)`` answers handshakes with REJECTED_SERVER_INITIALISING (119)
  for that long. It is the one refusal the SDK treats as transient: ``open()`` raises
  ``ServerInitializingError`` (a ``ServerConnectionResponseError``) and the SDK's own
  ``initial_retry_strategy`` retries it, whereas 111/113/116/117 are fatal.
* ``delay_responses(seconds)`` holds every service request that long before handling it, so
  the response *and* its effects (fan-out to subscribers) arrive late, like a busy server.

Resumption is not supported: a handshake that carries a session token (``c`` header) is answered
with UNKNOWN_SESSION (117), as a real server answers for a session it no longer knows.

With ``tls_cert`` and ``tls_key`` (PEM files) the emulator serves wss:// instead of ws://.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from . import wire
from .codes import SUPPORTED_PROTOCOL_VERSIONS, ConnectionResponseCode, MessageType
from .handshake import ConnectionRequest, negotiated_version
from .security import Authenticator, Principal
from .services import Services
from .session import EmulatedSession, SessionInfo
from .tls import server_context
from .topics import InvalidValue, TopicTree

__all__ = ["DiffusionEmulator", "run_emulator"]

LOG = logging.getLogger("streamapp.devstack.diffusion_emulator")

#: Announced in the handshake; the emulator itself accepts frames of any size.
MAX_MESSAGE_SIZE = 2**31 - 1
#: Refused handshakes wait this long for the client's close reply before giving up on it.
_CLOSE_TIMEOUT = 5.0


class _Connection:
    """A live session plus the transport and tasks that serve it."""

    def __init__(self, session: EmulatedSession, ws: web.WebSocketResponse, peer: str) -> None:
        self.session = session
        self.ws = ws
        self.peer = peer
        self.inbound: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.close_reason = "closed by client"
        self.close_requested = False


class DiffusionEmulator:
    """A Diffusion server, as far as the official Python SDK can tell, for tests and the dev stack.

    Args:
        host: Interface to bind; keep the default loopback address in tests.
        port: TCP port; 0 picks a free one (read ``.port`` after ``start()``).
        principals: principal name to password; ``None`` gives ``admin``/``password`` and
            ``control``/``password``. Every named principal may create, update and remove topics.
        allow_anonymous: whether sessions without a principal are accepted (read-only).
        system_ping_period: seconds between SYSTEM_PING messages to each session; also the
            ping period announced in the handshake.
        tls_cert, tls_key: PEM certificate chain and private key: serve wss:// (both or neither).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        principals: dict[str, str] | None = None,
        allow_anonymous: bool = True,
        system_ping_period: float = 30.0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        if system_ping_period <= 0:
            raise ValueError("system_ping_period must be positive")
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("wss:// needs both a TLS certificate and its private key")
        self._ssl_context = server_context(tls_cert, tls_key) if tls_cert and tls_key else None
        self.host = host
        self.port = port
        self.system_ping_period = system_ping_period
        self._auth = Authenticator(principals, allow_anonymous)
        self._tree = TopicTree()
        self._connections: dict[str, _Connection] = {}
        self._services = Services(self._tree, self._live_sessions)
        self._runner: web.AppRunner | None = None
        # One random server half per emulator, a counter for the value half: ids stay unique
        # across emulator restarts within a test run, as a real server's would.
        self._server_id = secrets.randbits(63) | 1
        self._session_values = itertools.count(1)
        self._refuse_until = 0.0
        self._delay = 0.0

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6 literals need brackets
        return f"{'wss' if self._ssl_context else 'ws'}://{host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/diffusion", self._handle)
        # The SDK joins "diffusion" onto the base URL, so a base with a path prefix ending in
        # "/" lands on "<prefix>/diffusion".
        app.router.add_get("/{prefix:.+}/diffusion", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        LOG.info("Diffusion emulator listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self._close_all("emulator stopped")
        runner, self._runner = self._runner, None
        await runner.cleanup()
        LOG.info("Diffusion emulator on %s stopped", self.url)

    async def __aenter__(self) -> DiffusionEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- fault injection -------------------------------------------------------------------------

    async def drop_all_sessions(self) -> int:
        """Close every session's WebSocket from the server side; returns how many there were."""
        return await self._close_all("dropped by drop_all_sessions()")

    def refuse_connections(self, seconds: float) -> None:
        """Answer handshakes with REJECTED_SERVER_INITIALISING (119) for ``seconds``; 0 ends it."""
        self._refuse_until = time.monotonic() + max(0.0, seconds)
        LOG.info("refusing new sessions for %.3f s", seconds)

    def delay_responses(self, seconds: float) -> None:
        """Handle every service request ``seconds`` after it arrives; 0 turns the delay off."""
        self._delay = max(0.0, seconds)
        LOG.info("service responses delayed by %.3f s", self._delay)

    # --- introspection ---------------------------------------------------------------------------

    def topic(self, path: str) -> tuple[str, object] | None:
        """``(type name, decoded value)`` of the topic at ``path``, or None if there is none.

        The value is None when the topic has no value; values that are not valid for the
        type (possible unless the topic validates values) come back as raw bytes.
        """
        topic = self._tree.get(path)
        if topic is None:
            return None
        try:
            value = topic.decoded()
        except InvalidValue:
            value = topic.value
        return topic.type_name, value

    def topic_paths(self) -> list[str]:
        return self._tree.paths()

    @property
    def session_count(self) -> int:
        """Open sessions; a dropped session stops counting at once, before its socket is gone."""
        return len(self._live_sessions())

    def sessions(self) -> list[SessionInfo]:
        """Snapshots of the open sessions (principal, selections, subscriptions, pings)."""
        return [session.info() for session in self._live_sessions()]

    # --- internals -------------------------------------------------------------------------------

    def _live_sessions(self) -> list[EmulatedSession]:
        return [conn.session for conn in self._connections.values() if not conn.session.closed]

    async def _close_all(self, reason: str) -> int:
        connections = list(self._connections.values())
        for conn in connections:
            conn.close_reason = reason
            conn.session.mark_closed()
        await asyncio.gather(*(self._close_ws(conn.ws) for conn in connections))
        return len(connections)

    @staticmethod
    async def _close_ws(
        ws: web.WebSocketResponse, code: int = 1001, message: bytes = b"closed by the Diffusion emulator"
    ) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=code, message=message)

    def _handshake(self, request: ConnectionRequest) -> tuple[int, Principal | None]:
        """Connection response code and principal for a client's connection request."""
        if negotiated_version(request.version) is None:
            LOG.warning(
                "refusing handshake with protocol version %r (spoken: %s)",
                request.version,
                ", ".join(str(v) for v in sorted(SUPPORTED_PROTOCOL_VERSIONS)),
            )
            return ConnectionResponseCode.CONNECTION_PROTOCOL_ERROR, None
        if request.token:
            return ConnectionResponseCode.UNKNOWN_SESSION, None
        if time.monotonic() < self._refuse_until:
            return ConnectionResponseCode.REJECTED_SERVER_INITIALISING, None
        try:
            credentials = wire.decode_credentials(request.password)
        except wire.ProtocolDecodeError:
            return ConnectionResponseCode.AUTHENTICATION_FAILED, None
        principal = self._auth.authenticate(request.username, credentials)
        if principal is None:
            return ConnectionResponseCode.AUTHENTICATION_FAILED, None
        return ConnectionResponseCode.OK, principal

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="Diffusion emulator: WebSocket upgrade required\n")
        await ws.prepare(request)
        peer = request.remote or "?"
        connection = ConnectionRequest.from_http(request.headers, request.query)
        code, principal = self._handshake(connection)
        # A refused version is answered with the newest one spoken, which every client reports
        # as a version mismatch (the JavaScript client: "Client version rejected").
        version = negotiated_version(connection.version) or max(SUPPORTED_PROTOCOL_VERSIONS)
        if principal is None:
            LOG.info(
                "refused session from %s for principal %r: %s",
                peer,
                connection.username,
                ConnectionResponseCode(code).name,
            )
            with contextlib.suppress(Exception):
                await ws.send_bytes(wire.connection_rejected(code, version=version))
                await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT)
            return ws

        session = EmulatedSession(
            self._server_id,
            next(self._session_values),
            principal,
            connection.properties,
            protocol_version=version,
            client_type=connection.client_type,
        )
        token = base64.b64encode(secrets.token_bytes(18))  # 24 ASCII bytes, opaque to the SDK
        await ws.send_bytes(
            wire.connection_response(
                session.session_server,
                session.session_value,
                token,
                int(self.system_ping_period * 1000),
                MAX_MESSAGE_SIZE,
                version=version,
            )
        )
        conn = _Connection(session, ws, peer)
        self._connections[session.session_id] = conn
        LOG.info(
            "session %s opened for principal %s from %s (client type %s, protocol %d)",
            session.session_id,
            principal,
            peer,
            connection.client_type or "?",
            version,
        )
        conn.tasks = [
            asyncio.create_task(self._process(conn), name=f"diffusion-emulator-process-{session.session_id}"),
            asyncio.create_task(self._write(conn), name=f"diffusion-emulator-write-{session.session_id}"),
            asyncio.create_task(self._ping(conn), name=f"diffusion-emulator-ping-{session.session_id}"),
        ]
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    self._on_frame(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    conn.close_reason = f"transport error: {ws.exception()!r}"
                    break
                else:
                    LOG.debug("session %s: ignoring %s WebSocket message", session.session_id, msg.type.name)
        finally:
            session.mark_closed()
            for task in conn.tasks:
                task.cancel()
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            self._connections.pop(session.session_id, None)
            if not ws.closed:
                await self._close_ws(ws)
            LOG.info("session %s closed (principal %s): %s", session.session_id, principal, conn.close_reason)
        return ws

    def _on_frame(self, conn: _Connection, frame: bytes) -> None:
        if not frame:
            return
        kind = frame[0] & 0x7F  # top bit = zlib; the SDK never compresses its requests
        session = conn.session
        if kind in (MessageType.SERVICE_REQUEST, MessageType.CLOSE_REQUEST):
            # A close request queues behind the requests sent before it, so they are answered.
            conn.inbound.put_nowait((time.monotonic() + self._delay, frame))
        elif kind == MessageType.SERVICE_RESPONSE:
            # The client's answer to a notification or system ping.
            try:
                session.on_client_response(wire.Reader(frame, 1).varint())
            except wire.ProtocolDecodeError:
                LOG.warning("session %s sent an undecodable response: %s", session.session_id, frame[:16].hex())
        elif kind == MessageType.SERVICE_ERROR:
            LOG.warning("session %s could not handle a server request: %s", session.session_id, frame[:64].hex())
        else:
            LOG.warning("session %s sent unexpected message type %d", session.session_id, kind)

    async def _process(self, conn: _Connection) -> None:
        session = conn.session
        while not session.closed:
            due, frame = await conn.inbound.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if session.closed:
                return
            if frame[0] & 0x7F == MessageType.CLOSE_REQUEST:
                # The JavaScript client's close: it waits a grace period for the server to close
                # the WebSocket. The writer closes it once the frames queued before are sent.
                conn.close_reason = "closed by client (close request)"
                conn.close_requested = True
                session.mark_closed()
                return
            try:
                self._services.dispatch(session, frame)
            except Exception:  # a bug in a handler must not kill the session silently
                LOG.exception("session %s: unhandled error in a service handler", session.session_id)

    async def _write(self, conn: _Connection) -> None:
        outbound = conn.session.outbound
        while True:
            frame = await outbound.get()
            if frame is None:
                if conn.close_requested:
                    await self._close_ws(conn.ws, code=1000, message=b"closed at the client's request")
                return
            try:
                await conn.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError) as exc:
                conn.close_reason = f"send failed: {exc}"
                conn.session.mark_closed()
                return

    async def _ping(self, conn: _Connection) -> None:
        while not conn.session.closed:
            await asyncio.sleep(self.system_ping_period)
            conn.session.send_system_ping()


async def run_emulator(
    host: str,
    port: int,
    *,
    principals: dict[str, str] | None = None,
    allow_anonymous: bool = True,
    system_ping_period: float = 30.0,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    on_ready: Callable[[DiffusionEmulator], Awaitable[Any] | Any] | None = None,
) -> None:
    """Serve until cancelled; ``on_ready(emulator)`` (sync or async) runs once it is listening."""
    async with DiffusionEmulator(
        host,
        port,
        principals=principals,
        allow_anonymous=allow_anonymous,
        system_ping_period=system_ping_period,
        tls_cert=tls_cert,
        tls_key=tls_key,
    ) as emulator:
        if on_ready is not None:
            result = on_ready(emulator)
            if inspect.isawaitable(result):
                await result
        await asyncio.Event().wait()
