"""Error classes shared by the whole package.

One root, :class:`StreamAppError`. Subclasses carry policy data (``retriable``) so callers
decide with a lookup, not with string matching.
"""

from __future__ import annotations

__all__ = ["StreamAppError", "ConfigError", "ConfigErrors", "NotImplementedConnector", "RequestRefused"]


class StreamAppError(Exception):
    """Root of every error raised by streamapp."""

    retriable: bool = False


class ConfigError(StreamAppError, ValueError):
    """A connector or worker configuration problem, located precisely.

    ``source`` is the file (or other origin) and ``key`` the configuration key at fault;
    both are part of the message so that a log line alone tells the user what to fix.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.detail = message
        where = []
        if source:
            where.append(str(source))
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigErrors(StreamAppError, ValueError):
    """Several configuration errors found in one pass (users fix them all at once)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class NotImplementedConnector(StreamAppError):
    """A connector class that is known and validated but has no implementation yet."""


class RequestRefused(StreamAppError):
    """A request to the worker (the Connect REST API's) that it refuses: Connect's HTTP status and
    message (``{"error_code": status, "message": ...}``). Never holds a secret value."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
