"""Wire encodings, topic rules and handshake edge cases of the Diffusion emulator.

Where possible the SDK's own parsers are the oracle: if the SDK decodes what the emulator
encodes, the bytes are right.
"""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import diffusion.datatypes as dt
import pytest
from diffusion.internal.protocol import Protocol, ResponseCode, ServerConnectionResponseError
from diffusion.internal.protocol.properties import Transform
from diffusion.internal.session.credentials import Credentials as SdkCredentials

from streamapp.devstack.diffusion_emulator import wire
from streamapp.devstack.diffusion_emulator.codes import ConnectionResponseCode, ErrorReason
from streamapp.devstack.diffusion_emulator.handshake import ConnectionRequest, parse_properties
from streamapp.devstack.diffusion_emulator.security import Authenticator, Principal
from streamapp.devstack.diffusion_emulator.selectors import parse_selector
from streamapp.devstack.diffusion_emulator.session import EmulatedSession
from streamapp.devstack.diffusion_emulator.topics import (
    InvalidTopicPath,
    InvalidValue,
    Topic,
    canonical_path,
    validate_value,
)
from tests.fixtures.diffusion import diffusion_session, wait_until

# --- primitives ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bits", "encoded"),
    [
        (0, 64, "00"),
        (118, 32, "76"),
        (127, 32, "7f"),
        (128, 32, "8001"),
        (500, 32, "f403"),
        (9012, 32, "b446"),
        (-1, 32, "ffffffff0f"),
        (-1, 64, "ffffffffffffffffff01"),
    ],
)
def test_varint_is_twos_complement_leb128(value: int, bits: int, encoded: str) -> None:
    assert wire.encode_varint(value, bits).hex() == encoded
    assert wire.Reader(bytes.fromhex(encoded)).varint(bits) == value


def test_reader_refuses_truncated_frames() -> None:
    with pytest.raises(wire.ProtocolDecodeError):
        wire.Reader(b"\x05ab").string()
    with pytest.raises(wire.ProtocolDecodeError):
        wire.Reader(b"\x80").varint()


def test_string_map_round_trip() -> None:
    encoded = wire.encode_string_map({"DONT_RETAIN_VALUE": "True", "é": "ü"})
    assert wire.Reader(encoded).string_map() == {"DONT_RETAIN_VALUE": "True", "é": "ü"}


@pytest.mark.parametrize(
    ("header", "kind", "data"),
    [
        ("AQhwYXNzd29yZA==", 1, b"password"),
        (SdkCredentials("bar").password, 1, b"bar"),
        (SdkCredentials(b"token").password, 2, b"token"),
        ("", 0, b""),
    ],
)
def test_credentials_header_decodes_what_the_sdk_sends(header: str, kind: int, data: bytes) -> None:
    creds = wire.decode_credentials(header)
    assert (creds.kind, creds.data) == (kind, data)
    assert "password" not in repr(creds)


def test_session_properties_header_round_trips_the_sdk_encoding() -> None:
    props = {"$Environment": "PYTHON_cpython_3.11.7", "quote": 'say "hi"', "tab": "a\tb", "k": "v"}
    assert wire.parse_session_properties(Transform.map_to_string(props)) == props


# --- frames, checked against the doc's observed bytes and the SDK's parser -----------------------


def test_connection_response_is_55_bytes_and_parsed_by_the_sdk() -> None:
    frame = wire.connection_response(0xABC, 7, b"A" * 24, 30_000, 1 << 20, version=25)
    assert len(frame) == 55
    parsed = Protocol.parse_response(frame)
    assert str(parsed.session_id) == "0000000000000abc-0000000000000007"
    assert (parsed.ping_period, parsed.maximum_message_size) == (30_000, 1 << 20)
    assert parsed.response_code is ResponseCode.OK


@pytest.mark.parametrize(
    ("code", "sdk_code"),
    [
        (ConnectionResponseCode.AUTHENTICATION_FAILED, ResponseCode.AUTHENTICATION_FAILED),
        (ConnectionResponseCode.UNKNOWN_SESSION, ResponseCode.UNKNOWN_SESSION),
        (ConnectionResponseCode.REJECTED_SERVER_INITIALISING, ResponseCode.REJECTED_SERVER_INITIALISING),
    ],
)
def test_rejection_is_three_bytes_the_sdk_raises_on(code: int, sdk_code: ResponseCode) -> None:
    frame = wire.connection_rejected(code, version=25)
    assert frame == bytes((0x23, 25, code))
    with pytest.raises(ServerConnectionResponseError) as info:
        Protocol.parse_response(frame)
    assert info.value.response_code is sdk_code


def test_service_error_frame_matches_observed_bytes() -> None:
    msg = "Update type is incompatible with topic type"
    frame = wire.service_error(5, ErrorReason.INCOMPATIBLE_UPDATE, msg)
    text = msg.encode()
    assert frame == b"\x07\x05\x2b" + text + b"\xf4\x03\x2b" + text


