"""Which Diffusion failures are worth retrying, and which are the record's fault.

The SDK raises one exception class per server reason (see diffusion-protocol.md section 6). A
refusal that will be the same on every retry (wrong topic type, invalid path, access denied) is a
record error handled by the connector's error policy; a lost or closed session is transient: the
update waits for the session to come back and is sent again, in order.
"""

from __future__ import annotations

import asyncio

from diffusion.internal.protocol.exceptions import ProtocolError, ServiceMessageError
from diffusion.session.exceptions import (
    AddTopicError,
    ExistingTopicError,
    IncompatibleExistingTopicError,
    IncompatibleTopicError,
    InvalidTopicPathError,
    SessionClosedError,
    UnsatisfiedConstraintError,
    UpdateFailedError,
)

from streamapp.errors import StreamAppError

__all__ = ["DiffusionRefused", "DiffusionUnavailable", "classify"]


class DiffusionRefused(StreamAppError):
    """The server refused this update; retrying the same update cannot help (a record error)."""

    retriable = False


class DiffusionUnavailable(StreamAppError):
    """No usable session right now (closed, lost, timed out); the update is retried after reconnecting."""

    retriable = True


_PERMANENT = (
    IncompatibleTopicError,
    IncompatibleExistingTopicError,
    ExistingTopicError,
    InvalidTopicPathError,
    AddTopicError,
    UpdateFailedError,
    UnsatisfiedConstraintError,
)


def classify(exc: BaseException, *, path: str) -> StreamAppError:
    """Map an SDK exception raised while updating ``path`` to DiffusionRefused or DiffusionUnavailable."""
    name = type(exc).__name__
    if isinstance(exc, _PERMANENT):
        return DiffusionRefused(f"Diffusion refused the update of '{path}': {name}: {exc}")
    if isinstance(exc, (SessionClosedError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)):
        return DiffusionUnavailable(f"Diffusion session unavailable while updating '{path}': {name}: {exc}")
    if isinstance(exc, ServiceMessageError):
        # Access denied (103), unsupported (104) and invalid data (106) arrive as generic service
        # errors whose text is the only clue; none of them changes on a retry.
        return DiffusionRefused(f"Diffusion refused the update of '{path}': {exc}")
    if isinstance(exc, ProtocolError):
        return DiffusionUnavailable(f"Diffusion session unavailable while updating '{path}': {name}: {exc}")
    return DiffusionUnavailable(f"unexpected error while updating '{path}': {name}: {exc}")
