"""One `mlmon demo` run per test session, shared by every e2e module (a night takes ~15 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO_DAYS = 3


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "--log-level", "WARNING", "demo", "--days", str(DEMO_DAYS), "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{DEMO_DAYS} nights" in done.stdout
    return out
