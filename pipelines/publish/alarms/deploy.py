"""Converge alarms, rules and the dashboard on what the fleet calls for: describe -> diff -> put / delete / leave alone.

Every account x region of the config is visited (and the lake's own), even one whose endpoints
all retired, so what carries our prefix there and is no longer wanted is removed; a second
deploy changes nothing. An account that cannot be reached is reported and the others go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.logs import get_logger
from pipelines.publish.alarms.definitions import Placed, fleet_requests
from pipelines.publish.alarms.fleet import fleet_of_lake
from pipelines.publish.alarms.names import PREFIX
from pipelines.publish.diff import request_diff

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

    from pipelines.query.engine import QueryEngine

log = get_logger(__name__)

CREATED, UPDATED, UNCHANGED, DELETED, FAILED = "created", "updated", "unchanged", "deleted", "failed"
_NOT_COMPARED = ("Tags",)
Place = tuple[str | None, str | None, str]  # account (None: the lake's), role, region


@dataclass(frozen=True)
class Change:
    """What a deploy did (or would do) to one resource; `diff` says how an update differs, `error` why a place failed."""

    kind: str  # alarm, rule, dashboard, account
    name: str
    account: str  # an account id, or "lake"
    region: str
    action: str
    diff: tuple[str, ...] = ()
    error: str | None = None


def places(config: Config, placed: Sequence[Placed], lake_account: str | None = None) -> list[Place]:
    """Every account x region to visit: the config's sources (with their roles) and the lake's region.

    A source that is the lake's own account is visited as the lake (once per region): two visits
    would each see the other's `mlmon-` resources as stale and delete them.
    """
    found: set[Place] = {_place(s.account_id, s.role_arn, region, lake_account) for s in config.sources for region in s.regions}
    found |= {_place(p.account_id, p.role_arn, p.region, lake_account) for p in placed}
    found.add((None, None, config.lake.region))
    return sorted(found, key=lambda p: (p[0] or "", p[2]))


def _place(account: str | None, role: str | None, region: str, lake_account: str | None) -> Place:
    return (None, None, region) if account is None or account == lake_account else (account, role, region)


def lake_account_of(session: Session, config: Config) -> str:
    """The lake's account: the alerts topic's, or (no topic) whoever the lake's credentials are."""
    if config.alerts.sns_topic_arn:
        return config.alerts.sns_topic_arn.split(":")[4]
    return str(session.in_region(config.lake.region).client("sts").get_caller_identity()["Account"])


def deploy_fleet(session: Session, config: Config, placed: Sequence[Placed], *, apply: bool = True) -> list[Change]:
    """Converge every place on its share of `placed`; apply=False describes only (the plan)."""
    lake = lake_account_of(session, config)
    wanted = {
        place: [p for p in placed if _place(p.account_id, p.role_arn, p.region, lake) == place]
        for place in places(config, placed, lake)
    }
    changes: list[Change] = []
    external_ids = {s.account_id: s.external_id for s in config.sources}
    for (account, role, region), mine in wanted.items():
        who = account or "lake"
        try:
            if account is None or role is None:
                target = session.in_region(region)
            else:
                target = session.assume(role, region, external_id=external_ids.get(account))
            changes += _converge(target, mine, who, region, apply)
        except (PipelineError, ClientError, BotoCoreError) as error:
            changes.append(Change("account", who, who, region, FAILED, error=f"{type(error).__name__}: {error}"))
    return changes


def _converge(session: Session, placed: Sequence[Placed], who: str, region: str, apply: bool) -> list[Change]:
    by_kind = {kind: list(items) for kind, items in groupby(sorted(placed, key=lambda p: p.kind), key=lambda p: p.kind)}
    changes = _alarms(session.client("cloudwatch"), by_kind.get("alarm", []), who, region, apply)
    changes += _rules(session.client("events"), by_kind.get("rule", []), who, region, apply)
    for dashboard in by_kind.get("dashboard", []):
        changes.append(_dashboard(session.client("cloudwatch"), dashboard, who, region, apply))
    return changes


def _existing_alarms(cloudwatch: CloudWatchClient) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=PREFIX, AlarmTypes=["MetricAlarm"]):
        found.update({a["AlarmName"]: dict(a) for a in page.get("MetricAlarms", [])})
    return found


