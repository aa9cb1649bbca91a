"""One sink's DTLS X.509 client: its settings, the OpenSSL context built once, sessions to resume."""

from __future__ import annotations

from dataclasses import dataclass, field

from OpenSSL import SSL

from .settings import SessionCache, X509Settings, ssl_context

__all__ = ["DEFAULT_MTU", "X509Client"]

# 1280 is the IPv6 minimum MTU; less 48 bytes of IPv6 and UDP headers, every datagram fits any path.
DEFAULT_MTU = 1232


@dataclass
class X509Client:
    """Shared by every aiocoap context of a sink's endpoint pool.

    ``handshake_timeout`` bounds a handshake, retransmissions included; keep it below the request
    timeout so that a request learns *why* (no answer at all) rather than just timing out.
    """

    settings: X509Settings
    handshake_timeout: float = 10.0
    mtu: int = DEFAULT_MTU
    sessions: SessionCache = field(default_factory=SessionCache)
    context: SSL.Context = field(init=False)

    def __post_init__(self) -> None:
        self.context = ssl_context(self.settings)
