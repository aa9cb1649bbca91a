"""The DTLS X.509 transport against Debian's libcoap servers (OpenSSL and GnuTLS builds), with the test PKI.

Each test starts its own ``coap-server-<variant>`` with certificates (``-c``/``-j``; ``-C`` makes
it require a client certificate issued by our CA) and talks to it through an aiocoap context
built by :func:`streamapp.coap.dtls_x509.create_client_context`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiocoap import Context, Message
from aiocoap.numbers.codes import Code

from streamapp.coap.dtls_x509 import (
    ClientCertificateRejected,
    DtlsHandshakeError,
    DtlsHandshakeTimeout,
    HostnameMismatch,
    NoCommonCipherSuite,
    UntrustedServer,
    X509Client,
    create_client_context,
)
from tests.fixtures.coap import LibcoapServer, libcoap_server
from tests.fixtures.net import free_udp_port
from tests.fixtures.pki import Pki
from tests.fixtures.pki import x509_settings as settings

VARIANTS = ["openssl", "gnutls"]
TIMEOUT = 5.0


def server_args(pki: Pki, certificate: str = "server", *, verify_clients: bool = True) -> list[str]:
    key = "rogue-server" if certificate.startswith("rogue") else "server"
    args = ["-c", pki.path(f"{certificate}.pem"), "-j", pki.path(f"{key}.key")]
    return [*args, "-C", pki.path("ca.pem")] if verify_clients else [*args, "-n"]


def dtls_uri(server: LibcoapServer, path: str = "/res") -> str:
    return f"coaps://127.0.0.1:{server.port + 1}{path}"


@contextlib.asynccontextmanager
async def client_context(client: X509Client) -> AsyncIterator[Context]:
    context = await create_client_context(client)
    try:
        yield context
    finally:
        await context.shutdown()


async def request(context: Context, uri: str, code: Code = Code.GET, payload: bytes = b"") -> Message:
    return await asyncio.wait_for(context.request(Message(code=code, uri=uri, payload=payload)).response, TIMEOUT)


def connections(context: Context) -> list:
    return context.request_interfaces[0].token_interface.message_interface.connections


@pytest.mark.parametrize("variant", VARIANTS)
async def test_mutual_authentication_put_then_get(pki, variant):
    client = X509Client(settings(pki))
    async with libcoap_server(variant, server_args(pki)) as server, client_context(client) as context:
        put = await request(context, dtls_uri(server, "/sensors/t1"), Code.PUT, b'{"t": 21.5}')
        assert put.code.is_successful(), put
        got = await request(context, dtls_uri(server, "/sensors/t1"))
        assert (got.code, got.payload) == (Code.CONTENT, b'{"t": 21.5}')
        # one DTLS session carried both requests
        [connection] = connections(context)
        assert connection.handshake_done and not connection.trace.resumed


@pytest.mark.parametrize("variant", VARIANTS)
async def test_untrusted_server_certificate_fails_at_once_with_its_issuer(pki, variant):
    client = X509Client(settings(pki))
    async with libcoap_server(variant, server_args(pki, "rogue-server")) as server, client_context(client) as context:
        started = time.monotonic()
        with pytest.raises(UntrustedServer) as failure:
            await request(context, dtls_uri(server), Code.PUT, b"{}")
        assert time.monotonic() - started < 2  # an error, not a timeout
        message = str(failure.value)
        assert f"DTLS handshake with 127.0.0.1:{server.port + 1} failed: the server is not trusted" in message
        assert "CN=rogue server" in message and "issued by CN=rogue CA" in message
        assert "its issuer is not among the trust anchors; trust anchors: the configured trust anchors" in message
        assert connections(context) == []  # the failed session is not reused


@pytest.mark.parametrize("variant", VARIANTS)
async def test_client_without_certificate_is_told_the_server_requires_one(pki, variant):
    client = X509Client(settings(pki, client=None))
    async with libcoap_server(variant, server_args(pki)) as server, client_context(client) as context:
        with pytest.raises(ClientCertificateRejected) as failure:
            await request(context, dtls_uri(server), Code.PUT, b"{}")
        assert "the server requires a client certificate and none is configured" in str(failure.value)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_client_certificate_from_another_ca_is_rejected(pki, variant):
    client = X509Client(settings(pki, client="rogue-client"))
    async with libcoap_server(variant, server_args(pki)) as server, client_context(client) as context:
        with pytest.raises(ClientCertificateRejected) as failure:
            await request(context, dtls_uri(server), Code.PUT, b"{}")
        message = str(failure.value)
        assert "the server rejected the client certificate CN=rogue client" in message
        assert "issued by CN=rogue CA" in message and "the server must trust its issuer" in message


@pytest.mark.parametrize("variant", VARIANTS)
async def test_no_common_cipher_suite(pki, variant):
    # The server's key is EC; a client that offers only RSA-authenticated suites shares none with it.
    client = X509Client(settings(pki, ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
    async with libcoap_server(variant, server_args(pki)) as server, client_context(client) as context:
        with pytest.raises(NoCommonCipherSuite) as failure:
            await request(context, dtls_uri(server), Code.PUT, b"{}")
        assert "no cipher suite (or DTLS version) in common" in str(failure.value)
        assert "'ECDHE-RSA-AES128-GCM-SHA256'" in str(failure.value)


async def test_host_name_is_checked_against_the_uri(pki):
    async with libcoap_server("openssl", server_args(pki, "server-noip")) as server:
        async with client_context(X509Client(settings(pki))) as context:
            with pytest.raises(HostnameMismatch) as failure:
                await request(context, dtls_uri(server), Code.PUT, b"{}")
            assert "trusted but not issued for '127.0.0.1'" in str(failure.value)
            assert "connect.coap.dtls.verify.hostname=false" in str(failure.value)
        async with client_context(X509Client(settings(pki, verify_hostname=False))) as context:
            assert (await request(context, dtls_uri(server), Code.PUT, b"{}")).code.is_successful()


async def test_sessions_are_resumed_by_the_next_connection_and_closed_with_close_notify(pki):
    # libcoap's OpenSSL server resumes sessions when it does not verify clients (-n); with -C it
    # answers an offered session with internal_error, which the client survives with a full handshake.
    client = X509Client(settings(pki))
    async with libcoap_server("openssl", [*server_args(pki, verify_clients=False), "-v", "7"]) as server:
        async with client_context(client) as first:
            await request(first, dtls_uri(server), Code.PUT, b"1")
            assert not connections(first)[0].trace.resumed
        async with client_context(client) as second:
            assert (await request(second, dtls_uri(server))).payload == b"1"
            assert connections(second)[0].trace.resumed
        await asyncio.sleep(0.3)
        assert sum("alert read:warning:close notify" in line for line in server.output) == 2, "\n".join(server.output)
    # libcoap's OpenSSL server with -C fails a session it knows ("session id context
    # uninitialized", internal_error): the client does a full handshake at once, and offers that
    # server no session again.
    async with libcoap_server("openssl", server_args(pki)) as server:
        dtls_server = ("127.0.0.1", server.port + 1)
        for attempt in range(3):
            async with client_context(client) as context:
                assert (await request(context, dtls_uri(server), Code.PUT, b"2")).code.is_successful()
                assert not connections(context)[0].trace.resumed
            assert (client.sessions.get(dtls_server) is None) == (attempt > 0), attempt
        refusals = [line for line in server.output if "session id context uninitialized" in line]
        assert len(refusals) == 1, "\n".join(server.output)


async def test_nothing_listening_is_an_error_not_a_hang(pki):
    async with client_context(X509Client(settings(pki), handshake_timeout=3)) as context:
        started = time.monotonic()
        with pytest.raises(DtlsHandshakeError) as failure:
            await request(context, f"coaps://127.0.0.1:{free_udp_port()}/res", Code.PUT, b"{}")
        assert time.monotonic() - started < 3
        assert "is a DTLS server listening on that port?" in str(failure.value)


async def test_a_silent_peer_gets_retransmitted_hellos_then_a_timeout(pki):
    received: list[bytes] = []

    class Silent(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            received.append(data)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Silent, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with client_context(X509Client(settings(pki), handshake_timeout=2.5)) as context:
            started = time.monotonic()
            with pytest.raises(DtlsHandshakeTimeout) as failure:
                await request(context, f"coaps://127.0.0.1:{port}/res", Code.PUT, b"{}")
            assert 2.4 < time.monotonic() - started < 3.5
        assert f"DTLS handshake with 127.0.0.1:{port} did not finish within 2.5 s (no answer at all)" in str(
            failure.value
        )
        # OpenSSL's DTLS timer: the ClientHello at 0 s, again after 1 s (then 2 s later, past the deadline);
        # the copy differs from the first only in its record sequence number (header bytes 3-10).
        assert len(received) == 2
        assert received[0][0] == received[1][0] == 22  # handshake records
        assert received[0][11:] == received[1][11:] and received[0][3:11] != received[1][3:11]
    finally:
        transport.close()


class _LossyRelay(asyncio.DatagramProtocol):
    """Relays one client's datagrams to ``upstream`` and back, dropping the client's first ``drop``."""

    def __init__(self, upstream: tuple[str, int], drop: int) -> None:
        self.upstream, self.drop = upstream, drop
        self.dropped: list[bytes] = []
        self.sizes: list[int] = []  # of the client's datagrams
        self.client: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.outbound: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.client = addr
        self.sizes.append(len(data))
        if len(self.dropped) < self.drop:
            self.dropped.append(data)
        elif self.outbound is not None:
            self.outbound.sendto(data)

    async def open(self) -> None:
        relay = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr) -> None:
                if relay.client is not None and relay.transport is not None:
                    relay.transport.sendto(data, relay.client)

        self.outbound, _ = await asyncio.get_running_loop().create_datagram_endpoint(Back, remote_addr=self.upstream)


@contextlib.asynccontextmanager
async def lossy_relay(server: LibcoapServer, drop: int) -> AsyncIterator[tuple[int, _LossyRelay]]:
    """A relay on a free loopback port to the server's DTLS port: (its port, the relay)."""
    loop = asyncio.get_running_loop()
    transport, relay = await loop.create_datagram_endpoint(
        lambda: _LossyRelay(("127.0.0.1", server.port + 1), drop), local_addr=("127.0.0.1", 0)
    )
    try:
        await relay.open()
        yield transport.get_extra_info("sockname")[1], relay
    finally:
        transport.close()
        if relay.outbound is not None:
            relay.outbound.close()


