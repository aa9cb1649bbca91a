"""The floors a sink is compared with, measured in the same run: a bare Faust agent's CPU per event.

A sink's CPU per record is at least what Faust costs per event (consume, track, ack, commit) plus
what its client costs per request (raw aiocoap, the Diffusion SDK): ``sink / (raw + bare)`` is how
far the connector is from the floor of this design.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["bare_faust", "bare_faust_cpu", "process_cpu"]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bare_faust_cpu(broker_url: str, topics: list[str], count: int, timeout: float = 300) -> float:
    """CPU seconds per event of a bare Faust agent reading ``count`` records already in ``topics``."""
    return (await bare_faust(broker_url, topics, count, timeout))[0]


async def bare_faust(broker_url: str, topics: list[str], count: int, timeout: float = 300) -> tuple[float, float]:
    """A bare Faust agent reading ``count`` records already in ``topics``: CPU seconds per event, events/s.

    The rate is from its first batch to its last: the fastest any sink of this design reads them.
    """
    faust_cli = str(Path(sys.executable).with_name("faust"))
    env = {
        **os.environ,
        "BARE_TOPICS": ",".join(topics),
        "BARE_COUNT": str(count),
        "BARE_BROKER": broker_url,
        "BARE_APP_ID": f"bench-bare-{uuid.uuid4().hex[:6]}",
        "PYTHONPATH": str(ROOT),
    }
    # Faust keeps a data directory in its working directory: a throw-away one, not the checkout.
    workdir = tempfile.TemporaryDirectory(prefix="bench-bare-")
    proc = await asyncio.create_subprocess_exec(
        faust_cli, "-A", "bench.bare_agent", "worker", "-l", "warn", "--without-web",
        cwd=workdir.name, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(timeout):
            assert proc.stdout is not None
            async for raw in proc.stdout:
                match = re.search(r"BARE_CPU (\S+) (\d+) (\S+)", raw.decode(errors="replace"))
                if match:
                    return float(match[1]) / int(match[2]), int(match[2]) / float(match[3])
        raise RuntimeError("the bare agent exited before reporting")
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        workdir.cleanup()
