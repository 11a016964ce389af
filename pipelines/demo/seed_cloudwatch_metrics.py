"""Seed the local stack with a demo fleet's CloudWatch metrics, day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pipelines.demo.fleet import Fleet, iter_series

if TYPE_CHECKING:
    from pipelines.localstack.server import LocalStack


@dataclass(frozen=True)
class Seeded:
    series: int
    datapoints: int

    def __add__(self, other: Seeded) -> Seeded:
        return Seeded(self.series + other.series, self.datapoints + other.datapoints)


def seed_metrics(store: object, fleet: Fleet) -> Seeded:
    """Load every series of the fleet into the stack's metric store, one day at a time.

    This is the bulk equivalent of the endpoints' agents calling PutMetricData for two
    weeks (which the store also serves, and tests exercise); HTTP would add minutes.
    """
    seeded = Seeded(0, 0)
    for day in fleet.dates:
        seeded += seed_day(store, fleet, day)
    return seeded


def seed_day(store: object, fleet: Fleet, day: date) -> Seeded:
    """One day of every series of the fleet into `store`."""
    series = points = 0
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
        points += len(data.values)
    return Seeded(series, points)


def seed_stack_day(stack: LocalStack, fleet: Fleet, day: date) -> Seeded:
    """`seed_day` into a stack's store, as a task of a stack in another process (`StackProcess.submit`)."""
    return seed_day(stack.metric_store, fleet, day)
