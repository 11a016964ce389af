"""Speed and memory targets, measured against baselines in the same run: `python -m benchmarks`.

A benchmark is a function with no arguments returning `Result` rows; every module
`benchmarks/bench_*.py` lists its benchmarks in a `BENCHMARKS` tuple and is picked up
by `python -m benchmarks` without further registration.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple


class Result(NamedTuple):
    """One measured number: `passed` is None when the row has no target (shown for context)."""

    name: str
    value: float
    unit: str
    target: str
    passed: bool | None


Benchmark = Callable[[], Iterable[Result]]


def at_least(name: str, value: float, unit: str, target: float) -> Result:
    return Result(name, value, unit, f">= {target:g}", value >= target)


def at_most(name: str, value: float, unit: str, target: float) -> Result:
    return Result(name, value, unit, f"<= {target:g}", value <= target)


def info(name: str, value: float, unit: str) -> Result:
    return Result(name, value, unit, "", None)


# A child's ru_maxrss starts at the RSS of the process that forked it (Linux keeps the high-water
# mark across fork and exec), so a measured child runs under a tiny launcher: the launcher's
# RUSAGE_CHILDREN then is the child's own peak and CPU time, not this (large) benchmark process's.
_LAUNCHER = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", *sys.argv[1:]], capture_output=True, text=True)
if done.returncode:
    sys.exit(f"{sys.argv[1]} failed ({done.returncode}): {done.stderr[-2000:]}")
report = json.loads(done.stdout.strip().splitlines()[-1])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
report.update(children_maxrss_kib=usage.ru_maxrss, children_cpu_s=usage.ru_utime + usage.ru_stime)
print(json.dumps(report))
"""


def measured_child(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module args...` in a fresh process; its last stdout line (JSON), plus its own peak RSS (KiB)
    and CPU seconds (user + system, imports included)."""
    root = Path(__file__).resolve().parent.parent  # where `-m benchmarks...` resolves
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, module, *args], cwd=root, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip() or f"{module} failed")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


__all__ = ["Benchmark", "Result", "at_least", "at_most", "info", "measured_child"]
