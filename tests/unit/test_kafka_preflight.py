"""The worker's Kafka preflight: bootstrap parsing (settings), and the aiokafka function it connects with."""

from __future__ import annotations

import inspect

import pytest
from aiokafka.conn import create_conn

from streamapp.settings import load_settings


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("kafka://k1:9092;k2:9093", [("k1", 9092), ("k2", 9093)]),
        ("kafka://k1:9092,k2:9093", [("k1", 9092), ("k2", 9093)]),
        ("kafka://k1:9092;kafka://k2:9093", [("k1", 9092), ("k2", 9093)]),
        ("kafka://pkc-abc.eu-west-1.aws.confluent.cloud:9092/", [("pkc-abc.eu-west-1.aws.confluent.cloud", 9092)]),
        ("kafka://broker", [("broker", 9092)]),
        ("kafka://[::1]:9092", [("::1", 9092)]),
    ],
)
def test_bootstrap_servers_of_a_faust_broker_url(url, servers):
    assert load_settings(broker=url).bootstrap_servers() == servers


def test_aiokafka_still_connects_one_broker_with_the_settings_the_preflight_passes():
    # The preflight calls aiokafka.conn.create_conn (what AIOKafkaClient uses per broker) because the
    # client keeps the cause of a failed bootstrap to its log. If this fails, aiokafka changed it.
    parameters = inspect.signature(create_conn).parameters
    for name in (
        "client_id",
        "request_timeout_ms",
        "ssl_context",
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
    ):
        assert name in parameters, name
