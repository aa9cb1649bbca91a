"""The web view's server without a browser: config, the bundle, the worker's status, failures named."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from streamapp.devstack.webview import WebView
from streamapp.devstack.webview.server import diffusion_endpoint, merge_connectors
from tests.fixtures.net import free_tcp_port


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("ws://127.0.0.1:8080", {"host": "127.0.0.1", "port": 8080, "secure": False, "path": "/diffusion"}),
        ("wss://example.com", {"host": "example.com", "port": 443, "secure": True, "path": "/diffusion"}),
        ("ws://h:1/prefix/", {"host": "h", "port": 1, "secure": False, "path": "/prefix/diffusion"}),
        ("ws://[::1]:9", {"host": "::1", "port": 9, "secure": False, "path": "/diffusion"}),
    ],
)
def test_diffusion_endpoint(url: str, endpoint: dict) -> None:
    assert diffusion_endpoint(url) == endpoint


def test_diffusion_endpoint_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="must start with ws:// or wss://"):
        diffusion_endpoint("http://127.0.0.1:8080")


def test_merge_sums_counters_over_workers_and_keeps_connect_states() -> None:
    statuses = {
        "sink": {"status": {"type": "sink", "connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]}},
        "Source": {"status": {"type": "source", "connector": {"state": "FAILED"}, "tasks": []}},
    }
    cluster = {
        "workers": [
            {"connectors": {"sink": {"counters": {"records_in": 3, "delivered": 2, "failed": 1}}}},
            {"connectors": {"sink": {"counters": {"records_in": 4, "delivered": 4}, "diffusion": {"state": "UP"}}}},
        ]
    }
    rows = merge_connectors(statuses, cluster)
    assert [r["name"] for r in rows] == ["sink", "Source"]
    counters = rows[0]["counters"]
    assert (counters["records_in"], counters["delivered"], counters["failed"]) == (7, 6, 1)
    assert rows[0]["tasks"] == ["RUNNING"] and rows[0]["diffusion"] == {"state": "UP"}
    assert (rows[1]["state"], rows[1]["counters"]["records_in"], rows[1]["diffusion"]) == ("FAILED", 0, None)


async def test_a_worker_that_does_not_answer_is_named_in_a_502() -> None:
    worker = f"http://127.0.0.1:{free_tcp_port()}"  # nothing listens there
    async with WebView("127.0.0.1", 0, diffusion_url="ws://127.0.0.1:8080", worker_url=worker) as view:
        async with aiohttp.ClientSession() as http, http.get(view.url + "api/connectors") as response:
            assert response.status == 502
            assert worker in (await response.json())["error"]


async def test_worker_statuses_come_through_with_its_authorization() -> None:
    seen: list[str | None] = []

    async def statuses(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        body = {"c": {"status": {"type": "sink", "connector": {"state": "PAUSED"}, "tasks": []}}}
        return web.json_response(body if request.path == "/connectors" else {"workers": []})

    app = web.Application()
    app.router.add_get("/connectors", statuses)
    app.router.add_get("/streamapp/status", statuses)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    worker = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with (
            WebView("127.0.0.1", 0, diffusion_url="ws://127.0.0.1:8080", worker_url=worker,
                    worker_headers={"Authorization": "Bearer t0ken"}) as view,
            aiohttp.ClientSession() as http,
            http.get(view.url + "api/connectors") as response,
        ):  # fmt: skip
            assert response.status == 200
            (row,) = (await response.json())["connectors"]
            assert (row["name"], row["state"]) == ("c", "PAUSED")
            async with http.get(view.url + "config.json") as config:
                assert "t0ken" not in await config.text()
    finally:
        await runner.cleanup()
    assert seen == ["Bearer t0ken", "Bearer t0ken"]


async def test_without_the_npm_package_the_bundle_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STREAMAPP_NODE_MODULES", str(tmp_path))
    async with WebView("127.0.0.1", 0, diffusion_url="ws://127.0.0.1:8080", worker_url="http://127.0.0.1:1") as view:
        async with aiohttp.ClientSession() as http, http.get(view.url + "vendor/diffusion.js") as response:
            assert response.status == 503
            assert "run scripts/setup.sh" in await response.text()
        async with aiohttp.ClientSession() as http, http.get(view.url) as response:
            assert response.status == 200 and "/vendor/diffusion.js" in await response.text()
