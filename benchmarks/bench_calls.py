"""GetMetricData calls per night against the theoretical minimum, on the demo fleet in the local stack."""

from __future__ import annotations

import math
from datetime import date, timedelta

from benchmarks import Result, at_most, info
from pipelines.aws import lake_session
from pipelines.demo.buckets import create_bucket
from pipelines.demo.fleet import fleet_for_nights
from pipelines.demo.run import demo_config, morning_after
from pipelines.demo.seed_cloudwatch_metrics import seed_metrics
from pipelines.localstack.server import LocalStack
from pipelines.logs import configure_logging
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from pipelines.sources.cloudwatch_metrics.plan import minimum_calls

NIGHTS = 3
LAST_NIGHT = date(2026, 11, 24)  # any date gives the same counts: the stack's clock stands the morning after
TARGET_RATIO = 1.0


def _calls_per_night(period_seconds: int, lookback_days: int, nights: list[date]) -> tuple[int, int, int, int]:
    """(GetMetricData calls made, theoretical minimum, datapoints, queries) over `nights`."""
    with LocalStack(now=morning_after(nights[-1])) as stack:
        fleet = fleet_for_nights(7, nights[-1], len(nights), lookback_days)
        config = demo_config(stack.endpoint_url, fleet)
        config = config.model_copy(
            update={
                "cloudwatch": config.cloudwatch.model_copy(
                    update={"period_seconds": period_seconds, "lookback_days": lookback_days}
                )
            }
        )
        session = lake_session(config.lake.region, config.endpoint_url)
        create_bucket(session, config.lake.bucket, config.lake.region)
        seed_metrics(stack.metric_store, fleet)
        made = minimum = points = queries = 0
        for night in nights:
            before = session.calls.snapshot().get("CloudWatch.GetMetricData", 0)
            result = run_night(config, night, session=session, engine=LocalLakeEngine(session, config.lake))
            made += session.calls.snapshot()["CloudWatch.GetMetricData"] - before
            accounts = result.landing("cloudwatch_metrics").accounts
            minimum += sum(minimum_calls(a.counts["queries"], a.counts["datapoints"]) for a in accounts)
            points += sum(a.counts["datapoints"] for a in accounts)
            queries += sum(a.counts["queries"] for a in accounts)
        stack.reset()
    return made, minimum, points, queries


def calls_per_night() -> list[Result]:
    configure_logging("WARNING")
    nights = [LAST_NIGHT - timedelta(days=NIGHTS - 1 - i) for i in range(NIGHTS)]
    rows: list[Result] = []
    for period, lookback in ((300, 1), (60, 0)):
        made, minimum, points, queries = _calls_per_night(period, lookback, nights)
        label = f"GetMetricData calls / minimum ({period} s periods, lookback {lookback})"
        rows.append(at_most(label, made / minimum, "ratio", TARGET_RATIO))
        # GetMetricStatistics answers one metric and statistic, at most 1,440 points, a call. A fleet this small fills
        # part of one call per account x region; the 100x target is held at 5,600 series (bench_night.py).
        statistics_calls = math.ceil(points / max(queries, 1) / 1440) * queries
        rows.append(
            info(f"GetMetricStatistics calls for the same data / GetMetricData calls ({period} s)", statistics_calls / made, "x")
        )
        rows.append(info(f"GetMetricData calls per night ({period} s)", made / NIGHTS, "calls"))
        rows.append(info(f"datapoints per night ({period} s)", points / NIGHTS, "points"))
    return rows


BENCHMARKS = (calls_per_night,)
