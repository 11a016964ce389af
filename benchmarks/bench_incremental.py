"""Night 366 against night 1: a year of published nights must not make a night slower or costlier.

A small fleet (16 endpoints, 2 accounts x 2 regions, 300 s periods, one day of lookback) is seeded on the first
night's days and on night 366's. Night 1 runs on an empty lake; then every partition it published is copied to the
364 nights after it (`benchmarks.lake_history`: the catalog's partitions, their objects, the runs log), and night
366 runs. Each night runs in a fresh process (`benchmarks.measured_child`), so both pay the same imports.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from benchmarks import Result, at_most, info, measured_child
from benchmarks.bench_night import config_text, seeded_stack
from benchmarks.lake_history import copy_night

FIRST = date(2026, 1, 1)
LAST = FIRST + timedelta(days=365)  # night 366
ENDPOINTS = 16
TARGET_RATIO = 1.2


def night_366() -> list[Result]:
    from pipelines.aws import lake_session
    from pipelines.config import load_config

    seeded = [FIRST - timedelta(days=1), FIRST, LAST - timedelta(days=1), LAST]
    with seeded_stack(ENDPOINTS, seeded) as url, tempfile.TemporaryDirectory(prefix="bench-incremental-") as folder:
        config_path = Path(folder) / "night.yaml"
        config_path.write_text(config_text(url, "bench-incremental-lake", period_seconds=300, lookback_days=1))
        first = measured_child("benchmarks.bench_night", "--night", str(config_path), "--date", FIRST.isoformat())
        config = load_config(config_path)
        session = lake_session(config.lake.region, config.endpoint_url)
        history = [FIRST + timedelta(days=i) for i in range(1, 365)]
        partitions = copy_night(session, config.lake, FIRST, history)
        last = measured_child("benchmarks.bench_night", "--night", str(config_path), "--date", LAST.isoformat())
    ok = first["ok"] and last["ok"]
    return [
        at_most(
            "night 366 / night 1: wall of the night (365 nights published)",
            last["night_seconds"] / first["night_seconds"],
            "ratio",
            TARGET_RATIO,
        ),
        at_most("night 366 / night 1: API calls", last["api_calls"] / first["api_calls"], "ratio", TARGET_RATIO),
        info("night 366 / night 1: CPU, whole process", last["children_cpu_s"] / first["children_cpu_s"], "ratio"),
        info("night 1: wall / API calls", first["night_seconds"], f"s / {first['api_calls']} calls"),
        info("night 366: wall / API calls", last["night_seconds"], f"s / {last['api_calls']} calls"),
        info("partitions in the lake before night 366", partitions + 0.0, "partitions"),
        info("both nights ok", float(ok), "bool"),
    ]


BENCHMARKS = (night_366,)
