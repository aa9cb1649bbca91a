"""Binary deltas as update streams send them (the JavaScript client's own deltas run in test_diffusion_clients)."""

from __future__ import annotations

import cbor2
import pytest

from streamapp.devstack.diffusion_emulator.deltas import InvalidDelta, apply_binary_delta

_LONG = bytes(range(256)) * 4


def _delta(*items: object) -> bytes:
    return b"".join(cbor2.dumps(item) for item in items)


@pytest.mark.parametrize(
    ("old", "delta", "new"),
    [
        (b"hello world", _delta(0, 6, b"there"), b"hello there"),
        (b"hello world", _delta(b">", 0, 11, b"<"), b">hello world<"),
        (b"abcdef", _delta(4, 2, 0, 4), b"efabcd"),  # matches may go backwards
        (b"abc", _delta(b"xyz"), b"xyz"),  # a whole new value
        (b"abc", _delta(b""), b""),
        (b"abc", b"\xf6", b"abc"),  # NO_CHANGE
        (b"", _delta(b"\x00\x01"), b"\x00\x01"),
        (
            bytes(range(256)) * 4,
            _delta(1000, 24, 0, 1000),
            (bytes(range(256)) * 4)[1000:] + (bytes(range(256)) * 4)[:1000],
        ),
    ],
)
def test_apply(old: bytes, delta: bytes, new: bytes) -> None:
    assert apply_binary_delta(old, delta) == new


@pytest.mark.parametrize(
    ("old", "delta", "message"),
    [
        (b"abc", _delta(2, 5), "outside the old value"),
        (b"abc", _delta(1), "length of a match"),
        (b"abc", _delta(0, "x"), "match length must be an integer"),
        (b"abc", _delta("text"), "unexpected str"),
        (b"abc", b"\x5f", "broke"),  # truncated indefinite byte string
        (b"abc", _delta(b"ok") + b"\xf6", "unexpected NoneType"),
    ],
)
def test_malformed_deltas_are_refused_with_the_reason(old: bytes, delta: bytes, message: str) -> None:
    with pytest.raises(InvalidDelta, match=message):
        apply_binary_delta(old, delta)
