"""wss:// for the Diffusion connectors: the server is verified before any credential is sent.

The SDK (6.11 and later) takes an ``ssl.SSLContext`` through its public
``SessionFactory.ssl_context()``. Without one it uses ``SSLContext(PROTOCOL_TLS)``, which checks
neither the certificate chain nor the host name: any server answering a wss:// URL would get the
password. So every wss:// session is given the context built here, which

* trusts the system trust store (OpenSSL's default paths: ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
  apply), or, when ``diffusion.ssl.truststore.location`` is set, only that truststore's
  certificates (Kafka's ``ssl.truststore.*`` replace the JVM's default truststore the same way);
* checks that the certificate names the URL's host (DNS name or IP address in subjectAltName),
  unless ``diffusion.ssl.endpoint.identification.algorithm`` is empty;
* speaks TLS 1.2 or newer.

**Nothing is sent before the server is verified.** The SDK sends the principal and password in
the headers of the WebSocket upgrade request (diffusion-protocol.md section 1.2). aiohttp writes
that request only once the TLS handshake has succeeded, and OpenSSL checks the chain and the host
name inside the handshake. A server that fails either check receives a ClientHello and an alert,
nothing else (tests/connectors/test_diffusion_tls.py counts the bytes it receives).

:func:`tls_failure` turns what the SDK raises for a failed handshake (a ``ServerConnectionError``
caused by aiohttp's certificate or SSL error) into a sentence naming the URL, the reason and the
setting to look at.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["SYSTEM_TRUST_STORE", "TlsSettings", "tls_failure"]

SYSTEM_TRUST_STORE = "the system trust store"

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) a user meets, grouped by what there is to fix.
_UNTRUSTED = {
    2: "the certificate of its issuer is not in {trust}",
    18: "the server's certificate is self-signed and not in {trust}",
    19: "its chain ends in a self-signed certificate that is not in {trust}",
    20: "its issuer is not in {trust}",
    21: "no certificate in {trust} verifies its signature",
}
_EXPIRED = {
    9: "a certificate of the server's chain is not valid yet",
    10: "a certificate of the server's chain has expired",
}
_HOST_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_TRUSTSTORE_HINT = (
    "set diffusion.ssl.truststore.location to a truststore (PEM, JKS or PKCS12) holding the CA that issued it"
)


@dataclass(frozen=True)
class TlsSettings:
    """What a wss:// session trusts; the defaults are the system trust store and a host name check."""

    trust_anchors: tuple[x509.Certificate, ...] = ()  # empty: the system trust store
    trust_source: str = SYSTEM_TRUST_STORE  # for messages, e.g. "truststore '/etc/x.jks' (diffusion.ssl...)"
    check_hostname: bool = True

    def client_context(self) -> ssl.SSLContext:
        """A new client context: verifies the chain always, and the host name unless turned off."""
        if self.trust_anchors:
            pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.trust_anchors)
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=pem)
        else:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # OpenSSL's default paths
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.check_hostname
        context.verify_mode = ssl.CERT_REQUIRED  # also with check_hostname off: the chain is always checked
        return context


def tls_failure(exc: BaseException, url: str, settings: TlsSettings) -> str | None:
    """The reason a wss:// connection failed in its TLS handshake, as a sentence; None if it did not."""
    error = _ssl_error(exc)
    if error is None:
        return None
    where = f"TLS handshake with the Diffusion server at {url} failed"
    if isinstance(error, ssl.SSLCertVerificationError):
        where += "; no credentials were sent"
        code = error.verify_code
        said = (error.verify_message or error.reason or str(error)).rstrip(".")
        trust = settings.trust_source
        if code in _HOST_MISMATCH:
            return (
                f"{where}: host mismatch: {said} (the certificate is trusted but not issued for this host); "
                "connect with a host name or address the certificate names"
            )
        if code in _EXPIRED:
            return f"{where}: expired certificate: {_EXPIRED[code]} ({said}); the server needs a valid certificate"
        if code in _UNTRUSTED:
            hint = _TRUSTSTORE_HINT if trust == SYSTEM_TRUST_STORE else "check diffusion.ssl.truststore.location"
            return f"{where}: untrusted issuer: {_UNTRUSTED[code].format(trust=trust)} ({said}); {hint}"
        return f"{where}: certificate rejected: {said} (OpenSSL verify error {code}; trust anchors: {trust})"
    reason = (getattr(error, "reason", None) or str(error)).upper()
    if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason or "PACKET_LENGTH_TOO_LONG" in reason:
        return f"{where}: the server does not speak TLS on this port ({reason}); is it a ws:// port?"
    if "UNSUPPORTED_PROTOCOL" in reason or "PROTOCOL_VERSION" in reason:
        return f"{where}: no TLS version in common ({reason}); TLS 1.2 or newer is required"
    if "ALERT" in reason:
        return f"{where}: the server refused the handshake ({reason})"
    return f"{where}: {reason}"


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """OpenSSL's error behind ``exc``: the SDK wraps aiohttp's error, which wraps (and may subclass) OpenSSL's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found: ssl.SSLError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "certificate_error", None)  # aiohttp's ClientConnectorCertificateError
        if isinstance(inner, ssl.SSLCertVerificationError):
            return inner
        if isinstance(current, ssl.SSLError):
            found = current  # the innermost one is OpenSSL's own, with its reason
        current = current.__cause__ or current.__context__
    return found
