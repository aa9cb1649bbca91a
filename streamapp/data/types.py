"""Connect's schema types and logical type names."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

# --------------------------------------------------------------------------------------------
# Schema


class Type(enum.Enum):
    """Connect schema types; the value is Connect's (and the JSON schema's) lower-case type name."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


INT_RANGES: Mapping[Type, tuple[int, int]] = MappingProxyType(
    {
        Type.INT8: (-(2**7), 2**7 - 1),
        Type.INT16: (-(2**15), 2**15 - 1),
        Type.INT32: (-(2**31), 2**31 - 1),
        Type.INT64: (-(2**63), 2**63 - 1),
    }
)

DECIMAL_NAME = "org.apache.kafka.connect.data.Decimal"
DECIMAL_SCALE = "scale"
DATE_NAME = "org.apache.kafka.connect.data.Date"
TIME_NAME = "org.apache.kafka.connect.data.Time"
TIMESTAMP_NAME = "org.apache.kafka.connect.data.Timestamp"
LOGICAL_NAMES: Mapping[str, Type] = MappingProxyType(
    {DECIMAL_NAME: Type.BYTES, DATE_NAME: Type.INT32, TIME_NAME: Type.INT32, TIMESTAMP_NAME: Type.INT64}
)
_SHORT_LOGICAL = {DECIMAL_NAME: "Decimal", DATE_NAME: "Date", TIME_NAME: "Time", TIMESTAMP_NAME: "Timestamp"}
