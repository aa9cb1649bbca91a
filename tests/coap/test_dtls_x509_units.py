"""Pure parts of the DTLS X.509 transport: packing records into datagrams, the aiocoap hook, settings checks."""

from __future__ import annotations

import inspect

import pytest
from aiocoap import Context
from aiocoap.messagemanager import MessageManager
from aiocoap.tokenmanager import TokenManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from streamapp.coap.dtls_x509 import X509Client, X509Settings, create_client_context
from streamapp.coap.dtls_x509.aiocoap_hook import HOOK
from streamapp.coap.dtls_x509.datagrams import pack_records
from streamapp.coap.dtls_x509.failures import (
    HandshakeTrace,
    alert_name,
    handshake_error,
)
from streamapp.coap.dtls_x509.transport import DtlsX509Interface


def record(size: int, kind: int = 22) -> bytes:
    """A DTLS record whose body is ``size`` bytes."""
    return bytes([kind, 0xFE, 0xFD]) + bytes(8) + size.to_bytes(2, "big") + bytes(size)


@pytest.mark.parametrize(
    ("sizes", "mtu", "expected"),
    [
        ([], 100, []),
        ([10], 100, [[10]]),
        ([10, 20, 30], 1000, [[10, 20, 30]]),  # all fit one datagram
        ([40, 40, 40], 110, [[40, 40], [40]]),  # 53 + 53 = 106 <= 110, a third would not fit
        ([40, 40], 106, [[40, 40]]),  # exactly the MTU
        ([40, 40], 105, [[40], [40]]),
        ([200, 10], 100, [[200], [10]]),  # a record above the MTU goes alone, whole
        ([10, 200, 10], 100, [[10], [200], [10]]),
        ([0, 0, 0], 26, [[0, 0], [0]]),  # empty records are 13-byte headers
    ],
)
def test_records_are_packed_whole_and_in_order(sizes, mtu, expected):
    data = b"".join(record(s) for s in sizes)
    datagrams = pack_records(data, mtu)
    assert datagrams == [b"".join(record(s) for s in group) for group in expected]
    assert b"".join(datagrams) == data


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (record(10)[:-1], "a DTLS record of 23 bytes is cut off after 22"),
        (record(10) + b"\x16\xfe", "2 bytes after the last DTLS record are not a record header"),
    ],
)
def test_bytes_that_are_not_whole_records_are_refused(data, problem):
    with pytest.raises(ValueError, match=problem):
        pack_records(data, 1000)


def test_the_private_aiocoap_hook_is_still_there_and_still_works_the_same():
    # If this fails, aiocoap changed how transports are added to a Context: adapt aiocoap_hook.py.
    method = getattr(Context, HOOK, None)
    assert method is not None, f"aiocoap.Context.{HOOK} is gone"
    assert list(inspect.signature(method).parameters) == ["self", "message_interface_constructor"]
    assert inspect.iscoroutinefunction(method)


async def test_created_context_routes_coaps_through_our_interface(pki):
    client = X509Client(_settings(pki))
    context = await create_client_context(client)
    try:
        [token_manager] = context.request_interfaces
        assert isinstance(token_manager, TokenManager)
        assert isinstance(token_manager.token_interface, MessageManager)
        interface = token_manager.token_interface.message_interface
        assert isinstance(interface, DtlsX509Interface) and interface.client is client
    finally:
        await context.shutdown()


def _settings(pki, **extra) -> X509Settings:
    chain = tuple(x509.load_pem_x509_certificates((pki.directory / "client-chain.pem").read_bytes()))
    key = serialization.load_pem_private_key((pki.directory / "client.key").read_bytes(), None)
    return X509Settings(chain, key, (pki.ca,), **extra)


def test_settings_refuse_a_chain_without_key_and_no_trust(pki):
    with pytest.raises(ValueError, match="a client certificate chain and its private key go together"):
        X509Settings((pki.client,), None, (pki.ca,))
    with pytest.raises(ValueError, match="needs at least one trusted certificate"):
        X509Settings((), None, ())


def test_openssl_refuses_a_key_of_another_certificate_and_unknown_ciphers(pki):
    other_key = serialization.load_pem_private_key((pki.directory / "server.key").read_bytes(), None)
    with pytest.raises(ValueError, match="the private key does not belong to the client certificate CN=coap sink"):
        X509Client(X509Settings((pki.client,), other_key, (pki.ca,), identity_source="keystore k.p12"))
    with pytest.raises(ValueError, match="OpenSSL knows none of the cipher suites 'NO-SUCH-SUITE'"):
        X509Client(_settings(pki, ciphers="NO-SUCH-SUITE"))


@pytest.mark.parametrize(
    ("states", "alert", "client", "kind", "words"),
    [
        (["SSLv3/TLS write client hello"], 40, True, "NoCommonCipherSuite", "in answer to the ClientHello"),
        (["SSLv3/TLS write client hello"], 70, True, "NoCommonCipherSuite", "protocol_version (70)"),
        (
            ["SSLv3/TLS read server hello", "SSLv3/TLS read server certificate request"],
            40,
            False,
            "ClientCertificateRejected",
            "requires a client certificate and none is configured",
        ),
        (["SSLv3/TLS read server hello"], 48, True, "ClientCertificateRejected", "rejected the client certificate"),
        (["SSLv3/TLS read server hello"], 116, False, "ClientCertificateRejected", "certificate_required (116)"),
        (["SSLv3/TLS read server hello"], 80, True, "DtlsHandshakeError", "the server sent alert internal_error (80)"),
        (["SSLv3/TLS read server hello"], None, True, "DtlsHandshakeError", "some reason"),
    ],
)
def test_handshake_failures_are_classified(pki, states, alert, client, kind, words):
    settings = _settings(pki) if client else X509Settings((), None, (pki.ca,))
    error = handshake_error("h:1", HandshakeTrace(states=states, alert_received=alert), settings, ["some reason"])
    assert type(error).__name__ == kind
    assert str(error).startswith("DTLS handshake with h:1 failed: ") and words in str(error)


def test_alert_names():
    assert alert_name(48) == "unknown_ca (48)"
    assert alert_name(250) == "unknown alert (250)"
