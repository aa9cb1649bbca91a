"""CoAP client plumbing for the CoAP sink, on aiocoap.

* :mod:`.endpoints`: a pool of aiocoap client contexts (one UDP or DTLS endpoint each), because
  aiocoap keeps one exchange in flight per server endpoint (NSTART=1); the transport is chosen
  per URI scheme (``simple6`` for coap://, ``tinydtls`` for coaps://).
* :mod:`.credentials`: DTLS pre-shared keys in aiocoap's credential format, and the check that
  the DTLS transport can be used at all.
* :mod:`.requests`: one request with a timeout, its response mapped to success or to an error
  that names the code and quotes the payload.
* :mod:`.errors`: the errors, rooted at :class:`~streamapp.errors.StreamAppError`.
"""

from __future__ import annotations

from .credentials import dtls_psk_credentials, require_dtls
from .endpoints import EndpointPool, client_transports
from .errors import (
    CoapDeliveryError,
    CoapError,
    CoapNetworkError,
    CoapResponseError,
    CoapTimeout,
    DtlsUnavailable,
)
from .requests import JSON_CONTENT_FORMAT, RequestSpec, send

__all__ = [
    "JSON_CONTENT_FORMAT",
    "CoapDeliveryError",
    "CoapError",
    "CoapNetworkError",
    "CoapResponseError",
    "CoapTimeout",
    "DtlsUnavailable",
    "EndpointPool",
    "RequestSpec",
    "client_transports",
    "dtls_psk_credentials",
    "require_dtls",
    "send",
]
