"""One Diffusion session per connector, kept open: connect, watch, reconnect with back-off.

The Java connector opened its session with reconnection disabled, so one network blip failed the
task for good. Here a lost session is replaced: callers ``await connection.session()`` and get the
current session once one is up; while none is, they wait (and nothing is acked meanwhile).

A wss:// session is opened with the verifying SSL context of :mod:`.tls` (the SDK's own default
verifies nothing). A server that fails verification (untrusted issuer, expired certificate, host
mismatch) leaves the connection in state ``TLS_FAILED`` with the reason in ``last_error``, shown in
the log, ``/streamapp/status`` and ``/readyz``; it is tried again every ``backoff_max`` seconds, as
a refused password is, since either is fixed on the server side or in the config, not by retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

import diffusion

from streamapp.core.retry import Backoff
from streamapp.errors import StreamAppError

from .sdk_internals import hide_sdk_credentials
from .tls import TlsSettings, tls_failure

__all__ = ["DiffusionConnection", "DiffusionAuthError", "DiffusionTlsError", "is_open"]

logger = logging.getLogger(__name__)
hide_sdk_credentials()  # the SDK logs the password header at DEBUG


class DiffusionAuthError(StreamAppError):
    """The server rejected the credentials; retrying with the same ones cannot succeed."""


class DiffusionTlsError(StreamAppError):
    """The server failed TLS verification; no credential was sent to it."""


class DiffusionConnection:
    def __init__(
        self,
        url: str,
        principal: str,
        password: str,
        *,
        name: str,
        connect_timeout: float = 10.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        tls: TlsSettings | None = None,
    ) -> None:
        self.url = url
        self.tls = tls or TlsSettings()  # wss:// only; the default trusts the system trust store
        self._ssl_context = self.tls.client_context() if urlsplit(url).scheme == "wss" else None
        self.principal = principal
        self._password = password
        self.name = name
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._session: Any = None
        self._up = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lost = asyncio.Event()
        self._closing = False
        self.state = "DISCONNECTED"
        self.last_error: str | None = None
        self.connects = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"diffusion-connection-{self.name}")

    async def stop(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_session()
        self.state = "CLOSED"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    async def session(self) -> Any:
        """The current open session, waiting for a (re)connection if needed."""
        while True:
            await self._up.wait()
            session = self._session
            if session is not None and is_open(session):
                return session
            self.mark_lost(session)

    def mark_lost(self, session: Any) -> None:
        """Called by users of a session that failed; triggers a reconnect if it is still current."""
        if session is not None and session is self._session and self._up.is_set():
            self._up.clear()
            self._lost.set()

    @classmethod
    def from_config(cls, config: Any, name: str) -> DiffusionConnection:
        """The session of a connector with the common ``diffusion.*`` keys (sink and source alike)."""
        return cls(
            config.diffusion_url,
            config.diffusion_username,
            config.diffusion_password.get_secret_value(),
            name=name,
            backoff_max=config.diffusion_reconnect_backoff_max_ms / 1000,
            tls=config.tls,
        )

    async def _run(self) -> None:
        backoff = Backoff(self.backoff_initial, self.backoff_max, jitter=0.5)
        while not self._closing:
            try:
                await self._connect()
                backoff.reset()
            except DiffusionAuthError as exc:
                self.state = "AUTH_FAILED"
                self.last_error = str(exc)
                logger.error(
                    "%s; check diffusion.username and diffusion.password (retrying in %.0fs)", exc, self.backoff_max
                )
                await asyncio.sleep(self.backoff_max)
                continue
            except DiffusionTlsError as exc:
                self.state = "TLS_FAILED"
                self.last_error = str(exc)
                logger.error("%s (retrying in %.1fs)", exc, self.backoff_max)
                await asyncio.sleep(self.backoff_max)
                continue
            except Exception as exc:  # any connect failure: back off and try again
                self.state = "RECONNECTING"
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = backoff.next()
                logger.warning(
                    "connector %r: cannot connect to Diffusion at %s (%s); retrying in %.1fs",
                    self.name,
                    self.url,
                    self.last_error,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            await self._watch()

    async def _connect(self) -> None:
        from diffusion.internal.protocol.exceptions import ServerConnectionResponseError

        self.state = "CONNECTING"
        factory = diffusion.sessions().principal(self.principal).credentials(diffusion.Credentials(self._password))
        if self._ssl_context is not None:
            factory = factory.ssl_context(self._ssl_context)
        try:
            session = await asyncio.wait_for(factory.open(self.url), self.connect_timeout)
        except ServerConnectionResponseError as exc:
            if getattr(exc.response_code, "name", "") == "AUTHENTICATION_FAILED":
                raise DiffusionAuthError(
                    f"connector {self.name!r}: Diffusion at {self.url} rejected principal {self.principal!r}"
                ) from None
            raise
        except Exception as exc:
            reason = tls_failure(exc, self.url, self.tls) if self._ssl_context is not None else None
            if reason is not None:
                raise DiffusionTlsError(f"connector {self.name!r}: {reason}") from None
            raise
        self._session = session
        self._lost.clear()
        self.connects += 1
        self.state = "CONNECTED"
        self.last_error = None
        self._up.set()
        if self.connects > 1:
            logger.info("connector %r: reconnected to Diffusion at %s", self.name, self.url)
        else:
            logger.info("connector %r: connected to Diffusion at %s as %s", self.name, self.url, self.principal)

    async def _watch(self) -> None:
        # The SDK has no awaitable "closed" signal we can rely on across versions: poll its state,
        # and wake at once when a publisher reports a failure.
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._lost.wait(), 0.5)
            if self._lost.is_set() or not is_open(self._session):
                break
        self._up.clear()
        if not self._closing:
            self.state = "RECONNECTING"
            logger.warning("connector %r: Diffusion session lost; reconnecting", self.name)
        await self._close_session()

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.close(), 5)


def is_open(session: Any) -> bool:
    try:
        state = session.state
        return bool(state.connected) and not bool(state.closed)
    except Exception:
        return False
