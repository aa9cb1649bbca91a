"""One CoAP request with a deadline, its outcome mapped to success or to an error.

A 2.xx response is success. Any other code is a :class:`CoapResponseError` whose message has the
code and the start of the payload (servers explain refusals there); no response within the
timeout is a :class:`CoapTimeout` (over coaps://, with a hint about the pre-shared key when the
endpoint never completed an exchange: tinydtls does not report a handshake that the server
refuses, it just never finishes); anything that stops the request from being sent or answered
(ICMP port unreachable, a DTLS alert, DNS) is a :class:`CoapNetworkError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiocoap import Message, Reliable, Unreliable
from aiocoap import error as coap_error
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat

from .endpoints import EndpointPool
from .errors import CoapNetworkError, CoapResponseError, CoapTimeout

__all__ = ["JSON_CONTENT_FORMAT", "RequestSpec", "send"]

JSON_CONTENT_FORMAT = ContentFormat.JSON  # 50, application/json
_PAYLOAD_EXCERPT = 200
_ONE_BLOCK = 1024  # bytes: aiocoap's default block size (DEFAULT_BLOCK_SIZE_EXP 6); larger payloads go Block1


@dataclass(frozen=True)
class RequestSpec:
    """Everything about a request but its payload, parsed once per resource."""

    uri: str
    method: str = "PUT"
    confirmable: bool = True
    timeout: float = 10.0
    content_format: int = JSON_CONTENT_FORMAT
    secure: bool = False
    _template: Message = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parse the URI once; each request then only gets its payload (Message.copy deep-copies the
        # options, about five times the cost of building the message from the parsed parts).
        template = Message(code=Code.PUT if self.method == "PUT" else Code.POST, uri=self.uri)
        object.__setattr__(self, "_template", template)

    def message(self, payload: bytes) -> Message:
        template = self._template
        message = Message(
            code=template.code,
            payload=payload,
            content_format=self.content_format,
            uri_path=template.opt.uri_path,
            transport_tuning=Reliable if self.confirmable else Unreliable,  # CON or NON
        )
        if template.opt.uri_host is not None:
            message.opt.uri_host = template.opt.uri_host
        message.remote = template.remote  # the unresolved scheme://host:port, immutable
        return message


def _excerpt(payload: bytes) -> str:
    text = payload[:_PAYLOAD_EXCERPT].decode("utf-8", "replace")
    return repr(text) + ("..." if len(payload) > _PAYLOAD_EXCERPT else "")


async def send(pool: EndpointPool, spec: RequestSpec, payload: bytes) -> str:
    """Send one request through an endpoint of ``pool``; return the 2.xx code (``"2.04 Changed"``).

    Raises a :class:`~streamapp.coap.errors.CoapDeliveryError` subclass otherwise.
    """
    endpoint = await pool.acquire()
    try:
        # A payload that fits one block needs no blockwise machinery (one task less per request).
        request = endpoint.context.request(spec.message(payload), handle_blockwise=len(payload) > _ONE_BLOCK)
        try:
            async with asyncio.timeout(spec.timeout):  # cheaper than wait_for: no extra future per request
                response = await request.response
        except TimeoutError:
            endpoint.discard = True
            hint = ""
            if spec.secure and not endpoint.exchanges:
                hint = (
                    "; the DTLS handshake did not complete: check the pre-shared key "
                    "(connect.coap.username is the PSK identity, connect.coap.password the secret) "
                    "and that a DTLS server listens there"
                )
            raise CoapTimeout(f"{spec.method} {spec.uri}: no response within {spec.timeout:g} s{hint}") from None
        except coap_error.TimeoutError as exc:
            endpoint.discard = True
            raise CoapTimeout(f"{spec.method} {spec.uri}: no response ({_describe(exc)})") from exc
        except coap_error.Error as exc:
            endpoint.discard = True
            raise CoapNetworkError(f"{spec.method} {spec.uri} failed: {_describe(exc)}") from exc
        except OSError as exc:
            endpoint.discard = True
            raise CoapNetworkError(f"{spec.method} {spec.uri} failed: {exc}") from exc
        except asyncio.CancelledError:
            endpoint.discard = True  # mid-exchange: the context may still be retransmitting
            raise
        except Exception as exc:  # tinydtls errors (FatalDTLSError, CloseNotifyReceived) are not aiocoap errors
            endpoint.discard = True
            raise CoapNetworkError(f"{spec.method} {spec.uri} failed: {type(exc).__name__}: {exc}") from exc
        endpoint.exchanges += 1
    finally:
        pool.release(endpoint)
    code = response.code
    if code.is_successful():
        return str(code)
    raise CoapResponseError(
        f"{spec.method} {spec.uri} answered {code}"
        + (f" with payload {_excerpt(response.payload)}" if response.payload else " (no payload)"),
        code=code.dotted,
        payload=response.payload,
    )


def _describe(exc: BaseException) -> str:
    """aiocoap's errors print as their class name; dig out the reason and its help text."""
    reason = ", ".join(str(a) for a in exc.args if a) or (str(exc.__cause__) if exc.__cause__ else type(exc).__name__)
    help_text = exc.extra_help() if isinstance(exc, coap_error.HelpfulError) else None
    return f"{reason} ({help_text})" if help_text else reason
