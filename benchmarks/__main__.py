"""Run every benchmark, print each number against its target, and keep the results in out/bench.json."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

import benchmarks
from benchmarks import Benchmark, Result


def discover() -> list[Benchmark]:
    """The BENCHMARKS of every benchmarks/bench_*.py module, in module order."""
    found: list[Benchmark] = []
    for module in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if module.name.startswith("bench_"):
            found.extend(importlib.import_module(f"benchmarks.{module.name}").BENCHMARKS)
    return found


def render(results: list[Result]) -> str:
    """A plain-text table: one row per number, its target and PASS/FAIL (blank when informational)."""
    header = ("benchmark", "value", "unit", "target", "")
    rows = [header] + [
        (r.name, f"{r.value:,.3g}" if abs(r.value) < 1000 else f"{r.value:,.0f}", r.unit, r.target, _verdict(r)) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i in (0, 2, 3) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _verdict(result: Result) -> str:
    return "" if result.passed is None else ("PASS" if result.passed else "FAIL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", help="run only benchmarks whose function name contains this")
    parser.add_argument(
        "--out", type=Path, default=Path("out/bench.json"), help="where to write the results (default: out/bench.json)"
    )
    args = parser.parse_args(argv)
    results: list[Result] = []
    started = time.time()
    for bench in discover():
        if args.only and args.only not in bench.__name__:
            continue
        print(f"running {bench.__module__}.{bench.__name__} ...", file=sys.stderr, flush=True)
        results.extend(bench())
    print(render(results))
    failed = [r.name for r in results if r.passed is False]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "started_at": started,
        "seconds": round(time.time() - started, 1),
        "results": [r._asdict() for r in results],
        "passed": not failed,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{len(results) - len(failed)} of {len(results)} rows pass or are informational; written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
