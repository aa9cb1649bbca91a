"""Short renderings of values for error messages: values can be megabytes, numbers thousands of digits."""

from __future__ import annotations

from typing import Any


def describe_value(value: Any, limit: int = 60) -> str:
    """``"<type> <short repr>"`` for messages, never longer than about ``limit`` characters."""
    return f"{type(value).__name__} {short_repr(value, limit)}"


def brief(value: Any, limit: int = 40) -> str:
    """``str(value)`` cut to about ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def short_repr(value: Any, limit: int) -> str:
    """``repr(value)`` cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
