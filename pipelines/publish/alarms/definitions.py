"""What should exist for the fleet: CloudWatch alarms, EventBridge rules and the operations dashboard, as API requests.

Pure: the config and the fleet in, placed requests out (which account and region each lives in),
so `plan` and `deploy` differ only in whether they send. Everything is named `mlmon-...`: what
carries the prefix and is no longer wanted (a retired endpoint's alarms) is ours to remove.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipelines.config import Config
from pipelines.publish.alarms.dashboard import dashboard_body
from pipelines.publish.alarms.fleet import FleetEndpoint
from pipelines.publish.alarms.names import NIGHTS_FAILED, PERIOD, PREFIX, QUARANTINED, TAGS, VIOLATIONS, violation_dimensions
from pipelines.publish.alarms.placed import Placed
from pipelines.publish.alarms.routing import alert_rules

RETRAIN_RULE = f"{PREFIX}retrain-on-drift"


def fleet_requests(config: Config, fleet: Sequence[FleetEndpoint]) -> list[Placed]:
    """Every alarm, rule and dashboard the config and fleet call for, lake-account ones last."""
    roles = {s.account_id: s.role_arn for s in config.sources}
    placed = [p for endpoint in fleet for p in endpoint_alarms(config, endpoint, roles.get(endpoint.account_id))]
    placed += alert_rules(config, fleet, roles)
    placed += [violation_alarm(config, endpoint) for endpoint in fleet if endpoint.monitored]
    placed += pipeline_alarms(config)
    retrain = retrain_rule(config, [p.name for p in placed if p.name.endswith("-monitoring-violations")])
    placed += [retrain] if retrain else []
    placed.append(operations_dashboard(config, fleet))
    return placed


def _actions(config: Config) -> dict[str, list[str]]:
    """The lake account's alarms notify the topic directly (it is in their account and region)."""
    topic = config.alerts.sns_topic_arn
    return {"AlarmActions": [topic], "OKActions": [topic]} if topic else {"AlarmActions": [], "OKActions": []}


def _variant_dimensions(endpoint: FleetEndpoint) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint.endpoint_name}, {"Name": "VariantName", "Value": endpoint.variant_name}]


def endpoint_alarms(config: Config, endpoint: FleetEndpoint, role_arn: str | None) -> list[Placed]:
    """p99 ModelLatency and the 5xx rate of one variant, in the account and region whose metrics they watch.

    No actions: an alarm's topic must be in its region, so its state changes travel as events (routing.py).
    """
    settings = config.endpoints.get(endpoint.endpoint_name)
    latency_ms = (settings.latency_p99_ms if settings else None) or config.alerts.latency_p99_ms
    rate = (settings.error_5xx_rate if settings else None) or config.alerts.error_5xx_rate
    periods = config.alerts.evaluation_minutes * 60 // PERIOD
    base = f"{PREFIX}{endpoint.endpoint_name}-{endpoint.variant_name}"
    window = {"EvaluationPeriods": periods, "DatapointsToAlarm": periods, "TreatMissingData": "notBreaching", "Tags": TAGS}
    latency: dict[str, Any] = {
        "AlarmName": f"{base}-model-latency-p99",
        "AlarmDescription": f"{endpoint.endpoint_name} ({endpoint.business_unit}): ModelLatency p99 over {latency_ms:g} ms",
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        "Dimensions": _variant_dimensions(endpoint),
        "ExtendedStatistic": "p99",
        "Period": PERIOD,
        "Threshold": latency_ms * 1000.0,  # SageMaker reports ModelLatency in microseconds
        "ComparisonOperator": "GreaterThanThreshold",
        **window,
    }

    def stat(metric_id: str, name: str) -> dict[str, Any]:
        metric = {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": _variant_dimensions(endpoint)}
        return {"Id": metric_id, "MetricStat": {"Metric": metric, "Period": PERIOD, "Stat": "Sum"}, "ReturnData": False}

    errors: dict[str, Any] = {
        "AlarmName": f"{base}-5xx-rate",
        "AlarmDescription": f"{endpoint.endpoint_name} ({endpoint.business_unit}): 5xx rate over {rate:.2%}",
        "Metrics": [
            stat("errors", "Invocation5XXErrors"),
            stat("invocations", "Invocations"),
            {"Id": "rate", "Expression": "IF(invocations > 0, errors / invocations, 0)", "Label": "5xx rate", "ReturnData": True},
        ],
        "Threshold": rate,
        "ComparisonOperator": "GreaterThanThreshold",
        **window,
    }
    return [
        Placed("alarm", str(request["AlarmName"]), endpoint.region, request, endpoint.account_id, role_arn)
        for request in (latency, errors)
    ]


def _lake_alarm(
    config: Config, name: str, description: str, metric: str, statistic: str, period: int, missing: str, **extra: Any
) -> Placed:
    """An alarm on one of the night's own signals (lake account): fires on any datapoint above zero."""
    request: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": description,
        "Namespace": config.validation.metrics_namespace,
        "MetricName": metric,
        **extra,
        "Statistic": statistic,
        "Period": period,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": missing,
        "Tags": TAGS,
        **_actions(config),
    }
    return Placed("alarm", name, config.lake.region, request)