def _alarms(cloudwatch: CloudWatchClient, placed: Sequence[Placed], who: str, region: str, apply: bool) -> list[Change]:
    existing = _existing_alarms(cloudwatch)
    changes = []
    for alarm in placed:
        found = existing.get(alarm.name)
        diff = tuple(request_diff(found, alarm.request, _NOT_COMPARED)) if found is not None else ()
        action = CREATED if found is None else (UPDATED if diff else UNCHANGED)
        if apply and action != UNCHANGED:
            cloudwatch.put_metric_alarm(**alarm.request)
        changes.append(Change("alarm", alarm.name, who, region, action, diff))
    stale = sorted(set(existing) - {a.name for a in placed})
    if apply:
        for start in range(0, len(stale), 100):  # DeleteAlarms takes 100 names a call
            cloudwatch.delete_alarms(AlarmNames=stale[start : start + 100])
    return changes + [Change("alarm", name, who, region, DELETED) for name in stale]


def _rules(events: Any, placed: Sequence[Placed], who: str, region: str, apply: bool) -> list[Change]:
    existing = {r["Name"]: r for page in events.get_paginator("list_rules").paginate(NamePrefix=PREFIX) for r in page["Rules"]}
    changes = []
    for rule in placed:
        found = existing.get(rule.name)
        targets = events.list_targets_by_rule(Rule=rule.name)["Targets"] if found else []
        deployed = {**(found or {}), "Targets": targets}
        wanted = {**rule.request, "Targets": rule.targets}
        diff = tuple(request_diff(_comparable(deployed), _comparable(wanted), _NOT_COMPARED)) if found else ()
        action = CREATED if found is None else (UPDATED if diff else UNCHANGED)
        if apply and action != UNCHANGED:
            events.put_rule(**rule.request)
            unwanted = [t["Id"] for t in targets if t["Id"] not in {w["Id"] for w in rule.targets}]
            if unwanted:
                events.remove_targets(Rule=rule.name, Ids=unwanted)
            events.put_targets(Rule=rule.name, Targets=rule.targets)
        changes.append(Change("rule", rule.name, who, region, action, diff))
    stale = sorted(set(existing) - {r.name for r in placed})
    for name in stale if apply else ():
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]]
        if ids:
            events.remove_targets(Rule=name, Ids=ids)
        events.delete_rule(Name=name)
    return changes + [Change("rule", name, who, region, DELETED) for name in stale]


def _comparable(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule with its event pattern parsed, so key order and spacing are not a change."""
    pattern = rule.get("EventPattern")
    return {**rule, "EventPattern": json.loads(pattern)} if isinstance(pattern, str) else rule


def _dashboard(cloudwatch: CloudWatchClient, placed: Placed, who: str, region: str, apply: bool) -> Change:
    try:
        body: dict[str, Any] | None = json.loads(cloudwatch.get_dashboard(DashboardName=placed.name)["DashboardBody"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ResourceNotFoundException"):
            raise
        body = None
    wanted = json.loads(placed.request["DashboardBody"])
    diff = tuple(request_diff(body, wanted)) if body is not None else ()
    action = CREATED if body is None else (UPDATED if diff else UNCHANGED)
    if apply and action != UNCHANGED:
        cloudwatch.put_dashboard(**placed.request)
    return Change("dashboard", placed.name, who, region, action, diff)


def summary(changes: Iterable[Change]) -> dict[str, int]:
    """How many resources each action touched."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return dict(sorted(counts.items()))


def deploy_for_lake(session: Session, config: Config, engine: QueryEngine, *, apply: bool = True) -> list[Change]:
    """The fleet the lake knows, converged: what `mlmon alarms deploy`, the demo and the Glue jobs' last step run."""
    return deploy_fleet(session, config, fleet_requests(config, fleet_of_lake(engine)), apply=apply)


def after_night(session: Session, config: Config, engine: QueryEngine) -> list[Change]:
    """The nightly jobs' last step: alarms follow the fleet, so an endpoint lineage first saw tonight is watched from
    this morning and a retired one stops alarming. Anything failing is logged; the night stands."""
    try:
        changes = deploy_for_lake(session, config, engine)
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.warning("alarms_not_deployed", error=f"{type(error).__name__}: {error}")
        return []
    failed = [f"{c.account} {c.region}: {c.error}" for c in changes if c.action == FAILED]
    log.info("alarms_deployed", **summary(changes), failed_places=failed)
    return changes
