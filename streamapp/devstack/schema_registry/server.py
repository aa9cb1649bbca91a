"""A Confluent Schema Registry REST server (the subset clients use), in memory, on aiohttp.

Endpoints, with Confluent's JSON bodies and ``{"error_code": ..., "message": ...}`` errors:

=========================================================  ===================================
``GET  /subjects``                                         subject names
``GET  /subjects/{subject}/versions``                      version numbers (40401)
``GET  /subjects/{subject}/versions/{version|latest}``     subject, version, id, schema
                                                           (40401, 40402, 42202)
``POST /subjects/{subject}/versions``                      register -> ``{"id": n}`` (409 if
                                                           incompatible, 42201 invalid schema)
``POST /subjects/{subject}``                               look a schema up -> subject, id,
                                                           version, schema (40401, 40403)
``GET  /schemas/ids/{id}``                                 ``{"schema": ...}`` (40403)
``POST /compatibility/subjects/{subject}/versions/{v}``    ``{"is_compatible": bool}``
``GET|PUT /config``, ``GET|PUT /config/{subject}``         compatibility level (42203)
=========================================================  ===================================

Only Avro schemas are accepted (``schemaType`` AVRO or absent); they are validated with
fastavro. Compatibility levels NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE forms are
enforced on registration (default BACKWARD, as Confluent's).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import fastavro
from aiohttp import web

from .compatibility import LEVELS, compatibility_problems
from .store import SchemaStore, canonical

__all__ = ["SchemaRegistryServer", "run_schema_registry"]

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def _error(status: int, error_code: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error_code": error_code, "message": message}),
        content_type="application/vnd.schemaregistry.v1+json",
    )


def _ok(body: Any) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/vnd.schemaregistry.v1+json")


def _subject_not_found(subject: str) -> web.Response:
    return _error(404, 40401, f"Subject '{subject}' not found.")


class SchemaRegistryServer:
    """``async with SchemaRegistryServer(host, port) as registry: registry.url``; ``store`` survives restarts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8081, store: SchemaStore | None = None) -> None:
        self.host = host
        self.port = port
        self.store = store or SchemaStore()
        self.requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        app = web.Application(middlewares=[self._count])
        app.add_routes(
            [
                web.get("/subjects", self.subjects),
                web.get("/subjects/{subject}/versions", self.versions),
                web.get("/subjects/{subject}/versions/{version}", self.get_version),
                web.post("/subjects/{subject}/versions", self.register),
                web.post("/subjects/{subject}", self.lookup),
                web.get("/schemas/ids/{id}", self.by_id),
                web.post("/compatibility/subjects/{subject}/versions/{version}", self.compatibility),
                web.get("/config", self.get_config),
                web.put("/config", self.put_config),
                web.get("/config/", self.get_config),  # clients that join "config/" and an empty subject
                web.put("/config/", self.put_config),
                web.get("/config/{subject}", self.get_config),
                web.put("/config/{subject}", self.put_config),
            ]
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SchemaRegistryServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _count(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        self.requests += 1
        return await handler(request)

    # --- handlers ----------------------------------------------------------------------------

    async def subjects(self, request: web.Request) -> web.Response:
        return _ok(sorted(self.store.subjects))

    async def versions(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        versions = self.store.subjects.get(subject)
        if not versions:
            return _subject_not_found(subject)
        return _ok(list(range(1, len(versions) + 1)))

    def _resolve_version(self, subject: str, text: str) -> tuple[int | None, web.Response | None]:
        versions = self.store.subjects.get(subject)
        if text == "latest" or text == "-1":
            if not versions:
                return None, _subject_not_found(subject)
            return len(versions), None
        try:
            number = int(text)
        except ValueError:
            number = 0
        if number < 1:
            return None, _error(
                422,
                42202,
                f"The specified version '{text}' is not a valid version id. Allowed values are "
                'between [1, 2^31-1] and the string "latest"',
            )
        if not versions:
            return None, _subject_not_found(subject)
        if number > len(versions):
            return None, _error(404, 40402, f"Version {number} not found.")
        return number, None

    async def get_version(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        number, problem = self._resolve_version(subject, request.match_info["version"])
        if problem is not None:
            return problem
        found = self.store.version(subject, number)  # type: ignore[arg-type]
        assert found is not None
        return _ok({"subject": subject, "version": found.version, "id": found.id, "schema": found.text})

    async def _schema_from(self, request: web.Request) -> tuple[Any, str | None, web.Response | None]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return None, None, _error(400, 400, "Request body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            return None, None, _error(422, 42201, "Invalid schema: the body needs a 'schema' string")
        schema_type = body.get("schemaType", "AVRO")
        if schema_type != "AVRO":
            return None, None, _error(422, 42201, f"Invalid schema: schemaType {schema_type} is not supported here")
        if body.get("references"):
            return None, None, _error(422, 42201, "Invalid schema: schema references are not supported here")
        try:
            schema = json.loads(body["schema"])
            fastavro.parse_schema(schema, _write_hint=False, _force=True)
        except Exception as exc:  # noqa: BLE001 -- any parse failure is the client's invalid schema
            return None, None, _error(422, 42201, f"Invalid schema {body['schema'][:200]}: {exc}")
        return schema, canonical(schema), None

    async def register(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        schema, text, problem = await self._schema_from(request)
        if problem is not None:
            return problem
        store = self.store
        existing = store.find(subject, text)  # type: ignore[arg-type]
        if existing is not None:
            return _ok({"id": existing.id})
        previous = [json.loads(store.schemas[i]) for i in store.subjects.get(subject, [])]
        problems = compatibility_problems(store.level(subject), schema, previous)
        if problems:
            return _error(
                409,
                409,
                f'Schema being registered is incompatible with an earlier schema for subject "{subject}", '
                f"details: {problems[:5]}",
            )
        registered = store.add(subject, text)  # type: ignore[arg-type]
        logger.info("registered schema id %d as version %d of %s", registered.id, registered.version, subject)
        return _ok({"id": registered.id})

    async def lookup(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        _, text, problem = await self._schema_from(request)
        if problem is not None:
            return problem
        if subject not in self.store.subjects:
            return _subject_not_found(subject)
        found = self.store.find(subject, text)  # type: ignore[arg-type]
        if found is None:
            return _error(404, 40403, "Schema not found")
        return _ok({"subject": subject, "id": found.id, "version": found.version, "schema": found.text})

    async def by_id(self, request: web.Request) -> web.Response:
        try:
            schema_id = int(request.match_info["id"])
        except ValueError:
            schema_id = -1
        text = self.store.schemas.get(schema_id)
        if text is None:
            return _error(404, 40403, "Schema not found")
        return _ok({"schema": text})

    async def compatibility(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        schema, _, problem = await self._schema_from(request)
        if problem is not None:
            return problem
        version_text = request.match_info["version"]
        if version_text in ("latest", "-1") and not self.store.subjects.get(subject):
            return _ok({"is_compatible": True})  # nothing to be incompatible with
        number, problem = self._resolve_version(subject, version_text)
        if problem is not None:
            return problem
        old = json.loads(self.store.version(subject, number).text)  # type: ignore[arg-type,union-attr]
        level = self.store.level(subject)
        problems = compatibility_problems(level.replace("_TRANSITIVE", ""), schema, [old])
        body: dict[str, Any] = {"is_compatible": not problems}
        if problems and request.query.get("verbose") == "true":
            body["messages"] = problems
        return _ok(body)

    async def get_config(self, request: web.Request) -> web.Response:
        subject = request.match_info.get("subject")
        if subject is not None and subject not in self.store.subject_compatibility:
            return _error(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")
        return _ok({"compatibilityLevel": self.store.level(subject)})

    async def put_config(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, 400, "Request body is not valid JSON")
        level = body.get("compatibility") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in LEVELS:
            return _error(422, 42203, f"Invalid compatibility level. Valid values are: {', '.join(LEVELS)}")
        level = level.upper()
        subject = request.match_info.get("subject")
        if subject is None:
            self.store.compatibility = level
        else:
            self.store.subject_compatibility[subject] = level
        return _ok({"compatibility": level})


async def run_schema_registry(
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    on_ready: Callable[[SchemaRegistryServer], Any] | None = None,
) -> None:
    """Serve until cancelled (the ``streamapp schema-registry`` command)."""
    async with SchemaRegistryServer(host, port) as server:
        if on_ready is not None:
            on_ready(server)
        await asyncio.get_running_loop().create_future()
