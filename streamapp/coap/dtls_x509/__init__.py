"""CoAP over DTLS 1.2 with X.509 certificates, as a client transport for aiocoap.

aiocoap's own DTLS (tinydtls) does pre-shared keys only. This package adds certificates:
mutual authentication, the server's chain verified against configured trust anchors and its
subjectAltName against the URI's host name or IP address, handshake retransmission, session
resumption across a sink's endpoints, close-notify on shutdown, and an error that says what to
fix for every failed handshake (:mod:`.errors`), raised within the handshake timeout.

**Why pyOpenSSL.** DTLS here is OpenSSL's, through pyOpenSSL (``SSL.DTLS_CLIENT_METHOD``,
memory BIOs, ``DTLSv1_get_timeout``/``DTLSv1_handle_timeout``), on the OpenSSL 3+ that the
``cryptography`` wheels ship and keep patched. The alternative, python-mbedtls, bundles Mbed TLS
2.28, whose support ended; neither offers raw public keys (RFC 7250) to Python. Host names are
checked with ``service-identity`` (RFC 6125), the checker Twisted uses with pyOpenSSL.

Modules:

* :mod:`.settings`: :class:`X509Settings` (certificates and keys as ``cryptography`` objects) and
  the OpenSSL context built from it; :mod:`.client`: :class:`X509Client`, shared by a sink's
  aiocoap contexts (context, session cache, MTU, handshake timeout).
* :mod:`.connection`: one DTLS session over a connected UDP socket; :mod:`.datagrams`: records
  packed into datagrams; :mod:`.failures`: handshake failures classified.
* :mod:`.transport`: aiocoap's ``MessageInterface`` for coaps://, modelled on its tinydtls one.
* :mod:`.aiocoap_hook`: :func:`create_client_context`, the only use of a private aiocoap API.

The client identity and trust anchors are read from PEM files, PKCS#12 or JKS stores by
:mod:`streamapp.tls.stores`, which the Diffusion connectors share.
"""

from __future__ import annotations

from .aiocoap_hook import create_client_context
from .client import DEFAULT_MTU, X509Client
from .errors import (
    ClientCertificateRejected,
    DtlsClosed,
    DtlsError,
    DtlsHandshakeError,
    DtlsHandshakeTimeout,
    HostnameMismatch,
    NoCommonCipherSuite,
    UntrustedServer,
)
from .settings import X509Settings

__all__ = [
    "DEFAULT_MTU",
    "ClientCertificateRejected",
    "DtlsClosed",
    "DtlsError",
    "DtlsHandshakeError",
    "DtlsHandshakeTimeout",
    "HostnameMismatch",
    "NoCommonCipherSuite",
    "UntrustedServer",
    "X509Client",
    "X509Settings",
    "create_client_context",
]
