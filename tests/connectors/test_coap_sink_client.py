"""The CoAP sink's client side in-process: endpoints in parallel, responses and failures mapped to
errors that say what happened, and DTLS with a pre-shared key (right and wrong) against libcoap."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import pytest_asyncio
from aiocoap import Context, Message, resource
from aiocoap.numbers.codes import Code

from streamapp.coap import (
    CoapNetworkError,
    CoapResponseError,
    CoapTimeout,
    EndpointPool,
    RequestSpec,
    client_transports,
    dtls_psk_credentials,
    send,
)
from streamapp.coap.sink import resource_uri
from tests.fixtures.coap import libcoap_server
from tests.fixtures.net import free_udp_port

pytestmark = pytest.mark.filterwarnings("ignore:DTLS module did not shut down:UserWarning")

DELAY = 0.3


class Slow(resource.Resource):
    """Answers after DELAY seconds, counting how many requests it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.active = self.peak = 0
        self.types: list[str] = []

    async def render_put(self, request: Message) -> Message:
        self.types.append(str(request.mtype))
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(DELAY)
        finally:
            self.active -= 1
        return Message(code=Code.CHANGED)


class Refuse(resource.Resource):
    async def render_put(self, request: Message) -> Message:
        return Message(code=Code.BAD_REQUEST, payload=b"field 'x' is required")


@pytest_asyncio.fixture(scope="module")
async def server():
    site = resource.Site()
    slow = Slow()
    site.add_resource(["slow"], slow)
    site.add_resource(["refuse"], Refuse())
    port = free_udp_port()
    context = await Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
    try:
        yield f"coap://127.0.0.1:{port}", slow
    finally:
        await context.shutdown()


def test_resource_uri_encodes_segments_without_doubling_slashes():
    assert resource_uri("coap://h:5683", "unsecure") == "coap://h:5683/unsecure"
    assert resource_uri("coap://h:5683/", "/sensors/room 1/") == "coap://h:5683/sensors/room%201"
    assert resource_uri("coaps://h/base", "a/{b}?") == "coaps://h/base/a/%7Bb%7D%3F"


def test_request_spec_parses_the_uri_once_and_builds_each_message():
    spec = RequestSpec("coap://Sensors.example:5683/a/b%20c", method="POST", confirmable=False)
    message = spec.message(b'{"x": 1}')
    assert (str(message.code), message.opt.content_format, message.payload) == ("POST", 50, b'{"x": 1}')
    assert message.opt.uri_path == ("a", "b c") and message.opt.uri_host == "sensors.example"
    assert message.remote.hostinfo == "Sensors.example:5683" and message.transport_tuning.__name__ == "Unreliable"
    assert RequestSpec("coap://127.0.0.1/x").message(b"").opt.uri_host is None  # IP literals need no Uri-Host


def test_transport_per_uri():
    assert client_transports("coap://127.0.0.1:5683") == ["simple6"]
    assert client_transports("coap://example.org") == ["simple6"]
    assert client_transports("coap://224.0.1.187") == ["udp6"]
    assert client_transports("coaps://127.0.0.1:5684") == ["tinydtls"]


async def test_several_endpoints_carry_several_exchanges_at_once(server):
    uri, slow = server
    pool = EndpointPool(4, ["simple6"])
    spec = RequestSpec(f"{uri}/slow", timeout=5)
    try:
        started = time.perf_counter()
        codes = await asyncio.gather(*(send(pool, spec, b"{}") for _ in range(8)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    assert codes == ["2.04 Changed"] * 8
    assert slow.peak == 4  # as many exchanges in flight as endpoints, never more
    assert 2 * DELAY <= elapsed < 3 * DELAY  # 8 requests in two rounds, not eight
    assert pool.open_endpoints == 0


async def test_one_endpoint_is_one_exchange_at_a_time(server):
    uri, slow = server
    slow.peak = 0
    pool = EndpointPool(1, ["simple6"])
    try:
        await asyncio.gather(*(send(pool, RequestSpec(f"{uri}/slow"), b"{}") for _ in range(3)))
    finally:
        await pool.close()
    assert slow.peak == 1


async def test_refusal_names_the_code_and_quotes_the_payload(server):
    uri, _ = server
    pool = EndpointPool(2, ["simple6"])
    try:
        with pytest.raises(CoapResponseError) as info:
            await send(pool, RequestSpec(f"{uri}/refuse"), b"{}")
    finally:
        await pool.close()
    assert str(info.value) == f"PUT {uri}/refuse answered 4.00 Bad Request with payload \"field 'x' is required\""
    assert (info.value.code, info.value.payload) == ("4.00", b"field 'x' is required")


async def test_nobody_listening_is_a_network_error_at_once():
    port = free_udp_port()
    pool = EndpointPool(1, ["simple6"])
    try:
        started = time.perf_counter()
        with pytest.raises(
            CoapNetworkError, match=r"PUT coap://127\.0\.0\.1:\d+/x failed: \[Errno 111\] Connection refused"
        ):
            await send(pool, RequestSpec(f"coap://127.0.0.1:{port}/x", timeout=5), b"{}")
        assert time.perf_counter() - started < 1
    finally:
        await pool.close()


async def test_a_silent_server_times_out_and_the_endpoint_is_replaced():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        pool = EndpointPool(1, ["simple6"])
        await pool.start()
        try:
            with pytest.raises(CoapTimeout, match=rf"^POST coap://127\.0\.0\.1:{port}/x: no response within 0\.3 s$"):
                await send(pool, RequestSpec(f"coap://127.0.0.1:{port}/x", method="POST", timeout=0.3), b"{}")
            assert pool.open_endpoints == 0
        finally:
            await pool.close()


async def test_confirmable_or_not(server):
    uri, slow = server
    pool = EndpointPool(1, ["simple6"])
    try:
        slow.types.clear()
        assert await send(pool, RequestSpec(f"{uri}/slow", confirmable=False), b"{}") == "2.04 Changed"
        assert await send(pool, RequestSpec(f"{uri}/slow"), b"{}") == "2.04 Changed"
    finally:
        await pool.close()
    assert slow.types == ["NON", "CON"]


async def test_dtls_psk_right_and_wrong_key():
    async with libcoap_server("openssl", ["-k", "the-key"]) as server:
        uri = f"coaps://127.0.0.1:{server.port + 1}"
        right = EndpointPool(2, client_transports(uri), credentials=dtls_psk_credentials(uri, "me", "the-key"))
        wrong = EndpointPool(2, client_transports(uri), credentials=dtls_psk_credentials(uri, "me", "not-the-key"))
        try:
            assert await send(right, RequestSpec(f"{uri}/d", timeout=5, secure=True), b'{"a": 1}') == "2.01 Created"
            started = time.perf_counter()
            with pytest.raises(
                CoapTimeout,
                match=r"no response within 1 s; the DTLS handshake did not complete: "
                r"check the pre-shared key \(connect\.coap\.username is the PSK identity",
            ):
                await send(wrong, RequestSpec(f"{uri}/d", timeout=1, secure=True), b"{}")
            assert time.perf_counter() - started < 1.5
            # the next attempt starts a new handshake (a fixed key would work), and fails the same way
            with pytest.raises(CoapTimeout):
                await send(wrong, RequestSpec(f"{uri}/d", timeout=1, secure=True), b"{}")
        finally:
            await right.close()
            await wrong.close()
