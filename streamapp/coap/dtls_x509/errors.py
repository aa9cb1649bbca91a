"""Errors of the DTLS X.509 transport: one class per handshake failure a user has to act on.

They derive from aiocoap's :class:`~aiocoap.error.NetworkError`, so aiocoap hands them unchanged
to the waiting request (any other exception type it would wrap into a bare ``NetworkError``),
and from :class:`~streamapp.coap.errors.CoapError`, our root. Each message names the server
(host:port), what went wrong and which setting to look at.
"""

from __future__ import annotations

from aiocoap import error as coap_error

from ..errors import CoapError

__all__ = [
    "ClientCertificateRejected",
    "DtlsClosed",
    "DtlsError",
    "DtlsHandshakeError",
    "DtlsHandshakeTimeout",
    "HostnameMismatch",
    "NoCommonCipherSuite",
    "UntrustedServer",
]


class DtlsError(coap_error.NetworkError, CoapError):
    """Root of the DTLS X.509 errors."""

    def __str__(self) -> str:
        # aiocoap's HelpfulError prints the class name only; we carry a full sentence.
        return str(self.args[0]) if self.args else type(self).__name__


class DtlsHandshakeError(DtlsError):
    """The DTLS handshake failed for a reason not covered by a subclass (the OpenSSL reason is quoted)."""


class UntrustedServer(DtlsHandshakeError):
    """The server's certificate chain does not lead to a configured trust anchor (or is expired, ...)."""


class HostnameMismatch(UntrustedServer):
    """The server's certificate is trusted but not issued for the host name or IP address in the URI."""


class ClientCertificateRejected(DtlsHandshakeError):
    """The server refused the client certificate, or required one and none was configured."""


class NoCommonCipherSuite(DtlsHandshakeError):
    """Client and server share no cipher suite (or no DTLS version)."""


class DtlsHandshakeTimeout(DtlsHandshakeError):
    """No handshake answer at all within the time allowed (nothing listening, or packets dropped)."""


class DtlsClosed(DtlsError):
    """The server closed the DTLS session (close-notify or a fatal alert) while a request was open."""
