"""``org.apache.kafka.connect.json.JsonConverter``: JSON bytes <-> Connect data.

With ``schemas.enable=true`` (Connect's default) every message is an envelope
``{"schema": <Connect schema JSON or null>, "payload": <value>}`` with exactly those two fields;
with ``false`` it is plain JSON, read into Python values with no schema (objects as ``dict`` in
document order, integers as ``int``, other numbers as ``float`` with full double precision).

Options (``key.converter.*`` / ``value.converter.*``, validated by
:class:`~streamapp.config.converter_options.JsonConverterOptions`): ``schemas.enable``,
``schemas.cache.size`` (parsed envelope schemas kept, oldest forgotten first; 0 disables the
cache), ``decimal.format`` (BASE64 or NUMERIC, for writing; reading accepts both) and
``replace.null.with.default``.

The JSON is read and written with the standard library's C-accelerated ``json``, reading as
Connect's Jackson does (:mod:`streamapp.converters.json_text`: leading zeros accepted, NaN and
infinities refused); see :mod:`streamapp.converters.json_values` for the value mapping and where
it is stricter than Connect. NaN and infinities are not written either: Connect would write the
strings ``"NaN"``/``"Infinity"``, which its own reader turns into 0.0. Every failure is a
:class:`~streamapp.converters.errors.ConversionError` whose message says what was wrong and where
(``payload.items[3].age: ...``) and quotes at most a 64-byte excerpt of the input.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from streamapp.config.converter_options import JSON_CONVERTER, JsonConverterOptions
from streamapp.data import DataError, Schema, SchemaAndValue

from .base import NULL
from .errors import ConversionError, excerpt
from .json_schema import schema_from_json, schema_to_json
from .json_text import loads as _loads
from .json_text import loads_exact as _loads_exact
from .json_text import without_leading_zeros
from .json_values import BoundedCache, JsonValueCodec, NeedExactNumbers, RawNumber, json_kind

__all__ = ["JsonConverter"]

_RAW_DECODER = json.JSONDecoder()
_ENVELOPE_START_TEXT = '{"schema":'
_ENVELOPE_START = _ENVELOPE_START_TEXT.encode()
_PAYLOAD_KEY_TEXT = ',"payload":'
_RECENT_PREFIXES = 4  # distinct envelope schemas recognised without parsing them


class JsonConverter:
    class_name = JSON_CONVERTER

    def __init__(self, options: JsonConverterOptions | None = None, *, is_key: bool = False) -> None:
        options = options or JsonConverterOptions()
        self.is_key = is_key
        self.schemas_enable = options.schemas_enable
        self.options = options
        self._which = "key" if is_key else "value"
        self._context = f"JsonConverter ({self._which})"
        self._codec = JsonValueCodec(
            decimal_format=options.decimal_format,
            replace_null_with_default=options.replace_null_with_default,
            cache_size=options.schemas_cache_size,
        )
        # Envelope schema JSON -> (schema, payload reader). Keyed by repr() of the parsed schema
        # object: C-fast, and injective for trees of dict/list/str/int/float/bool/None/Decimal.
        self._to_connect_cache = BoundedCache(options.schemas_cache_size)
        self._schema_json_cache = BoundedCache(max(options.schemas_cache_size, 64))
        # Fast path for the envelopes Connect writes: the bytes start with
        # '{"schema":<schema JSON>,"payload":' and end with '}'. When that prefix is byte-for-byte
        # one seen recently, the schema is known and only the payload is parsed (a JSON value is
        # self-delimiting, so the same prefix means the same schema). Most recent first.
        self._recent: list[tuple[bytes, Schema, Any]] = []
        self._recent_size = min(options.schemas_cache_size, _RECENT_PREFIXES)
        # allow_nan=False: the C encoder refuses NaN and infinities at no cost to other values.
        encoder = json.JSONEncoder(
            ensure_ascii=False,
            separators=(",", ":"),
            check_circular=False,
            allow_nan=False,
            default=self._encode_default,
        )
        self._encode = encoder.encode
        codec = self._codec
        self._raw = re.compile('"' + re.escape(codec.raw_start) + '([^"]*)' + re.escape(codec.raw_end) + '"')

    # ------------------------------------------------------------------ bytes -> Connect

    def to_connect(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return NULL
        if self._recent and type(data) is bytes:
            for entry in self._recent:
                prefix = entry[0]
                if data.startswith(prefix) and data.endswith(b"}"):
                    try:
                        payload = _loads(data[len(prefix) : -1])
                    except (ValueError, RecursionError):
                        break  # not that shape after all: the general path explains the problem
                    try:
                        return SchemaAndValue(entry[1], entry[2](payload))
                    except NeedExactNumbers:
                        break
                    except ConversionError as exc:
                        raise exc.at("payload").in_context(self._context) from None
                    except DataError as exc:
                        exc = exc.at("payload")
                        raise ConversionError(exc.reason, location=exc.location, context=self._context) from None
        try:
            document = _loads(data)
        except (ValueError, TypeError, RecursionError) as exc:
            if isinstance(data, memoryview):
                return self.to_connect(topic, bytes(data))
            # Connect reads numbers with leading zeros (007) since Kafka 3.6; Python's json does not.
            text = without_leading_zeros(data, exc)
            if text is None:
                self._parse_failure(data, exc)  # raises, except for empty input without schemas
                return NULL
            try:
                document = _loads(text)
            except (ValueError, RecursionError) as again:
                self._parse_failure(text, again)
            data = text
        if not self.schemas_enable:
            return SchemaAndValue(None, document)
        try:
            try:
                result = self._from_envelope(document, exact=False)
            except NeedExactNumbers:
                # A Decimal field holds a non-integral JSON number: read the digits exactly.
                return self._from_envelope(_loads_exact(data), exact=True)
        except ConversionError as exc:
            raise exc.in_context(self._context) from None
        except DataError as exc:
            raise ConversionError(exc.reason, location=exc.location, context=self._context) from None
        except RecursionError:
            raise ConversionError("the JSON is nested too deeply", context=self._context) from None
        if self._recent_size and result.schema is not None and isinstance(data, bytes):
            self._remember_prefix(data, result.schema)
        return result

    def _remember_prefix(self, data: bytes, schema: Schema) -> None:
        if not data.startswith(_ENVELOPE_START):
            return
        try:
            text = data.decode("utf-8")
            _, end = _RAW_DECODER.raw_decode(text, len(_ENVELOPE_START_TEXT))
        except ValueError:
            return
        if not text.startswith(_PAYLOAD_KEY_TEXT, end):
            return
        prefix = text[: end + len(_PAYLOAD_KEY_TEXT)].encode("utf-8")
        recent = [entry for entry in self._recent if entry[0] != prefix]
        recent.insert(0, (prefix, schema, self._codec.reader(schema)))
        del recent[self._recent_size :]
        self._recent = recent

    def _parse_failure(self, data: Any, exc: Exception) -> None:
        """Raise the ConversionError for a json.loads failure; return for empty input without schemas."""
        if not isinstance(data, (bytes, bytearray, str)):
            raise ConversionError(f"expected bytes, got {type(data).__name__}", context=self._context) from None
        if not data.strip():
            # Jackson reads empty input as a missing node: null without schemas, an error with them.
            if not self.schemas_enable:
                return
            raise ConversionError(
                f"empty message; JsonConverter with schemas.enable=true expects an object with 'schema' and "
                f"'payload' fields (set {self._which}.converter.schemas.enable=false for plain JSON)",
                context=self._context,
            ) from None
        if isinstance(exc, UnicodeDecodeError):
            reason = f"not valid UTF-8 at byte {exc.start}: {exc.reason}"
        elif isinstance(exc, json.JSONDecodeError):
            reason = f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            if exc.pos > 40:
                # Quote the text around the error, not the start of a long message.
                near = exc.doc[exc.pos - 40 : exc.pos + 24]
                raise ConversionError(f"{reason}; near {near!r} ({len(data)} bytes)", context=self._context) from None
        elif isinstance(exc, RecursionError):
            reason = "the JSON is nested too deeply"
        else:
            reason = f"not valid JSON: {exc}"
        raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
        raise ConversionError(f"{reason}; input {excerpt(raw)}", context=self._context) from None

    def _from_envelope(self, document: Any, *, exact: bool) -> SchemaAndValue:
        if type(document) is not dict or len(document) != 2 or "schema" not in document or "payload" not in document:
            raise ConversionError(
                "JsonConverter with schemas.enable=true expects an object with 'schema' and 'payload' fields; "
                f"got {_envelope_kind(document)} (set {self._which}.converter.schemas.enable=false for plain JSON)"
            )
        schema_node = document["schema"]
        payload = document["payload"]
        if schema_node is None:
            return SchemaAndValue(None, self._codec.floats(payload) if exact else payload)
        key = repr(schema_node)
        cached = self._to_connect_cache.get(key)
        if cached is None:
            try:
                schema = schema_from_json(schema_node, self._codec)
            except DataError as exc:
                raise exc.at("schema") from None
            cached = self._to_connect_cache.put(key, (schema, self._codec.reader(schema)))  # type: ignore[arg-type]
        schema, read = cached
        try:
            return SchemaAndValue(schema, read(payload))
        except DataError as exc:
            raise exc.at("payload") from None

    # ------------------------------------------------------------------ Connect -> bytes

    def from_connect(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if schema is None and value is None:
            return None
        tree = None
        try:
            try:
                tree = self._codec.writer(schema)(value)
            except DataError as exc:
                raise (exc.at("payload") if self.schemas_enable else exc) from None
            if self.schemas_enable:
                text = f'{{"schema":{self._schema_text(schema)},"payload":{self._encode(tree)}}}'
            else:
                text = self._encode(tree)
        except ConversionError as exc:
            raise exc.in_context(self._context) from None
        except DataError as exc:
            raise ConversionError(exc.reason, location=exc.location, context=self._context) from None
        except RecursionError:
            raise ConversionError("the value is nested too deeply", context=self._context) from None
        except ValueError as exc:  # from the encoder (allow_nan=False): the writers raise DataError
            root = "payload" if self.schemas_enable else None
            raise _non_finite(tree, root, exc).in_context(self._context) from None
        if self._codec.raw_start in text:
            text = self._raw.sub(r"\1", text)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConversionError(
                f"text contains {text[exc.start : exc.start + 1]!r}, which is not valid in UTF-8 (a lone surrogate)",
                context=self._context,
            ) from None

    def _schema_text(self, schema: Schema | None) -> str:
        """The schema's JSON text, encoded once per schema (it dominates an envelope's size)."""
        if schema is None:
            return "null"
        text = self._schema_json_cache.get(schema)
        if text is None:
            node = None
            try:
                node = schema_to_json(schema, self._codec)
                text = self._encode(node)
            except DataError as exc:
                raise exc.at("schema") from None
            except ValueError as exc:  # a NaN or infinite default
                raise _non_finite(node, "schema", exc) from None
            if self._codec.raw_start in text:
                text = self._raw.sub(r"\1", text)
            self._schema_json_cache.put(schema, text)
        return text  # type: ignore[no-any-return]

    def _encode_default(self, value: Any) -> Any:
        if isinstance(value, RawNumber):
            return f"{self._codec.raw_start}{value.text}{self._codec.raw_end}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    def __repr__(self) -> str:
        return (
            f"JsonConverter({self._which}, schemas.enable={self.schemas_enable}, "
            f"decimal.format={self.options.decimal_format})"
        )


def _envelope_kind(document: Any) -> str:
    if type(document) is dict:
        names = list(document)
        if not names:
            return "an empty object"
        shown = ", ".join(repr(n[:30]) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        return f"an object with fields {shown}"
    return json_kind(document)


def _non_finite(tree: Any, root: str | None, exc: ValueError) -> ConversionError:
    """The error for a JSON tree the encoder refused: where its first NaN or infinity is."""
    path: list[str | int] = []
    found = _find_non_finite(tree, path)
    if found is None:
        return ConversionError(f"cannot write the value as JSON: {exc}")
    error = ConversionError(
        f"cannot write {found!r} as JSON: JSON has no NaN or infinities (Kafka Connect's JsonConverter would "
        f'write the string "{_JAVA_NAMES.get(repr(found), found)}", which it reads back as 0.0)'
    )
    for segment in reversed(path):
        error.at(segment)
    if root is not None:
        error.at(root)
    return error


_JAVA_NAMES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _find_non_finite(node: Any, path: list[str | int]) -> Any:
    if type(node) is float:
        return None if math.isfinite(node) else node
    if type(node) is dict:
        items: Any = node.items()
    elif type(node) is list:
        items = enumerate(node)
    else:
        return None
    for key, item in items:
        found = _find_non_finite(item, path)
        if found is not None:
            path.insert(0, key)
            return found
    return None