def violation_alarm(config: Config, endpoint: FleetEndpoint) -> Placed:
    """Model Monitor found violations for the endpoint (the night's MonitoringViolations datapoint)."""
    return _lake_alarm(
        config,
        f"{PREFIX}{endpoint.account_id}-{endpoint.region}-{endpoint.endpoint_name}-monitoring-violations",
        f"{endpoint.endpoint_name} ({endpoint.business_unit}): Model Monitor reported violations last night",
        VIOLATIONS,
        "Maximum",
        3600,
        "notBreaching",
        Dimensions=violation_dimensions(endpoint.account_id, endpoint.region, endpoint.endpoint_name),
    )


def pipeline_alarms(config: Config) -> list[Placed]:
    """The pipeline's own health: a partition held back, a night that failed or never reported (missing is breaching)."""
    return [
        _lake_alarm(
            config,
            f"{PREFIX}pipeline-quarantined-partitions",
            "The nightly audit held back partitions: see mlmon quarantine list",
            QUARANTINED,
            "Sum",
            3600,
            "notBreaching",
        ),
        _lake_alarm(
            config,
            f"{PREFIX}pipeline-night-failed",
            "A night failed, or none reported for a day (missing data is breaching)",
            NIGHTS_FAILED,
            "Maximum",
            86400,
            "breaching",
        ),
    ]


def retrain_rule(config: Config, violation_alarms: Sequence[str]) -> Placed | None:
    """When a drift or quality alarm goes to ALARM, start the configured retraining target (lake account)."""
    target_arn = config.alerts.retrain_target_arn
    if not target_arn or not violation_alarms:
        return None
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": sorted(violation_alarms), "state": {"value": ["ALARM"]}},
    }
    request = {
        "Name": RETRAIN_RULE,
        "EventPattern": json.dumps(pattern, sort_keys=True),
        "State": "ENABLED",
        "Description": "Drift or quality violations: start retraining",
        "Tags": TAGS,
    }
    target: dict[str, Any] = {"Id": "retrain", "Arn": target_arn}
    if config.alerts.retrain_role_arn:
        target["RoleArn"] = config.alerts.retrain_role_arn
    return Placed("rule", RETRAIN_RULE, config.lake.region, request, targets=[target])


def operations_dashboard(config: Config, fleet: Sequence[FleetEndpoint]) -> Placed:
    """One CloudWatch dashboard for SREs across accounts and regions: endpoint health, monitors, the pipeline."""
    body = dashboard_body(config, fleet)
    name = config.alerts.dashboard_name
    return Placed(
        "dashboard", name, config.lake.region, {"DashboardName": name, "DashboardBody": json.dumps(body, sort_keys=True)}
    )
