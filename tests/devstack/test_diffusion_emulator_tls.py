"""The emulator serving wss://, in-process and as `streamapp diffusion-emulator --tls-cert FILE --tls-key FILE`.

The official SDK connects with a context that trusts the test CA and checks the host name, so
these tests also show that the emulator's certificate handling is what a real server's would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl

import diffusion
import diffusion.datatypes as dt
import pytest

from streamapp.devstack.diffusion_emulator import DiffusionEmulator
from tests.fixtures.dev_stack import STREAMAPP
from tests.fixtures.diffusion import Collector, started_emulator
from tests.fixtures.net import free_tcp_port

TIMEOUT = 20.0


@contextlib.asynccontextmanager
async def wss_session(url: str, cafile: str):
    context = ssl.create_default_context(cafile=cafile)
    factory = diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password"))
    session = await asyncio.wait_for(factory.ssl_context(context).open(url), TIMEOUT)
    try:
        yield session
    finally:
        await session.close()


async def test_sessions_over_wss(pki):
    async with started_emulator(tls_cert=pki.path("server.pem"), tls_key=pki.path("server.key")) as emulator:
        assert re.fullmatch(r"wss://127\.0\.0\.1:\d+", emulator.url)
        async with wss_session(emulator.url, pki.path("ca.pem")) as subscriber:
            collector = await Collector(subscriber).subscribe("?tls//")
            async with wss_session(emulator.url, pki.path("ca.pem")) as publisher:
                await publisher.topics.add_and_set_topic("tls/price", dt.JSON, {"px": 1})
                await publisher.topics.set_topic("tls/price", {"px": 2}, dt.JSON)
                assert await collector.wait_for("tls/price", lambda v: v == {"px": 2}, timeout=TIMEOUT) == {"px": 2}
            assert [s.principal for s in emulator.sessions()] == ["admin"]


async def test_plain_ws_is_unchanged(pki):
    async with started_emulator() as emulator:
        assert emulator.url.startswith("ws://")


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("server.pem", None, "wss:// needs both a TLS certificate and its private key"),
        (None, "server.key", "wss:// needs both a TLS certificate and its private key"),
        ("server.pem", "evil.key", "TLS certificate '{server.pem}' and key '{evil.key}' cannot be used"),
        ("server.key", "server.key", "TLS certificate '{server.key}' and key '{server.key}' cannot be used"),
        ("missing.pem", "server.key", "TLS certificate '{missing.pem}' or key '{server.key}': No such file"),
    ],
)
def test_unusable_certificate_or_key_is_named(pki, cert, key, message):
    path = lambda name: pki.path(name) if name else None  # noqa: E731
    expected = re.sub(r"\{([\w.-]+)\}", lambda m: pki.path(m.group(1)), message)
    with pytest.raises(ValueError, match=re.escape(expected)):
        DiffusionEmulator(tls_cert=path(cert), tls_key=path(key))


async def test_cli_serves_wss(pki):
    port = free_tcp_port()
    process = await asyncio.create_subprocess_exec(
        STREAMAPP, "diffusion-emulator", "--port", str(port),
        "--tls-cert", pki.path("server.pem"), "--tls-key", pki.path("server.key"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        banner = f"Diffusion emulator listening on wss://127.0.0.1:{port}"
        lines = []
        while banner not in lines:  # the echoed banner, after the INFO log line with the same words
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
            assert line, "".join(lines)
            lines.append(line.decode().strip())
        async with wss_session(f"wss://127.0.0.1:{port}", pki.path("ca.pem")) as session:
            await session.topics.add_and_set_topic("cli/tls", dt.STRING, "up")
            assert session.state.connected
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), TIMEOUT)


async def test_cli_needs_both_files_and_names_a_bad_pair(pki):
    async def run(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            STREAMAPP, "diffusion-emulator", "--port", str(free_tcp_port()), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
        return process.returncode, out.decode()

    code, out = await run("--tls-cert", pki.path("server.pem"))
    assert code == 2 and "--tls-cert and --tls-key go together" in out
    code, out = await run("--tls-cert", pki.path("server.pem"), "--tls-key", pki.path("evil.key"))
    assert code == 2 and f"TLS certificate '{pki.path('server.pem')}' and key '{pki.path('evil.key')}'" in out
