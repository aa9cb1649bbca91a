"""The dev CoAP server, checked with aiocoap and libcoap clients, and the libcoap server fixture."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from aiocoap import Context, Message
from aiocoap.error import NetworkError
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat

from streamapp.devstack.coap_server import DevCoapServer, WaitTimeout, run_coap_server
from tests.fixtures.coap import LibcoapServer, libcoap_binary, libcoap_server
from tests.fixtures.net import free_udp_port

pytestmark = pytest.mark.timeout(60)

REQUEST_TIMEOUT = 10


async def _request(client: Context, code: Code, uri: str, payload: bytes = b"", **options: object) -> Message:
    message = Message(code=code, uri=uri, payload=payload, **options)
    return await asyncio.wait_for(client.request(message).response, REQUEST_TIMEOUT)


async def _run(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), REQUEST_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode()


async def test_well_known_core_lists_created_resources(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    response = await _request(coap_client, Code.GET, f"{coap_server.uri}/.well-known/core")
    assert response.code == Code.CONTENT
    assert response.opt.content_format == ContentFormat.LINKFORMAT
    assert "</.well-known/core>" in response.payload.decode()

    await _request(coap_client, Code.PUT, coap_server.uri + unique_coap_path, b"{}", content_format=ContentFormat.JSON)
    links = (await _request(coap_client, Code.GET, f"{coap_server.uri}/.well-known/core")).payload.decode()
    assert f'<{unique_coap_path}>;obs;ct="50"' in links.split(",")


async def test_put_creates_then_changes_and_get_returns_payload_and_format(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    uri = coap_server.uri + unique_coap_path
    first = await _request(coap_client, Code.PUT, uri, b'{"t":1}', content_format=ContentFormat.JSON)
    second = await _request(coap_client, Code.PUT, uri, b'{"t":2}', content_format=ContentFormat.JSON)
    assert (first.code, second.code) == (Code.CREATED, Code.CHANGED)

    got = await _request(coap_client, Code.GET, uri)
    assert got.code == Code.CONTENT
    assert got.payload == b'{"t":2}'
    assert got.opt.content_format == ContentFormat.JSON
    assert coap_server.received(unique_coap_path) == [b'{"t":1}', b'{"t":2}']
    assert coap_server.last(unique_coap_path.lstrip("/")) == b'{"t":2}'


async def test_post_stores_like_put(coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str) -> None:
    uri = coap_server.uri + unique_coap_path
    response = await _request(coap_client, Code.POST, uri, b"hello", content_format=ContentFormat.TEXT)
    assert response.code == Code.CREATED
    assert await coap_server.wait_for(unique_coap_path, count=1, timeout=5) == [b"hello"]
    got = await _request(coap_client, Code.GET, uri)
    assert (got.payload, got.opt.content_format) == (b"hello", ContentFormat.TEXT)


async def test_blockwise_put_is_stored_whole(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    payload = bytes(range(256)) * 20  # 5 KiB: aiocoap sends it in 1 KiB blocks
    uri = coap_server.uri + unique_coap_path
    assert (await _request(coap_client, Code.PUT, uri, payload)).code == Code.CREATED
    assert coap_server.received(unique_coap_path) == [payload]
    assert (await _request(coap_client, Code.GET, uri)).payload == payload


async def test_unknown_path_is_not_found_and_delete_is_not_allowed(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    uri = coap_server.uri + unique_coap_path
    assert (await _request(coap_client, Code.GET, uri)).code == Code.NOT_FOUND
    await _request(coap_client, Code.PUT, uri, b"x")
    assert (await _request(coap_client, Code.DELETE, uri)).code == Code.METHOD_NOT_ALLOWED
    assert (await _request(coap_client, Code.PUT, f"{coap_server.uri}/.well-known/core", b"x")).code == (
        Code.METHOD_NOT_ALLOWED
    )


async def test_observer_is_notified_of_a_later_put(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    uri = coap_server.uri + unique_coap_path
    await _request(coap_client, Code.PUT, uri, b"before")
    observe = coap_client.request(Message(code=Code.GET, uri=uri, observe=0))
    try:
        first = await asyncio.wait_for(observe.response, REQUEST_TIMEOUT)
        assert (first.payload, first.opt.observe) == (b"before", 0)
        notifications = aiter(observe.observation)

        await _request(coap_client, Code.PUT, uri, b"after", content_format=ContentFormat.TEXT)
        notification = await asyncio.wait_for(anext(notifications), REQUEST_TIMEOUT)
        assert notification.payload == b"after"
        assert notification.opt.content_format == ContentFormat.TEXT
        assert notification.opt.observe and notification.opt.observe > 0
    finally:
        observe.observation.cancel()


async def test_fail_with_answers_that_code_until_cleared(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    uri = coap_server.uri + unique_coap_path
    other = f"{uri}-other"

    coap_server.fail_with(Code.SERVICE_UNAVAILABLE, path=unique_coap_path)
    assert (await _request(coap_client, Code.PUT, uri, b"rejected")).code == Code.SERVICE_UNAVAILABLE
    assert (await _request(coap_client, Code.PUT, other, b"fine")).code == Code.CREATED

    coap_server.fail_with("4.00")  # every path; the path-specific failure still wins on its path
    assert (await _request(coap_client, Code.PUT, other, b"rejected")).code == Code.BAD_REQUEST
    assert (await _request(coap_client, Code.GET, uri)).code == Code.SERVICE_UNAVAILABLE

    coap_server.clear_failures()
    assert (await _request(coap_client, Code.PUT, uri, b"accepted")).code == Code.CREATED
    assert coap_server.received(unique_coap_path) == [b"accepted"]
    rejected = [r for r in coap_server.history if r.path == unique_coap_path and r.injected]
    assert [(r.method, r.payload, r.injected) for r in rejected] == [
        ("PUT", b"rejected", Code.SERVICE_UNAVAILABLE),
        ("GET", b"", Code.SERVICE_UNAVAILABLE),
    ]
    with pytest.raises(ValueError):
        coap_server.fail_with(Code.CONTENT)


async def test_wait_for_times_out_with_what_arrived(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    await _request(coap_client, Code.PUT, coap_server.uri + unique_coap_path, b"one")
    with pytest.raises(WaitTimeout, match="expected 2 payload") as caught:
        await coap_server.wait_for(unique_coap_path, count=2, timeout=0.3)
    assert caught.value.received == [b"one"]


async def test_wait_for_wakes_on_arrival(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str
) -> None:
    waiter = asyncio.create_task(coap_server.wait_for(unique_coap_path, count=2, timeout=10))
    for payload in (b"a", b"b"):
        await _request(coap_client, Code.POST, coap_server.uri + unique_coap_path, payload)
    assert await asyncio.wait_for(waiter, 5) == [b"a", b"b"]


async def test_requests_are_logged(
    coap_server: DevCoapServer, coap_client: Context, unique_coap_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="streamapp.devstack.coap_server"):
        await _request(
            coap_client, Code.PUT, coap_server.uri + unique_coap_path, b'{"x":1}', content_format=ContentFormat.JSON
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "streamapp.devstack.coap_server"]
    assert any(line.startswith(f"PUT {unique_coap_path} ct=50 7 bytes") and '{"x":1}' in line for line in lines)


async def test_stop_and_restart_on_the_same_port_keeps_resources(coap_client: Context) -> None:
    server = DevCoapServer(port=free_udp_port())
    async with server:
        await _request(coap_client, Code.PUT, f"{server.uri}/kept", b"v1")
    assert not server.running
    # Down: the client's request fails (ICMP port unreachable surfaces as a NetworkError).
    with pytest.raises(NetworkError):
        await _request(coap_client, Code.GET, f"{server.uri}/kept")

    async with server:
        got = await _request(coap_client, Code.GET, f"{server.uri}/kept")
        assert got.payload == b"v1"
        assert (await _request(coap_client, Code.PUT, f"{server.uri}/kept", b"v2")).code == Code.CHANGED
    assert server.received("/kept") == [b"v1", b"v2"]


async def test_run_coap_server_serves_until_cancelled(coap_client: Context) -> None:
    ready: asyncio.Future[DevCoapServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_coap_server("127.0.0.1", free_udp_port(), on_ready=ready.set_result))
    server = await asyncio.wait_for(ready, 10)
    assert (await _request(coap_client, Code.PUT, f"{server.uri}/r", b"x")).code == Code.CREATED
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not server.running


async def test_libcoap_client_puts_and_gets_against_our_server(
    coap_server: DevCoapServer, unique_coap_path: str
) -> None:
    client = libcoap_binary("client", "notls")
    uri = coap_server.uri + unique_coap_path
    rc, out = await _run(client, "-m", "put", "-e", '{"from":"libcoap"}', "-t", "50", "-B", "5", uri)
    assert rc == 0, out
    assert await coap_server.wait_for(unique_coap_path, timeout=5) == [b'{"from":"libcoap"}']

    rc, out = await _run(client, "-m", "get", "-B", "5", uri)
    assert rc == 0, out
    assert out.strip() == '{"from":"libcoap"}'
    methods = [(r.method, r.content_format) for r in coap_server.history if r.path == unique_coap_path]
    assert methods == [("PUT", 50), ("GET", None)]


async def test_aiocoap_puts_and_gets_against_libcoap_server(
    libcoap_notls_server: LibcoapServer, coap_client: Context
) -> None:
    base = libcoap_notls_server.uri
    links = await _request(coap_client, Code.GET, f"{base}/.well-known/core")
    assert links.code == Code.CONTENT and b"</time>" in links.payload

    uri = f"{base}/sensors/temp"
    created = await _request(coap_client, Code.PUT, uri, b'{"c":21.5}', content_format=ContentFormat.JSON)
    assert created.code == Code.CREATED
    changed = await _request(coap_client, Code.PUT, uri, b'{"c":22.0}', content_format=ContentFormat.JSON)
    assert changed.code == Code.CHANGED
    got = await _request(coap_client, Code.GET, uri)
    assert got.code == Code.CONTENT
    assert got.payload == b'{"c":22.0}'


async def test_libcoap_server_context_manager_ends_the_process() -> None:
    async with libcoap_server("notls") as server:
        pid = server.pid
        assert server.process.returncode is None
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
