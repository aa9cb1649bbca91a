"""``streamapp status``: fetch a worker's cluster view over HTTP and render it for a terminal."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

__all__ = ["StatusError", "fetch_status", "render_status"]


class StatusError(Exception):
    """The worker could not be asked, or refused; the message says which and why."""


def _defaults(url: str | None, token: str | None, user: str | None, password: str | None) -> tuple:
    """Fill what the command line left out from the worker settings (STREAMAPP_*), when they load."""
    try:
        from streamapp.settings import load_settings

        settings = load_settings()
    except Exception:  # noqa: BLE001 -- invalid worker settings: the command line must then say it all
        settings = None
    if settings is not None:
        url = url or settings.status_url or f"http://127.0.0.1:{settings.web_port}"
        token = token or (settings.api_token.get_secret_value() if settings.api_token else None)
        user = user or settings.api_username
        password = password or (settings.api_password.get_secret_value() if settings.api_password else None)
    return url or "http://127.0.0.1:6066", token, user, password


def fetch_status(
    url: str | None,
    *,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    url, token, user, password = _defaults(url, token, user, password)
    request = urllib.request.Request(url.rstrip("/") + "/streamapp/status", headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    elif user is not None and password is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 -- an operator-given URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise StatusError(
                f"{url} refused the credentials (HTTP 401): pass --token, or --user and --password "
                "(or set STREAMAPP_API_TOKEN / STREAMAPP_API_USERNAME and STREAMAPP_API_PASSWORD)"
            ) from None
        raise StatusError(f"{url} answered HTTP {exc.code}: {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StatusError(f"cannot reach a worker at {url}: {reason} (is it running? see --url)") from None
    except ValueError as exc:
        raise StatusError(f"{url} did not answer JSON: {exc}") from None


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def render_status(doc: dict[str, Any]) -> str:
    workers = doc.get("workers", [])
    lines = [
        f"{len(workers)} worker(s), answered by {doc.get('worker_id')} at {time.strftime('%H:%M:%S')}: "
        + ", ".join(w["worker_id"] + (" (leader)" if w.get("leader") else "") for w in workers),
        "",
    ]
    rows = [
        [
            "CONNECTOR", "TYPE", "STATE", "TASKS", "IN", "DELIVERED", "FAILED", "DEAD-LETTERED", "SKIPPED",
            "CONFLATED", "IN/S", "OUT/S", "LAG",
        ]
    ]  # fmt: skip
    details: list[str] = []
    for name, status in doc.get("connectors", {}).items():
        totals = {"records_in": 0, "delivered": 0, "failed": 0, "dead_lettered": 0, "skipped": 0, "conflated": 0}
        rates: dict[str, float] = {}
        lag: int | None = None
        for worker in workers:
            snap = worker.get("connectors", {}).get(name) or {}
            for key in totals:
                totals[key] += snap.get("counters", {}).get(key, 0)
            for key, value in (snap.get("rates") or {}).items():
                rates[key] = rates.get(key, 0) + value
            for part in snap.get("partitions", ()):
                if part.get("lag") is not None:
                    lag = (lag or 0) + part["lag"]
                details.append(
                    f"  {name}  {part['topic']}/{part['partition']}  delivered offset {part['delivered']}  "
                    f"end offset {part.get('end_offset') if part.get('end_offset') is not None else '?'}  "
                    f"lag {part.get('lag') if part.get('lag') is not None else '?'}  "
                    f"committed {part.get('committed') if part.get('committed') is not None else '-'}  "
                    f"on {worker['worker_id']}"
                )
            if snap.get("queue_depth") is not None and snap.get("task"):
                details.append(f"  {name}  queue depth {snap['queue_depth']}  on {worker['worker_id']}")
            session = snap.get("session") or {}
            if session and not session.get("connected") and session.get("last_error"):
                details.append(
                    f"  {name}  Diffusion {session['state']} on {worker['worker_id']}: {session['last_error']}"
                )
        tasks = status.get("tasks", [])
        task_text = ", ".join(f"{t['id']}:{t['state']}" for t in tasks) or "none"
        rows.append(
            [
                name,
                status.get("type", ""),
                status["connector"]["state"],
                task_text,
                str(totals["records_in"]),
                str(totals["delivered"]),
                str(totals["failed"]),
                str(totals["dead_lettered"]),
                str(totals["skipped"]),
                str(totals["conflated"]),
                _rate(rates.get("records_in")),
                _rate(rates.get("delivered")),
                "-" if lag is None else str(lag),
            ]
        )
        for task in tasks:
            if task.get("trace"):
                details.append(
                    f"  {name} task {task['id']} FAILED on {task['worker_id']}: {task['trace'].splitlines()[0]}"
                )
    lines.extend(_table(rows))
    if details:
        lines += ["", "Partitions and failures:", *details]
    return "\n".join(lines)
