"""Session-wide fixtures: real peers (Kafka broker, Diffusion emulator, CoAP servers) on free loopback ports."""

pytest_plugins = [
    "tests.fixtures.pki",
    "tests.fixtures.kafka",
    "tests.fixtures.kafka_security",
    "tests.fixtures.diffusion",
    "tests.fixtures.coap",
    "tests.fixtures.schema_registry",
]
