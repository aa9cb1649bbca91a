"""Confluent's own AvroDataTest cases, as data, held against the AvroConverter's mapping.

Each case in ``tests/data/avro_confluent_cases.yaml`` is named after the Confluent test it ports
(``AvroDataTest.testToConnectUnion``, ``AdditionalAvroDataTest.testNestedUnion``...; a ``[label]``
tells several conversions of one test apart) and describes its input and the output Confluent's
``AvroData`` gives, in three standard notations:

* Avro schemas as Avro JSON, Avro values in Avro's JSON encoding (a union value is
  ``{"branch": value}``, bytes are ISO-8859-1 strings; ``{"$hex": ..., "$size": n}`` is
  sign-extended bytes), turned into Avro binary with the branch the JSON names;
* Connect schemas and values in Kafka Connect's JsonConverter envelope (``schema`` and
  ``payload``; bytes as base64; ``{"$decimal": "1.56"}`` for a Decimal);
* options by their converter option names (``enhanced.avro.schema.support``...).

``direction`` says what happens: ``to_connect`` (Avro binary -> Connect), ``from_connect``
(Connect -> Avro schema and binary, compared byte for byte so the union branch counts),
``avro_round_trip`` / ``connect_round_trip`` (there and back), ``scrub_name``. ``error`` is a
regular expression the conversion must fail with; ``checks`` are assertions on parts of the
result (paths into the Connect schema or the written Avro schema). The conversions run through
:class:`~streamapp.converters.avro_data.AvroData`, exactly the code the converter runs once the
registry gave it the schema; the registry-side cases (AvroConverterTest) are in
``test_avro_converter_confluent.py``.
"""

from __future__ import annotations

import base64
import decimal
import io
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamapp.config.converter_options import AvroConverterOptions
from streamapp.converters.avro_converter import data_options
from streamapp.converters.avro_data import AvroData
from streamapp.converters.avro_schema import ANYTHING_SCHEMA, scrub_name
from streamapp.converters.avro_to_connect import _normal
from streamapp.converters.json_schema import schema_from_json
from streamapp.converters.json_values import JsonValueCodec
from streamapp.data import DataError, Schema, Struct, Type
from tests.fixtures.avro import avro_binary

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "avro_confluent_cases.yaml"
DOCUMENT = yaml.safe_load(CASES_FILE.read_text())
CASES = DOCUMENT["cases"]
_codec = JsonValueCodec(replace_null_with_default=False)  # the struct as given, nulls kept


def _avro(node: Any) -> Any:
    """The case's Avro schema; ``{"$anything": true}`` stands for Confluent's Anything schema."""
    return ANYTHING_SCHEMA if node == {"$anything": True} else node


def _options(case: dict) -> AvroData:
    options = AvroConverterOptions.model_validate({"schema.registry.url": "http://unused", **case.get("options", {})})
    return AvroData(data_options(options))


