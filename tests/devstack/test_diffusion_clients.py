"""Every official Diffusion client runs the same scenario against the emulator and sees the same thing.

The scenario and its expected transcript are in ``client_scenario.py``. The Python SDK runs it
in-process; the JavaScript client (npm ``diffusion``, installed by ``scripts/setup.sh``) runs it
under the machine's Node; the Java client is in ``test_diffusion_java_client.py``. A Python SDK
session watches each foreign client's topics, so values cross from one client to another.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

import diffusion.datatypes as dt
import pytest

from streamapp.devstack.diffusion_emulator import DiffusionEmulator
from streamapp.devstack.webview.client_bundle import DiffusionClientMissing, diffusion_package_dir
from tests.devstack.client_scenario import EXPECTED, run_python_scenario
from tests.fixtures.diffusion import Collector, diffusion_session, wait_until

SCENARIO_JS = Path(__file__).parent / "clients" / "scenario.js"
UPDATE_STREAMS_JS = Path(__file__).parent / "clients" / "update_streams.js"
#: Node starts in ~0.1 s and the scenario takes well under a second; generous for loaded CI.
NODE_TIMEOUT = 30.0


def _node_and_client() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (scripts/setup.sh installs it with apt-get)")
    try:
        return node, diffusion_package_dir()
    except DiffusionClientMissing as exc:
        pytest.skip(str(exc))


async def _run_node(*args: str) -> dict:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), NODE_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the Node scenario did not finish in {NODE_TIMEOUT} s") from None
    assert process.returncode == 0, f"node exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}"
    return json.loads(stdout)


async def test_python_sdk_runs_the_client_scenario(diffusion_emulator: DiffusionEmulator, diffusion_topic_root):
    transcript = await run_python_scenario(diffusion_emulator.url, diffusion_topic_root)
    assert transcript == EXPECTED
    assert not [p for p in diffusion_emulator.topic_paths() if p.startswith(f"{diffusion_topic_root}/")]


async def test_javascript_client_runs_the_client_scenario(
    diffusion_emulator: DiffusionEmulator, diffusion_topic_root, caplog
):
    node, package = _node_and_client()
    root = diffusion_topic_root
    caplog.set_level(logging.INFO, logger="streamapp.devstack.diffusion_emulator")
    async with diffusion_session(diffusion_emulator.url) as watcher:
        collector = await Collector(watcher, types=(dt.JSON, dt.STRING)).subscribe(f"?{root}//")
        transcript = await _run_node(
            node, str(SCENARIO_JS), str(package), "127.0.0.1", str(diffusion_emulator.port), root
        )
        # What the JavaScript client set reached a Python SDK session too.
        assert collector.values(f"{root}/json/a") == [{"px": 1}]
        assert collector.values(f"{root}/json/b") == [{"px": 2}]
        assert collector.values(f"{root}/text") == ["a", "b", "c", "d"]  # the watcher stayed subscribed
    assert transcript == EXPECTED
    assert not [p for p in diffusion_emulator.topic_paths() if p.startswith(f"{root}/")]
    # The JavaScript client spoke protocol 29 and closed with a close request, which the emulator
    # answered by closing the WebSocket (the client waits for that).
    messages = [r.getMessage() for r in caplog.records]
    assert any("client type WB, protocol 29" in m for m in messages), messages
    assert not [m for m in messages if "could not handle a server request" in m]
    await wait_until(lambda: any("closed by client (close request)" in r.getMessage() for r in caplog.records))


def _book(n: int) -> dict:
    """The value ``update_streams.js`` sets as number ``n``."""
    return {
        "n": n,
        "symbol": "ABC",
        "bids": [100.25, 100.5, 100.75, 101],
        "asks": [101.25, 101.5, 102],
        "note": "x" * 64,
    }


async def test_javascript_update_streams_send_deltas_and_are_invalidated_as_documented(
    diffusion_emulator: DiffusionEmulator, diffusion_topic_root, caplog
):
    node, package = _node_and_client()
    root = diffusion_topic_root
    caplog.set_level(logging.DEBUG, logger="streamapp.devstack.diffusion_emulator")
    async with diffusion_session(diffusion_emulator.url) as watcher:
        collector = await Collector(watcher, types=(dt.JSON, dt.STRING)).subscribe(f"?{root}//")
        transcript = await _run_node(
            node, str(UPDATE_STREAMS_JS), str(package), "127.0.0.1", str(diffusion_emulator.port), root
        )
        # Every value the emulator rebuilt from the client's deltas is the one the client meant.
        assert collector.values(f"{root}/book") == [_book(n) for n in (1, 2, 3, 4, 5, 7, 8)]
        assert collector.values(f"{root}/text") == ["hello", "hello world"]
    assert transcript["steps"] == [
        {"step": "first set adds the topic", "result": "created"},
        {"step": "set 2", "result": "ok"},
        {"step": "set 3", "result": "ok"},
        {"step": "set 4", "result": "ok"},
        {"step": "validate", "result": "exists"},
        {"step": "another session-less set", "result": "ok"},
        {"step": "stream after another set", "error": 9013},  # INVALID_UPDATE_STREAM
        {"step": "new stream on the topic", "result": "exists"},
        {"step": "set 8 through it", "result": "ok"},
        {"step": "validate a third stream", "result": "exists"},
        {"step": "second after a third was created", "error": 9013},
        {"step": "stream on a missing topic", "error": 9000},
        {"step": "string stream adds its topic", "result": "created"},
        {"step": "string stream sets again", "result": "ok"},
        {"step": "remove", "result": "removed 2"},
        {"step": "stream after removal", "error": 9013},
    ]
    requests = " ".join(r.getMessage() for r in caplog.records)
    for service in ("STREAM_ADD_AND_SET_TOPIC", "STREAM_APPLY_DELTA", "CHECK_UPDATE_STREAM", "CREATE_UPDATE_STREAM"):
        assert f"request {service} " in requests, service
