"""A whole night at fleet scale, end to end: extract -> stage -> audit -> publish -> views, in its own process.

The local stack runs in another process (seeded there), so the night's CPU time is the pipeline's own. The fleet:
ENDPOINTS endpoints across 2 accounts x 2 regions, each with 5 counters and 2 latencies published every minute for
a day; the night asks for Sum of every metric and p99 of the latencies at 60 s periods: 9 x 1,440 points per
endpoint (10.4 M points for 800 endpoints, 5,600 series). The night runs under a launcher that reads its peak RSS
and CPU time (`benchmarks.measured_child`).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import Result, at_least, at_most, info, measured_child

DAY = date(2026, 11, 20)
ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("us-east-1", "eu-west-1")
ENDPOINTS = 800
COUNTERS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationsPerInstance", "ModelSetupTime")
LATENCIES = ("ModelLatency", "OverheadLatency")
TARGET_M_POINTS_PER_CPU_S = 1.0
TARGET_PEAK_MIB = 1536
TARGET_AUDIT_SHARE = 0.25
# One GetMetricStatistics call per metric and statistic (a day at 300 s is 288 points, under its 1,440) against ours.
TARGET_FEWER_CALLS = 100.0


def serve(endpoints: int, days: list[date]) -> None:
    """Child: a local stack seeded with the fleet on `days`; prints its endpoint, serves until stdin closes."""
    import numpy as np

    from pipelines.localstack.server import LocalStack

    stack = LocalStack(now=datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6))
    url = stack.start()
    starts = [int(datetime.combine(day, datetime.min.time(), UTC).timestamp()) for day in days]
    ts = np.concatenate([start + 60 * np.arange(1440, dtype=np.int64) for start in starts])
    points = len(ts)
    rng = np.random.default_rng(1)
    places = [(account, region) for account in ACCOUNTS for region in REGIONS]
    for i in range(endpoints):
        account, region = places[i % len(places)]
        dims = {"EndpointName": f"ep-{i:05d}", "VariantName": "AllTraffic"}
        for metric in COUNTERS:
            stack.metric_store.put_series(
                account, region, "AWS/SageMaker", metric, dims, "None", ts, rng.poisson(50, points).astype(float)
            )
        for metric in LATENCIES:
            stack.metric_store.put_series(
                account,
                region,
                "AWS/SageMaker",
                metric,
                dims,
                "Microseconds",
                ts,
                rng.lognormal(10, 0.5, points),
                np.full(points, 50.0),
            )
    print(url, flush=True)
    sys.stdin.read()
    stack.stop()


def config_text(url: str, bucket: str, *, period_seconds: int = 60, lookback_days: int = 0) -> str:
    sources = "\n".join(
        f'  - account_id: "{account}"\n    role_arn: arn:aws:iam::{account}:role/Reader\n    regions: [{", ".join(REGIONS)}]'
        for account in ACCOUNTS
    )
    return f"""lake:
  region: {REGIONS[0]}
  bucket: {bucket}
  prefix: lake/
  database: bench
sources:
{sources}
cloudwatch:
  namespaces: [AWS/SageMaker]
  period_seconds: {period_seconds}
  statistics: [Sum]
  percentiles: [p99]
  lookback_days: {lookback_days}
log_patterns:
  enabled: false
