"""Optional authentication of the worker's web server: a bearer token and/or HTTP basic credentials.

With neither ``STREAMAPP_API_TOKEN`` nor ``STREAMAPP_API_USERNAME``/``STREAMAPP_API_PASSWORD``
set, everything is open (as Kafka Connect's REST API is by default). With either set, every path
but the probes (``/livez``, ``/readyz``) needs one of them. Comparisons are constant-time; the
expected values are never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["OPEN_PATHS", "auth_middleware"]

OPEN_PATHS = frozenset({"/livez", "/readyz"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def auth_middleware(token: str | None, username: str | None, password: str | None) -> Callable:
    basic = username is not None and password is not None

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or not (token or basic):
            return await handler(request)
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        scheme = scheme.lower()
        if token and scheme == "bearer" and _same(credentials.strip(), token):
            return await handler(request)
        if basic and scheme == "basic":
            try:
                user, _, secret = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            # Both compared, always: the time taken says nothing about which one was wrong.
            if _same(user, username) & _same(secret, password):  # type: ignore[arg-type]
                return await handler(request)
        challenge = ", ".join(
            s for s, on in (('Bearer realm="streamapp"', token), ('Basic realm="streamapp"', basic)) if on
        )
        return web.json_response(
            {"error_code": 401, "message": "authentication required: a valid bearer token or basic credentials"},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    return authenticate
