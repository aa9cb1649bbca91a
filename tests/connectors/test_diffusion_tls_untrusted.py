"""An untrusted wss:// server gets no credentials: the issue's attack, watched from the server side.

A raw TLS listener on loopback plays the impostor: a self-signed certificate for ``CN=evil.example``
(which also names 127.0.0.1, so only its issuer is wrong). It records every byte a client sends
after the handshake. A ``DiffusionConnection`` with default settings (the system trust store) must
refuse it in the handshake, before the SDK writes its WebSocket upgrade request, whose headers
carry the principal and the password.

This module uses only what existed before verified TLS (``DiffusionConnection(url, principal,
password, name=...)`` and the test PKI), so the same test runs on a checkout without the fix and
fails there: the listener receives ``GET /diffusion`` with the password header.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass, field

from streamapp.diffusion.connection import DiffusionConnection

PASSWORD = "Imp0stor-bait-7f3e"  # distinctive: found in bytes or text only if it leaked
TIMEOUT = 15.0


@dataclass
class Observed:
    connections: int = 0
    handshake_failures: list[str] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def impostor(cert: str, key: str):
    """A TLS server on 127.0.0.1 recording what clients send; yields (port, Observed)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen = Observed()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            await writer.start_tls(context)
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            seen.handshake_failures.append(getattr(exc, "reason", None) or str(exc))
            seen.done.set()
            writer.close()
            return
        try:
            # Everything the client sends within a second: the upgrade request, headers and all.
            while chunk := await asyncio.wait_for(reader.read(4096), 1.0):
                seen.received += chunk
        except (TimeoutError, ConnectionError, ssl.SSLError):
            pass
        seen.done.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


async def test_self_signed_impostor_is_refused_before_any_credential_is_sent(pki, caplog):
    async with impostor(pki.path("evil.pem"), pki.path("evil.key")) as (port, seen):
        url = f"wss://127.0.0.1:{port}"
        connection = DiffusionConnection(url, "admin", PASSWORD, name="untrusted", backoff_max=30.0)
        await connection.start()
        try:
            await asyncio.wait_for(seen.done.wait(), TIMEOUT)
            for _ in range(50):  # the client side records its failure right after the server saw it
                if connection.last_error:
                    break
                await asyncio.sleep(0.1)
            state, connected = connection.state, connection.connected
        finally:
            await connection.stop()

    assert seen.connections >= 1, "the client never reached the listener"
    assert bytes(seen.received) == b"", (
        f"an unverified server received {len(seen.received)} bytes after the handshake:\n"
        + bytes(seen.received).decode("latin-1")
    )
    assert seen.handshake_failures, "the handshake did not fail on the server side"
    assert (state, connected) == ("TLS_FAILED", False)
    assert url in connection.last_error and "untrusted issuer" in connection.last_error
    assert "self-signed" in connection.last_error
    assert "no credentials were sent" in connection.last_error
    encoded = base64.b64encode(b"\x01" + bytes([len(PASSWORD)]) + PASSWORD.encode()).decode()
    for text in (connection.last_error, caplog.text):
        assert PASSWORD not in text and encoded not in text
