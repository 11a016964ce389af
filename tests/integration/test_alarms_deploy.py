"""Alarms, rules and the dashboard against the local stack: created once, a second deploy changes nothing, a changed
threshold is an update with its diff, a retired endpoint's alarms are deleted, and the plan sends nothing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pipelines.aws import lake_session
from pipelines.config import Config, parse_config
from pipelines.publish.alarms.definitions import fleet_requests
from pipelines.publish.alarms.deploy import CREATED, DELETED, UNCHANGED, UPDATED, deploy_fleet
from pipelines.publish.alarms.fleet import FleetEndpoint
from pipelines.publish.alarms.routing import ENDPOINT_ALARMS_RULE, MODEL_MONITOR_RULE

TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-lake-alerts"
SOURCE = "111111111111"
FLEET = [
    FleetEndpoint(SOURCE, "us-east-1", "fraud-detector-prod", "AllTraffic", "Payments", monitored=True),
    FleetEndpoint(SOURCE, "eu-west-1", "payments-router-eu", "AllTraffic", "Payments", monitored=False),
]


def _config(endpoint_url: str, **alerts: Any) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
            "sources": [
                {"account_id": SOURCE, "role_arn": f"arn:aws:iam::{SOURCE}:role/Reader", "regions": ["us-east-1", "eu-west-1"]}
            ],
            "alerts": {"sns_topic_arn": TOPIC, **alerts},
            "endpoint_url": endpoint_url,
        }
    )


def _mutating(session: Any, before: dict[str, int]) -> list[str]:
    made = {k for k, n in session.calls.snapshot().items() if n != before.get(k, 0)}
    return sorted(k for k in made if k.split(".")[1].startswith(("Put", "Delete", "Remove")))


def test_deploy_twice_then_a_changed_threshold_then_a_retired_endpoint(endpoint_url: str) -> None:
    session = lake_session("us-east-1", endpoint_url)
    config = _config(endpoint_url)
    first = deploy_fleet(session, config, fleet_requests(config, FLEET))
    assert {c.action for c in first} == {CREATED}
    assert sum(c.kind == "alarm" for c in first) == 2 * 2 + 1 + 2  # two per variant, one monitored endpoint, the pipeline's two

    source = session.assume(f"arn:aws:iam::{SOURCE}:role/Reader", "us-east-1")
    alarm = source.client("cloudwatch").describe_alarms(AlarmNames=["mlmon-fraud-detector-prod-AllTraffic-model-latency-p99"])
    assert alarm["MetricAlarms"][0]["Threshold"] == 1_000_000.0
    targets = source.client("events").list_targets_by_rule(Rule=MODEL_MONITOR_RULE)["Targets"]
    assert [(t["Id"], t["Arn"], t["RoleArn"]) for t in targets] == [
        (
            "lake-bus",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
            f"arn:aws:iam::{SOURCE}:role/MlLakeEventForwarder",
        )
    ]
    lake_events = session.client("events")
    for rule in (MODEL_MONITOR_RULE, ENDPOINT_ALARMS_RULE):
        (target,) = lake_events.list_targets_by_rule(Rule=rule)["Targets"]
        assert target["Arn"] == TOPIC and "InputTransformer" in target
    body = json.loads(session.client("cloudwatch").get_dashboard(DashboardName="ml-performance-lake")["DashboardBody"])
    assert len(body["widgets"]) == 4 + 3 * len(FLEET)

    before = dict(session.calls.snapshot())
    second = deploy_fleet(session, config, fleet_requests(config, FLEET))
    assert {c.action for c in second} == {UNCHANGED} and _mutating(session, before) == []

    stricter = _config(endpoint_url, latency_p99_ms=400)
    before = dict(session.calls.snapshot())
    plan = deploy_fleet(session, stricter, fleet_requests(stricter, FLEET), apply=False)
    assert _mutating(session, before) == []
    updated = {c.name: c for c in plan if c.action != UNCHANGED}
    assert set(updated) == {
        "mlmon-fraud-detector-prod-AllTraffic-model-latency-p99",
        "mlmon-payments-router-eu-AllTraffic-model-latency-p99",
    }
    diff = updated["mlmon-fraud-detector-prod-AllTraffic-model-latency-p99"].diff
    assert [line[0] + line[1:].strip().rstrip(",") for line in diff if line[:1] in "+-" and line[:3] not in ("---", "+++")][
        -2:
    ] == [
        '-"Threshold": 1000000.0',
        '+"Threshold": 400000.0',
    ]
    applied = deploy_fleet(session, stricter, fleet_requests(stricter, FLEET))
    assert {c.name for c in applied if c.action == UPDATED} == set(updated)

    retired = [FLEET[0]]
    changes = deploy_fleet(session, stricter, fleet_requests(stricter, retired))
    assert sorted((c.name, c.region) for c in changes if c.action == DELETED) == [
        ("mlmon-endpoint-alarms", "eu-west-1"),  # no endpoint left there: its forwarder goes too
        ("mlmon-payments-router-eu-AllTraffic-5xx-rate", "eu-west-1"),
        ("mlmon-payments-router-eu-AllTraffic-model-latency-p99", "eu-west-1"),
    ]
    eu = session.assume(f"arn:aws:iam::{SOURCE}:role/Reader", "eu-west-1").client("cloudwatch")
    assert eu.describe_alarms(AlarmNamePrefix="mlmon-")["MetricAlarms"] == []


def test_an_unreachable_account_fails_alone(endpoint_url: str) -> None:
    session = lake_session("us-east-1", endpoint_url)
    config = _config(endpoint_url)
    broken = dataclasses.replace(FLEET[0], region="eu-west-1")
    config = config.model_copy(
        update={
            "sources": [
                *config.sources,
                config.sources[0].model_copy(
                    update={"account_id": "333333333333", "role_arn": None, "regions": ["xx-nowhere-1"]}
                ),
            ]
        }
    )
    changes = deploy_fleet(session, config, fleet_requests(config, [*FLEET, broken]))
    failed = [c for c in changes if c.action == "failed"]
    assert [(c.account, c.region) for c in failed] == [("333333333333", "xx-nowhere-1")] and failed[0].error
    assert any(c.action == CREATED and c.region == "eu-west-1" for c in changes)


def test_a_source_that_is_the_lakes_own_account_is_kept_once_not_flapping(endpoint_url: str) -> None:
    """The lake account (moto's 123456789012) listed as a source too: its endpoint alarms and the lake's own alarms
    live in one place; visited twice, each visit would delete the other's as stale."""
    session = lake_session("us-east-1", endpoint_url)
    config = _config(endpoint_url)
    config = config.model_copy(
        update={
            "sources": [*config.sources, config.sources[0].model_copy(update={"account_id": "123456789012", "role_arn": None})]
        }
    )
    home = FleetEndpoint("123456789012", "us-east-1", "lake-side", "AllTraffic", "Payments", monitored=True)
    first = deploy_fleet(session, config, fleet_requests(config, [*FLEET, home]))
    assert not any(c.action in (DELETED, "failed") for c in first)
    second = deploy_fleet(session, config, fleet_requests(config, [*FLEET, home]))
    assert {c.action for c in second} == {UNCHANGED}
    names = {a["AlarmName"] for a in session.client("cloudwatch").describe_alarms(AlarmNamePrefix="mlmon-")["MetricAlarms"]}
    assert {"mlmon-lake-side-AllTraffic-5xx-rate", "mlmon-pipeline-night-failed"} <= names
