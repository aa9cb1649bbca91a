"""wss:// sessions against the emulator serving TLS, driven by the official SDK: what is trusted and what is refused.

Trust settings come from connector configs (so the truststore files are read the way a worker
reads them), the session is a ``DiffusionConnection`` as the sink and source use it. Whether the
SDK really uses the SSL context it is given (``SessionFactory.ssl_context``, public since 6.11) is
what every refusal here checks: the SDK's own default context would connect to each of them.
"""

from __future__ import annotations

import base64
import logging

import diffusion.datatypes as dt
import pytest

from streamapp.diffusion.config import DiffusionSinkConfig
from streamapp.diffusion.connection import DiffusionConnection
from streamapp.diffusion.tls import TlsSettings
from tests.fixtures.diffusion import started_emulator, wait_until
from tests.fixtures.pki import STORE_PASSWORD, system_bundle

PASSWORD = "Tls-s3cret-5b2a"  # distinctive, to find it in any text it leaks into
TIMEOUT = 15.0
SETTLED = ("CONNECTED", "TLS_FAILED", "AUTH_FAILED")


def tls_config(url: str, **keys: str) -> DiffusionSinkConfig:
    return DiffusionSinkConfig.model_validate(
        {
            "name": "tls",
            "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
            "topics": "t",
            "diffusion.url": url,
            "diffusion.username": "admin",
            "diffusion.password": PASSWORD,
            "diffusion.destination": "tls/${key}",
            **keys,
        }
    )


async def settle(tls: TlsSettings, url: str) -> tuple[DiffusionConnection, str, str | None]:
    """A started connection once it connected or gave up for a reason that retrying does not change."""
    connection = DiffusionConnection(url, "admin", PASSWORD, name="tls", tls=tls, backoff_max=30.0)
    await connection.start()
    await wait_until(lambda: connection.state in SETTLED, timeout=TIMEOUT)
    return connection, connection.state, connection.last_error


def assert_no_password(*texts: str) -> None:
    encoded = base64.b64encode(b"\x01" + bytes([len(PASSWORD)]) + PASSWORD.encode()).decode()
    for text in texts:
        assert PASSWORD not in text and encoded not in text


@pytest.fixture
def stores(pki, jks_stores) -> dict[str, dict[str, str]]:
    """Truststore keys per store type; each holds the test CA (and the unrelated rogue CA)."""
    _, jks = jks_stores
    return {
        "PEM": {"diffusion.ssl.truststore.location": pki.path("ca.pem"), "diffusion.ssl.truststore.type": "PEM"},
        "JKS": {"diffusion.ssl.truststore.location": jks, "diffusion.ssl.truststore.password": STORE_PASSWORD},
        "JKS without password": {"diffusion.ssl.truststore.location": jks},  # read unchecked, as Java does
        "PKCS12": {
            "diffusion.ssl.truststore.location": pki.path("truststore.p12"),
            "diffusion.ssl.truststore.type": "PKCS12",
            "diffusion.ssl.truststore.password": STORE_PASSWORD,
        },
    }


@pytest.mark.parametrize("store", ["PEM", "JKS", "JKS without password", "PKCS12"])
async def test_private_ca_from_each_store_type(pki, stores, store, caplog):
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path("server.pem"), tls_key=pki.path("server.key")
    ) as emulator:
        assert emulator.url.startswith("wss://127.0.0.1:")
        cfg = tls_config(emulator.url, **stores[store])
        connection, state, error = await settle(cfg.tls, emulator.url)
        try:
            assert (state, error) == ("CONNECTED", None)
            session = await connection.session()
            await session.topics.add_and_set_topic("tls/check", dt.JSON, {"store": store})
            assert emulator.topic("tls/check") == ("json", {"store": store})
        finally:
            await connection.stop()
    assert_no_password(caplog.text)


async def test_system_trust_store(pki, monkeypatch, caplog):
    """No truststore keys: OpenSSL's default CA file, here a private copy of the machine's bundle plus the test CA."""
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path("server.pem"), tls_key=pki.path("server.key")
    ) as emulator:
        cfg = tls_config(emulator.url)
        assert cfg.tls == TlsSettings()  # nothing configured: the system trust store, host names checked

        connection, state, error = await settle(cfg.tls, emulator.url)
        await connection.stop()
        assert state == "TLS_FAILED"
        assert "untrusted issuer" in error and "the system trust store" in error
        assert "diffusion.ssl.truststore.location" in error  # what to set for a private CA
        assert emulator.session_count == 0

        monkeypatch.setenv("SSL_CERT_FILE", system_bundle(pki))
        connection, state, error = await settle(cfg.tls, emulator.url)
        try:
            assert (state, error) == ("CONNECTED", None)
            assert emulator.session_count == 1
        finally:
            await connection.stop()
    assert_no_password(caplog.text)


