"""A protocol-faithful Diffusion server emulator that the unmodified official clients talk to.

No Diffusion server can be installed where this project is built and tested, so the tests and
the dev stack use this emulator instead. It speaks the client protocol over aiohttp WebSockets in
the versions of the official clients: 25 (the Python SDK, described in the project's
``diffusion-protocol.md``) and 29 (the JavaScript client 6.12, in Node and in browsers), with 26
to 28 accepted on the strength of the published service tables. It covers handshake and
authentication, topic add / add-and-set / set / remove for JSON, string, int64, double and binary
topics, update streams with binary deltas, the full topic selector grammar, subscriptions
(including topics added later), system pings, the close request, the error replies the clients
map to their exceptions, and fault hooks for tests. What each client puts on the wire is in
``PROTOCOL.md`` next to this file.

Modules:

* ``codes``     the protocol's numbers (message types, services, reasons...)
* ``handshake`` the connection request (headers or query string) and the versions spoken
* ``wire``      primitive encodings, framing, handshake headers
* ``deltas``    binary deltas, as update streams send them
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
