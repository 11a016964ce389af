"""Plan GetMetricData: which statistics per series, how queries pack into calls, which window."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

from pipelines.config import CloudWatchConfig
from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery, MetricSeries

MAX_QUERIES_PER_CALL = 500
MAX_POINTS_PER_CALL = 100_800
# CloudWatch rejects request bodies over about 600 KB (long dimension values x 500 queries).
MAX_REQUEST_BYTES = 500_000

# Units as SageMaker publishes them (GetMetricData does not return units).
KNOWN_UNITS: dict[tuple[str, str], str] = {
    ("AWS/SageMaker", "Invocations"): "None",
    ("AWS/SageMaker", "Invocation4XXErrors"): "None",
    ("AWS/SageMaker", "Invocation5XXErrors"): "None",
    ("AWS/SageMaker", "InvocationModelErrors"): "None",
    ("AWS/SageMaker", "InvocationsPerInstance"): "None",
    ("AWS/SageMaker", "ModelLatency"): "Microseconds",
    ("AWS/SageMaker", "OverheadLatency"): "Microseconds",
    ("AWS/SageMaker", "ModelSetupTime"): "Microseconds",
    ("/aws/sagemaker/Endpoints", "CPUUtilization"): "Percent",
    ("/aws/sagemaker/Endpoints", "MemoryUtilization"): "Percent",
    ("/aws/sagemaker/Endpoints", "DiskUtilization"): "Percent",
    ("/aws/sagemaker/Endpoints", "GPUUtilization"): "Percent",
    ("/aws/sagemaker/Endpoints", "GPUMemoryUtilization"): "Percent",
}


def statistics_for(series: MetricSeries, settings: CloudWatchConfig) -> list[str]:
    stats = list(settings.statistics)
    if series.metric_name in settings.percentile_metrics:
        stats += settings.percentiles
    return stats


def plan_queries(series: Iterable[MetricSeries], settings: CloudWatchConfig, *, cross_account: bool = False) -> list[MetricQuery]:
    """One query per series and statistic; ids are positional, unique within any batch.

    Ordered by account, then endpoint, then series: a monitoring account's read comes back grouped by owning
    account, each account's queries in the order its own read would have them; the rows land in this order, so
    each Parquet row group holds a run of endpoints and its statistics let a reader's endpoint filter skip the
    others. `cross_account` names each series' account in its query (AccountId), as a monitoring account must.
    """
    queries: list[MetricQuery] = []
    order = sorted(
        series, key=lambda s: (s.account_id, s.region, s.endpoint_name or "", s.namespace, s.metric_name, s.dimensions)
    )
    for one in order:
        unit = KNOWN_UNITS.get((one.namespace, one.metric_name))
        for stat in statistics_for(one, settings):
            queries.append(MetricQuery(f"q{len(queries)}", one, stat, settings.period_seconds, unit, cross_account))
    return queries


def batches(queries: Sequence[MetricQuery], points_per_query: int = 0) -> list[list[MetricQuery]]:
    """The calls a night makes for `queries` when every query returns `points_per_query` points (the most one can
    over the window): the Packer's sizes, each call answered in full."""
    packer = Packer(queries)
    packed: list[list[MetricQuery]] = []
    while packer.left:
        packed.append(packer.take(packer.next_size(points_per_query)))
        packer.answered(len(packed[-1]), len(packed[-1]) * points_per_query)
    return packed


class Packer:
    """Queries handed out in batches of a size chosen call by call, each within the API's request limits.

    A night does not know in advance how many points each query holds: a metric published only with traffic, or a
    lookback day, holds fewer than its window allows. `next_size` sizes each call from what the calls so far
    returned, so that later calls each fill about one page: CloudWatch bills every query of a call again on each
    page it takes, so the fewest queries that fill a page cost least, and pages that fill make the calls the
    minimum. A source whose queries fit the first call (490 one-day queries at 60 s) is one call, whatever its points.
    """

    def __init__(self, queries: Sequence[MetricQuery]) -> None:
        self._queries = queries
        self._next = 0
        self._answered = 0  # queries whose calls have ended
        self._points = 0  # the points they returned

    @property
    def left(self) -> int:
        return len(self._queries) - self._next

    def take(self, limit: int) -> list[MetricQuery]:
        """The next batch: at most `limit` queries (and MAX_QUERIES_PER_CALL), at most MAX_REQUEST_BYTES."""
        batch: list[MetricQuery] = []
        size = 0
        limit = min(limit, MAX_QUERIES_PER_CALL)
        while self._next < len(self._queries) and len(batch) < max(limit, 1):
            query = self._queries[self._next]
            query_bytes = len(json.dumps(query.to_api()))
            if batch and size + query_bytes > MAX_REQUEST_BYTES:
                break
            batch.append(query)
            size += query_bytes
            self._next += 1
        return batch

    def answered(self, queries: int, points: int) -> None:
        """A call's queries and the points all its pages returned."""
        self._answered += queries
        self._points += points

    def next_size(self, points_per_query: int) -> int:
        """How many queries the next call asks for. The first: the most that fill whole pages at the window's points
        (`most_per_call`; where they hold fewer, its pages still fill but its last, and they say how many points a
        query holds - a small first call would waste most of a page instead). Then `queries_per_call` while every
        query returned all its window's points, else as many as the points seen so far say fill one page."""
        if not self._answered or points_per_query <= 0:
            return most_per_call(points_per_query)
        if self._points >= self._answered * points_per_query:
            return queries_per_call(points_per_query)
        observed = self._points / self._answered
        return MAX_QUERIES_PER_CALL if observed <= 0 else max(1, min(MAX_QUERIES_PER_CALL, int(MAX_POINTS_PER_CALL // observed)))


def queries_per_call(points_per_query: int) -> int:
    """The fewest queries whose points fill whole pages (CloudWatch fills each page to 100,800 points, splitting a
    result across pages, so only a call's last page can be short): the calls are the minimum, and each query is
    requested, and billed, on the fewest pages (490 one-day queries at 60 s also make the minimum: 7 pages, each
    query billed 7 times; 70 fill one). MAX_QUERIES_PER_CALL when no such number is allowed."""
    if points_per_query <= 0:
        return MAX_QUERIES_PER_CALL
    whole = MAX_POINTS_PER_CALL // math.gcd(MAX_POINTS_PER_CALL, points_per_query)  # fewest queries filling whole pages
    return min(whole, MAX_QUERIES_PER_CALL)


def most_per_call(points_per_query: int) -> int:
    """The most queries per call (at most MAX_QUERIES_PER_CALL) whose points fill whole pages: 490 one-day queries
    at 60 s (7 pages of 70) rather than 500, whose last page would carry 20 queries."""
    whole = queries_per_call(points_per_query)
    return MAX_QUERIES_PER_CALL // whole * whole


def minimum_calls(queries: int, datapoints: int) -> int:
    """The fewest GetMetricData calls any client could make for this many queries and points."""
    if queries == 0:
        return 0
    return max(math.ceil(queries / MAX_QUERIES_PER_CALL), math.ceil(datapoints / MAX_POINTS_PER_CALL))
