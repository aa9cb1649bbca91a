"""The web server's optional auth, on a real aiohttp server bound to 127.0.0.1."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from aiohttp import web

from streamapp.ops.auth import auth_middleware


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def serve(middleware):
    app = web.Application(middlewares=[middleware])
    for path in ("/connectors", "/livez", "/readyz", "/metrics"):
        app.router.add_get(path, ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


async def status_of(url: str, headers: dict) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as response:
            return response.status, await response.json(), dict(response.headers)


CASES = [
    # (token, user, password, headers, expected status on /connectors)
    (None, None, None, {}, 200),
    ("Tk-9f3a", None, None, {}, 401),
    ("Tk-9f3a", None, None, {"Authorization": "Bearer Tk-9f3a"}, 200),
    ("Tk-9f3a", None, None, {"Authorization": "bearer Tk-9f3a"}, 200),
    ("Tk-9f3a", None, None, {"Authorization": "Bearer Tk-9f3aX"}, 401),
    ("Tk-9f3a", None, None, {"Authorization": "Bearer "}, 401),
    ("Tk-9f3a", None, None, {"Authorization": basic("Tk-9f3a", "Tk-9f3a")}, 401),
    (None, "ops", "s3cret", {"Authorization": basic("ops", "s3cret")}, 200),
    (None, "ops", "s3cret", {"Authorization": basic("ops", "wrong")}, 401),
    (None, "ops", "s3cret", {"Authorization": basic("other", "s3cret")}, 401),
    (None, "ops", "s3cret", {"Authorization": "Basic not-base64!"}, 401),
    (None, "ops", "s3cret", {"Authorization": "Bearer s3cret"}, 401),
    ("Tk-9f3a", "ops", "s3cret", {"Authorization": basic("ops", "s3cret")}, 200),
    ("Tk-9f3a", "ops", "s3cret", {"Authorization": "Bearer Tk-9f3a"}, 200),
]


@pytest.mark.parametrize(("token", "user", "password", "headers", "expected"), CASES)
async def test_auth(token, user, password, headers, expected):
    runner, url = await serve(auth_middleware(token, user, password))
    try:
        status, body, response_headers = await status_of(url + "/connectors", headers)
        assert status == expected
        if expected == 401:
            assert body["error_code"] == 401
            assert "WWW-Authenticate" in response_headers
            for secret in (token, password):
                if secret:
                    assert secret not in str(body) and secret not in str(response_headers)
        for probe in ("/livez", "/readyz"):  # Kubernetes probes carry no credentials
            assert (await status_of(url + probe, {}))[0] == 200
    finally:
        await runner.cleanup()
