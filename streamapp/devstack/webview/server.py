"""The web view's HTTP server: the page, the official JavaScript client's browser bundle, and the worker's status.

Routes:

* ``/`` and ``/static/*``: the page (``static/index.html``, ``app.js``, ``style.css``);
* ``/vendor/diffusion.js``: ``dist/diffusion.js`` of the npm ``diffusion`` package installed at
  setup (served from ``node_modules``, never copied into the repository);
* ``/config.json``: where the page's Diffusion sessions connect (host, port, TLS); no credentials;
* ``/api/connectors``: each connector's state (the worker's ``GET /connectors?expand=status``)
  with its counters summed over the workers (``GET /streamapp/status``). The page reads the
  worker through here rather than directly, so the browser needs no cross-origin access to the
  worker, and a worker that is down is reported as such.

The page itself talks to Diffusion (the emulator, or any server) through the official client
over WebSocket; this server never touches topic data.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .client_bundle import DiffusionClientMissing, browser_bundle

__all__ = ["WebView"]

LOG = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: The worker answers status requests from memory; a slow answer means it is busy or gone.
_WORKER_TIMEOUT = aiohttp.ClientTimeout(total=3)
_COUNTERS = ("records_in", "delivered", "failed", "retried", "dead_lettered", "skipped", "conflated")


class WebView:
    """Serve the page on ``host:port``; it shows ``diffusion_url``'s topics and ``worker_url``'s connectors.

    Args:
        diffusion_url: the Diffusion server the page's sessions open (``ws://`` or ``wss://``).
        worker_url: the worker's web server (its Kafka Connect REST API).
        worker_headers: headers for the worker (``Authorization`` when its API needs one).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        diffusion_url: str,
        worker_url: str,
        worker_headers: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.diffusion_url = diffusion_url
        self.worker_url = worker_url.rstrip("/")
        self._worker_headers = dict(worker_headers or {})
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/config.json", self._config)
        app.router.add_get("/vendor/diffusion.js", self._bundle)
        app.router.add_get("/api/connectors", self._connectors)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        self._http = aiohttp.ClientSession(timeout=_WORKER_TIMEOUT, headers=self._worker_headers)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            await self._http.close()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        LOG.info("web view on %s (Diffusion %s, worker %s)", self.url, self.diffusion_url, self.worker_url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> WebView:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- handlers --------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response({"diffusion": diffusion_endpoint(self.diffusion_url), "worker": self.worker_url})

    async def _bundle(self, request: web.Request) -> web.StreamResponse:
        try:
            bundle = browser_bundle()
        except DiffusionClientMissing as exc:
            # The page shows this text; the rest of the stack works without the page.
            return web.Response(status=503, text=f"// {exc}\n", content_type="application/javascript")
        return web.FileResponse(bundle, headers={"Cache-Control": "max-age=3600"})

    async def _connectors(self, request: web.Request) -> web.Response:
        assert self._http is not None
        try:
            statuses, cluster = await asyncio.gather(
                self._get_json("/connectors?expand=status"), self._get_json("/streamapp/status")
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            return web.json_response({"error": f"worker at {self.worker_url} did not answer: {reason}"}, status=502)
        return web.json_response({"connectors": merge_connectors(statuses, cluster)})

    async def _get_json(self, path: str) -> Any:
        assert self._http is not None
        async with self._http.get(self.worker_url + path) as response:
            if response.status != 200:
                raise ValueError(f"GET {path} answered {response.status}")
            return await response.json(content_type=None)


def diffusion_endpoint(url: str) -> dict[str, Any]:
    """The JavaScript client's connection options for a ``ws://`` / ``wss://`` base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"Diffusion URL {url!r} must start with ws:// or wss://")
    secure = parts.scheme == "wss"
    # The client joins "/diffusion" to the path itself only when no path is given.
    path = parts.path.rstrip("/") + "/diffusion"
    return {"host": parts.hostname, "port": parts.port or (443 if secure else 80), "secure": secure, "path": path}


def merge_connectors(statuses: dict[str, Any], cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per connector: Connect status, counters summed over workers, Diffusion session state."""
    rows = []
    for name in sorted(statuses, key=str.lower):
        status = statuses[name].get("status", {})
        counters = dict.fromkeys(_COUNTERS, 0)
        diffusion = None
        for worker in cluster.get("workers", []):
            snapshot = worker.get("connectors", {}).get(name) or {}
            for key, value in (snapshot.get("counters") or {}).items():
                if key in counters and isinstance(value, int):
                    counters[key] += value
            diffusion = snapshot.get("diffusion") or diffusion
        rows.append(
            {
                "name": name,
                "type": status.get("type", "?"),
                "state": status.get("connector", {}).get("state", "UNKNOWN"),
                "tasks": [task.get("state", "UNKNOWN") for task in status.get("tasks", [])],
                "counters": counters,
                "diffusion": diffusion,
            }
        )
    return rows
