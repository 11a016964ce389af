"""Discover which CloudWatch series exist, per namespace, with ListMetrics (paginated), in one account or all linked ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pipelines.errors import FatalError
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
                series = _series(metric, account_id, region)
                if series not in seen:
                    seen.add(series)
                    yield series


class NotAMonitoringAccount(FatalError):
    """ListMetrics with IncludeLinkedAccounts did not say which account owns each metric."""


def iter_linked_metric_series(
    cloudwatch: CloudWatchClient, region: str, namespaces: Iterable[str], accounts: Iterable[str]
) -> Iterator[MetricSeries]:
    """Yield every series of `accounts` that a monitoring account sees in `namespaces`, each once, with its owner.

    One ListMetrics pass per namespace for all linked accounts (IncludeLinkedAccounts); `OwningAccounts`,
    parallel to `Metrics`, says whose each series is. Series of other accounts (the monitoring account's
    own, accounts read another way) are skipped.
    """
    wanted = set(accounts)
    seen: set[MetricSeries] = set()
    paginator = cloudwatch.get_paginator("list_metrics")
    for namespace in namespaces:
        for page in paginator.paginate(Namespace=namespace, IncludeLinkedAccounts=True):
            metrics, owners = page.get("Metrics", []), page.get("OwningAccounts", [])
            if len(owners) != len(metrics):
                raise NotAMonitoringAccount(
                    f"ListMetrics in {region} returned {len(metrics)} metrics but {len(owners)} OwningAccounts: "
                    "is this the monitoring account of CloudWatch cross-account observability?"
                )
            for metric, owner in zip(metrics, owners, strict=True):
                if owner not in wanted:
                    continue
                series = _series(metric, owner, region)
                if series not in seen:
                    seen.add(series)
                    yield series


def _series(metric: Any, account_id: str, region: str) -> MetricSeries:
    """A ListMetrics entry (API shape) as the series of `account_id` in `region`."""
    dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", ())))
    return MetricSeries(account_id, region, metric["Namespace"], metric["MetricName"], dimensions)
