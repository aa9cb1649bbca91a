"""A `faust -A streamapp worker` subprocess, the way operators run it, for the dev stack and tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

__all__ = ["WorkerProcess", "READY_PATTERN"]

# Faust prints "[^Worker]: Ready" (or " OK ^" when stdout is not a terminal) once the worker has
# joined the group and finished recovery.
READY_PATTERN = r"\[\^Worker\]: Ready|OK \^"


def _faust_command() -> list[str]:
    faust = Path(sys.executable).with_name("faust")
    if faust.exists():
        return [str(faust)]
    return [sys.executable, "-m", "faust"]


class WorkerProcess:
    """One worker process. Its output goes to ``log_path`` so callers can wait for lines and show them."""

    def __init__(
        self,
        *,
        broker: str,
        connectors: str | Path,
        workdir: Path,
        web_port: int,
        web_host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        log_level: str = "info",
    ) -> None:
        self.workdir = Path(workdir)
        self.web_port = web_port
        self.log_path = self.workdir / f"worker-{web_port}.log"
        self.log_level = log_level
        self.env = {
            **os.environ,
            "STREAMAPP_BROKER": broker,
            "STREAMAPP_CONNECTORS": str(connectors),
            "STREAMAPP_WEB_PORT": str(web_port),
            "STREAMAPP_WEB_HOST": web_host,
            "STREAMAPP_DATADIR": str(self.workdir / "data"),
            **(env or {}),
        }
        self.proc: asyncio.subprocess.Process | None = None
        self._log = None

    async def start(self) -> WorkerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = await asyncio.create_subprocess_exec(
            *_faust_command(),
            "-A",
            "streamapp",
            "worker",
            "-l",
            self.log_level,
            "--web-port",
            str(self.web_port),
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    @property
    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until the output matches ``pattern`` (a regex); raise with the output tail otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.returncode is not None:
                raise RuntimeError(f"worker exited {self.returncode} before {pattern!r}:\n{self.output[-4000:]}")
            if loop.time() > deadline:
                raise TimeoutError(f"no {pattern!r} within {timeout}s; worker output:\n{self.output[-4000:]}")
            await asyncio.sleep(0.2)

    async def wait_ready(self, timeout: float = 90) -> None:
        await self.wait_for(READY_PATTERN, timeout)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the worker and wait; SIGKILL after ``timeout`` (and raise, since that is a bug)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                self._close_log()
                raise TimeoutError(
                    f"worker did not exit within {timeout}s of signal {sig}:\n{self.output[-4000:]}"
                ) from None
        self._close_log()
        return self.proc.returncode

    async def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
