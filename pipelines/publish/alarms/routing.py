"""How an endpoint's trouble reaches the alerts topic from any account and region: through the lake's event bus.

CloudWatch alarm actions and EventBridge's SNS targets must be in the topic's region, and an SNS
target in another account needs a role there anyway, so the endpoint alarms carry no actions:
their state changes, like Model Monitor's processing-job changes, are events. In every source
account x region two rules forward just those events (with the forwarder role of
glue_jobs/reader-role.yaml) to the default bus of the topic's account and region, where the same
two rules send them to the topic as one readable line. Cross-account and cross-region event bus
targets are both supported by EventBridge; the bus policy of glue_jobs/stack.yaml admits the
source accounts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipelines.config import Config
from pipelines.publish.alarms.fleet import FleetEndpoint
from pipelines.publish.alarms.names import PREFIX, TAGS
from pipelines.publish.alarms.placed import Placed

MODEL_MONITOR_RULE = f"{PREFIX}model-monitor-executions"
ENDPOINT_ALARMS_RULE = f"{PREFIX}endpoint-alarms"
ENDPOINT_ALARM_SUFFIXES = ("-model-latency-p99", "-5xx-rate")

# Model Monitor runs its executions as processing jobs named model-monitoring-...; their state change carries the
# status and, for violations, an ExitMessage starting CompletedWithViolations.
MODEL_MONITOR_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Processing Job State Change"],
    "detail": {
        "ProcessingJobName": [{"prefix": "model-monitoring-"}],
        "$or": [{"ProcessingJobStatus": ["Failed"]}, {"ExitMessage": [{"prefix": "CompletedWithViolations"}]}],
    },
}
# Only our endpoint alarms (the lake's own alarms notify the topic directly), going into or out of ALARM.
ENDPOINT_ALARMS_PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {
        "alarmName": [{"wildcard": f"{PREFIX}*{suffix}"} for suffix in ENDPOINT_ALARM_SUFFIXES],
        "state": {"value": ["ALARM", "OK"]},
    },
}
_MESSAGES = {
    MODEL_MONITOR_RULE: (
        {
            "job": "$.detail.ProcessingJobName",
            "status": "$.detail.ProcessingJobStatus",
            "exit": "$.detail.ExitMessage",
            "account": "$.account",
            "region": "$.region",
        },
        '"mlmon: Model Monitor execution <job> in <account> <region> ended <status>: <exit>"',
    ),
    ENDPOINT_ALARMS_RULE: (
        {
            "alarm": "$.detail.alarmName",
            "state": "$.detail.state.value",
            "reason": "$.detail.state.reason",
            "account": "$.account",
            "region": "$.region",
        },
        '"mlmon: <alarm> is <state> in <account> <region>: <reason>"',
    ),
}
_DESCRIPTIONS = {
    MODEL_MONITOR_RULE: "A Model Monitor execution failed or completed with violations",
    ENDPOINT_ALARMS_RULE: "An endpoint's p99 latency or 5xx-rate alarm changed state",
}


def topic_place(topic_arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of the alerts topic: its account's default bus is where every alert gathers."""
    _, partition, _, region, account, _ = topic_arn.split(":", 5)
    return partition, region, account


def alert_rules(config: Config, fleet: Sequence[FleetEndpoint], roles: dict[str, str | None]) -> list[Placed]:
    """Every rule alerts travel by: forwarders where the endpoints are, then the lake's own.

    The Model Monitor rule goes only where a monitored endpoint is; an account x region that is the
    topic's own needs no forwarder (the lake's rules see its events).
    """
    topic = config.alerts.sns_topic_arn
    if not topic or not fleet:
        return []
    partition, region, account = topic_place(topic)
    bus = f"arn:{partition}:events:{region}:{account}:event-bus/default"
    rules: list[Placed] = []
    for name, pattern, where in (
        (MODEL_MONITOR_RULE, MODEL_MONITOR_PATTERN, sorted({(e.account_id, e.region) for e in fleet if e.monitored})),
        (ENDPOINT_ALARMS_RULE, ENDPOINT_ALARMS_PATTERN, sorted({(e.account_id, e.region) for e in fleet})),
    ):
        if not where:
            continue
        for source_account, source_region in where:
            if (source_account, source_region) == (account, region):
                continue
            forwarder = f"arn:{partition}:iam::{source_account}:role/{config.alerts.forwarder_role_name}"
            forward: dict[str, Any] = {"Id": "lake-bus", "Arn": bus, "RoleArn": forwarder}
            request = _rule(name, pattern, f"{_DESCRIPTIONS[name]}: forwarded to the lake's event bus")
            rules.append(Placed("rule", name, source_region, request, source_account, roles.get(source_account), [forward]))
        paths, template = _MESSAGES[name]
        target: dict[str, Any] = {
            "Id": "alerts",
            "Arn": topic,
            "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template},
        }
        rules.append(Placed("rule", name, region, _rule(name, pattern, _DESCRIPTIONS[name]), targets=[target]))
    return rules


def _rule(name: str, pattern: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "Name": name,
        "EventPattern": json.dumps(pattern, sort_keys=True),
        "State": "ENABLED",
        "Description": description,
        "Tags": TAGS,
    }
