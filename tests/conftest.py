"""Shared fixtures: one real AWS emulator server for the session, wiped before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

# Tests must never reach a real account by accident.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def _server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def endpoint_url(_server: str) -> str:
    """The emulator's endpoint, with all state wiped."""
    requests.post(f"{_server}/moto-api/reset", timeout=30).raise_for_status()
    return _server
