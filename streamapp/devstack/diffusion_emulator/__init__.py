"""A protocol-faithful Diffusion server emulator that the unmodified official SDK talks to.

No Diffusion server can be installed where this project is built and tested, so the tests and
the dev stack use this emulator instead. It speaks the client protocol v25 described in
``docs/diffusion-protocol.md`` over aiohttp WebSockets: handshake and authentication, topic add /
add-and-set / set / remove for JSON, string, int64, double and binary topics, the full topic
selector grammar, subscriptions (including topics added later), system pings, the error replies
the SDK maps to its exceptions, and fault hooks for tests.

Modules:

* ``codes``     the protocol's numbers (message types, services, reasons...)
* ``wire``      primitive encodings, framing, handshake headers
* ``selectors`` selector parsing and matching
* ``topics``    topic paths, types, values and the topic tree
* ``security``  principals, anonymous sessions, permissions
* ``session``   per-session state and ordered outbound queue
* ``services``  request handlers and topic fan-out
* ``server``    the aiohttp server, fault hooks, ``DiffusionEmulator`` and ``run_emulator``
* ``tls``       the SSL context of the wss:// listener (``tls_cert``/``tls_key``)

Logging goes to the ``streamapp.devstack.diffusion_emulator`` logger: INFO when sessions open
and close, DEBUG per request.
"""

from __future__ import annotations

from .selectors import Selector, SelectorError, parse_selector
from .server import DiffusionEmulator, run_emulator
from .session import SessionInfo

__all__ = [
    "DiffusionEmulator",
    "Selector",
    "SelectorError",
    "SessionInfo",
    "parse_selector",
    "run_emulator",
]
