"""Discover which CloudWatch series exist, per namespace, with ListMetrics (paginated)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pipelines.sources.cloudwatch_metrics.metric_query import MetricSeries

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


def iter_metric_series(
    cloudwatch: CloudWatchClient, account_id: str, region: str, namespaces: Iterable[str]
) -> Iterator[MetricSeries]:
    """Yield every series ListMetrics knows in `namespaces`, each once.

    CloudWatch lists only series with data in the last two weeks; that is the horizon
    of a nightly run. Names are discovered, never hard-coded (custom namespaces work).
    """
    seen: set[MetricSeries] = set()
    paginator = cloudwatch.get_paginator("list_metrics")
    for namespace in namespaces:
        for page in paginator.paginate(Namespace=namespace):
            for metric in page.get("Metrics", ()):
                series = MetricSeries(
                    account_id=account_id,
                    region=region,
                    namespace=metric["Namespace"],
                    metric_name=metric["MetricName"],
                    dimensions=tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", ()))),
                )
                if series not in seen:
                    seen.add(series)
                    yield series
