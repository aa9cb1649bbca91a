"""JSON text -> trees, read as Kafka Connect's ``JsonDeserializer`` reads it (Jackson, as Connect configures it).

The standard library's C-accelerated ``json`` does the parsing; this module makes it accept and
refuse what Connect does:

* ``NaN``, ``Infinity`` and ``-Infinity`` are refused. Python's ``json`` accepts them by default,
  Jackson does not (``ALLOW_NON_NUMERIC_NUMBERS`` is off in Connect), so such a message is
  unreadable for every Connect consumer. The error is a :class:`json.JSONDecodeError` at the token.
* Numbers with leading zeros (``007``, ``-00.5``) are read as their value, as Connect does since
  Kafka 3.6 (KAFKA-15012 turned on Jackson's ``ALLOW_LEADING_ZEROS_FOR_NUMBERS``). Python's ``json``
  refuses them, so :func:`without_leading_zeros` rewrites such a document after the first parse
  failed: documents without leading zeros never pay for it.
* Input is UTF-8, UTF-16 or UTF-32 (detected as ``json.loads`` and Jackson both do).

Still stricter than Jackson, on purpose: text after the JSON value (``[1] [2]``) is an error where
Connect silently reads the first value and drops the rest.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

__all__ = ["loads", "loads_exact", "without_leading_zeros"]

_detect_encoding = json.detect_encoding


class _NonFiniteNumber(Exception):
    """Raised from inside the C scanner when it meets NaN or an infinity (it knows no position)."""


def _refuse_constant(token: str) -> Any:
    raise _NonFiniteNumber(token)


_DECODE = json.JSONDecoder(parse_constant=_refuse_constant).decode
_DECODE_EXACT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=decimal.Decimal).decode

# A JSON string (skipped whole, so nothing inside it is touched) or a number's leading zeros. A
# number starts after a structural character or whitespace; the look-behind keeps digits after a
# decimal point or an exponent ("1.005", "1e-005") intact. "0012" -> "12", "-00.5" -> "-0.5", "000" -> "0".
_STRING_OR_LEADING_ZEROS = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.+\-])(-?)0+(?=\d)', re.DOTALL)
# The same tokens the C scanner turns into constants, outside strings.
_STRING_OR_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


def loads(data: bytes | bytearray | str) -> Any:
    """The JSON tree of ``data``; non-integral numbers are ``float``. Raises ``ValueError`` subclasses."""
    text = _text(data)
    try:
        return _DECODE(text)
    except _NonFiniteNumber as exc:
        raise _non_finite_error(text, exc) from None


def loads_exact(data: bytes | bytearray | str) -> Any:
    """Like :func:`loads`, with non-integral numbers as exact ``decimal.Decimal``."""
    text = _text(data)
    try:
        return _DECODE_EXACT(text)
    except _NonFiniteNumber as exc:
        raise _non_finite_error(text, exc) from None


def _text(data: Any) -> str:
    kind = type(data)
    if kind is bytes or kind is bytearray:
        return data.decode(_detect_encoding(data), "surrogatepass")  # type: ignore[no-any-return]
    if kind is str:
        return data  # type: ignore[no-any-return]
    if isinstance(data, (bytes, bytearray, str)):
        return _text(bytes(data) if isinstance(data, (bytes, bytearray)) else str(data))
    raise TypeError(f"the JSON object must be str, bytes or bytearray, not {kind.__name__}")


def _non_finite_error(text: str, exc: _NonFiniteNumber) -> json.JSONDecodeError:
    token = exc.args[0]
    position = 0
    for match in _STRING_OR_CONSTANT.finditer(text):
        if match.group(1) is not None:
            position = match.start(1)
            break
    return json.JSONDecodeError(
        f"{token} is not a JSON number (Kafka Connect's JsonConverter refuses it too)", text, position
    )


def without_leading_zeros(data: bytes | bytearray | str, error: Exception) -> str | None:
    """The text of ``data`` with leading zeros removed from its numbers, if ``error`` was caused by one.

    ``error`` is what :func:`loads` raised for ``data``; None when it is not a leading zero (then
    the document is wrong in another way, and ``error`` says how).
    """
    if not isinstance(error, json.JSONDecodeError):
        return None
    text, pos = error.doc, error.pos
    # Python's scanner reads the "0" of "007" as a whole number and then fails at the next digit.
    if not (0 < pos < len(text) and text[pos - 1] == "0" and "0" <= text[pos] <= "9"):
        return None
    return _STRING_OR_LEADING_ZEROS.sub(_strip_zeros, text)


def _strip_zeros(match: re.Match[str]) -> str:
    sign = match.group(1)
    return match.group(0) if sign is None else sign
