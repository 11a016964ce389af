"""What each night tells the alarms: its own outcome and, per endpoint, the violations Model Monitor reported.

Emitted in the lake account after the night is published: `NightsFailed` (0 or 1; a day without
it is a night that never ran), the night's `QuarantinedPartitions` over all tables, and one
`MonitoringViolations` datapoint per endpoint with Model Monitor executions that night.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.publish.alarms.names import NIGHTS_FAILED, QUARANTINED, VIOLATIONS, violation_dimensions
from pipelines.query.engine import QueryEngine

_PUT_LIMIT = 1000  # PutMetricData takes at most 1000 datapoints a call


def violations_sql(night: date) -> str:
    """The night's violations per endpoint, from the published monitor_executions partition (Athena SQL)."""
    return (
        "SELECT account_id, region, endpoint_name, CAST(sum(violation_count) AS BIGINT) AS violations "
        f"FROM monitor_executions WHERE dt = '{night.isoformat()}' AND endpoint_name IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )


def night_signals(config: Config, engine: QueryEngine, night: date, *, failed: bool, quarantined: int) -> list[dict[str, Any]]:
    """The datapoints of one night (PutMetricData's MetricData shape)."""
    data: list[dict[str, Any]] = [
        {"MetricName": NIGHTS_FAILED, "Value": 1.0 if failed else 0.0, "Unit": "Count"},
        {"MetricName": QUARANTINED, "Value": float(quarantined), "Unit": "Count"},
    ]
    for row in engine.run(violations_sql(night)).to_pylist():
        dimensions = violation_dimensions(row["account_id"], row["region"], row["endpoint_name"])
        data.append({"MetricName": VIOLATIONS, "Dimensions": dimensions, "Value": float(row["violations"] or 0), "Unit": "Count"})
    return data


def emit_night_signals(session: Session, config: Config, data: list[dict[str, Any]]) -> None:
    """Send the night's datapoints to CloudWatch in the lake account."""
    cloudwatch = session.client("cloudwatch")
    for start in range(0, len(data), _PUT_LIMIT):
        cloudwatch.put_metric_data(Namespace=config.validation.metrics_namespace, MetricData=data[start : start + _PUT_LIMIT])
