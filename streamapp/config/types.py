"""Value types shared by connector config models, with Kafka Connect's parsing rules.

Connect reads every value from strings (``.properties``, REST JSON strings) and converts by the
key's declared type. pydantic's lax mode does the same for ints and booleans; the helpers here
add what Connect does differently: comma-separated LISTs, case-insensitive enum strings, and
password values that never show.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr

__all__ = ["ConnectList", "lower", "upper", "Password", "KeyedError", "HIDDEN"]

# What Connect prints instead of a PASSWORD value in logs and REST responses.
HIDDEN = "[hidden]"


def _split_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


ConnectList = Annotated[list[str], BeforeValidator(_split_list)]
Password = SecretStr


class KeyedError(ValueError):
    """Raised by model-level validators to blame one key (pydantic reports them without a location)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)
