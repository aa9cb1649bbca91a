"""Connect values <-> JSON trees, as Connect's JsonConverter maps them, compiled per schema.

:class:`JsonValueCodec` turns a :class:`~streamapp.data.Schema` into two small closures, a
*reader* (a tree from ``json.loads`` -> Connect value) and a *writer* (Connect value -> a tree for
``json.dumps``), and caches them per schema: the converter's hot path then does no dispatch on
schema types, only the work each value needs.

Mapping (Connect's ``JsonConverter.convertToConnect`` / ``convertToJson``):

* integers, floats, booleans, strings as JSON scalars; bytes as base64 text;
* arrays as JSON arrays; maps with a STRING key schema as JSON objects, any other map as a JSON
  array of ``[key, value]`` pairs (Python keys of an ARRAY key schema become tuples so they are
  hashable; MAP and STRUCT keys cannot be Python dict keys and are refused);
* structs as JSON objects in field order;
* Decimal as base64 of the unscaled two's complement bytes (``decimal.format=BASE64``) or as a
  JSON number with the exact digits (``NUMERIC``); reading accepts both, as Connect does;
* Date, Time, Timestamp as the integers Connect uses (days, ms of day, ms since the epoch);
* without a schema, values are written by their Python type (Connect's ``schemaType(class)``); a
  ``decimal.Decimal`` without a schema is an error, as in Connect, since only a Decimal schema
  says how to write it.

Differences from Connect, all stricter where Connect silently corrupts: a JSON value of the wrong
kind (``"abc"`` for an int32, ``1.5`` for an int8, ``3`` for a boolean) is a
:class:`ConversionError` instead of Jackson's lax coercion to 0/false; integers out of range for
their type are refused instead of wrapping; an integral float (``1.0``) is accepted for integer
types (Connect accepts any number there and truncates it), not for Date, Time and Timestamp (nor
does Connect). Decimals are rescaled to the schema's scale when no digit is lost (see
:func:`~streamapp.data.rescale_decimal`; Connect keeps the scale the JSON number has). FLOAT32
values keep full double precision (Python has no float32; rounding would also break JSON round
trips).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import decimal
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from streamapp.data import (
    DATE_NAME,
    DECIMAL_NAME,
    INT_RANGES,
    TIME_NAME,
    DataError,
    Schema,
    Struct,
    Type,
    brief,
    date_from_days,
    date_to_days,
    decimal_from_bytes,
    decimal_to_bytes,
    describe_value,
    rescale_decimal,
    time_from_millis,
    time_to_millis,
    timestamp_from_millis,
    timestamp_to_millis,
)

from .errors import ConversionError

__all__ = ["JsonValueCodec", "NeedExactNumbers", "RawNumber", "json_kind", "BoundedCache"]

Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]

_Decimal = decimal.Decimal
_b64decode = base64.b64decode
_b64encode = base64.b64encode


class NeedExactNumbers(Exception):
    """A Decimal field met a JSON number parsed as float: the converter re-parses with exact decimals.

    Parsing every number as ``decimal.Decimal`` would slow down the common case (no NUMERIC
    decimals) for nothing, so floats are parsed as ``float`` and the rare document that needs
    exact digits is parsed a second time.
    """


class RawNumber:
    """A number to be written with exactly these digits (a NUMERIC decimal); see :class:`JsonValueCodec`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawNumber({self.text})"


