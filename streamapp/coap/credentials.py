"""DTLS pre-shared keys for aiocoap, and the check that DTLS can be used here.

aiocoap's only DTLS transport is ``tinydtls`` (the ``DTLSSocket`` package), and it does
pre-shared keys only (cipher suite TLS_PSK_WITH_AES_128_CCM_8). Certificates go through our own
transport (:mod:`streamapp.coap.dtls_x509`); raw public keys are refused when the config is loaded
(see :mod:`streamapp.coap.config`).
Credentials are aiocoap's declarative form, keyed by a URI pattern::

    {"coaps://host:5684/*": {"dtls": {"psk": b"secret", "client-identity": b"identity"}}}

Identity and secret are taken as UTF-8 bytes, as Californium took ``secret.getBytes()``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import DtlsUnavailable

__all__ = ["dtls_psk_credentials", "require_dtls"]


def dtls_psk_credentials(uri: str, identity: str, secret: str) -> dict[str, Any]:
    """aiocoap ``client_credentials.load_from_dict`` input for every resource under ``uri``."""
    parts = urlsplit(uri)
    pattern = urlunsplit((parts.scheme, parts.netloc, "/*", "", ""))
    return {pattern: {"dtls": {"psk": secret.encode("utf-8"), "client-identity": identity.encode("utf-8")}}}


def require_dtls() -> None:
    """Raise :class:`DtlsUnavailable` with what to install when aiocoap cannot do DTLS here."""
    from aiocoap.defaults import dtls_missing_modules

    missing = dtls_missing_modules()
    if missing:
        raise DtlsUnavailable(
            f"coaps:// needs aiocoap's tinydtls transport, which needs the Python package(s) "
            f"{', '.join(missing)}: run `pip install DTLSSocket` in the worker's environment (building it "
            "needs autoconf, automake, libtool, pkg-config and a C compiler; scripts/setup.sh installs them)"
        )
