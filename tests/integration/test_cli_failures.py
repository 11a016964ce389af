"""What a new user meets when AWS cannot be used: one line saying what happened and what to do, exit 3; the traceback
only with --log-level DEBUG. Real processes, real botocore: a port nobody listens on, an environment without credentials."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

LAKE = {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml"}
SOURCES = [{"account_id": "111111111111", "regions": ["us-east-1"]}]
NO_CREDENTIALS = {
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookup
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nobody listens there


def _mlmon(
    config: dict[str, object], tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "pipelines", *extra, "nightly", "--config", str(path), "--date", "2026-11-30"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_aws_unreachable_is_one_line_and_exit_3(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    done = _mlmon({"lake": LAKE, "sources": SOURCES, "endpoint_url": endpoint}, tmp_path)
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"error: cannot reach {endpoint}/: check the network and the region; for endpoint_url, is the local stack running?"
    ]
    debug = _mlmon({"lake": LAKE, "sources": SOURCES, "endpoint_url": endpoint}, tmp_path, "--log-level", "DEBUG")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "EndpointConnectionError" in debug.stderr


def test_no_credentials_is_one_line_and_exit_3(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | NO_CREDENTIALS
    done = _mlmon({"lake": LAKE, "sources": SOURCES}, tmp_path, env=env)
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "error: no AWS credentials (Unable to locate credentials): set AWS_PROFILE or run `aws sso login`; "
        "for the local stack set endpoint_url"
    ]
