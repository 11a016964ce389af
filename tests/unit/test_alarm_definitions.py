"""Alarms, rules and the operations dashboard for a fleet: right metrics, dimensions, thresholds, targets and places."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any

import botocore.session
import pyarrow as pa
import pytest
from botocore.validate import ParamValidator

from pipelines.config import Config, parse_config
from pipelines.publish.alarms.definitions import RETRAIN_RULE, Placed, fleet_requests
from pipelines.publish.alarms.fleet import FleetEndpoint, fleet_of_lake
from pipelines.publish.alarms.routing import ENDPOINT_ALARMS_RULE, MODEL_MONITOR_RULE
from pipelines.publish.alarms.signals import night_signals
from pipelines.query.local import run_query
from pipelines.query.view_sql import ViewError
from tests.viewhelpers import lake_with_views

TOPIC = "arn:aws:sns:us-east-1:999999999999:ml-lake-alerts"
PIPELINE = "arn:aws:sagemaker:us-east-1:999999999999:pipeline/retrain-fraud"
ROLE = "arn:aws:iam::999999999999:role/EventsStartPipeline"
FLEET = [
    FleetEndpoint("111111111111", "us-east-1", "fraud-detector-prod", "AllTraffic", "Payments", monitored=True),
    FleetEndpoint("111111111111", "eu-west-1", "payments-router-eu", "AllTraffic", "Payments", monitored=False),
    FleetEndpoint("222222222222", "us-east-1", "recommender-prod", "AllTraffic", "Marketplace", monitored=True),
]


def _config(**alerts: Any) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
            "sources": [
                {
                    "account_id": "111111111111",
                    "role_arn": "arn:aws:iam::111111111111:role/Reader",
                    "regions": ["us-east-1", "eu-west-1"],
                },
                {"account_id": "222222222222", "regions": ["us-east-1"]},
            ],
            "endpoints": {"fraud-detector-prod": {"business_unit": "Payments", "latency_p99_ms": 250}},
            "alerts": {"sns_topic_arn": TOPIC, **alerts},
        }
    )


def _by_name(placed: list[Placed]) -> dict[str, Placed]:
    return {p.name: p for p in placed}


def _valid(service: str, operation: str, params: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_each_variant_gets_latency_and_5xx_alarms_in_its_own_account_and_region() -> None:
    placed = _by_name(fleet_requests(_config(), FLEET))
    latency = placed["mlmon-fraud-detector-prod-AllTraffic-model-latency-p99"]
    assert (latency.account_id, latency.region, latency.role_arn) == (
        "111111111111",
        "us-east-1",
        "arn:aws:iam::111111111111:role/Reader",
    )
    request = latency.request
    assert (request["Namespace"], request["MetricName"], request["ExtendedStatistic"]) == ("AWS/SageMaker", "ModelLatency", "p99")
    assert request["Dimensions"] == [
        {"Name": "EndpointName", "Value": "fraud-detector-prod"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert request["Threshold"] == 250_000.0  # the endpoint's own 250 ms, in CloudWatch's microseconds
    assert (request["EvaluationPeriods"], request["DatapointsToAlarm"], request["Period"]) == (3, 3, 300)
    assert "AlarmActions" not in request and "OKActions" not in request  # their state changes travel as events
    router = placed["mlmon-payments-router-eu-AllTraffic-model-latency-p99"]
    assert (router.region, router.request["Threshold"]) == ("eu-west-1", 1_000_000.0)  # the default 1000 ms
    rate = placed["mlmon-recommender-prod-AllTraffic-5xx-rate"]
    assert (rate.account_id, rate.role_arn) == ("222222222222", None)  # no role: the current credentials
    metrics = {m["Id"]: m for m in rate.request["Metrics"]}
    assert metrics["rate"]["Expression"] == "IF(invocations > 0, errors / invocations, 0)" and metrics["rate"]["ReturnData"]
    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "Invocation5XXErrors"
    assert metrics["invocations"]["MetricStat"]["Stat"] == "Sum" and rate.request["Threshold"] == 0.05
    for alarm in (p for p in placed.values() if p.kind == "alarm"):
        _valid("cloudwatch", "PutMetricAlarm", alarm.request)


def test_monitored_endpoints_get_a_violation_alarm_and_the_pipeline_watches_itself() -> None:
    placed = _by_name(fleet_requests(_config(), FLEET))
    violations = [p for p in placed.values() if p.name.endswith("-monitoring-violations")]
    assert [p.name for p in violations] == [
        "mlmon-111111111111-us-east-1-fraud-detector-prod-monitoring-violations",
        "mlmon-222222222222-us-east-1-recommender-prod-monitoring-violations",
    ]
    first = violations[0].request
    assert (violations[0].account_id, first["Namespace"], first["MetricName"]) == (None, "MLLake", "MonitoringViolations")
    assert (first["Threshold"], first["ComparisonOperator"], first["EvaluationPeriods"]) == (0.0, "GreaterThanThreshold", 1)
    night = placed["mlmon-pipeline-night-failed"].request
    assert night["TreatMissingData"] == "breaching"  # a night that never reported is a failure too
    assert placed["mlmon-pipeline-quarantined-partitions"].request["MetricName"] == "QuarantinedPartitions"


def test_alerts_are_forwarded_from_every_source_place_to_the_lake_bus_and_from_there_to_the_topic() -> None:
    rules = [p for p in fleet_requests(_config(), FLEET) if p.kind == "rule"]
    where = {(r.name, r.account_id, r.region) for r in rules}
    assert where == {
        (MODEL_MONITOR_RULE, "111111111111", "us-east-1"),  # where monitors run
        (MODEL_MONITOR_RULE, "222222222222", "us-east-1"),
        (MODEL_MONITOR_RULE, None, "us-east-1"),  # the lake's: to the topic
        (ENDPOINT_ALARMS_RULE, "111111111111", "us-east-1"),  # wherever an endpoint has alarms
        (ENDPOINT_ALARMS_RULE, "111111111111", "eu-west-1"),  # another region than the topic's: still delivered
        (ENDPOINT_ALARMS_RULE, "222222222222", "us-east-1"),
        (ENDPOINT_ALARMS_RULE, None, "us-east-1"),
    }
    forward = next(r for r in rules if (r.name, r.account_id, r.region) == (ENDPOINT_ALARMS_RULE, "111111111111", "eu-west-1"))
    assert forward.targets == [
        {
            "Id": "lake-bus",
            "Arn": "arn:aws:events:us-east-1:999999999999:event-bus/default",  # the topic's account and region
            "RoleArn": "arn:aws:iam::111111111111:role/MlLakeEventForwarder",  # reader-role.yaml's, in the source
        }
    ]
    assert forward.role_arn == "arn:aws:iam::111111111111:role/Reader"  # deployed through the source's reader role
    pattern = json.loads(forward.request["EventPattern"])
    assert pattern["detail"]["alarmName"] == [{"wildcard": "mlmon-*-model-latency-p99"}, {"wildcard": "mlmon-*-5xx-rate"}]
    monitor = json.loads(next(r for r in rules if r.name == MODEL_MONITOR_RULE).request["EventPattern"])
    assert monitor["detail-type"] == ["SageMaker Processing Job State Change"]
    assert monitor["detail"]["$or"] == [
        {"ProcessingJobStatus": ["Failed"]},
        {"ExitMessage": [{"prefix": "CompletedWithViolations"}]},
    ]
    lake = next(r for r in rules if (r.name, r.account_id) == (ENDPOINT_ALARMS_RULE, None))
    (target,) = lake.targets
    assert (target["Arn"], target["InputTransformer"]["InputPathsMap"]["alarm"]) == (TOPIC, "$.detail.alarmName")
    assert json.loads(target["InputTransformer"]["InputTemplate"]).startswith("mlmon: <alarm> is <state> in <account>")
    for rule in rules:
        _valid("events", "PutRule", rule.request)
        _valid("events", "PutTargets", {"Rule": rule.name, "Targets": rule.targets})
    assert not any(p.kind == "rule" for p in fleet_requests(_config(sns_topic_arn=None), FLEET))


def test_an_endpoint_in_the_topics_own_account_and_region_needs_no_forwarder() -> None:
    home = FleetEndpoint("999999999999", "us-east-1", "lake-side", "AllTraffic", "Payments", monitored=True)
    rules = [p for p in fleet_requests(_config(), [home]) if p.kind == "rule"]
    assert sorted((r.name, r.account_id) for r in rules) == [(ENDPOINT_ALARMS_RULE, None), (MODEL_MONITOR_RULE, None)]


def test_the_topic_must_be_in_the_lakes_region() -> None:
    with pytest.raises(Exception, match="sns_topic_arn .* is not in lake.region us-east-1"):
        _config(sns_topic_arn="arn:aws:sns:eu-west-1:999999999999:ml-lake-alerts")


def test_a_retrain_target_starts_on_a_violation_alarm() -> None:
    placed = _by_name(fleet_requests(_config(retrain_target_arn=PIPELINE, retrain_role_arn=ROLE), FLEET))
    rule = placed[RETRAIN_RULE]
    pattern = json.loads(rule.request["EventPattern"])
    assert pattern["detail"]["alarmName"] == sorted(p for p in placed if p.endswith("-monitoring-violations"))
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    assert rule.targets == [{"Id": "retrain", "Arn": PIPELINE, "RoleArn": ROLE}] and rule.account_id is None
    assert RETRAIN_RULE not in _by_name(fleet_requests(_config(), FLEET))


def test_the_operations_dashboard_has_a_row_per_variant_across_accounts_and_regions() -> None:
    dashboard = _by_name(fleet_requests(_config(), FLEET))["ml-performance-lake"]
    _valid("cloudwatch", "PutDashboard", dashboard.request)
    widgets = json.loads(dashboard.request["DashboardBody"])["widgets"]
    endpoint_widgets = [w for w in widgets if w["type"] == "metric" and "utilisation" in w["properties"]["title"]]
    assert len(endpoint_widgets) == len(FLEET)
    latency = next(w for w in widgets if w["properties"].get("title", "").startswith("payments-router-eu/AllTraffic"))
    assert latency["properties"]["region"] == "eu-west-1"
    assert latency["properties"]["metrics"][2] == [
        "AWS/SageMaker",
        "ModelLatency",
        "EndpointName",
        "payments-router-eu",
        "VariantName",
        "AllTraffic",
        {"stat": "p99", "label": "ModelLatency p99 (us)", "accountId": "111111111111", "region": "eu-west-1"},
    ]
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


@pytest.mark.parametrize("key,value", [("error_5xx_rate", 1.5), ("evaluation_minutes", 7), ("sns_topic_arn", "alerts")])
def test_bad_alert_settings_are_refused_naming_the_key(key: str, value: Any) -> None:
    from pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match=f"alerts.{key}"):
        _config(**{key: value})


@dataclass
class _DuckEngine:
    """DuckDB over a test connection, running Athena SQL the way LocalLakeEngine does."""

    con: Any

    def run(self, sql: str) -> pa.Table:
        return run_query(self.con, sql)

    def reading(self) -> Any:
        return nullcontext(self)

    def create_views(self, views: Any, names: Any) -> None:
        raise ViewError("a test lake's views are fixed")


def test_the_fleet_is_the_newest_lineage_snapshot_with_business_units_and_monitors() -> None:
    def lineage(dt: str, endpoint: str, account: str = "111111111111", region: str = "us-east-1") -> dict[str, Any]:
        return {"account_id": account, "region": region, "endpoint_name": endpoint, "variant_name": "AllTraffic", "dt": dt}

    con = lake_with_views(
        {
            "endpoint_models": [
                lineage("2026-11-01", "retired-prod"),  # gone from the newest snapshot: no alarms
                lineage("2026-11-02", "fraud-detector-prod"),
                lineage("2026-11-02", "fraud-detector-prod"),  # one row per model of the variant: one variant
                lineage("2026-11-02", "lead-scorer-eu", region="eu-west-1"),
            ],
            "endpoints": [{"endpoint_name": "fraud-detector-prod", "business_unit": "Payments"}],
            "monitor_executions": [
                {"account_id": "111111111111", "region": "us-east-1", "endpoint_name": "fraud-detector-prod", "dt": "2026-10-30"}
            ],
        },
        defaults={"violation_count": 0, "report_files": [], "monitoring_type": "DataQuality"},
    )
    assert fleet_of_lake(_DuckEngine(con)) == [
        FleetEndpoint("111111111111", "eu-west-1", "lead-scorer-eu", "AllTraffic", "unassigned", monitored=False),
        FleetEndpoint("111111111111", "us-east-1", "fraud-detector-prod", "AllTraffic", "Payments", monitored=True),
    ]


def test_a_night_signals_its_outcome_and_each_endpoints_violations() -> None:
    def execution(endpoint: str, violations: int, dt: str = "2026-11-02") -> dict[str, Any]:
        return {
            "account_id": "111111111111",
            "region": "us-east-1",
            "endpoint_name": endpoint,
            "violation_count": violations,
            "dt": dt,
        }

    con = lake_with_views(
        {
            "monitor_executions": [
                execution("fraud-detector-prod", 3),
                execution("fraud-detector-prod", 2),
                execution("recommender-prod", 0),
                execution("fraud-detector-prod", 9, dt="2026-11-01"),  # another night
            ]
        },
        defaults={"report_files": [], "monitoring_type": "DataQuality"},
    )
    data = night_signals(_config(), _DuckEngine(con), date(2026, 11, 2), failed=False, quarantined=2)
    assert data[:2] == [
        {"MetricName": "NightsFailed", "Value": 0.0, "Unit": "Count"},
        {"MetricName": "QuarantinedPartitions", "Value": 2.0, "Unit": "Count"},
    ]
    violations = {d["Dimensions"][2]["Value"]: d["Value"] for d in data[2:]}
    assert violations == {"fraud-detector-prod": 5.0, "recommender-prod": 0.0}
    alarm = next(p for p in fleet_requests(_config(), FLEET) if p.name.endswith("fraud-detector-prod-monitoring-violations"))
    assert alarm.request["Dimensions"] == data[2]["Dimensions"]  # what the night emits is what the alarm watches
