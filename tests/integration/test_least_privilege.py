"""The job role and the reader role grant exactly what the code calls: every API call a night, an alarms deploy and a
QuickSight deploy make against the local stack maps to an IAM action the right role grants, and every granted action
is called (or listed below with the reason the local stack cannot exercise it)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipelines.aws import Session, lake_session
from pipelines.config import Config
from pipelines.demo.buckets import create_bucket
from pipelines.demo.fleet import fleet_for_nights
from pipelines.demo.incidents import duplicate_export
from pipelines.demo.run import DEMO_BUCKET, DEMO_REGION, KPI_INBOX, MONITOR_ACCOUNT, MONITOR_BUCKET, demo_config, morning_after
from pipelines.demo.seed_business_kpis import seed_kpi_drops
from pipelines.demo.seed_cloudwatch_metrics import seed_metrics
from pipelines.demo.seed_endpoint_logs import seed_endpoint_logs
from pipelines.demo.seed_endpoint_models import seed_endpoint_models
from pipelines.demo.seed_model_monitor import seed_model_monitor
from pipelines.nightly import run_night
from pipelines.publish.alarms.definitions import fleet_requests
from pipelines.publish.alarms.deploy import deploy_fleet
from pipelines.publish.alarms.fleet import fleet_of_lake
from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
from pipelines.publish.quicksight.release import build_release, deploy_release, lake_columns
from pipelines.query.local import LocalLakeEngine
from tests.clock import NIGHT
from tests.unit.stackdefs import load_template

GLUE_JOBS = Path(__file__).resolve().parents[2] / "glue_jobs"
PLATFORM = "arn:aws:quicksight:us-east-1:123456789012:group/default/platform"
LAKE_KEY = "testing"  # tests/conftest.py's credentials: the lake's (job role's); assumed sessions get moto's own keys

# botocore's service id -> IAM's service prefix.
SERVICE_PREFIX = {
    "S3": "s3",
    "Glue": "glue",
    "CloudWatch": "cloudwatch",
    "CloudWatch Logs": "logs",
    "EventBridge": "events",
    "SageMaker": "sagemaker",
    "STS": "sts",
    "QuickSight": "quicksight",
    "Athena": "athena",
    "SNS": "sns",
}
# Where the IAM action is not the operation's name (the default is <prefix>:<Operation>).
IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "S3.ListObjectsV2": ("s3:ListBucket",),
    "S3.ListObjects": ("s3:ListBucket",),
    "S3.HeadObject": ("s3:GetObject",),
    "S3.HeadBucket": ("s3:ListBucket",),
    "S3.CopyObject": ("s3:GetObject", "s3:PutObject"),  # read the source, write the copy
    "S3.UploadPartCopy": ("s3:GetObject", "s3:PutObject"),
    "S3.DeleteObjects": ("s3:DeleteObject",),
    "S3.CreateMultipartUpload": ("s3:PutObject",),
    "S3.UploadPart": ("s3:PutObject",),
    "S3.CompleteMultipartUpload": ("s3:PutObject",),
    "S3.ListObjectVersions": ("s3:ListBucketVersions",),
    "QuickSight.DescribeAnalysisDefinition": ("quicksight:DescribeAnalysis",),
    "QuickSight.DescribeDashboardDefinition": ("quicksight:DescribeDashboard",),
    "STS.GetCallerIdentity": (),  # needs no permission
}

# Granted but not called against the local stack; each with why AWS needs it.
JOB_ROLE_NOT_EXERCISED = {
    "athena:GetWorkGroup": "in AWS the views and queries run on Athena (pipelines/query/athena.py); locally on DuckDB",
    "athena:StartQueryExecution": "the same: CREATE OR REPLACE VIEW and mlmon query on Athena",
    "athena:GetQueryExecution": "the same: awswrangler polls each query until it ends",
    "s3:GetBucketLocation": "Athena checks the result location's bucket with the caller's rights",
    "s3:AbortMultipartUpload": "awswrangler aborts a failed multipart upload of a large Parquet file (local files are small)",
    "logs:CreateLogGroup": "Glue's continuous logging (the job's JSON lines) uses the job role; the group is the stack's",
    "logs:CreateLogStream": "the same",
    "logs:PutLogEvents": "the same",
    "quicksight:PassDataSource": "CreateDataSet names the data source: an IAM check, not an API call",
    "quicksight:PassDataSet": "CreateAnalysis and CreateDashboard name the datasets: an IAM check, not an API call",
    "quicksight:DeleteAnalysis": "a creation that ends *_FAILED is removed (test_quicksight_release.py injects it)",
    "quicksight:DeleteDashboard": "the same, for the dashboard",
    "quicksight:DeleteDataSource": "the same, for the data source",
    "iam:PassRole": "PutTargets with the retraining rule's RoleArn: an IAM check, not an API call",
}
READER_ROLE_NOT_EXERCISED = {
    "iam:PassRole": "PutTargets with the forwarder role as a rule's RoleArn: an IAM check, not an API call",
}


def iam_actions(call: str) -> tuple[str, ...]:
    """The IAM actions one `Service.Operation` call needs."""
    if call in IAM_ACTIONS:
        return IAM_ACTIONS[call]
    service, operation = call.rsplit(".", 1)
    return (f"{SERVICE_PREFIX[service]}:{operation}",)


def _resolve(node: Any) -> Any:
    """A template fragment with every Fn::If on its true branch (all optional features on) and AWS::NoValue removed."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            return _resolve(node["Fn::If"][1])
        return {k: _resolve(v) for k, v in node.items() if _resolve(v) != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [_resolve(v) for v in node if _resolve(v) != {"Ref": "AWS::NoValue"}]
    return node


def granted(template: str, role: str) -> dict[str, list[dict[str, Any]]]:
    """Action -> the Allow statements of role `role` in glue_jobs/`template` that grant it."""
    resources = load_template(str(GLUE_JOBS / template))["Resources"]
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in _resolve(resources[role]["Properties"]["Policies"]):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                found.setdefault(action, []).append(statement)
    return found


def calls_by_principal(session: Session) -> Counter[tuple[str, str]]:
    """(job | reader, Service.Operation) of every call from now on: the lake's credentials are the job role's."""
    seen: Counter[tuple[str, str]] = Counter()

    def record(model: Any, request_signer: Any = None, **_: Any) -> None:
        credentials = getattr(request_signer, "_credentials", None)
        who = "job" if credentials is not None and credentials.access_key == LAKE_KEY else "reader"
        seen[(who, f"{model.service_model.service_id}.{model.name}")] += 1

    session.register_hook("before-call.*.*", record)
    return seen


def _changed_assets(tmp_path: Path) -> Path:
    """The report with one visual's title changed: the second deploy updates the analysis and dashboard."""
    assets = tmp_path / "quicksight"
    shutil.copytree(QUICKSIGHT_DIR, assets)
    path = assets / "analysis.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["Definition"]["Sheets"][0]["Visuals"][0]["KPIVisual"]["Title"]["FormatText"]["PlainText"] = "Net revenue"
    path.write_text(json.dumps(document), encoding="utf-8")
    return assets


def _with_retraining(config: Config) -> Config:
    alerts = config.alerts.model_copy(
        update={
            "retrain_target_arn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/retrain-fraud",
            "retrain_role_arn": "arn:aws:iam::123456789012:role/mlmon-retrain",
        }
    )
    return config.model_copy(update={"alerts": alerts})


@pytest.fixture(scope="module")
def used(tmp_path_factory: pytest.TempPathFactory, _stack: Any) -> Counter[tuple[str, str]]:
    """What the jobs do, against the local stack: two nights (the second quarantines), alarms and the report deployed,
    changed and redeployed (updates, a retired endpoint's alarms and rule deleted)."""
    stack = _stack
    stack.reset()
    fleet = fleet_for_nights(7, NIGHT, 2, 1)
    nights = list(fleet.nights)
    stack.clock.set(morning_after(nights[0]))
    seeding = lake_session(DEMO_REGION, stack.endpoint_url)  # seeding is not the job's: its calls are not counted

    def source(account_id: str, region: str) -> Session:
        return seeding.assume(f"arn:aws:iam::{account_id}:role/MlLakeReader", region)

    create_bucket(seeding, DEMO_BUCKET, DEMO_REGION)
    config = _with_retraining(
        demo_config(
            stack.endpoint_url,
            fleet,
            seed_model_monitor(
                source(MONITOR_ACCOUNT, DEMO_REGION),
                MONITOR_BUCKET,
                fleet,
                write=lambda bucket, objects: stack.put_objects(MONITOR_ACCOUNT, bucket, objects),
            ),
        )
    )
    assert config.alerts.sns_topic_arn is not None
    seeding.client("sns").create_topic(Name=config.alerts.sns_topic_arn.rsplit(":", 1)[1])
    seed_endpoint_models(source, fleet)
    seed_metrics(stack.metric_store, fleet)

    session = lake_session(DEMO_REGION, stack.endpoint_url)
    seen = calls_by_principal(session)
    engine = LocalLakeEngine(session, config.lake)
    for night in nights:
        stack.clock.set(morning_after(night))
        seed_kpi_drops(seeding, KPI_INBOX, fleet, [night])
        seed_endpoint_logs(source, fleet, [night], now=stack.clock.now())
        if night == nights[-1]:  # every datapoint twice: the audit quarantines cloudwatch_metrics
            session.register_hook("after-call.cloudwatch.GetMetricData", duplicate_export)
        run_night(config, night, session=session, engine=engine)
        if night == nights[0]:  # the views exist now: the report and the alarms can be deployed
            deploy_release(session.client("quicksight"), build_release(config, lake_columns(session, config)))
            lake_fleet = fleet_of_lake(engine)
            deploy_fleet(session, config, fleet_requests(config, lake_fleet))
    changed = config.model_copy(
        update={
            "quicksight": config.quicksight.model_copy(
                update={
                    "refresh_at": "07:00",
                    "owners": [*config.quicksight.owners, PLATFORM],
                    "viewers": config.quicksight.owners,
                }
            )
        }
    )
    deploy_release(
        session.client("quicksight"),
        build_release(changed, lake_columns(session, changed), _changed_assets(tmp_path_factory.mktemp("qs"))),
    )
    # 111111111111's us-east-1 endpoints retire: their alarms, the Model Monitor rule and the retraining rule go
    retired = [e for e in lake_fleet if (e.account_id, e.region) != ("111111111111", "us-east-1")]
    deploy_fleet(session, config, fleet_requests(config, retired))
    assert sum(seen.values()) == sum(session.calls.snapshot().values())  # the split saw every counted call
    return seen


def _used_actions(used: Counter[tuple[str, str]], who: str) -> set[str]:
    return {action for (principal, call) in used if principal == who for action in iam_actions(call)}


@pytest.mark.parametrize(
    ("who", "template", "role", "not_exercised"),
    [
        ("job", "stack.yaml", "JobRole", JOB_ROLE_NOT_EXERCISED),
        ("reader", "reader-role.yaml", "ReaderRole", READER_ROLE_NOT_EXERCISED),
    ],
)
def test_the_role_grants_what_the_code_calls_and_nothing_else(
    used: Counter[tuple[str, str]], who: str, template: str, role: str, not_exercised: dict[str, str]
) -> None:
    needed = _used_actions(used, who)
    grants = set(granted(template, role))
    missing, unused = sorted(needed - grants), sorted(grants - needed - set(not_exercised))
    assert missing == [], f"{template} {role} lacks what the code calls: {missing}"
    assert unused == [], f"{template} {role} grants what the code never calls: {unused}"
    exercised = sorted(set(not_exercised) & needed)
    assert exercised == [], f"exercised now, take them off the not-exercised list: {exercised}"
    assert sorted(set(not_exercised) - grants) == [], "listed as not exercised but not granted"


def test_every_call_is_mapped_to_a_known_iam_action(used: Counter[tuple[str, str]]) -> None:
    known = _known_actions()
    actions = {action for (_, call) in used for action in iam_actions(call)} | set(JOB_ROLE_NOT_EXERCISED)
    assert sorted(a for a in actions if a.lower() not in known) == []


def test_no_wildcard_actions() -> None:
    for template in ("stack.yaml", "reader-role.yaml"):
        for resource in load_template(str(GLUE_JOBS / template))["Resources"].values():
            for statement in _allow_statements(_resolve(resource.get("Properties", {}))):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert [a for a in actions if a == "*" or a.endswith(":*") or "*" in a] == [], (template, statement)


def _allow_statements(node: Any) -> list[dict[str, Any]]:
    """Every Allow statement anywhere under `node` (role policies, bucket and topic policies)."""
    if isinstance(node, dict):
        if node.get("Effect") == "Allow" and "Action" in node:
            return [node]
        return [s for value in node.values() for s in _allow_statements(value)]
    if isinstance(node, list):
        return [s for value in node for s in _allow_statements(value)]
    return []


def _known_actions() -> set[str]:
    """IAM's actions, lower-cased (`s3:getobject`), as cfn-lint knows them."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    policies = load_resource(AdditionalSpecs, "Policies.json")
    return {f"{prefix}:{action}".lower() for prefix, service in policies.items() for action in service.get("Actions", {})}
