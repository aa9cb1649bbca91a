"""One DTLS 1.2 session with one server: OpenSSL on memory BIOs, driven by an asyncio datagram socket.

The socket is connected to the server, so the kernel drops datagrams from anyone else and
reports ICMP errors (nothing listening) to :meth:`DtlsConnection.error_received`. OpenSSL never
touches the socket: what it wants to send is read from its outgoing memory BIO (:meth:`_flush`,
packed into datagrams by :func:`.datagrams.pack_records`), what arrives is written to its incoming
one. Handshake retransmission uses OpenSSL's own DTLS timer (``DTLSv1_get_timeout`` says when,
``DTLSv1_handle_timeout`` resends the last flight), and a whole handshake is bounded by
``X509Client.handshake_timeout``. CoAP messages sent before the handshake is done wait in a
queue (aiocoap's CON retransmissions of the same message are not queued twice).

A failed handshake, an alert or close-notify from the server, or an ICMP error is reported to
aiocoap with ``dispatch_error``, which fails every request waiting on this connection with the
error; the connection is then out of its interface's pool and the next request opens a new one.
:meth:`shutdown` sends close-notify.

The object is also the aiocoap ``EndpointAddress`` (``message.remote``) of its messages: hash
and equality by identity, so a new session is a new remote (RFC 7252 section 9.1.2: a response
belongs to the session its request went out on).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import TYPE_CHECKING

from aiocoap import Message, interfaces
from aiocoap import error as coap_error
from aiocoap.numbers import COAPS_PORT
from aiocoap.util import hostportjoin
from cryptography import x509
from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)

from .datagrams import pack_records
from .errors import DtlsClosed, DtlsError, DtlsHandshakeError, DtlsHandshakeTimeout
from .failures import HandshakeTrace, alert_name, handshake_error, openssl_reasons

if TYPE_CHECKING:
    from .transport import DtlsX509Interface

__all__ = ["DtlsConnection"]

logger = logging.getLogger(__name__)

_MAX_DATAGRAM = 65536
# SSL_CB_* bits of the info callback's ``where`` (OpenSSL ssl.h; pyOpenSSL exports none of them).
_CB_LOOP, _CB_READ, _CB_ALERT = 0x01, 0x04, 0x4000


class DtlsConnection(asyncio.DatagramProtocol, interfaces.EndpointAddress):
    scheme = "coaps"
    is_multicast = False
    is_multicast_locally = False

    def __init__(self, interface: DtlsX509Interface, host: str, port: int) -> None:
        self._interface = interface
        self._client = interface.client
        self.host, self.port = host, port
        self._hostinfo = hostportjoin(host, None if port == COAPS_PORT else port)
        self.trace = HandshakeTrace()
        self.handshake_done = False
        self._queue: list[bytes] | None = []  # CoAP messages waiting for the handshake
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._closed = False

        self._resuming = False
        self._ssl = self._new_ssl(self._client.sessions.get(self.server))
        self._startup = interface.loop.create_task(self._start(), name=f"DTLS handshake with {self.hostinfo}")

    def _new_ssl(self, session: object | None) -> SSL.Connection:
        ssl = SSL.Connection(self._client.context, None)  # None: memory BIOs
        ssl.set_app_data(self)  # for the verify callback (settings._verify)
        ssl.set_info_callback(self._info)
        ssl.set_connect_state()
        ssl.set_ciphertext_mtu(self._client.mtu)
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            ssl.set_tlsext_host_name(self.host.encode("idna"))  # SNI, for names only (RFC 6066 section 3)
        if session is not None:
            ssl.set_session(session)
            self._resuming = True
        return ssl

    def __repr__(self) -> str:
        state = "closed" if self._closed else "established" if self.handshake_done else "handshaking"
        return f"<DtlsConnection to {self.hostinfo}, {state}>"

    # -- EndpointAddress

    @property
    def server(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def hostinfo(self) -> str:
        return self._hostinfo

    @property
    def hostinfo_local(self) -> str:
        if self._transport is None:
            raise ValueError("the DTLS connection has no socket yet")
        host, port, *_ = self._transport.get_extra_info("sockname")
        return hostportjoin(host, port)

    @property
    def uri_base(self) -> str:
        return "coaps://" + self.hostinfo

    @property
    def uri_base_local(self) -> str:
        return "coaps://" + self.hostinfo_local

    @property
    def blockwise_key(self) -> object:
        return self

    @property
    def closed(self) -> bool:
        return self._closed

    # -- sending

    def send(self, data: bytes) -> None:
        """Send one encoded CoAP message (after the handshake; queued until then)."""
        if self._closed:
            # aiocoap sends again on a connection a failure just closed only by racing it; the
            # request already got the error (dispatch_error), so this copy has nowhere to go.
            logger.debug("%r: message dropped, the session is closed", self)
            return
        if self._queue is not None:
            if data not in self._queue:
                self._queue.append(data)
            return
        try:
            self._ssl.send(data)
        except SSL.Error as exc:
            self._fail(DtlsClosed(f"DTLS session with {self.hostinfo}: cannot send: {'; '.join(openssl_reasons(exc))}"))
            return
        self._flush()

    def _flush(self) -> None:
        """Send what OpenSSL wrote to the outgoing memory BIO."""
        chunks = []
        while True:
            try:
                chunk = self._ssl.bio_read(_MAX_DATAGRAM)
            except SSL.WantReadError:
                break
            chunks.append(chunk)
            if len(chunk) < _MAX_DATAGRAM:
                break  # a memory BIO hands out all it holds: asking again would only raise
        if chunks and self._transport is not None and not self._transport.is_closing():
            for datagram in pack_records(b"".join(chunks), self._client.mtu):
                self._transport.sendto(datagram)

    # -- handshake

    async def _start(self) -> None:
        loop = self._interface.loop
        try:
            self._transport, _ = await loop.create_datagram_endpoint(lambda: self, remote_addr=self.server)
        except OSError as exc:
            self._fail(DtlsHandshakeError(f"DTLS with {self.hostinfo}: cannot open a UDP socket to it: {exc}"))
            return
        if self._closed:  # shut down while the socket was being made
            self._transport.close()
            return
        self._deadline = loop.call_later(self._client.handshake_timeout, self._handshake_timed_out)
        self._handshake()

    def _handshake(self) -> bool:
        """Advance the handshake; True once it is done."""
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            self._flush()
            self._arm_timer()
            return False
        except SSL.Error as exc:
            self._flush()  # the alert OpenSSL wrote for the server
            if self._resuming:
                self._client.sessions.refused(self.server)
                # Some servers fail an offered session instead of starting a full handshake
                # (libcoap's OpenSSL server with client verification answers internal_error): try
                # once more without it, on the same socket.
                logger.debug("%r: resuming the session failed (%s); full handshake", self, openssl_reasons(exc))
                self._resuming = False
                self.trace = HandshakeTrace()
                self._ssl = self._new_ssl(None)
                return self._handshake()
            self._client.sessions.forget(self.server)
            self._fail(handshake_error(self.hostinfo, self.trace, self._client.settings, openssl_reasons(exc)))
            return False
        self._flush()
        self.handshake_done = True
        self._cancel_timers()
        self._client.sessions.put(self.server, self._ssl.get_session())
        logger.debug("%r: handshake done (%s)", self, "resumed" if self.trace.resumed else "full")
        queue, self._queue = self._queue or [], None
        for data in queue:
            self.send(data)
        return True

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        delay = self._ssl.DTLSv1_get_timeout()
        if delay is not None and not self._closed:
            self._timer = self._interface.loop.call_later(delay, self._retransmit)

    def _retransmit(self) -> None:
        self._timer = None
        if self._closed:
            return
        try:
            self._ssl.DTLSv1_handle_timeout()  # resends the last flight when its timer ran out
        except SSL.Error as exc:
            self._fail(handshake_error(self.hostinfo, self.trace, self._client.settings, openssl_reasons(exc)))
            return
        self._flush()
        self._arm_timer()

    def _handshake_timed_out(self) -> None:
        self._deadline = None
        if self.handshake_done or self._closed:
            return
        got = "no answer at all" if not self.trace.reached("read") else f"it stopped after '{self.trace.states[-1]}'"
        self._fail(
            DtlsHandshakeTimeout(
                f"DTLS handshake with {self.hostinfo} did not finish within {self._client.handshake_timeout:g} s "
                f"({got}): is a DTLS server listening there?"
            )
        )

    # -- OpenSSL callbacks

    def _info(self, ssl: SSL.Connection, where: int, ret: int) -> None:
        if where & _CB_LOOP and not self.handshake_done:
            self.trace.states.append(ssl.get_state_string().decode("ascii", "replace"))
        elif where & _CB_ALERT and where & _CB_READ:
            self.trace.alert_received = ret & 0xFF

    def verify_certificate(self, certificate: x509.Certificate, errno: int, depth: int, ok: bool) -> bool:
        if depth == 0:
            self.trace.server_certificate = certificate
        if not ok:
            if self.trace.verify_error is None:
                self.trace.verify_error = (errno, depth, certificate)
            return False
        if depth == 0 and self._client.settings.verify_hostname:
            try:
                try:
                    verify_certificate_ip_address(certificate, self.host)
                except ValueError:  # not an IP address: a host name
                    verify_certificate_hostname(certificate, self.host)
            except (VerificationError, CertificateError) as exc:
                self.trace.hostname_error = (
                    f"the server's certificate ({certificate.subject.rfc4514_string()}) is trusted but not issued "
                    f"for '{self.host}' ({_describe_mismatch(exc)}); use the name or address its subjectAltName "
                    "lists in the URI, or turn host name checks off (connect.coap.dtls.verify.hostname=false)"
                )
                return False
        return True

    # -- asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass  # kept from create_datagram_endpoint's result

    def datagram_received(self, data: bytes, addr: object) -> None:
        if self._closed:
            return
        self._ssl.bio_write(data)
        if not self.handshake_done and not self._handshake():
            return
        while not self._closed:
            try:
                plaintext = self._ssl.recv(_MAX_DATAGRAM)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._flush()
                self._fail(DtlsClosed(f"{self.hostinfo} closed the DTLS session (close-notify)"), close_notify=False)
                return
            except SSL.Error as exc:
                self._flush()
                alert = self.trace.alert_received
                why = f"alert {alert_name(alert)}" if alert is not None else "; ".join(openssl_reasons(exc))
                self._fail(DtlsClosed(f"DTLS session with {self.hostinfo} ended: {why}"), close_notify=False)
                return
            try:
                message = Message.decode(plaintext, self)
            except coap_error.UnparsableMessage:
                logger.warning("%r: ignoring a datagram that is not a CoAP message", self)
                continue
            self._interface.ctx.dispatch_message(message)
        self._flush()  # OpenSSL may have answered something (a retransmitted Finished)

    def error_received(self, exc: Exception) -> None:
        what = "handshake with" if not self.handshake_done else "session with"
        hint = " (is a DTLS server listening on that port?)" if isinstance(exc, ConnectionRefusedError) else ""
        self._fail(DtlsHandshakeError(f"DTLS {what} {self.hostinfo}: {exc.strerror or exc}{hint}"))  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    # -- ending

    def _cancel_timers(self) -> None:
        for handle in (self._timer, self._deadline):
            if handle is not None:
                handle.cancel()
        self._timer = self._deadline = None

    def _fail(self, error: DtlsError, *, close_notify: bool = True) -> None:
        if self._closed:
            return
        logger.debug("%r: %s", self, error)
        self._interface.ctx.dispatch_error(error, self)
        self.shutdown(close_notify=close_notify and self.handshake_done)

    def shutdown(self, *, close_notify: bool = True) -> None:
        """Close the session (close-notify once established) and its socket; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._cancel_timers()
        self._startup.cancel()
        self._interface.forget(self)
        if close_notify and self.handshake_done:
            try:
                self._ssl.shutdown()
            except SSL.Error:
                pass  # the session is broken anyway: nothing to say goodbye on
            self._flush()
        if self._transport is not None:
            self._transport.close()


def _describe_mismatch(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return ", ".join(str(e) for e in errors)
    return str(exc) or type(exc).__name__
