"""GetMetricData calls per night against the theoretical minimum, on the demo fleet in the local stack."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from benchmarks import Result, at_most, info
from pipelines.aws import lake_session
from pipelines.demo.fleet import build_fleet
from pipelines.demo.run import demo_config
from pipelines.demo.seed import create_bucket, seed_metrics
from pipelines.extract.cloudwatch_plan import minimum_calls
from pipelines.localstack.server import LocalStack
from pipelines.logs import configure_logging
from pipelines.nightly import run_night

NIGHTS = 3
TARGET_RATIO = 1.0


def _calls_per_night(period_seconds: int, lookback_days: int, nights: list[date]) -> tuple[int, int, int]:
    """(GetMetricData calls made, theoretical minimum, datapoints) over `nights`."""
    with LocalStack() as stack:
        fleet = build_fleet(seed=7, start=nights[0] - timedelta(days=lookback_days), days=len(nights) + lookback_days)
        config = demo_config(stack.endpoint_url, fleet)
        config = config.model_copy(update={"cloudwatch": config.cloudwatch.model_copy(
            update={"period_seconds": period_seconds, "lookback_days": lookback_days})})  # fmt: skip
        session = lake_session(config.lake.region, config.endpoint_url)
        create_bucket(session, config.lake.bucket, config.lake.region)
        seed_metrics(stack.metric_store, fleet)
        made = minimum = points = 0
        for night in nights:
            before = session.calls.snapshot().get("CloudWatch.GetMetricData", 0)
            result = run_night(config, night, session=session)
            made += session.calls.snapshot()["CloudWatch.GetMetricData"] - before
            minimum += sum(minimum_calls(s.queries, s.datapoints) for s in result.sources)
            points += sum(s.datapoints for s in result.sources)
        stack.reset()
    return made, minimum, points


def calls_per_night() -> list[Result]:
    configure_logging("WARNING")
    last = datetime.now(timezone.utc).date() - timedelta(days=1)
    nights = [last - timedelta(days=NIGHTS - 1 - i) for i in range(NIGHTS)]
    rows: list[Result] = []
    for period, lookback in ((300, 1), (60, 0)):
        made, minimum, points = _calls_per_night(period, lookback, nights)
        label = f"GetMetricData calls / minimum ({period} s periods, lookback {lookback})"
        rows.append(at_most(label, made / minimum, "ratio", TARGET_RATIO))
        rows.append(info(f"GetMetricData calls per night ({period} s)", made / NIGHTS, "calls"))
        rows.append(info(f"datapoints per night ({period} s)", points / NIGHTS, "points"))
    return rows


BENCHMARKS = (calls_per_night,)
