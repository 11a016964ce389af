"""What one GetMetricData query asks for, and the series it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSeries:
    """One CloudWatch time series as ListMetrics names it, with where it lives."""

    account_id: str
    region: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name

    @property
    def endpoint_name(self) -> str | None:
        dims = dict(self.dimensions)
        return dims.get("EndpointName") or dims.get("Endpoint")

    @property
    def variant_name(self) -> str | None:
        return dict(self.dimensions).get("VariantName")


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one series at one period: a single entry of MetricDataQueries."""

    id: str  # unique within a GetMetricData call: [a-z][a-zA-Z0-9_]*
    series: MetricSeries
    stat: str  # Average, Sum, ..., p99
    period_seconds: int
    unit: str | None = None  # as CloudWatch reports it, when known
    # Asked from an OAM monitoring account: the query names the series' owning account (AccountId).
    cross_account: bool = False

    def to_api(self) -> dict[str, object]:
        owner: dict[str, object] = {"AccountId": self.series.account_id} if self.cross_account else {}
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.series.namespace,
                    "MetricName": self.series.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in self.series.dimensions],
                },
                "Period": self.period_seconds,
                "Stat": self.stat,
            },
            "ReturnData": True,
            **owner,
        }
