"""Speed and memory targets, measured against baselines in the same run: `python -m benchmarks`.

A benchmark is a function with no arguments returning `Result` rows; every module
`benchmarks/bench_*.py` lists its benchmarks in a `BENCHMARKS` tuple and is picked up
by `python -m benchmarks` without further registration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple


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


__all__ = ["Benchmark", "Result", "at_least", "at_most", "info"]
