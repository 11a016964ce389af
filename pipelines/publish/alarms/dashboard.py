"""The operations dashboard's body: one CloudWatch dashboard across accounts and regions, built from the fleet.

A metric can name its own account and region, so one dashboard in the lake account shows every
endpoint (cross-account metrics need CloudWatch cross-account observability or sharing enabled).
Rows: the pipeline's health, Model Monitor violations, then per endpoint its latency percentiles,
its traffic and errors, and its utilisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipelines.config import Config
from pipelines.publish.alarms.fleet import FleetEndpoint
from pipelines.publish.alarms.names import NIGHTS_FAILED, PERIOD, QUARANTINED, VIOLATIONS, violation_dimensions

WIDTH = 24  # the dashboard grid's columns


def _metric(namespace: str, name: str, dimensions: list[dict[str, str]], **options: Any) -> list[Any]:
    flat: list[Any] = [namespace, name]
    for dimension in dimensions:
        flat += [dimension["Name"], dimension["Value"]]
    return [*flat, options] if options else flat


def _widget(title: str, region: str, metrics: list[list[Any]], x: int, y: int, width: int, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": PERIOD,
            "metrics": metrics,
            **properties,
        },
    }


def _endpoint_row(endpoint: FleetEndpoint, y: int) -> list[dict[str, Any]]:
    where = {"accountId": endpoint.account_id, "region": endpoint.region}
    dims = [{"Name": "EndpointName", "Value": endpoint.endpoint_name}, {"Name": "VariantName", "Value": endpoint.variant_name}]
    who = f"{endpoint.endpoint_name}/{endpoint.variant_name} ({endpoint.business_unit}, {endpoint.account_id} {endpoint.region})"
    latency = [
        _metric("AWS/SageMaker", "ModelLatency", dims, stat=p, label=f"ModelLatency {p} (us)", **where)
        for p in ("p50", "p90", "p99")
    ]
    latency.append(_metric("AWS/SageMaker", "OverheadLatency", dims, stat="p99", label="OverheadLatency p99 (us)", **where))
    traffic = [
        _metric("AWS/SageMaker", name, dims, stat="Sum", label=name, **where)
        for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors")
    ]
    usage = [
        _metric("/aws/sagemaker/Endpoints", name, dims, stat="Average", label=name, **where)
        for name in ("CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization")
    ]
    return [
        _widget(f"{who}: latency", endpoint.region, latency, 0, y, 8),
        _widget(f"{endpoint.endpoint_name}: invocations and errors", endpoint.region, traffic, 8, y, 8),
        _widget(f"{endpoint.endpoint_name}: utilisation (% summed over cores)", endpoint.region, usage, 16, y, 8),
    ]


def dashboard_body(config: Config, fleet: Sequence[FleetEndpoint]) -> dict[str, Any]:
    """The dashboard: pipeline health and monitor violations on top, one row per endpoint variant below."""
    region, namespace = config.lake.region, config.validation.metrics_namespace
    header = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": WIDTH,
        "height": 2,
        "properties": {
            "markdown": f"# ML performance lake: operations\n{len(fleet)} endpoint variants in "
            f"{len({(e.account_id, e.region) for e in fleet})} account x region; built by `mlmon alarms deploy`."
        },
    }
    pipeline = [
        _metric(namespace, QUARANTINED, [], stat="Sum", label="quarantined partitions"),
        _metric(namespace, NIGHTS_FAILED, [], stat="Maximum", label="night failed"),
    ]
    failed = {"expression": f"SEARCH('{{{namespace},Table}} MetricName=\"FailedExpectations\"', 'Sum', 86400)", "id": "e1"}
    violations = [
        _metric(
            namespace,
            VIOLATIONS,
            violation_dimensions(e.account_id, e.region, e.endpoint_name),
            stat="Maximum",
            label=e.endpoint_name,
        )
        for e in fleet
        if e.monitored
    ]
    widgets = [
        header,
        _widget("Pipeline: quarantined partitions, failed nights", region, pipeline, 0, 2, 8, period=86400),
        _widget("Pipeline: failed expectations per table", region, [[failed]], 8, 2, 8, period=86400),
        _widget(
            "Model Monitor violations per endpoint (last night)",
            region,
            violations or [[{"expression": "0", "id": "none"}]],
            16,
            2,
            8,
            period=3600,
        ),
    ]
    for row, endpoint in enumerate(fleet):
        widgets += _endpoint_row(endpoint, 8 + 6 * row)
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}
