"""Connector config file forms: REST payload, flat JSON, Java .properties, lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamapp.config.files import discover_connector_files, read_connector_file
from streamapp.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rest_payload_takes_name_from_envelope(tmp_path):
    path = write(tmp_path, "a.json", json.dumps({"name": "sink-1", "config": {"connector.class": "X", "topics": "t"}}))
    [raw] = read_connector_file(path)
    assert raw.props == {"connector.class": "X", "topics": "t", "name": "sink-1"}
    assert raw.source == str(path)


def test_rest_payload_name_mismatch_is_an_error(tmp_path):
    path = write(tmp_path, "a.json", json.dumps({"name": "one", "config": {"name": "two"}}))
    with pytest.raises(ConfigError, match=r"a\.json: key 'name': connector name 'one' does not match"):
        read_connector_file(path)


def test_rest_payload_rejects_stray_top_level_keys(tmp_path):
    path = write(tmp_path, "a.json", json.dumps({"name": "n", "config": {}, "topics": "t"}))
    with pytest.raises(ConfigError, match=r"unexpected top-level keys \['topics'\]"):
        read_connector_file(path)


def test_flat_json_is_taken_as_is(tmp_path):
    path = write(tmp_path, "flat.json", json.dumps({"name": "n", "connector.class": "X", "tasks.max": "1"}))
    [raw] = read_connector_file(path)
    assert raw.props == {"name": "n", "connector.class": "X", "tasks.max": "1"}


def test_json_list_holds_several_connectors(tmp_path):
    doc = [{"name": "a", "config": {"connector.class": "X"}}, {"name": "b", "connector.class": "Y"}]
    path = write(tmp_path, "many.json", json.dumps(doc))
    raws = read_connector_file(path)
    assert [r.props["name"] for r in raws] == ["a", "b"]
    assert [r.source for r in raws] == [f"{path}[0]", f"{path}[1]"]


def test_invalid_json_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "bad.json", '{\n  "name": "x",\n  oops\n}')
    with pytest.raises(ConfigError) as info:
        read_connector_file(path)
    assert str(path) in str(info.value) and "line 3 column 3" in str(info.value)


def test_json_scalar_is_rejected(tmp_path):
    path = write(tmp_path, "bad.json", '"just a string"')
    with pytest.raises(ConfigError, match="expected a JSON object"):
        read_connector_file(path)


def test_properties_java_syntax(tmp_path):
    text = (
        "# comment\n! also a comment\nname = coap-sink\nconnector.class:Foo\n"
        "connect.coap.kcql = INSERT INTO a \\\n    SELECT * FROM t\nunicode=caf\\u00e9\nspaced\\ key = 1\n"
    )
    [raw] = read_connector_file(write(tmp_path, "c.properties", text))
    assert raw.props["name"] == "coap-sink"
    assert raw.props["connector.class"] == "Foo"
    assert raw.props["connect.coap.kcql"] == "INSERT INTO a SELECT * FROM t"
    assert raw.props["unicode"] == "café"
    assert raw.props["spaced key"] == "1"


def test_discover_reads_directories_sorted_and_skips_other_files(tmp_path):
    write(tmp_path, "b.properties", "name=b")
    write(tmp_path, "a.json", "{}")
    write(tmp_path, "README.md", "not a config")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c.json", "{}")
    assert [p.name for p in discover_connector_files([tmp_path])] == ["a.json", "b.properties"]


def test_discover_missing_path_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file or directory"):
        discover_connector_files([tmp_path / "nope"])