def test_topic_value_frame_uses_fixed_four_byte_id() -> None:
    value = dt.JSON({"px": 2}).to_bytes()
    assert wire.topic_value(1, value).hex() == "0400000001" + value.hex()
    assert value.hex() == "bf62707802ff"


def test_responses_and_requests_frame_layout() -> None:
    assert wire.service_response(6) == b"\x06\x06"
    assert wire.service_response(1, b"\x00") == b"\x06\x01\x00"
    assert wire.service_request(55, 3) == b"\x00\x37\x03"


# --- topic rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "canonical"),
    [("a", "a"), ("a/b", "a/b"), ("/a/b", "a/b"), ("a/b/", "a/b"), ("x/Diffusion", "x/Diffusion"), ("€/ü", "€/ü")],
)
def test_canonical_paths(path: str, canonical: str) -> None:
    assert canonical_path(path) == canonical


@pytest.mark.parametrize("path", ["", "/", "//", "a//b", "/a//", "Diffusion", "Diffusion/x", "/Diffusion/x"])
def test_invalid_paths(path: str) -> None:
    with pytest.raises(InvalidTopicPath):
        canonical_path(path)


@pytest.mark.parametrize(
    ("data_type", "value"),
    [
        (dt.JSON, {"p": 1.5, "s": "x", "l": [1, None, True]}),
        (dt.JSON, None),
        (dt.STRING, "hi"),
        (dt.STRING, None),
        (dt.INT64, -(2**63) + 1),  # the SDK refuses -2**63 itself
        (dt.INT64, 2**63 - 1),
        (dt.INT64, None),
        (dt.DOUBLE, 1.5),
        (dt.DOUBLE, -1e300),
        (dt.DOUBLE, None),
        (dt.BINARY, b"\x00\xff"),
    ],
)
def test_validate_accepts_every_sdk_encoding(data_type: type, value: object) -> None:
    encoded = data_type(value).to_bytes()
    assert validate_value(data_type.type_code, encoded) == value


@pytest.mark.parametrize(
    ("data_type", "encoded"),
    [
        (dt.JSON, b""),
        (dt.JSON, b"\xbf\x61"),  # truncated map
        (dt.JSON, b"\x01\x02"),  # two data items
        (dt.STRING, dt.INT64(1).to_bytes()),
        (dt.INT64, dt.STRING("1").to_bytes()),
        (dt.INT64, dt.DOUBLE(1.5).to_bytes()),
        (dt.DOUBLE, dt.STRING("1.5").to_bytes()),
    ],
)
def test_validate_rejects_wrong_values(data_type: type, encoded: bytes) -> None:
    with pytest.raises(InvalidValue):
        validate_value(data_type.type_code, encoded)


def test_properties_compare_booleans_case_insensitively() -> None:
    topic = Topic("a", dt.STRING.type_code, {"DONT_RETAIN_VALUE": "True"})
    assert topic.same_specification(dt.STRING.type_code, {"DONT_RETAIN_VALUE": "true"})
    assert not topic.same_specification(dt.STRING.type_code, {})
    assert not topic.same_specification(dt.JSON.type_code, {"DONT_RETAIN_VALUE": "True"})
    assert not topic.retains_value


# --- selections and security ---------------------------------------------------------------------


def test_last_matching_selection_decides() -> None:
    session = EmulatedSession(1, 1, Principal("admin"), protocol_version=25)
    session.add_selection(True, parse_selector("?a//"))
    session.add_selection(False, parse_selector(">a/b"))
    assert session.selects("a/c")
    assert not session.selects("a/b")
    # Subscribing the same selector again moves it last, so it wins over the unsubscription.
    session.add_selection(True, parse_selector("?a//"))
    assert session.selects("a/b")
    assert [s for s, _ in session.info().selections] == ["unsubscribe", "subscribe"]


def test_unsubscribing_everything_leaves_no_selections() -> None:
    session = EmulatedSession(1, 1, Principal("admin"), protocol_version=25)
    session.add_selection(False, parse_selector("?x//"))
    session.add_selection(True, parse_selector(">a"))
    session.add_selection(False, parse_selector(">a"))
    assert session.info().selections == ()
    assert not session.selects("a")


def test_authenticator() -> None:
    auth = Authenticator(None, allow_anonymous=False)
    ok = wire.decode_credentials(SdkCredentials("password").password)
    bad = wire.decode_credentials(SdkCredentials("nope").password)
    custom = wire.decode_credentials(SdkCredentials(b"password").password)
    assert auth.authenticate("admin", ok) == Principal("admin")
    assert auth.authenticate("control", ok) == Principal("control")
    assert auth.authenticate("admin", bad) is None
    assert auth.authenticate("admin", custom) is None
    assert auth.authenticate("operator", ok) is None
    assert auth.authenticate("", wire.decode_credentials("")) is None
    assert Authenticator({}, allow_anonymous=True).authenticate("", wire.decode_credentials("")).anonymous


