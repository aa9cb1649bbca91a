"""Authentication and the permissions the emulator enforces.

A cut-down version of Diffusion's system authentication store (see the reference notes,
section 6.5): named principals with passwords, plus optional anonymous sessions.

* Every named principal may do everything the bridge needs (create, update and remove topics,
  subscribe). On a real server ``admin`` and ``control`` hold those rights by default.
* Anonymous sessions get the ``CLIENT`` role only: they may subscribe and ping, but adding,
  setting or removing topics is refused with ACCESS_DENIED (103).
* Only plain passwords are understood; custom (bytes) credentials are refused, as the real
  system authentication handler refuses them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from .wire import Credentials

__all__ = ["ANONYMOUS", "DEFAULT_PRINCIPALS", "Authenticator", "Principal"]

#: How the SDK names the anonymous principal (an empty username header).
ANONYMOUS = ""
DEFAULT_PRINCIPALS: Mapping[str, str] = {"admin": "password", "control": "password"}


@dataclass(frozen=True)
class Principal:
    name: str

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS

    @property
    def may_modify_topics(self) -> bool:
        """MODIFY_TOPIC and UPDATE_TOPIC: add, set, add-and-set and remove."""
        return not self.anonymous

    def __str__(self) -> str:
        return self.name or "<anonymous>"


class Authenticator:
    """Decides whether a handshake's username and credentials open a session."""

    def __init__(self, principals: Mapping[str, str] | None, allow_anonymous: bool) -> None:
        self._principals = dict(DEFAULT_PRINCIPALS if principals is None else principals)
        self.allow_anonymous = allow_anonymous

    def authenticate(self, username: str, credentials: Credentials) -> Principal | None:
        """The authenticated principal, or None when the session must be refused."""
        if username == ANONYMOUS:
            # The SDK sends no credentials for anonymous sessions; any it did send are ignored,
            # as a server ignores credentials without a principal.
            return Principal(ANONYMOUS) if self.allow_anonymous else None
        expected = self._principals.get(username)
        if expected is None or credentials.kind != Credentials.PLAIN_PASSWORD:
            return None
        # Constant-time compare: cheap, and the habit costs nothing even in a test server.
        if hmac.compare_digest(credentials.data, expected.encode("utf-8")):
            return Principal(username)
        return None