endpoint_url: {url}
"""


def night(config_path: str, day: date = DAY) -> dict[str, Any]:
    """Child: night `day` of `config_path`, timed by phase. Prints JSON."""
    started_cpu, started = time.process_time(), time.perf_counter()
    from pipelines.audit.gate import audit_and_switch
    from pipelines.aws import PRICE_PER_METRIC_REQUESTED, PRICE_PER_REQUEST, lake_session
    from pipelines.config import load_config
    from pipelines.demo.buckets import create_bucket
    from pipelines.logs import configure_logging
    from pipelines.nightly import run_night
    from pipelines.query.local import LocalLakeEngine
    from pipelines.sources.cloudwatch_metrics.plan import minimum_calls

    configure_logging("WARNING")
    config = load_config(Path(config_path))
    session = lake_session(config.lake.region, config.endpoint_url)
    create_bucket(session, config.lake.bucket, config.lake.region)
    imported_cpu, imported = time.process_time(), time.perf_counter()
    audit = {"seconds": 0.0, "cpu": 0.0}

    def timed_gate(*args: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return audit_and_switch(*args)
        finally:
            audit["seconds"] += time.perf_counter() - wall
            audit["cpu"] += time.process_time() - cpu

    result = run_night(config, day, session=session, engine=LocalLakeEngine(session, config.lake), gate=timed_gate)
    accounts = result.landing("cloudwatch_metrics").accounts
    other = sum(n for k, n in result.api_calls.items() if k.startswith("CloudWatch.") and k != "CloudWatch.GetMetricData")
    planned = sum(metrics_requested(a.counts["queries"], a.counts["datapoints"]) for a in accounts if a.counts)
    return {
        "ok": result.ok,
        "points": sum(a.counts.get("datapoints", 0) for a in accounts),
        "series": sum(a.counts.get("series", 0) for a in accounts),
        "queries": sum(a.counts.get("queries", 0) for a in accounts),
        "minimum_calls": sum(minimum_calls(a.counts["queries"], a.counts["datapoints"]) for a in accounts if a.counts),
        "get_metric_data_calls": result.api_calls.get("CloudWatch.GetMetricData", 0),
        "api_calls": sum(result.api_calls.values()),
        "cost_usd": result.cloudwatch_cost_usd,
        "metrics_billed": round((result.cloudwatch_cost_usd - other * PRICE_PER_REQUEST) / PRICE_PER_METRIC_REQUESTED),
        "planned_cost_usd": planned * PRICE_PER_METRIC_REQUESTED + other * PRICE_PER_REQUEST,
        "night_seconds": time.perf_counter() - imported,
        "night_cpu_s": time.process_time() - imported_cpu,
        "startup_seconds": imported - started,
        "startup_cpu_s": imported_cpu - started_cpu,
        "audit_seconds": audit["seconds"],
        "audit_cpu_s": audit["cpu"],
    }


@contextmanager
def seeded_stack(endpoints: int, days: list[date]) -> Iterator[str]:
    """A local stack in its own process, seeded with `endpoints` on `days`; yields its endpoint URL."""
    stack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_night",
            "--serve",
            str(endpoints),
            "--days",
            ",".join(d.isoformat() for d in days),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert stack.stdout is not None
        yield stack.stdout.readline().strip()
    finally:
        if stack.stdin:
            stack.stdin.close()
        stack.wait(timeout=120)


def metrics_requested(queries: int, datapoints: int) -> int:
    """What CloudWatch bills for a night of `queries` alike queries, batched as the plan batches them: each call's
    queries, once per page it takes."""
    from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery, MetricSeries
    from pipelines.sources.cloudwatch_metrics.plan import MAX_POINTS_PER_CALL, batches

    if not queries:
        return 0
    per_query = datapoints // queries
    series = MetricSeries(ACCOUNTS[0], REGIONS[0], "AWS/SageMaker", "Invocations", (("EndpointName", "ep-00000"),))
    alike = [MetricQuery(f"q{i}", series, "Sum", 60) for i in range(queries)]
    return sum(len(b) * math.ceil(len(b) * per_query / MAX_POINTS_PER_CALL) for b in batches(alike, per_query))


def whole_night() -> list[Result]:
    """The fleet's night in a fresh process against a stack in another: points per CPU-second, peak RSS, the audit's share."""
    with seeded_stack(ENDPOINTS, [DAY]) as url, tempfile.TemporaryDirectory(prefix="bench-night-") as folder:
        config = Path(folder) / "night.yaml"
        config.write_text(config_text(url, "bench-night-lake"))
        child = measured_child("benchmarks.bench_night", "--night", str(config))
        default = Path(folder) / "default.yaml"  # the same fleet at the default night's shape: 300 s, a lookback day
        default.write_text(config_text(url, "bench-night-default", period_seconds=300, lookback_days=1))
        shaped = measured_child("benchmarks.bench_night", "--night", str(default))
    points, cpu = child["points"], child["children_cpu_s"]
    label = f"night of {points / 1e6:.1f} M points ({child['series']:,} series, 2 accounts x 2 regions)"
    return [
        at_least(
            f"{label}: points per CPU-second, whole process", points / cpu / 1e6, "M points/CPU-s", TARGET_M_POINTS_PER_CPU_S
        ),
        info(f"{label}: points per CPU-second, the night alone", points / child["night_cpu_s"] / 1e6, "M points/CPU-s"),
        info(f"{label}: CPU, whole process (imports {child['startup_cpu_s']:.1f} s)", cpu, "CPU-s"),
        info(f"{label}: wall, the night", child["night_seconds"], "s"),
        at_most(f"{label}: peak RSS", child["children_maxrss_kib"] / 1024, "MiB", TARGET_PEAK_MIB),
        at_most(
            f"{label}: audit's share of the night's wall",
            child["audit_seconds"] / child["night_seconds"],
            "ratio",
            TARGET_AUDIT_SHARE,
        ),
        info(f"{label}: audit wall", child["audit_seconds"], "s"),
        at_most(
            f"{label}: GetMetricData calls / minimum",
            child["get_metric_data_calls"] / max(child["minimum_calls"], 1),
            "ratio",
            1.0,
        ),
        info(
            f"{label}: GetMetricStatistics calls for the same data / GetMetricData calls (a page holds 70 one-day queries)",
            child["queries"] / child["get_metric_data_calls"],
            "x",
        ),
        at_most(
            f"same fleet, 300 s and a lookback day: GetMetricData calls / minimum ({shaped['get_metric_data_calls']} calls)",
            shaped["get_metric_data_calls"] / max(shaped["minimum_calls"], 1),
            "ratio",
            1.0,
        ),
        at_least(
            "same fleet, 300 s and a lookback day: GetMetricStatistics calls for the same data / GetMetricData calls",
            shaped["queries"] / max(shaped["get_metric_data_calls"], 1),
            "x",
            TARGET_FEWER_CALLS,
        ),
        info(f"{label}: estimated CloudWatch cost (printed in the run summary)", child["cost_usd"], "USD"),
        info(
            f"{label}: metrics billed / queries (CloudWatch bills a call's queries again on each page it takes)",
            child["metrics_billed"] / max(child["queries"], 1),
            "ratio",
        ),
        info(
            "same fleet, 300 s and a lookback day: metrics billed / queries",
            shaped["metrics_billed"] / max(shaped["queries"], 1),
            "ratio",
        ),
        at_most(
            f"{label}: |estimated cost - cost of the calls the plan makes| / the latter",
            abs(child["cost_usd"] - child["planned_cost_usd"]) / max(child["planned_cost_usd"], 1e-9),
            "ratio",
            0.001,
        ),
        info(f"{label}: night ok", float(child["ok"]), "bool"),
    ]


BENCHMARKS = (whole_night,)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="child processes of the whole-night benchmark")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--serve", type=int, metavar="ENDPOINTS", help="serve a local stack seeded with this many endpoints")
    group.add_argument("--night", metavar="CONFIG", help="run one night of this config and print its numbers as JSON")
    parser.add_argument("--days", default=DAY.isoformat(), help="with --serve: comma-separated days to seed")
    parser.add_argument("--date", type=date.fromisoformat, default=DAY, help="with --night: the night to run")
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, [date.fromisoformat(d) for d in args.days.split(",")])
    else:
        print(json.dumps(night(args.night, args.date)))


if __name__ == "__main__":
    main()
