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
    """Pack queries into as few GetMetricData calls as the API limits allow.

    With `points_per_query` (the most points one query can return over the window), a batch is the fewest queries
    that fill whole pages: 70 one-day queries at 60 s (one page of 70 x 1,440). 500 would take 8 pages, the last
    carrying 20 queries (12 % more calls than the minimum); 490 (7 full pages) take the minimum too, but CloudWatch
    bills every query of a call again on each of its pages: 7x the cost, and 7x the request to serialise.
    """
    limit = queries_per_call(points_per_query)
    packed: list[list[MetricQuery]] = []
    current: list[MetricQuery] = []
    size = 0
    for query in queries:
        query_bytes = len(json.dumps(query.to_api()))
        if current and (len(current) == limit or size + query_bytes > MAX_REQUEST_BYTES):
            packed.append(current)
            current, size = [], 0
        current.append(query)
        size += query_bytes
    if current:
        packed.append(current)
    return packed


def queries_per_call(points_per_query: int) -> int:
    """The fewest queries whose points fill whole pages (CloudWatch fills each page to 100,800 points, splitting a
    result across pages, so only a call's last page can be short): the calls are the minimum, and each query is
    requested, and billed, on the fewest pages. MAX_QUERIES_PER_CALL when no such number is allowed."""
    if points_per_query <= 0:
        return MAX_QUERIES_PER_CALL
    whole = MAX_POINTS_PER_CALL // math.gcd(MAX_POINTS_PER_CALL, points_per_query)  # fewest queries filling whole pages
    return min(whole, MAX_QUERIES_PER_CALL)


def minimum_calls(queries: int, datapoints: int) -> int:
    """The fewest GetMetricData calls any client could make for this many queries and points."""
    if queries == 0:
        return 0
    return max(math.ceil(queries / MAX_QUERIES_PER_CALL), math.ceil(datapoints / MAX_POINTS_PER_CALL))