# --- raw handshakes (what the SDK never sends, but other clients might) ---------------------------


async def _raw_handshake(url: str, headers: dict[str, str]) -> bytes:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/diffusion", headers=headers) as ws:
        msg = await asyncio.wait_for(ws.receive(), 5)
        return msg.data


@pytest.mark.parametrize("version", ["24", "30", "", "x"])
async def test_handshake_with_unspoken_protocol_version_is_a_protocol_error(diffusion_emulator, version) -> None:
    # Answered with the newest version spoken, which a client reports as a version mismatch.
    data = await _raw_handshake(diffusion_emulator.url, {"v": version, "username": "admin"})
    assert data == bytes((0x23, 29, ConnectionResponseCode.CONNECTION_PROTOCOL_ERROR))


async def test_handshake_resuming_a_session_gets_unknown_session(diffusion_emulator) -> None:
    headers = {"v": "25", "c": "A" * 24, "cs": "1", "ss": "1", "username": "admin"}
    data = await _raw_handshake(diffusion_emulator.url, headers)
    assert data == bytes((0x23, 25, ConnectionResponseCode.UNKNOWN_SESSION))


async def test_plain_http_get_is_told_to_upgrade(diffusion_emulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{diffusion_emulator.url}/diffusion") as response:
            assert response.status == 426
            assert "WebSocket" in await response.text()


async def test_base_url_with_a_path_prefix_is_served(diffusion_emulator) -> None:
    # The SDK joins "diffusion" onto the base URL: "ws://h:p/prefix/" -> "/prefix/diffusion".
    async with diffusion_session(f"{diffusion_emulator.url}/prefix/") as session:
        await asyncio.wait_for(session.ping_server(), 5)
        assert session.state.connected


async def test_malformed_and_unknown_requests_get_service_errors_and_the_session_survives(diffusion_emulator) -> None:
    headers = {"v": "25", "ca": "10", "username": "admin", "password": "AQhwYXNzd29yZA==", "ty": "PY"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{diffusion_emulator.url}/diffusion", headers=headers) as ws,
    ):
        handshake = await asyncio.wait_for(ws.receive_bytes(), 5)
        assert len(handshake) == 55 and handshake[2] == ConnectionResponseCode.OK

        async def request(frame: bytes) -> tuple[int, int, str]:
            await ws.send_bytes(frame)
            reply = wire.Reader(await asyncio.wait_for(ws.receive_bytes(), 5))
            kind, cid = reply.byte(), reply.varint()
            if kind == 6:
                return kind, cid, ""
            message, reason = reply.string(), reply.varint(32)
            assert reply.string() == message
            return reason, cid, message

        # SET_TOPIC whose path claims 5 bytes but carries 2.
        assert await request(b"\x00\x76\x01\x05ab") == (
            ErrorReason.INVALID_DATA,
            1,
            "Malformed SET_TOPIC request: frame ended early (expected 5 bytes)",
        )
        reason, cid, message = await request(b"\x00" + wire.encode_varint(200) + b"\x02")
        assert (reason, cid) == (ErrorReason.UNSUPPORTED, 2) and "service-200" in message
        await ws.send_bytes(b"\x63")  # unknown message type: ignored
        assert await request(b"\x00\x38\x03") == (6, 3, "")  # USER_PING still answered


async def test_handshake_parameters_in_the_query_string_as_the_javascript_client_sends_them(diffusion_emulator) -> None:
    password = base64.b64encode(b"\x01\x08password").decode()
    query = f"ty=WB&v=29&ca=8&r=60000&sp=%7B%22a%22%3A%22b%22%7D&username=admin&password={password}"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{diffusion_emulator.url}/diffusion?{query}") as ws,
    ):
        data = (await asyncio.wait_for(ws.receive(), 5)).data
        assert (len(data), data[:3]) == (55, bytes((0x23, 29, ConnectionResponseCode.OK)))
        await wait_until(lambda: any(s.client_type == "WB" for s in diffusion_emulator.sessions()))
        (info,) = [s for s in diffusion_emulator.sessions() if s.client_type == "WB"]
        assert (info.principal, info.protocol_version, info.properties) == ("admin", 29, {"a": "b"})


def test_headers_win_over_the_query_string() -> None:
    request = ConnectionRequest.from_http({"v": "25", "username": "a"}, {"v": "29", "username": "b", "ty": "WB"})
    assert (request.version, request.username, request.client_type) == ("25", "a", "WB")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"k":"v","n":1}', {"k": "v", "n": "1"}),
        ('"k","v"', {"k": "v"}),
        ("{not json", {}),
        ("", {}),
    ],
)
def test_session_properties_in_either_clients_format(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected
