"""`streamapp dev`: every part comes up on loopback, answers real clients, and stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import aiocoap
import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from diffusion.internal.protocol.exceptions import ServerConnectionResponseError

from tests.fixtures.dev_stack import start_dev, stop_dev, wait_line
from tests.fixtures.diffusion import diffusion_session
from tests.fixtures.net import free_tcp_port, free_udp_port

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_dev_stack_comes_up_answers_clients_and_stops_on_ctrl_c(tmp_path):
    broker, diff, coap, web = free_tcp_port(), free_tcp_port(), free_udp_port(), free_tcp_port()
    registry = free_tcp_port()
    proc, out = await start_dev(
        tmp_path,
        {
            "--broker-port": broker,
            "--diffusion-port": diff,
            "--coap-port": coap,
            "--web-port": web,
            "--registry-port": registry,
        },
        "--connectors",
        str(ROOT / "settings/connectors"),
    )
    try:
        ready = await wait_line(out, r"Ready in ([\d.]+)s", proc, timeout=120)
        print(f"streamapp dev ready in {ready.group(1)} s")
        text = out.read_text()
        assert f"Kafka broker       127.0.0.1:{broker}" in text
        assert f"Diffusion server   ws://127.0.0.1:{diff}" in text
        assert f"CoAP server        coap://127.0.0.1:{coap}" in text
        assert f"Schema Registry    http://127.0.0.1:{registry}" in text
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{registry}/subjects") as response:
                assert response.status == 200 and await response.json(content_type=None) == []
        assert f"Worker             http://127.0.0.1:{web}" in text
        worker_pid = int(re.search(r"\(pid (\d+),", text).group(1))

        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{broker}")
        await admin.start()
        try:
            topics = set(await admin.list_topics())
        finally:
            await admin.close()
        assert {"price", "coap_topic", "diffusion.price"} <= topics

        async with diffusion_session(f"ws://127.0.0.1:{diff}", "admin", "password", timeout=30) as session:
            assert session.state.connected
        with pytest.raises(ServerConnectionResponseError) as refused:
            async with diffusion_session(f"ws://127.0.0.1:{diff}", "admin", "wrong", timeout=30):
                pass
        assert refused.value.response_code.name == "AUTHENTICATION_FAILED"

        context = await aiocoap.Context.create_client_context()
        try:
            request = aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{coap}/.well-known/core")
            response = await asyncio.wait_for(context.request(request).response, 10)
        finally:
            await context.shutdown()
        assert response.code == aiocoap.CONTENT

        # Data moves: the sample Diffusion sink publishes the demo's Kafka prices to Diffusion kafka/price.
        await wait_line(out, r"demo: Kafka price [1-9]\d* sent -> Diffusion kafka/price [1-9]", proc, timeout=60)
    finally:
        code = await stop_dev(proc)
    assert code == 0, out.read_text()[-3000:]
    assert "stopping: web view, worker, Schema Registry, CoAP server, Diffusion emulator, broker" in out.read_text()
    assert not _alive(worker_pid)
    assert "Traceback" not in out.read_text()