class BoundedCache(dict):  # type: ignore[type-arg]
    """A dict that forgets its oldest entry beyond ``size`` entries (0: keeps nothing)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> Any:
        if self.size > 0:
            if len(self) >= self.size:
                del self[next(iter(self))]
            self[key] = value
        return value


def json_kind(node: Any) -> str:
    """How a JSON tree node reads in a message: ``a JSON array``, ``the string "abc"``, ``null``."""
    if node is None:
        return "null"
    if node is True or node is False:
        return "true" if node else "false"
    if isinstance(node, dict):
        return "a JSON object"
    if isinstance(node, list):
        return "a JSON array"
    if isinstance(node, str):
        text = node if len(node) <= 40 else node[:37] + "..."
        return f"the string {text!r}"
    if isinstance(node, (int, float, decimal.Decimal)):
        text = str(node)
        return f"the number {text if len(text) <= 40 else text[:37] + '...'}"
    return describe_value(node)


def _locate(items: Any, convert: Callable[[Any], Any], exc: DataError) -> DataError:
    """After a comprehension failed, find the failing index again (conversions are pure) and tag it."""
    for index, item in enumerate(items):
        try:
            convert(item)
        except DataError as again:
            return again.at(index)
    return exc


def _locate_values(items: Mapping[Any, Any], convert: Callable[[Any], Any], exc: DataError) -> DataError:
    for key, item in items.items():
        try:
            convert(item)
        except DataError as again:
            return again.at_key(key)
    return exc


class JsonValueCodec:
    """Compiles and caches per-schema readers and writers for one JsonConverter configuration."""

    def __init__(
        self, *, decimal_format: str = "BASE64", replace_null_with_default: bool = True, cache_size: int = 1000
    ):
        self.numeric_decimals = decimal_format == "NUMERIC"
        self.replace_null_with_default = replace_null_with_default
        # Compiled closures are keyed by schema; at least a few entries so that nested schemas
        # of one record reuse their closures even with schemas.cache.size=0.
        self._readers = BoundedCache(max(cache_size, 64) * 4)
        self._writers = BoundedCache(max(cache_size, 64) * 4)
        # Marks around NUMERIC digits in the encoder's output; random so no payload can forge them.
        token = secrets.token_hex(8)
        self.raw_start = f"\ue000{token}<"
        self.raw_end = f">{token}\ue001"

    # ------------------------------------------------------------------ reading (JSON -> Connect)

    def reader(self, schema: Schema) -> Reader:
        """A function JSON node -> Connect value for ``schema``, handling null per Connect's rules."""
        read = self._readers.get(schema)
        if read is None:
            read = self._readers.put(schema, self._compile_reader(schema))
        return read  # type: ignore[no-any-return]

    def _compile_reader(self, schema: Schema) -> Reader:
        read = self._value_reader_cached(schema)
        default = schema.default
        if default is not None and self.replace_null_with_default:

            def reader(node: Any) -> Any:
                return default if node is None else read(node)

        elif schema.optional:

            def reader(node: Any) -> Any:
                return None if node is None else read(node)

        else:
            message = f"null value for required {schema.label()}"

            def reader(node: Any) -> Any:
                if node is None:
                    raise ConversionError(message)
                return read(node)

        return reader

    def _value_reader(self, schema: Schema) -> Reader:  # one branch per Connect type
        logical = schema.logical_name
        if logical is not None:
            return self._logical_reader(schema, logical)
        kind = schema.type
        if kind in INT_RANGES:
            return _int_reader(kind)
        if kind is Type.FLOAT32 or kind is Type.FLOAT64:
            name = kind.value

            def read_float(node: Any) -> Any:
                kind_ = type(node)
                if kind_ is float:
                    return node
                if kind_ is int or kind_ is _Decimal:
                    try:
                        return float(node)
                    except OverflowError:
                        raise ConversionError(f"{json_kind(node)} is too large for {name}") from None
                raise ConversionError(f"expected a number for {name}, got {json_kind(node)}")

            return read_float
        if kind is Type.BOOLEAN:

            def read_bool(node: Any) -> Any:
                if node is True or node is False:
                    return node
                raise ConversionError(f"expected true or false for boolean, got {json_kind(node)}")

            return read_bool
        if kind is Type.STRING:

            def read_str(node: Any) -> Any:
                if type(node) is str:
                    return node
                raise ConversionError(f"expected a string, got {json_kind(node)}")

            return read_str
        if kind is Type.BYTES:
            return _read_base64
        if kind is Type.ARRAY:
            return self._array_reader(schema)
        if kind is Type.MAP:
            return self._map_reader(schema)
        return self._struct_reader(schema)

    def _array_reader(self, schema: Schema) -> Reader:
        element = self.reader(schema.value_schema)  # type: ignore[arg-type]
        label = schema.label()

        def read_array(node: Any) -> Any:
            if type(node) is not list:
                raise ConversionError(f"expected a JSON array for {label}, got {json_kind(node)}")
            try:
                return [element(item) for item in node]
            except DataError as exc:
                raise _locate(node, element, exc) from None

        return read_array

    def _map_reader(self, schema: Schema) -> Reader:
        key_schema: Schema = schema.key_schema  # type: ignore[assignment]
        value = self.reader(schema.value_schema)  # type: ignore[arg-type]
        if key_schema.type is Type.STRING:

            def read_object(node: Any) -> Any:
                if type(node) is not dict:
                    raise ConversionError(f"maps with string keys are JSON objects, got {json_kind(node)}")
                try:
                    return {k: value(v) for k, v in node.items()}
                except DataError as exc:
                    raise _locate_values(node, value, exc) from None

            return read_object

        key = self.reader(key_schema)
        hashable_key = key
        if key_schema.type is Type.ARRAY:

            def hashable_key(node: Any) -> Any:
                converted = key(node)
                return None if converted is None else tuple(converted)

        key_label = key_schema.label()

        def read_pairs(node: Any) -> Any:
            if type(node) is not list:
                raise ConversionError(
                    f"maps with {key_label} keys are JSON arrays of [key, value] pairs, got {json_kind(node)}"
                )
            result = {}
            for index, entry in enumerate(node):
                if type(entry) is not list or len(entry) != 2:
                    raise ConversionError(f"a map entry must be a [key, value] pair, got {json_kind(entry)}").at(index)
                try:
                    k = hashable_key(entry[0])
                    result[k] = value(entry[1])
                except DataError as exc:
                    raise exc.at(index) from None
                except TypeError:
                    raise ConversionError(f"a map key of {key_label} cannot be a Python dict key (unhashable)").at(
                        index
                    ) from None
            return result

        return read_pairs

    def _struct_reader(self, schema: Schema) -> Reader:
        # Null handling is inlined here (not through each field's reader) because structs are
        # the common top-level value: one call per present field instead of two.
        replace = self.replace_null_with_default
        fields = []
        for f in schema.fields:
            use_default = replace and f.schema.default is not None
            fields.append(
                (
                    f.name,
                    self._value_reader_cached(f.schema),
                    not f.schema.optional and not use_default,
                    f.schema.default if use_default else None,
                )
            )
        label = schema.label()
        trusted = Struct._trusted

        def read_struct(node: Any) -> Any:
            if type(node) is not dict:
                raise ConversionError(f"expected a JSON object for {label}, got {json_kind(node)}")
            values = {}
            get = node.get
            for name, read, required, null_value in fields:
                item = get(name)
                if item is None:
                    if required:
                        state = "null" if name in node else "missing"
                        raise ConversionError(f"struct field '{name}' is required but {state}")
                    values[name] = null_value
                    continue
                try:
                    values[name] = read(item)
                except DataError as exc:
                    raise exc.at(name) from None
            return trusted(schema, values)

        return read_struct

    def _value_reader_cached(self, schema: Schema) -> Reader:
        """The reader of non-null values of ``schema`` (shared with :meth:`reader`'s compilation)."""
        key = ("value", schema)
        read = self._readers.get(key)
        if read is None:
            read = self._readers.put(key, self._value_reader(schema))
        return read  # type: ignore[no-any-return]

    def _logical_reader(self, schema: Schema, logical: str) -> Reader:
        if logical == DECIMAL_NAME:
            scale: int = schema.scale  # type: ignore[assignment]

            def read_decimal(node: Any) -> Any:
                kind = type(node)
                if kind is str:
                    return decimal_from_bytes(_read_base64(node), scale)
                if kind is int:
                    return rescale_decimal(_Decimal(node), scale)
                if kind is _Decimal:
                    return rescale_decimal(node, scale)
                if kind is float:
                    raise NeedExactNumbers()
                raise ConversionError(f"expected a number or base64 bytes for {schema.label()}, got {json_kind(node)}")

            return read_decimal
        # Connect reads the logical integers only from JSON integers (isInt / isIntegralNumber).
        if logical == DATE_NAME:
            as_int = _int_reader(Type.INT32, what="Date (days since 1970-01-01)", floats=False)
            return lambda node: date_from_days(as_int(node))
        if logical == TIME_NAME:
            as_int = _int_reader(Type.INT32, what="Time (milliseconds of the day)", floats=False)
            return lambda node: time_from_millis(as_int(node))
        as_int = _int_reader(Type.INT64, what="Timestamp (milliseconds since the epoch)", floats=False)
        return lambda node: timestamp_from_millis(as_int(node))

    @staticmethod
    def floats(node: Any) -> Any:
        """A schemaless tree parsed with exact decimals, with the decimals back to floats."""
        kind = type(node)
        if kind is _Decimal:
            return float(node)
        if kind is list:
            return [JsonValueCodec.floats(item) for item in node]
        if kind is dict:
            return {k: JsonValueCodec.floats(v) for k, v in node.items()}
        return node

    # ------------------------------------------------------------------ writing (Connect -> JSON)

    def writer(self, schema: Schema | None) -> Writer:
        """A function Connect value -> JSON tree for ``schema`` (None: infer from the Python types)."""
        if schema is None:
            return self.write_any
        write = self._writers.get(schema)
        if write is None:
            write = self._writers.put(schema, self._compile_writer(schema))
        return write  # type: ignore[no-any-return]

    def _compile_writer(self, schema: Schema) -> Writer:
        write = self._value_writer(schema)
        default = schema.default
        if default is not None and self.replace_null_with_default:
            default_json = write(default)

            def writer(value: Any) -> Any:
                return default_json if value is None else write(value)

        elif schema.optional:

            def writer(value: Any) -> Any:
                return None if value is None else write(value)

        else:
            message = f"null value for required {schema.label()} with no default"

            def writer(value: Any) -> Any:
                if value is None:
                    raise ConversionError(message)
                return write(value)

        return writer

    def _value_writer(self, schema: Schema) -> Writer:  # one branch per Connect type
        logical = schema.logical_name
        if logical is not None:
            return self._logical_writer(schema, logical)
        kind = schema.type
        if kind in INT_RANGES:
            low, high = INT_RANGES[kind]
            name = kind.value

            def write_int(value: Any) -> Any:
                if type(value) is int:
                    if low <= value <= high:
                        return value
                    raise ConversionError(f"{brief(value)} is out of range for {name} ({low}..{high})")
                if isinstance(value, int) and not isinstance(value, bool):
                    return write_int(int(value))
                raise ConversionError(f"expected an integer for {name}, got {describe_value(value)}")

            return write_int
        if kind is Type.FLOAT32 or kind is Type.FLOAT64:
            name = kind.value

            def write_float(value: Any) -> Any:
                if type(value) is float:
                    return value
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    try:
                        return float(value)
                    except OverflowError:
                        raise ConversionError(f"{brief(value)} is too large for {name}") from None
                raise ConversionError(f"expected a float for {name}, got {describe_value(value)}")

            return write_float
        if kind is Type.BOOLEAN:

            def write_bool(value: Any) -> Any:
                if value is True or value is False:
                    return value
                raise ConversionError(f"expected a bool for boolean, got {describe_value(value)}")

            return write_bool
        if kind is Type.STRING:

            def write_str(value: Any) -> Any:
                if isinstance(value, str):
                    return value
                raise ConversionError(f"expected a str for string, got {describe_value(value)}")

            return write_str
        if kind is Type.BYTES:
            return _write_base64
        if kind is Type.ARRAY:
            element = self.writer(schema.value_schema)
            label = schema.label()

            def write_array(value: Any) -> Any:
                if not isinstance(value, (list, tuple)):
                    raise ConversionError(f"expected a list for {label}, got {describe_value(value)}")
                try:
                    return [element(item) for item in value]
                except DataError as exc:
                    raise _locate(value, element, exc) from None

            return write_array
        if kind is Type.MAP:
            return self._map_writer(schema)
        return self._struct_writer(schema)

    def _map_writer(self, schema: Schema) -> Writer:
        key_schema: Schema = schema.key_schema  # type: ignore[assignment]
        key = self.writer(key_schema)
        value = self.writer(schema.value_schema)
        label = schema.label()
        string_keys = key_schema.type is Type.STRING

        def write_map(mapping: Any) -> Any:
            if not isinstance(mapping, Mapping):
                raise ConversionError(f"expected a mapping for {label}, got {describe_value(mapping)}")
            if string_keys:
                result: Any = {}
                for k, v in mapping.items():
                    try:
                        result[key(k)] = value(v)
                    except DataError as exc:
                        raise exc.at_key(k) from None
                return result
            pairs = []
            for k, v in mapping.items():
                try:
                    pairs.append([key(k), value(v)])
                except DataError as exc:
                    raise exc.at_key(k) from None
            return pairs

        return write_map

    def _struct_writer(self, schema: Schema) -> Writer:
        fields = [(f.name, self.writer(f.schema)) for f in schema.fields]
        label = schema.label()

        def write_struct(struct: Any) -> Any:
            if not isinstance(struct, Struct):
                raise ConversionError(f"expected a Struct for {label}, got {describe_value(struct)}")
            actual = struct.schema
            # Same fields and name suffice: a struct that is its own schema's default carries the
            # schema without that default (see streamapp.data.validate_value).
            if actual is not schema and (actual.fields != schema.fields or actual.name != schema.name):
                raise ConversionError(f"the struct's schema does not match {label}: {struct.schema!r}")
            result = {}
            for (name, write), item in zip(fields, struct.raw_values(), strict=True):
                try:
                    result[name] = write(item)
                except DataError as exc:
                    raise exc.at(name) from None
            return result

        return write_struct

    def _logical_writer(self, schema: Schema, logical: str) -> Writer:
        if logical == DECIMAL_NAME:
            scale: int = schema.scale  # type: ignore[assignment]
            label = schema.label()
            if self.numeric_decimals:

                def write_decimal(value: Any) -> Any:
                    _check_decimal(value, label)
                    return RawNumber(format(rescale_decimal(value, scale), "f"))

            else:

                def write_decimal(value: Any) -> Any:
                    _check_decimal(value, label)
                    return _b64encode(decimal_to_bytes(value, scale)).decode("ascii")

            return write_decimal
        if logical == DATE_NAME:
            return date_to_days
        if logical == TIME_NAME:
            return time_to_millis
        return timestamp_to_millis

    def write_any(self, value: Any) -> Any:  # one branch per Python type
        """Schemaless writing: infer the JSON form from the Python type (Connect's ``schemaType(class)``)."""
        kind = type(value)
        if value is None or kind is str or kind is int or kind is float or kind is bool:
            return value
        if kind is dict or isinstance(value, Mapping):
            if all(type(k) is str for k in value):
                result = {}
                for k, v in value.items():
                    try:
                        result[k] = self.write_any(v)
                    except DataError as exc:
                        raise exc.at_key(k) from None
                return result
            # Like Connect: any non-string key turns the whole map into [key, value] pairs.
            pairs = []
            for k, v in value.items():
                try:
                    pairs.append([self.write_any(k), self.write_any(v)])
                except DataError as exc:
                    raise exc.at_key(k) from None
            return pairs
        if kind is list or kind is tuple:
            try:
                return [self.write_any(item) for item in value]
            except DataError as exc:
                raise _locate(value, self.write_any, exc) from None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _write_base64(value)
        if isinstance(value, Struct):
            return self.writer(value.schema)(value)
        if isinstance(value, decimal.Decimal):
            # As Connect (decimalToJsonWithoutSchema): a decimal has no JSON form of its own, only
            # the one its schema's scale and decimal.format give it.
            raise ConversionError(
                f"cannot write decimal {brief(value)} without a schema: a decimal.Decimal needs a Decimal "
                "schema (org.apache.kafka.connect.data.Decimal) to be written as JSON, as in Kafka Connect"
            )
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, (list, tuple)):
            return self.write_any(list(value))
        if isinstance(value, (_dt.date, _dt.time)):
            raise ConversionError(
                f"{describe_value(value)} needs a Date, Time or Timestamp schema to be written as JSON"
            )
        raise ConversionError(f"cannot write {describe_value(value)} as JSON without a schema")


