"""One `mlmon demo` run per test session, shared by every e2e module (a night takes ~15 s).

The last night is pinned: the demo is a function of --seed, --days and --end, so the suite sees
the same lake on any day it runs. A Tuesday, so that three nights (Sunday..Tuesday) hold every
story the demo tells (tests/unit/test_fleet_stories.py shows which fit for other ends)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO_DAYS = 3
DEMO_END = "2026-11-24"  # a Tuesday


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "--log-level",
            "WARNING",
            "demo",
            "--days",
            str(DEMO_DAYS),
            "--end",
            DEMO_END,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{DEMO_DAYS} nights" in done.stdout
    (out.parent / "demo.stdout").write_text(done.stdout, encoding="utf-8")  # what the user saw, scanned by test_demo.py
    (out.parent / "demo.stderr").write_text(done.stderr, encoding="utf-8")
    return out
