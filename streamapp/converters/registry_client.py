"""An async Confluent Schema Registry client: the four calls the Avro converter needs, cached.

Why not python-schema-registry-client's ``AsyncSchemaRegistryClient`` (checked, 2.6): it opens a
new HTTP connection per request, applies a custom CA only together with a client certificate,
splits ``basic.auth.user.info`` at every ``:`` (passwords may contain one), and its lookup call
crashes on primitive schemas (``"string"`` keys) when the registry answers 404. This client
reuses one aiohttp session (aiohttp is already a dependency).

Errors are split by what the caller must do:

* :class:`RegistryUnavailableError` (``retriable``): the registry cannot be reached or answers
  5xx/429; the record waits and is retried, nothing is acked.
* :class:`RegistryRequestError`: the registry answered with a client error (unknown schema id
  40403, subject or version not found, incompatible or invalid schema, auth failure); the
  converter turns it into a record error.

Messages name the registry by its URL without user info: credentials never reach a log line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.parse
from typing import Any

import aiohttp

from streamapp.errors import StreamAppError

__all__ = [
    "SCHEMA_NOT_FOUND",
    "SUBJECT_NOT_FOUND",
    "VERSION_NOT_FOUND",
    "RegistryClient",
    "RegistryError",
    "RegistryRequestError",
    "RegistryUnavailableError",
    "redact_url",
]

SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(StreamAppError):
    """A Schema Registry call failed."""


class RegistryUnavailableError(RegistryError):
    """The registry cannot be reached (or is failing): retry later."""

    retriable = True


class RegistryRequestError(RegistryError):
    """The registry refused the request; ``status`` and ``error_code`` are Confluent's."""

    def __init__(self, message: str, *, status: int, error_code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


def redact_url(url: str) -> str:
    """``url`` without its user info, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class RegistryClient:
    """Talks to one or more registry URLs (the first that answers); caches what never changes.

    ``auth`` is a ``(user, password)`` pair or None (then user info in a URL is used, like
    Connect's ``basic.auth.credentials.source=URL``); ``ssl_context`` applies to https URLs.
    """

    timeout = 10.0  # s per request; a hung registry counts as unavailable

    def __init__(
        self,
        urls: list[str],
        *,
        auth: tuple[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one Schema Registry URL is needed")
        self._bases: list[tuple[str, str | None]] = []
        for url in urls:
            parts = urllib.parse.urlsplit(url.rstrip("/"))
            url_auth = None
            if parts.username is not None:
                url_auth = _basic(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
            self._bases.append((redact_url(url.rstrip("/")), url_auth))
        self._auth = _basic(*auth) if auth is not None else None
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._by_id: dict[int, Any] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self.requests = 0  # HTTP requests made (tests check the caches with it)

    @property
    def urls(self) -> list[str]:
        return [base for base, _ in self._bases]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the calls -------------------------------------------------------------------------------

    async def schema_by_id(self, schema_id: int) -> Any:
        """The schema (parsed JSON) registered with ``schema_id``; fetched once."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        body = await self._request("GET", f"/schemas/ids/{schema_id}")
        schema_type = body.get("schemaType", "AVRO")
        if schema_type != "AVRO":
            raise RegistryRequestError(
                f"schema id {schema_id} is a {schema_type} schema, not Avro", status=200, error_code=None
            )
        schema = _parse_schema_text(body.get("schema"), f"schema id {schema_id}")
        self._by_id[schema_id] = schema
        return schema

    async def lookup(self, subject: str, schema: Any) -> tuple[int, int]:
        """(id, version) of ``schema`` under ``subject`` (POST /subjects/{subject}); cached."""
        text = _canonical(schema)
        key = (subject, text)
        if key in self._versions:
            return self._ids[key], self._versions[key]
        body = await self._request("POST", f"/subjects/{_quote(subject)}", {"schema": text})
        self._ids[key], self._versions[key] = int(body["id"]), int(body["version"])
        self._by_id.setdefault(int(body["id"]), schema)
        return self._ids[key], self._versions[key]

    async def register(self, subject: str, schema: Any) -> int:
        """Register ``schema`` under ``subject`` (idempotent); its id; cached."""
        text = _canonical(schema)
        key = (subject, text)
        if key in self._ids:
            return self._ids[key]
        body = await self._request("POST", f"/subjects/{_quote(subject)}/versions", {"schema": text})
        self._ids[key] = int(body["id"])
        self._by_id.setdefault(int(body["id"]), schema)
        return self._ids[key]

    async def latest(self, subject: str) -> tuple[int, int, Any]:
        """(id, version, schema) of the subject's latest version (not cached: it changes)."""
        body = await self._request("GET", f"/subjects/{_quote(subject)}/versions/latest")
        schema = _parse_schema_text(body.get("schema"), f"subject '{subject}'")
        self._by_id.setdefault(int(body["id"]), schema)
        return int(body["id"]), int(body["version"]), schema

    # --- HTTP ------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, payload: dict | None = None) -> dict:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Accept": _CONTENT_TYPE, "User-Agent": "streamapp"},
            )
        failures = []
        for base, url_auth in self._bases:
            self.requests += 1
            headers = {"Content-Type": _CONTENT_TYPE} if payload is not None else {}
            authorization = self._auth or url_auth
            if authorization is not None:
                headers["Authorization"] = authorization
            try:
                async with self._session.request(
                    method,
                    base + path,
                    data=None if payload is None else json.dumps(payload),
                    headers=headers,
                    ssl=self._ssl if base.startswith("https:") and self._ssl is not None else True,
                ) as response:
                    text = await response.text()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                failures.append(f"{base}: {_describe(exc)}")
                continue
            if status >= 500 or status == 429:
                failures.append(f"{base}: HTTP {status} {_message(text)}")
                continue
            if status >= 400:
                error_code = _error_code(text)
                raise RegistryRequestError(
                    f"Schema Registry {base} refused {method} {path}: HTTP {status}"
                    + (f" error_code {error_code}" if error_code else "")
                    + f" {_message(text)}".rstrip(),
                    status=status,
                    error_code=error_code,
                )
            try:
                body = json.loads(text)
            except ValueError:
                failures.append(f"{base}: the answer to {method} {path} is not JSON")
                continue
            if not isinstance(body, dict):
                failures.append(f"{base}: unexpected answer to {method} {path}")
                continue
            return body
        raise RegistryUnavailableError("Schema Registry unavailable (" + "; ".join(failures) + ")")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _canonical(schema: Any) -> str:
    return json.dumps(schema, separators=(",", ":"))


def _parse_schema_text(text: Any, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise RegistryRequestError(
            f"the registry returned no valid schema for {what}", status=200, error_code=None
        ) from None


def _error_code(text: str) -> int | None:
    try:
        code = json.loads(text).get("error_code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _message(text: str) -> str:
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, str):
        return f"({message[:200]})"
    return ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer in time"
    text = str(exc) or type(exc).__name__
    return text[:200]
