"""The connection request: where each client puts its parameters, and which versions are spoken.

The official clients open the same WebSocket path (``/diffusion``) but pass the connection
parameters differently (see ``PROTOCOL.md`` next to this file):

* the Python SDK (protocol 25) sends them as **HTTP headers** of the upgrade request, with the
  session properties as escaped, double-quoted items joined by commas;
* the JavaScript client (protocol 29) sends them in the **query string**
  (``?ty=WB&v=29&ca=10&r=...&sp=<JSON>&username=...&password=...``), since a browser's WebSocket
  cannot set headers; its session properties are a JSON object.

A parameter in a header wins over the same one in the query string. Both clients encode the
credentials the same way (``wire.decode_credentials``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import wire
from .codes import SUPPORTED_PROTOCOL_VERSIONS

__all__ = ["ConnectionRequest", "negotiated_version"]


@dataclass(frozen=True)
class ConnectionRequest:
    """What a client asked for when it opened its WebSocket."""

    version: str = ""
    client_type: str = ""
    capabilities: str = ""
    username: str = ""
    password: str = field(default="", repr=False)  # base64 credentials; never logged
    properties: dict[str, str] = field(default_factory=dict)
    token: str = ""  # only on reconnection

    @classmethod
    def from_http(cls, headers: Mapping[str, str], query: Mapping[str, str]) -> ConnectionRequest:
        def get(name: str) -> str:
            value = headers.get(name)
            return value if value is not None else query.get(name, "")

        return cls(
            version=get("v"),
            client_type=get("ty"),
            capabilities=get("ca"),
            username=get("username"),
            password=get("password"),
            properties=parse_properties(get("sp")),
            token=get("c"),
        )


def negotiated_version(requested: str) -> int | None:
    """The version to answer with (the client's own), or None when it is not spoken here.

    Every official client checks that the response carries exactly its own version, so there is
    no downgrade: a version is either spoken or refused.
    """
    if not requested.isdigit():
        return None
    version = int(requested)
    return version if version in SUPPORTED_PROTOCOL_VERSIONS else None


def parse_properties(text: str) -> dict[str, str]:
    """Session properties in either client's format (lenient: used for logs and introspection)."""
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return {}
        if isinstance(decoded, dict):
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
        return {}
    return wire.parse_session_properties(text)
