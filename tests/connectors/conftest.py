"""Helpers for connector tests: connector config files and a worker running them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


def write_connector(directory: Path, name: str, config: dict) -> Path:
    """A REST-payload connector file, as users POST them to Kafka Connect."""
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"name": name, "config": config}, indent=2))
    return path


def diffusion_sink_config(url: str, topics: str, destination: str, **extra: str) -> dict:
    return {
        "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "topics": topics,
        "diffusion.url": url,
        "diffusion.username": "admin",
        "diffusion.password": "password",
        "diffusion.destination": destination,
        **extra,
    }
