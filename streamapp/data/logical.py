"""Logical types: value <-> underlying representation (Connect's toLogical / fromLogical)."""

from __future__ import annotations

import datetime as _dt
import decimal

from .errors import DataError
from .text import brief, describe_value

# --------------------------------------------------------------------------------------------
# Logical types: value <-> underlying representation (Connect's toLogical / fromLogical)

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_DATE = _dt.date(1970, 1, 1)
_ONE_MS = _dt.timedelta(milliseconds=1)
_MS_PER_DAY = 86_400_000
# Exact arithmetic for decimals of any size: quantize/scaleb never round with this context.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def rescale_decimal(value: decimal.Decimal | int, scale: int) -> decimal.Decimal:
    """``value`` with exactly ``scale`` digits after the point; DataError if that would round.

    Connect requires a BigDecimal's scale to equal the schema's. Python decimals carry their own
    exponent (``Decimal('12.3')`` has scale 1), so values are rescaled when no digit is lost
    (12.3 -> 12.30 for scale 2) and refused when one would be (12.345 for scale 2).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = decimal.Decimal(value)
    if not isinstance(value, decimal.Decimal):
        raise DataError(f"a Decimal value must be a decimal.Decimal, got {describe_value(value)}")
    if not value.is_finite():
        raise DataError(f"a Decimal value must be finite, got {brief(value)}")
    if value.as_tuple().exponent == -scale:
        return value
    rescaled = value.quantize(decimal.Decimal(1).scaleb(-scale), context=_EXACT)
    if rescaled != value:
        raise DataError(f"decimal {brief(value)} has more than {scale} digits after the point (the schema's scale)")
    return rescaled


def decimal_to_bytes(value: decimal.Decimal | int, scale: int) -> bytes:
    """The unscaled value as big-endian two's complement, minimal length (Java's ``BigInteger.toByteArray``)."""
    unscaled = int(rescale_decimal(value, scale).scaleb(scale, context=_EXACT))
    length = ((unscaled if unscaled >= 0 else ~unscaled).bit_length() + 8) // 8
    return unscaled.to_bytes(length, "big", signed=True)


def decimal_from_bytes(data: bytes, scale: int) -> decimal.Decimal:
    """Connect's ``Decimal.toLogical``: two's complement unscaled bytes -> Decimal with ``scale``."""
    if not data:
        raise DataError("Decimal bytes are empty (a decimal needs at least one byte)")
    unscaled = int.from_bytes(data, "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale, context=_EXACT)


def date_to_days(value: _dt.date) -> int:
    if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
        raise DataError(f"a Date value must be a datetime.date, got {describe_value(value)}")
    return (value - _EPOCH_DATE).days


def date_from_days(days: int) -> _dt.date:
    try:
        return _EPOCH_DATE + _dt.timedelta(days=days)
    except OverflowError:
        raise DataError(f"Date {brief(days)} days from 1970-01-01 is outside years 1..9999") from None


def time_to_millis(value: _dt.time) -> int:
    """Milliseconds since midnight; sub-millisecond digits are dropped (Connect's Time has ms precision)."""
    if not isinstance(value, _dt.time):
        raise DataError(f"a Time value must be a datetime.time, got {describe_value(value)}")
    offset = value.utcoffset()
    if offset:
        raise DataError(f"a Time value must be in UTC (or naive), got offset {offset}")
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def time_from_millis(millis: int) -> _dt.time:
    if not 0 <= millis < _MS_PER_DAY:
        raise DataError(f"Time must be 0 <= milliseconds of the day < 86400000, got {brief(millis)}")
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return _dt.time(hour, minute, second, ms * 1000)


def timestamp_to_millis(value: _dt.datetime) -> int:
    """Milliseconds since the epoch, floored; the datetime must be timezone-aware."""
    if not isinstance(value, _dt.datetime):
        raise DataError(f"a Timestamp value must be a datetime.datetime, got {describe_value(value)}")
    if value.utcoffset() is None:
        raise DataError(f"a Timestamp value must be timezone-aware (naive datetime {value.isoformat()})")
    return (value - EPOCH) // _ONE_MS


def timestamp_from_millis(millis: int) -> _dt.datetime:
    try:
        return EPOCH + _dt.timedelta(milliseconds=millis)
    except OverflowError:
        raise DataError(f"Timestamp {brief(millis)} ms since the epoch is outside years 1..9999") from None


# ISO-8601 text forms, for destinations that carry logical values as strings (JSON, Diffusion).


def format_date(value: _dt.date) -> str:
    """``YYYY-MM-DD``."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def format_time(value: _dt.time) -> str:
    """``HH:MM:SS.mmm`` (milliseconds, as Connect's Time); the time must be UTC or naive."""
    time_to_millis(value)  # validates
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}"


def format_timestamp(value: _dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC; the datetime must be timezone-aware."""
    timestamp_to_millis(value)  # validates
    utc = value.astimezone(_dt.UTC)
    return f"{format_date(utc)}T{format_time(utc.time())}Z"
