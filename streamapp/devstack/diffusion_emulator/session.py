"""Per-session state: identity, topic selections, per-session topic ids and the outbound queue.

Ordering is the one hard rule of the protocol (NOTIFY_SUBSCRIPTION for a topic id must reach
the client before any TOPIC_VALUE for it), so every frame a session sends goes through one
FIFO queue drained by one writer task. Enqueueing is synchronous, which also means a publisher
never waits for a slow subscriber.

Topic selection follows the server's model rather than a set of selectors: the session keeps
an ordered list of subscribe/unsubscribe operations, and a topic is selected when the *last*
operation whose selector matches it was a subscribe. That is what makes
``unsubscribe(">a/b")`` after ``subscribe("?a//")`` keep ``a/b`` unsubscribed even when it is
removed and added again, while other topics under ``a`` are still delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

from . import wire
from .codes import ServiceId, UnsubscribeReason
from .security import Principal
from .selectors import Selector
from .topics import Topic

__all__ = ["EmulatedSession", "SessionInfo", "format_session_id"]

#: The conversation id of a one-way request, which the receiver must not answer. The official Java
#: client (6.11) treats NOTIFY_SUBSCRIPTION and NOTIFY_UNSUBSCRIPTION as one-way services: sent with
#: any other cid, it answers each with a SERVICE_ERROR (it has no response serialiser for them).
#: The Python SDK and the JavaScript client accept either.
ONEWAY_CID = 0

LOG = logging.getLogger("streamapp.devstack.diffusion_emulator")


def format_session_id(server: int, value: int) -> str:
    """The SDK's textual session id: ``%016x-%016x``."""
    return f"{server:016x}-{value:016x}"


@dataclass(frozen=True)
class SessionInfo:
    """Read-only snapshot of a session for tests and logs."""

    session_id: str
    principal: str
    protocol_version: int
    client_type: str
    properties: dict[str, str]
    selections: tuple[tuple[str, str], ...]  # ("subscribe" | "unsubscribe", selector)
    subscribed_paths: tuple[str, ...]
    system_pings_sent: int
    system_pings_answered: int


class EmulatedSession:
    """One connected client session. Owned by the server; driven by the service layer."""

    def __init__(
        self,
        session_server: int,
        session_value: int,
        principal: Principal,
        properties: dict[str, str] | None = None,
        *,
        protocol_version: int,
        client_type: str = "",
    ) -> None:
        self.session_server = session_server
        self.session_value = session_value
        self.session_id = format_session_id(session_server, session_value)
        self.principal = principal
        self.properties = dict(properties or {})
        # The client's protocol version decides a few request layouts (see services).
        self.protocol_version = protocol_version
        self.client_type = client_type
        self.outbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        # (subscribe?, selector), oldest first; see the module docstring.
        self._selections: list[tuple[bool, Selector]] = []
        self._topic_ids: dict[str, int] = {}
        self._next_topic_id = itertools.count(1)
        # Server-initiated conversations (system pings). The client echoes the cid in an empty
        # response. Notifications are one-way instead: cid ONEWAY_CID, never answered.
        self._next_cid = itertools.count(1)
        self._pending_pings: set[int] = set()
        self.system_pings_sent = 0
        self.system_pings_answered = 0

    # --- outbound ------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        if not self.closed:
            self.outbound.put_nowait(frame)

    def mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.outbound.put_nowait(None)  # wakes the writer so it can exit

    # --- selections ------------------------------------------------------------------------------

    def add_selection(self, subscribe: bool, selector: Selector) -> None:
        # A later operation with the same selector text supersedes an earlier one entirely.
        self._selections = [s for s in self._selections if s[1].expression != selector.expression]
        if subscribe or any(op for op, _ in self._selections):
            self._selections.append((subscribe, selector))
        # A trailing run of unsubscriptions with nothing selected before it changes nothing;
        # dropping them keeps the list from growing without bound.
        if not any(op for op, _ in self._selections):
            self._selections.clear()

    def selects(self, path: str) -> bool:
        for subscribe, selector in reversed(self._selections):
            if selector.matches(path):
                return subscribe
        return False

    # --- subscriptions ---------------------------------------------------------------------------

    def is_subscribed(self, path: str) -> bool:
        return path in self._topic_ids

    def subscribed_paths(self) -> list[str]:
        return sorted(self._topic_ids)

    def subscribe(self, topic: Topic) -> None:
        """Allocate a topic id, send NOTIFY_SUBSCRIPTION and then the value, if any."""
        if topic.path in self._topic_ids:
            return
        topic_id = next(self._next_topic_id)
        self._topic_ids[topic.path] = topic_id
        body = (
            wire.encode_varint(topic_id, 32)
            + wire.encode_string(topic.path)
            + bytes((topic.type_code,))
            + wire.encode_string_map(topic.properties)
        )
        self.send(wire.service_request(ServiceId.NOTIFY_SUBSCRIPTION, ONEWAY_CID, body))
        if topic.value is not None:
            self.send(wire.topic_value(topic_id, topic.value))

    def publish(self, path: str, value: bytes) -> None:
        topic_id = self._topic_ids.get(path)
        if topic_id is not None:
            self.send(wire.topic_value(topic_id, value))

    def unsubscribe(self, path: str, reason: UnsubscribeReason) -> bool:
        topic_id = self._topic_ids.pop(path, None)
        if topic_id is None:
            return False
        body = wire.encode_varint(topic_id, 32) + bytes((reason,))
        self.send(wire.service_request(ServiceId.NOTIFY_UNSUBSCRIPTION, ONEWAY_CID, body))
        return True

    # --- system ping -----------------------------------------------------------------------------

    def send_system_ping(self) -> None:
        cid = next(self._next_cid)
        self._pending_pings.add(cid)
        self.system_pings_sent += 1
        self.send(wire.service_request(ServiceId.SYSTEM_PING, cid))

    def on_client_response(self, cid: int) -> None:
        """The client answered one of our requests (a notification or a system ping)."""
        if cid in self._pending_pings:
            self._pending_pings.discard(cid)
            self.system_pings_answered += 1

    # --- introspection ---------------------------------------------------------------------------

    def info(self) -> SessionInfo:
        return SessionInfo(
            session_id=self.session_id,
            principal=self.principal.name,
            protocol_version=self.protocol_version,
            client_type=self.client_type,
            properties=dict(self.properties),
            selections=tuple(("subscribe" if op else "unsubscribe", sel.expression) for op, sel in self._selections),
            subscribed_paths=tuple(self.subscribed_paths()),
            system_pings_sent=self.system_pings_sent,
            system_pings_answered=self.system_pings_answered,
        )

    def __repr__(self) -> str:
        return f"<EmulatedSession {self.session_id} principal={self.principal}>"