def _payload(node: Any) -> Any:
    """The JSON payload with ``{"$decimal": "1.56"}`` as decimal.Decimal (JsonConverter reads those)."""
    if isinstance(node, dict):
        if set(node) == {"$decimal"}:
            return decimal.Decimal(node["$decimal"])
        return {k: _payload(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_payload(v) for v in node]
    return node


def connect_schema(node: Any) -> Schema | None:
    return schema_from_json(_payload(node), _codec)


def connect_value(schema: Schema | None, payload: Any) -> Any:
    if schema is None:
        return _payload(payload)
    return _codec.reader(schema)(_payload(payload))


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def as_read(schema: Schema | None, value: Any) -> Any:
    """A Connect value as it comes out of Avro: FLOAT32 rounded to 32 bits, bytes as bytes."""
    if value is None or schema is None:
        return value
    kind = schema.type
    if kind is Type.FLOAT32:
        return _float32(value)
    if kind is Type.ARRAY:
        return [as_read(schema.value_schema, v) for v in value]
    if kind is Type.MAP:
        return {as_read(schema.key_schema, k): as_read(schema.value_schema, v) for k, v in value.items()}
    if kind is Type.STRUCT:
        return Struct._trusted(
            value.schema,
            {f.name: as_read(f.schema, v) for f, v in zip(value.schema.fields, value.raw_values(), strict=True)},
        )
    return value


def plain(value: Any) -> Any:
    """A Connect value as JSON-like data (structs as dicts, bytes as base64), for recursive schemas."""
    if isinstance(value, Struct):
        names = (f.name for f in value.schema.fields)
        return {name: plain(v) for name, v in zip(names, value.raw_values(), strict=True)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    return value


def _without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_docs(v) for k, v in node.items() if k != "doc"}
    if isinstance(node, list):
        return [_without_docs(v) for v in node]
    return node


def same_avro(actual: Any, expected: Any, *, ignore_docs: bool = False) -> bool:
    a, e = _normal(actual, ""), _normal(expected, "")
    if ignore_docs:
        a, e = _without_docs(a), _without_docs(e)
    return a == e


# ------------------------------------------------------------------------------------------ paths


def _avro_get(avro: Any, path: list) -> Any:
    """Walk a written Avro schema: ``field NAME`` steps into a record's field, ``type`` into its type."""
    named: dict[str, Any] = {}

    def collect(node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for b in node:
                collect(b, namespace)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed"):
                full = (
                    node["name"]
                    if "." in node["name"]
                    else ".".join(p for p in (node.get("namespace", namespace), node["name"]) if p)
                )
                named.setdefault(full, node)
                named.setdefault(full.rpartition(".")[2], node)
                for f in node.get("fields", ()):
                    collect(f["type"], full.rpartition(".")[0])
            for key in ("items", "values"):
                if key in node:
                    collect(node[key], namespace)

    collect(avro, "")
    node = avro
    steps = list(path)
    while steps:
        step = steps.pop(0)
        if isinstance(node, str) and node in named:
            node = named[node]
        if step == "field":
            name = steps.pop(0)
            node = next(f for f in node["fields"] if f["name"] == name)
        elif step == "branch":
            node = node[steps.pop(0)]
        else:
            if isinstance(node, dict) and step not in node:
                return _ABSENT
            node = node[step]
    if isinstance(node, str) and node in named and path and path[-1] == "type":
        node = named[node]
    return node


def _connect_get(schema: Schema, path: list) -> Any:
    node: Any = schema
    steps = list(path)
    while steps:
        step = steps.pop(0)
        if step == "field":
            node = node.field(steps.pop(0)).schema
        elif step == "parameter":
            key = steps.pop(0)
            node = (node.parameters or {}).get(key, _ABSENT)
        else:
            node = getattr(node, step)
            if step == "parameters" and node is not None:
                node = dict(node)
    return node


_ABSENT = object()


def run_checks(case: dict, connect: Schema | None, avro: Any) -> None:
    for check in case.get("checks", ()):
        if "connect" in check:
            got = _connect_get(connect, check["connect"])  # type: ignore[arg-type]
            got = got.value if isinstance(got, Type) else got
        else:
            got = _avro_get(avro, check["avro"])
        if check.get("absent"):
            assert got is _ABSENT or got is None, f"{check}: got {got!r}"
        elif check.get("plain"):
            assert plain(got) == check["equals"], f"{check}: got {got!r}"
        else:
            expected = check["equals"]
            if "connect" in check and check["connect"][-1:] == ["default"] and isinstance(expected, dict):
                expected = _payload(expected)
            assert got == expected, f"{check}: got {got!r}"


# ------------------------------------------------------------------------------------------ runs


def run_to_connect(case: dict) -> None:
    data = _options(case)
    avro = _avro(case["avro"])
    if "error" in case:
        with pytest.raises(DataError, match=case["error"]):
            reader = data.reader(avro, case.get("version"))
            if "avro_value" in case:
                data.read(reader, io.BytesIO(avro_binary(avro, case["avro_value"])))
        return
    reader = data.reader(avro, case.get("version"))
    expected = case.get("connect", {})
    if expected is not None and "schema" in expected:
        assert reader.schema == connect_schema(expected["schema"])
    if "avro_value" in case:
        got = data.read(reader, io.BytesIO(avro_binary(avro, case["avro_value"])))
        if expected is None:  # a null value: no schema, no value
            assert got.schema is None and got.value is None
        elif "payload" in expected:
            schema = connect_schema(expected["schema"]) if "schema" in expected else None
            want = as_read(schema, connect_value(schema, expected["payload"]))
            assert got.value == want, f"{got.value!r} != {want!r}"
            if isinstance(got.value, Struct):
                got.value.validate()
        if case.get("schemaless"):
            assert got.schema is None
        if "plain" in case:
            assert plain(got.value) == case["plain"]
    run_checks(case, reader.schema, None)


def run_from_connect(case: dict) -> None:
    data = _options(case)
    given = case["connect"]
    schema = connect_schema(given["schema"])
    if "raw_payload" in given:
        value = given["raw_payload"]
    elif "payload_schema" in given:
        value = connect_value(connect_schema(given["payload_schema"]), given["payload"])
    elif "payload" in given:
        value = connect_value(schema, given["payload"])
    if "error" in case:
        with pytest.raises(DataError, match=case["error"]):
            data.from_connect(schema, value)
        return
    if "payload" in given or "raw_payload" in given:
        avro, payload = data.from_connect(schema, value)
    else:  # the schema alone
        avro, payload = data.writer(schema).avro, None
    if "avro" in case:
        assert same_avro(avro, _avro(case["avro"]), ignore_docs=case.get("ignore_docs", False)), avro
    if "avro_value" in case:
        assert payload == avro_binary(_avro(case["avro"]), case["avro_value"])
    elif given.get("payload", 0) is None:
        assert payload is None  # a null value is no message, and registers nothing
    run_checks(case, schema, avro)


def run_avro_round_trip(case: dict) -> None:
    data = _options(case)
    avro = case["avro"]
    values = case["avro_values"] if "avro_values" in case else [case.get("avro_value", _ABSENT)]
    reader = data.reader(avro, case.get("version"))
    written = data.writer(reader.schema).avro
    if "avro_out" in case:
        assert same_avro(written, case["avro_out"], ignore_docs=case.get("ignore_docs", False)), written
    for number, value in enumerate(values, 1):
        if value is _ABSENT:
            continue
        binary = avro_binary(avro, value)
        got = data.read(reader, io.BytesIO(binary))
        if "plain" in case and number == len(values):  # the last value's
            assert plain(got.value) == case["plain"]
        again_avro, again = data.from_connect(reader.schema, got.value)
        assert again == binary, f"{again!r} != {binary!r}"
    run_checks(case, reader.schema, written)


def run_connect_round_trip(case: dict) -> None:
    data = _options(case)
    given = case["connect"]
    schema = connect_schema(given["schema"])
    if "payload" in given:
        value = connect_value(schema, given["payload"])
        avro, payload = data.from_connect(schema, value)
    else:  # the schema alone
        value, avro, payload = None, data.writer(schema).avro, None
    if "avro" in case:
        assert same_avro(avro, case["avro"], ignore_docs=case.get("ignore_docs", False)), avro
    if "avro_value" in case:
        assert payload == avro_binary(case["avro"], case["avro_value"])
    reader = _options(case.get("read_options", case)).reader(avro, case.get("version"))
    if case.get("equal", True):
        assert reader.schema == schema
    if payload is not None:
        got = data.read(reader, io.BytesIO(payload))
        if case.get("equal", True):
            assert got.value == as_read(schema, value)
        if "plain" in case:
            assert plain(got.value) == case["plain"]
    run_checks(case, reader.schema, avro)


def run_scrub_name(case: dict) -> None:
    for given, expected in case["names"]:
        assert scrub_name(given) == expected


RUNS = {
    "to_connect": run_to_connect,
    "from_connect": run_from_connect,
    "avro_round_trip": run_avro_round_trip,
    "connect_round_trip": run_connect_round_trip,
    "scrub_name": run_scrub_name,
}


@pytest.mark.parametrize("case", CASES, ids=[c["test"] for c in CASES])
def test_confluent_case(case: dict) -> None:
    RUNS[case["direction"]](case)


def test_case_names_are_unique_and_name_confluent_tests():
    names = [c["test"] for c in CASES]
    assert len(names) == len(set(names))
    sources = {"AvroDataTest", "AdditionalAvroDataTest"}
    assert all(n.split(".")[0] in sources and n.split(".")[1].startswith("test") for n in names)


def test_every_confluent_test_is_ported_or_listed_with_the_reason():
    ported = {c["test"].split("[")[0] for c in CASES} | {
        f"AvroConverterTest.{name}" for name in DOCUMENT["converter_tests_ported_elsewhere"]
    }
    not_ported = DOCUMENT["not_ported"]
    assert not ported & set(not_ported)
    assert all(reason.strip() for reason in not_ported.values())
    assert set(DOCUMENT["confluent_tests"]) == ported | set(not_ported)
