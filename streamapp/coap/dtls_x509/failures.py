"""Turn a failed handshake into the error a user can act on.

OpenSSL reports a failed client handshake as a stack of reason strings ("certificate verify
failed", "sslv3 alert handshake failure"); what went wrong depends on more than that: whether our
own check of the server chain failed (and why), which alert the server sent, and how far the
handshake got (a server that answers ClientHello with handshake_failure found no common cipher
suite; one that asked for a client certificate and then refused is rejecting that certificate).
:class:`HandshakeTrace` collects those facts while the handshake runs, :func:`handshake_error`
picks the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from .errors import (
    ClientCertificateRejected,
    DtlsHandshakeError,
    HostnameMismatch,
    NoCommonCipherSuite,
    UntrustedServer,
)
from .settings import X509Settings

__all__ = ["ALERTS", "HandshakeTrace", "alert_name", "handshake_error", "openssl_reasons"]

# TLS/DTLS alert descriptions (RFC 5246 section 7.2, RFC 8446 section 6).
ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}
# Alerts a server sends about the client's certificate (or its absence).
_CLIENT_CERTIFICATE_ALERTS = {42, 43, 44, 45, 46, 48, 49, 116}
# Alerts a server sends when it can agree on no cipher suite or version.
_NEGOTIATION_ALERTS = {40, 70, 71}
# OpenSSL's X509_V_ERR_* codes that users meet, in words.
_VERIFY_ERRORS = {
    2: "the issuer's certificate is not among the trust anchors",
    7: "a certificate signature is invalid",
    9: "a certificate is not yet valid",
    10: "a certificate has expired",
    18: "the server's certificate is self-signed and not among the trust anchors",
    19: "the chain ends in a self-signed certificate that is not among the trust anchors",
    20: "its issuer is not among the trust anchors",
    21: "its signature cannot be verified with any trust anchor",
    24: "an issuing certificate is not a CA certificate",
    26: "a certificate may not be used for this purpose",
}


def alert_name(code: int) -> str:
    return f"{ALERTS.get(code, 'unknown alert')} ({code})"


def openssl_reasons(exc: BaseException) -> list[str]:
    """The reason strings of an ``OpenSSL.SSL.Error`` (a list of (lib, function, reason) tuples)."""
    stack = exc.args[0] if exc.args else None
    if isinstance(stack, list):
        return [str(entry[-1]) for entry in stack if isinstance(entry, tuple) and entry]
    return [str(a) for a in exc.args if a]


@dataclass
class HandshakeTrace:
    """What happened during one handshake, recorded by the connection's OpenSSL callbacks."""

    states: list[str] = field(default_factory=list)
    alert_received: int | None = None
    verify_error: tuple[int, int, x509.Certificate] | None = None  # errno, depth, certificate
    hostname_error: str | None = None
    server_certificate: x509.Certificate | None = None

    def reached(self, fragment: str) -> bool:
        return any(fragment in state for state in self.states)

    @property
    def resumed(self) -> bool:
        """A finished handshake that never read the server's certificate resumed a session."""
        return not self.reached("read server certificate")


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "(empty subject)"


def handshake_error(
    hostinfo: str, trace: HandshakeTrace, settings: X509Settings, reasons: list[str]
) -> DtlsHandshakeError:
    where = f"DTLS handshake with {hostinfo} failed"
    if trace.hostname_error is not None:
        return HostnameMismatch(f"{where}: {trace.hostname_error}")
    if trace.verify_error is not None:
        errno, depth, certificate = trace.verify_error
        why = _VERIFY_ERRORS.get(errno, f"OpenSSL verify error {errno}")
        which = "the server's certificate" if depth == 0 else f"certificate {depth} of the server's chain"
        return UntrustedServer(
            f"{where}: the server is not trusted: {which} ({_name(certificate)}, issued by "
            f"{certificate.issuer.rfc4514_string()}): {why}; trust anchors: {settings.trust_source}"
        )
    alert = trace.alert_received
    if alert is not None:
        said = f"the server sent alert {alert_name(alert)}"
        if alert in _NEGOTIATION_ALERTS and not trace.reached("read server hello"):
            offered = f"'{settings.ciphers}'" if settings.ciphers else "OpenSSL's default cipher suites"
            return NoCommonCipherSuite(
                f"{where}: {said} in answer to the ClientHello: no cipher suite (or DTLS version) in common; "
                f"offered DTLS 1.2 with {offered}"
            )
        if alert in _CLIENT_CERTIFICATE_ALERTS or (alert == 40 and trace.reached("certificate request")):
            if not settings.chain:
                return ClientCertificateRejected(
                    f"{where}: {said}: the server requires a client certificate and none is configured "
                    f"({settings.identity_source})"
                )
            client = settings.chain[0]
            return ClientCertificateRejected(
                f"{where}: {said}: the server rejected the client certificate {_name(client)} "
                f"(issued by {client.issuer.rfc4514_string()}; from {settings.identity_source}); "
                "the server must trust its issuer"
            )
        return DtlsHandshakeError(f"{where}: {said}")
    text = "; ".join(reasons) or "no reason given"
    if any("no cipher" in r or "no ciphers" in r for r in reasons):
        return NoCommonCipherSuite(
            f"{where}: {text}: none of the configured cipher suites '{settings.ciphers}' work with DTLS 1.2"
        )
    return DtlsHandshakeError(f"{where}: {text}")
