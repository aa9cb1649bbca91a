"""Errors of CoAP requests. Each message says which request failed and why, in one line."""

from __future__ import annotations

from streamapp.errors import StreamAppError

__all__ = ["CoapDeliveryError", "CoapError", "CoapNetworkError", "CoapResponseError", "CoapTimeout", "DtlsUnavailable"]


class CoapError(StreamAppError):
    """Root of the CoAP sink's errors."""


class CoapDeliveryError(CoapError):
    """A request was not confirmed with a 2.xx response. ``retriable`` is left False: the
    connector's error policy (``connect.coap.error.policy``) decides, not the error kind."""


class CoapResponseError(CoapDeliveryError):
    """The server answered with a code other than 2.xx."""

    def __init__(self, message: str, *, code: str, payload: bytes) -> None:
        self.code = code
        self.payload = payload
        super().__init__(message)


class CoapTimeout(CoapDeliveryError):
    """No response within ``connect.coap.request.timeout.ms`` (or CON retransmissions ran out)."""


class CoapNetworkError(CoapDeliveryError):
    """The request could not be sent or the server could not be reached (ICMP errors, DNS, DTLS alerts)."""


class DtlsUnavailable(CoapError):
    """coaps:// is configured but aiocoap's DTLS transport cannot be loaded here."""
