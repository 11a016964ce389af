"""Seed the local stack with a demo fleet's CloudWatch metrics, day by day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pipelines.demo.fleet import Fleet, iter_series


@dataclass(frozen=True)
class Seeded:
    series: int
    datapoints: int


def seed_metrics(store: object, fleet: Fleet, on_day: Callable[[str, int], None] | None = None) -> Seeded:
    """Load every series of the fleet into the stack's metric store, one day at a time.

    This is the bulk equivalent of the endpoints' agents calling PutMetricData for two
    weeks (which the store also serves, and tests exercise); HTTP would add minutes.
    """
    series = points = 0
    for offset in range(fleet.days):
        day = fleet.start.date() + timedelta(days=offset)
        day_points = 0
        for data in iter_series(fleet, day):
            store.put_series(  # type: ignore[attr-defined]
                data.account_id,
                data.region,
                data.namespace,
                data.metric_name,
                dict(data.dimensions),
                data.unit,
                data.timestamps,
                data.values,
                data.counts,
            )
            series += 1
            day_points += len(data.values)
        points += day_points
        if on_day:
            on_day(day.isoformat(), day_points)
    return Seeded(series, points)
