"""The names alarms, rules and metrics share: what the night emits is what the alarms and the dashboard watch."""

from __future__ import annotations

PREFIX = "mlmon-"
PERIOD = 300  # SageMaker publishes endpoint metrics every minute; five-minute periods smooth a single slow request
VIOLATIONS, NIGHTS_FAILED, QUARANTINED = "MonitoringViolations", "NightsFailed", "QuarantinedPartitions"
TAGS = [{"Key": "managed-by", "Value": "mlmon"}]


def violation_dimensions(account_id: str, region: str, endpoint_name: str) -> list[dict[str, str]]:
    """The dimensions of one endpoint's MonitoringViolations datapoints (emitted in the lake account each night)."""
    return [
        {"Name": "SourceAccount", "Value": account_id},
        {"Name": "SourceRegion", "Value": region},
        {"Name": "EndpointName", "Value": endpoint_name},
    ]
