"""What a DTLS X.509 client needs, loaded once, and the OpenSSL context built from it.

:class:`X509Settings` holds certificates and keys as ``cryptography`` objects, whatever file
format they came from (PEM, PKCS#12, JKS: see :mod:`.stores`), plus a description of where each
came from, which the handshake errors quote. :func:`ssl_context` turns it into one
``OpenSSL.SSL.Context`` for DTLS 1.2 that every connection of a sink shares, and
:class:`SessionCache` keeps the last session per server so that new connections (another
endpoint of the pool, or a reconnect) resume it instead of doing a full handshake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from OpenSSL import SSL, crypto

__all__ = ["DTLS1_2_VERSION", "SessionCache", "VerifyHook", "X509Settings", "ssl_context"]

# OpenSSL's DTLS1_2_VERSION (0xFEFD: DTLS versions count down from 0xFEFF); pyOpenSSL exports
# only the TLS version constants, and set_min/max_proto_version take the raw number.
DTLS1_2_VERSION = 0xFEFD


class VerifyHook(Protocol):
    """What the connection set as app data answers for each certificate of the server's chain."""

    def verify_certificate(self, certificate: x509.Certificate, errno: int, depth: int, ok: bool) -> bool: ...


def _verify(connection: SSL.Connection, certificate: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    hook = connection.get_app_data()
    if hook is None:
        return bool(ok)
    return hook.verify_certificate(certificate.to_cryptography(), errno, depth, bool(ok))


@dataclass(frozen=True)
class X509Settings:
    """A client identity and trust anchors for DTLS with certificates.

    ``chain`` is the client's certificate first, then its intermediates (may be empty together
    with ``key``: no client certificate). ``trust`` are the certificates a server chain must
    lead to. ``ciphers`` is an OpenSSL cipher list (``None``: OpenSSL's defaults).
    ``verify_hostname`` checks the server certificate against the host name or IP address of
    the URI. ``identity_source``/``trust_source`` say where they were loaded from (for errors).
    """

    chain: tuple[x509.Certificate, ...]
    key: PrivateKeyTypes | None
    trust: tuple[x509.Certificate, ...]
    ciphers: str | None = None
    verify_hostname: bool = True
    identity_source: str = "no client certificate configured"
    trust_source: str = "the configured trust anchors"

    def __post_init__(self) -> None:
        if bool(self.chain) != (self.key is not None):
            raise ValueError("a client certificate chain and its private key go together")
        if not self.trust:
            raise ValueError("DTLS with certificates needs at least one trusted certificate")

    @property
    def client_subject(self) -> str | None:
        return self.chain[0].subject.rfc4514_string() if self.chain else None


@dataclass
class SessionCache:
    """The last DTLS session per server (host, port), shared by the connections of one sink."""

    sessions: dict[tuple[str, int], Any] = field(default_factory=dict)
    refusing: set[tuple[str, int]] = field(default_factory=set)  # servers that failed a resumption

    def get(self, server: tuple[str, int]) -> Any:
        return self.sessions.get(server)

    def put(self, server: tuple[str, int], session: Any) -> None:
        if server not in self.refusing:
            self.sessions[server] = session

    def refused(self, server: tuple[str, int]) -> None:
        """``server`` failed a handshake that offered a session: offer it none again (one full handshake each)."""
        self.refusing.add(server)
        self.sessions.pop(server, None)

    def forget(self, server: tuple[str, int]) -> None:
        self.sessions.pop(server, None)


def ssl_context(settings: X509Settings) -> SSL.Context:
    """An OpenSSL client context for DTLS 1.2 that presents ``settings.chain`` and trusts only ``settings.trust``.

    Raises :class:`ValueError` naming the problem when OpenSSL refuses the material (a key that
    does not match its certificate, a cipher list without any DTLS 1.2 suite).
    """
    context = SSL.Context(SSL.DTLS_CLIENT_METHOD)
    # DTLS 1.2 only: DTLS 1.0 is deprecated (RFC 8996) and OpenSSL builds from the cryptography
    # wheels have no DTLS 1.3.
    context.set_min_proto_version(DTLS1_2_VERSION)
    context.set_max_proto_version(DTLS1_2_VERSION)
    # The MTU is set per connection: a memory BIO cannot be asked for it.
    context.set_options(SSL.OP_NO_QUERY_MTU)
    # Keep sessions for resumption (SessionCache); OpenSSL's client cache is off by default.
    context.set_session_cache_mode(SSL.SESS_CACHE_CLIENT)
    if settings.chain:
        assert settings.key is not None
        context.use_certificate(settings.chain[0])
        for intermediate in settings.chain[1:]:
            context.add_extra_chain_cert(intermediate)
        try:
            context.use_privatekey(settings.key)  # type: ignore[arg-type]  # a cryptography key is accepted
            context.check_privatekey()
        except SSL.Error:
            raise ValueError(
                f"the private key does not belong to the client certificate {settings.client_subject} "
                f"({settings.identity_source})"
            ) from None
    store = context.get_cert_store()
    assert store is not None
    for anchor in settings.trust:
        store.add_cert(crypto.X509.from_cryptography(anchor))
    # Every connection checks the server chain; the callback hands each certificate to the
    # connection (set as the SSL connection's app data) for the host name check and for errors.
    context.set_verify(SSL.VERIFY_PEER, _verify)
    if settings.ciphers:
        try:
            context.set_cipher_list(settings.ciphers.encode("ascii"))
        except (SSL.Error, UnicodeEncodeError):
            raise ValueError(f"OpenSSL knows none of the cipher suites '{settings.ciphers}'") from None
    return context