def _int_reader(kind: Type, what: str | None = None, *, floats: bool = True) -> Reader:
    low, high = INT_RANGES[kind]
    name = what or kind.value

    def read_int(node: Any) -> Any:
        if type(node) is int:
            if low <= node <= high:
                return node
            raise ConversionError(f"{brief(node)} is out of range for {name} ({low}..{high})")
        # An integral float (1.0, 1e3) is an integer written another way; Jackson accepts it too.
        if floats and (type(node) is float or type(node) is _Decimal) and _is_integral(node):
            return read_int(int(node))
        raise ConversionError(f"expected an integer for {name}, got {json_kind(node)}")

    return read_int


def _is_integral(number: float | decimal.Decimal) -> bool:
    if isinstance(number, float):
        return number.is_integer()
    return number.is_finite() and number == number.to_integral_value()


def _read_base64(node: Any) -> bytes:
    if type(node) is not str:
        raise ConversionError(f"expected base64 text for bytes, got {json_kind(node)}")
    try:
        return _b64decode(node, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConversionError(f"bytes must be base64 text ({exc}), got {json_kind(node)}") from None


def _write_base64(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _b64encode(value).decode("ascii")
    raise ConversionError(f"expected bytes, got {describe_value(value)}")


def _check_decimal(value: Any, label: str) -> None:
    if type(value) is bool or not isinstance(value, (decimal.Decimal, int)):
        raise ConversionError(f"expected a decimal.Decimal for {label}, got {describe_value(value)}")
