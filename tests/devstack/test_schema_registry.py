"""The in-memory Schema Registry: Confluent's REST shapes and error codes, compatibility levels,
checked with plain HTTP and with an independent client (python-schema-registry-client)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest
from schema_registry.client import AsyncSchemaRegistryClient

from streamapp.devstack.schema_registry import SchemaRegistryServer
from streamapp.devstack.schema_registry.compatibility import (
    compatibility_problems,
    reader_problems,
)
from tests.fixtures.net import free_tcp_port

CT = "application/vnd.schemaregistry.v1+json"
V1 = {"type": "record", "name": "User", "fields": [{"name": "name", "type": "string"}]}
V2 = {
    "type": "record",
    "name": "User",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": ["null", "int"], "default": None}],
}
BREAKING = {"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}]}


@pytest.fixture
async def registry():
    async with SchemaRegistryServer("127.0.0.1", free_tcp_port()) as server:
        yield server


async def call(server, method: str, path: str, body=None):
    async with aiohttp.ClientSession() as session:
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        async with session.request(method, server.url + path, data=data, headers={"Content-Type": CT}) as response:
            assert response.content_type == CT
            return response.status, json.loads(await response.text())


async def register(server, subject, schema):
    return await call(server, "POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)})


async def test_register_fetch_by_id_versions_latest_and_lookup(registry):
    assert await register(registry, "users-value", V1) == (200, {"id": 1})
    assert await register(registry, "users-value", V1) == (200, {"id": 1})  # idempotent
    assert await register(registry, "users-value", V2) == (200, {"id": 2})
    assert await register(registry, "other-value", V2) == (200, {"id": 2})  # same schema, same id
    status, body = await call(registry, "GET", "/schemas/ids/2")
    assert status == 200 and json.loads(body["schema"]) == V2
    assert await call(registry, "GET", "/subjects") == (200, ["other-value", "users-value"])
    assert await call(registry, "GET", "/subjects/users-value/versions") == (200, [1, 2])
    status, latest = await call(registry, "GET", "/subjects/users-value/versions/latest")
    assert status == 200 and {k: latest[k] for k in ("subject", "version", "id")} == {
        "subject": "users-value",
        "version": 2,
        "id": 2,
    }
    status, first = await call(registry, "GET", "/subjects/users-value/versions/1")
    assert (first["version"], first["id"], json.loads(first["schema"])) == (1, 1, V1)
    # Whitespace does not make a schema different.
    status, found = await call(registry, "POST", "/subjects/users-value", {"schema": json.dumps(V1, indent=4)})
    assert status == 200 and (found["id"], found["version"], found["subject"]) == (1, 1, "users-value")


@pytest.mark.parametrize(
    "method,path,body,status,code",
    [
        ("GET", "/schemas/ids/99", None, 404, 40403),
        ("GET", "/subjects/nope/versions", None, 404, 40401),
        ("GET", "/subjects/nope/versions/latest", None, 404, 40401),
        ("GET", "/subjects/users-value/versions/7", None, 404, 40402),
        ("GET", "/subjects/users-value/versions/zero", None, 422, 42202),
        ("POST", "/subjects/nope", {"schema": json.dumps(V1)}, 404, 40401),
        ("POST", "/subjects/users-value", {"schema": json.dumps(V2)}, 404, 40403),
        ("POST", "/subjects/s/versions", {"schema": "{not json"}, 422, 42201),
        (
            "POST",
            "/subjects/s/versions",
            {"schema": json.dumps({"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuch"}]})},
            422,
            42201,
        ),
        ("POST", "/subjects/s/versions", {"schema": json.dumps(V1), "schemaType": "PROTOBUF"}, 422, 42201),
        ("POST", "/subjects/s/versions", {"nothing": 1}, 422, 42201),
        ("POST", "/subjects/s/versions", "{broken", 400, 400),
        ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("GET", "/config/users-value", None, 404, 40408),
    ],
)
async def test_errors_have_confluents_shape_and_codes(registry, method, path, body, status, code):
    await register(registry, "users-value", V1)
    got_status, got = await call(registry, method, path, body)
    assert got_status == status and got["error_code"] == code and isinstance(got["message"], str) and got["message"]


async def test_backward_compatibility_is_enforced_by_default(registry):
    await register(registry, "users-value", V1)
    status, body = await register(registry, "users-value", BREAKING)
    assert status == 409 and body["error_code"] == 409
    assert "incompatible" in body["message"] and "'id' is new and has no default" in body["message"]
    assert await call(registry, "GET", "/subjects/users-value/versions") == (200, [1])
    path = "/compatibility/subjects/users-value/versions/latest"
    assert await call(registry, "POST", path, {"schema": json.dumps(V2)}) == (200, {"is_compatible": True})
    status, body = await call(registry, "POST", path + "?verbose=true", {"schema": json.dumps(BREAKING)})
    assert status == 200 and body["is_compatible"] is False and body["messages"]
    new_subject = "/compatibility/subjects/fresh/versions/latest"
    assert await call(registry, "POST", new_subject, {"schema": json.dumps(BREAKING)}) == (200, {"is_compatible": True})


async def test_config_levels_global_and_per_subject(registry):
    assert await call(registry, "GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert await call(registry, "PUT", "/config/users-value", {"compatibility": "none"}) == (
        200,
        {"compatibility": "NONE"},
    )
    assert await call(registry, "GET", "/config/users-value") == (200, {"compatibilityLevel": "NONE"})
    await register(registry, "users-value", V1)
    assert (await register(registry, "users-value", BREAKING))[0] == 200  # NONE: anything goes
    assert await call(registry, "PUT", "/config", {"compatibility": "FULL"}) == (200, {"compatibility": "FULL"})
    assert await call(registry, "GET", "/config") == (200, {"compatibilityLevel": "FULL"})


async def test_an_independent_client_library_works_against_it(registry):
    client = AsyncSchemaRegistryClient(url=registry.url)
    schema_id = await client.register("lib-value", V1)
    assert (await client.get_by_id(schema_id)).raw_schema == V1
    assert (await client.check_version("lib-value", V1)).version == 1
    assert await client.test_compatibility("lib-value", V2) is True
    assert await client.test_compatibility("lib-value", BREAKING) is False
    assert await client.get_compatibility() == "BACKWARD"
    assert await client.get_by_id(12345) is None


ENUM = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
COMPAT = [
    ("long", "int", []),  # (reader, writer): a long reader reads what an int writer wrote
    ("int", "long", ["reader type int cannot read writer type long"]),
    ("bytes", "string", []),
    (["null", "string"], "string", []),
    ("string", ["null", "string"], ["cannot read writer type null"]),
    (["int", "string"], ["null", "string"], ["no branch for writer type null"]),
    ({**ENUM, "symbols": ["A", "B", "C"]}, ENUM, []),
    (ENUM, {**ENUM, "symbols": ["A", "B", "C"]}, ["lacks symbols ['C']"]),
    ({**ENUM, "default": "A"}, {**ENUM, "symbols": ["A", "B", "C"]}, []),
    ({"type": "fixed", "name": "F", "size": 2}, {"type": "fixed", "name": "F", "size": 3}, ["fixed size 3"]),
    ({"type": "array", "items": "double"}, {"type": "array", "items": "float"}, []),
    ({"type": "map", "values": "int"}, {"type": "map", "values": "string"}, ["/values"]),
    (V2, V1, []),
    (V1, V2, []),  # a reader ignores fields it does not know
    (BREAKING, V1, ["'id' is new and has no default"]),
    ({**V1, "name": "Other"}, V1, ["does not match writer record 'User'"]),
    ({**V1, "name": "Other", "aliases": ["User"]}, V1, []),
]


@pytest.mark.parametrize("reader,writer,problems", COMPAT)
def test_avro_resolution_rules(reader, writer, problems):
    got = reader_problems(reader, writer)
    assert len(got) == len(problems) and all(p in g for p, g in zip(problems, got, strict=True))


def test_levels_check_the_right_direction_and_history():
    only_new_field_without_default = {**V1, "fields": [*V1["fields"], {"name": "x", "type": "int"}]}
    assert compatibility_problems("BACKWARD", only_new_field_without_default, [V1])
    assert not compatibility_problems("FORWARD", only_new_field_without_default, [V1])
    assert compatibility_problems("FULL", only_new_field_without_default, [V1])
    assert not compatibility_problems("NONE", BREAKING, [V1])
    # Transitive levels check every earlier version, not only the latest.
    history = [BREAKING, V1]
    assert not compatibility_problems("BACKWARD", V2, history)
    assert compatibility_problems("BACKWARD_TRANSITIVE", V2, history)


async def test_store_survives_a_restart_on_the_same_port():
    port = free_tcp_port()
    server = SchemaRegistryServer("127.0.0.1", port)
    await server.start()
    await register(server, "keep-value", V1)
    await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(server, "GET", "/schemas/ids/1")
    await server.start()
    try:
        status, body = await call(server, "GET", "/schemas/ids/1")
        assert status == 200 and json.loads(body["schema"]) == V1
    finally:
        await server.stop()


async def test_cli_command_serves_on_the_given_port():
    port = free_tcp_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamapp.cli",
        "schema-registry",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert f"Schema Registry listening on http://127.0.0.1:{port}" in line.decode()
        server = SchemaRegistryServer("127.0.0.1", port)  # only for its url in call()
        assert await register(server, "cli-value", V1) == (200, {"id": 1})
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        assert await asyncio.wait_for(proc.wait(), 15) == 0
