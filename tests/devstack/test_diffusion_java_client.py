"""The official Java client runs the client scenario against the emulator (``clients/Scenario.java``).

The jars come from Maven Central through ``scripts/setup.sh`` (``tests.fixtures.diffusion_java``);
the test compiles the scenario with the machine's ``javac`` and runs it for each version in
``JAVA_CLIENT_VERSIONS``. Where Maven could not resolve a version, the test skips with Maven's
reason (see the emulator's PROTOCOL.md, section 6).
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
from tests.devstack.client_scenario import EXPECTED
from tests.fixtures.diffusion import Collector, diffusion_session
from tests.fixtures.diffusion_java import JAVA_CLIENT_VERSIONS, JavaClientUnavailable, cached_java_client

SCENARIO = Path(__file__).parent / "clients" / "Scenario.java"
#: javac takes a few seconds on a loaded 2-core machine, the JVM about one.
JAVA_TIMEOUT = 60.0


async def _run(*args: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), JAVA_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{args[0]} did not finish in {JAVA_TIMEOUT} s") from None
    assert process.returncode == 0, f"{args[0]} exited {process.returncode}: {stderr.decode(errors='replace')[-3000:]}"
    return stdout


@pytest.mark.parametrize("version", JAVA_CLIENT_VERSIONS)
async def test_java_client_runs_the_client_scenario(
    version: str, diffusion_emulator: DiffusionEmulator, diffusion_topic_root, tmp_path: Path, caplog
):
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        pytest.skip("no JDK (scripts/setup.sh installs default-jdk-headless)")
    try:
        classpath = cached_java_client(version)
    except JavaClientUnavailable as exc:
        pytest.skip(str(exc))
    await _run(javac, "-cp", classpath, "-d", str(tmp_path), str(SCENARIO))
    root = diffusion_topic_root
    caplog.set_level(logging.INFO, logger="streamapp.devstack.diffusion_emulator")
    async with diffusion_session(diffusion_emulator.url) as watcher:
        collector = await Collector(watcher, types=(dt.JSON, dt.STRING)).subscribe(f"?{root}//")
        stdout = await _run(java, "-cp", f"{classpath}:{tmp_path}", "Scenario", diffusion_emulator.url, root)
        # What the Java client set reached a Python SDK session too.
        assert collector.values(f"{root}/json/a") == [{"px": 1}]
        assert collector.values(f"{root}/text") == ["a", "b", "c", "d"]
    assert json.loads(stdout) == EXPECTED
    assert not [p for p in diffusion_emulator.topic_paths() if p.startswith(f"{root}/")]
    messages = [r.getMessage() for r in caplog.records]
    # The Java client announced itself, and answered nothing the emulator sent with an error (it
    # does when a one-way notification arrives with a conversation id).
    assert any("client type" in m and "protocol" in m for m in messages), messages
    assert not [m for m in messages if "could not handle a server request" in m]