CASES = {
    # server certificate (with server.key unless evil), the reason named, a phrase of the explanation
    "untrusted self-signed": ("evil", "untrusted issuer", "self-signed"),
    "expired": ("server-expired", "expired certificate", "has expired"),
    "host mismatch": ("server-noip", "host mismatch", "not valid for '127.0.0.1'"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_refused_servers_get_no_session(pki, case, caplog):
    cert, reason, detail = CASES[case]
    key = "evil.key" if cert == "evil" else "server.key"
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path(f"{cert}.pem"), tls_key=pki.path(key)
    ) as emulator:
        cfg = tls_config(
            emulator.url,
            **{
                "diffusion.ssl.truststore.location": pki.path("truststore.p12"),
                "diffusion.ssl.truststore.type": "PKCS12",
                "diffusion.ssl.truststore.password": STORE_PASSWORD,
            },
        )
        connection, state, error = await settle(cfg.tls, emulator.url)
        await connection.stop()
        assert state == "TLS_FAILED"
        assert error.startswith(f"connector 'tls': TLS handshake with the Diffusion server at {emulator.url} failed")
        assert reason in error and detail in error
        assert "no credentials were sent" in error
        assert emulator.session_count == 0 and emulator.sessions() == []
    assert error in caplog.text  # logged as it is shown
    assert_no_password(error, caplog.text)


async def test_empty_endpoint_identification_skips_only_the_host_name_check(pki):
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path("server-noip.pem"), tls_key=pki.path("server.key")
    ) as emulator:
        keys = {"diffusion.ssl.truststore.location": pki.path("ca.pem"), "diffusion.ssl.truststore.type": "PEM"}
        cfg = tls_config(emulator.url, **keys, **{"diffusion.ssl.endpoint.identification.algorithm": ""})
        assert [w for w in cfg.config_warnings() if "host name" in w and emulator.url in w]
        connection, state, _ = await settle(cfg.tls, emulator.url)
        await connection.stop()
        assert state == "CONNECTED"  # the certificate names coap.example, not 127.0.0.1
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path("evil.pem"), tls_key=pki.path("evil.key")
    ) as emulator:
        cfg = tls_config(emulator.url, **keys, **{"diffusion.ssl.endpoint.identification.algorithm": ""})
        connection, state, error = await settle(cfg.tls, emulator.url)
        await connection.stop()
        assert state == "TLS_FAILED" and "untrusted issuer" in error  # the chain is still checked


async def test_wss_url_to_a_plain_ws_port(pki):
    async with started_emulator(principals={"admin": PASSWORD}) as emulator:
        url = emulator.url.replace("ws://", "wss://")
        connection, state, error = await settle(TlsSettings(), url)
        await connection.stop()
        assert state == "TLS_FAILED"
        assert f"at {url} failed" in error and "does not speak TLS on this port" in error


async def test_a_server_that_becomes_trusted_is_connected_without_a_restart(pki):
    """TLS_FAILED is retried (every diffusion.reconnect.backoff.max.ms): a renewed server certificate is picked up."""
    keys = {"diffusion.ssl.truststore.location": pki.path("ca.pem"), "diffusion.ssl.truststore.type": "PEM"}
    connection = None
    try:
        async with started_emulator(
            principals={"admin": PASSWORD}, tls_cert=pki.path("server-expired.pem"), tls_key=pki.path("server.key")
        ) as emulator:
            port = emulator.port
            cfg = tls_config(emulator.url, **keys)
            connection = DiffusionConnection(emulator.url, "admin", PASSWORD, name="tls", tls=cfg.tls, backoff_max=0.2)
            await connection.start()
            await wait_until(lambda: connection.state == "TLS_FAILED", timeout=TIMEOUT)
        async with started_emulator(
            port=port, principals={"admin": PASSWORD}, tls_cert=pki.path("server.pem"), tls_key=pki.path("server.key")
        ):
            await wait_until(lambda: connection.state == "CONNECTED", timeout=TIMEOUT)
            assert connection.last_error is None
    finally:
        if connection is not None:
            await connection.stop()


def test_the_context_verifies_by_default(pki):
    context = TlsSettings().client_context()
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    assert context.minimum_version.name == "TLSv1_2"
    relaxed = TlsSettings(check_hostname=False).client_context()
    assert relaxed.verify_mode.name == "CERT_REQUIRED" and not relaxed.check_hostname


async def test_sdk_debug_logs_do_not_show_the_password(pki, caplog):
    """Guard: the SDK logs its upgrade request's headers at DEBUG; the password header is hidden."""
    caplog.set_level(logging.DEBUG, logger="diffusion")
    async with started_emulator(
        principals={"admin": PASSWORD}, tls_cert=pki.path("server.pem"), tls_key=pki.path("server.key")
    ) as emulator:
        cfg = tls_config(
            emulator.url,
            **{"diffusion.ssl.truststore.location": pki.path("ca.pem"), "diffusion.ssl.truststore.type": "PEM"},
        )
        connection, state, _ = await settle(cfg.tls, emulator.url)
        await connection.stop()
    assert state == "CONNECTED"
    connecting = [r for r in caplog.records if r.name.startswith("diffusion.") and "Connecting." in r.getMessage()]
    assert connecting, "the SDK no longer logs 'Connecting.' with its headers: review sdk_internals.HEADER_LOGGERS"
    assert all('"password": "[hidden]"' in r.getMessage() for r in connecting)
    assert_no_password(caplog.text)