async def test_a_lost_client_hello_is_retransmitted_and_the_handshake_completes(pki):
    client = X509Client(settings(pki), handshake_timeout=4)
    async with libcoap_server("gnutls", server_args(pki)) as server, lossy_relay(server, drop=1) as (port, relay):
        async with client_context(client) as context:
            started = time.monotonic()
            response = await request(context, f"coaps://127.0.0.1:{port}/lossy", Code.PUT, b"x")
            assert response.code.is_successful()
            assert 0.9 < time.monotonic() - started < 3  # OpenSSL's first retransmission comes after 1 s
        assert len(relay.dropped) == 1 and relay.dropped[0][13] == 1  # handshake type 1: ClientHello


async def test_a_chain_larger_than_a_datagram_goes_in_datagrams_of_at_most_the_mtu(pki):
    # An RSA-4096 client certificate and intermediate: the client's second flight is over 3 kB.
    client = X509Client(settings(pki, client="big-client"))
    async with libcoap_server("openssl", server_args(pki)) as server, lossy_relay(server, drop=0) as (port, relay):
        async with client_context(client) as context:
            response = await request(context, f"coaps://127.0.0.1:{port}/big", Code.PUT, b"x")
            assert response.code.is_successful()
        assert max(relay.sizes) <= client.mtu
        assert sum(relay.sizes) > 2 * client.mtu  # the chain really needed several datagrams
        assert max(relay.sizes) > client.mtu - 100  # and records were packed up to the MTU
