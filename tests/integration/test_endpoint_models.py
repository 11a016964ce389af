"""Model lineage through boto3 against the local stack: endpoint -> config -> model -> package, night by night."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipelines.audit.gate import audit_and_switch
from pipelines.aws import Session
from pipelines.demo.fleet import build_fleet
from pipelines.demo.fleet_stories import CHANGE_ENDPOINT
from pipelines.demo.seed_endpoint_models import (
    UNREGISTERED_ENDPOINT,
    apply_model_change,
    planned_model_change,
    seed_endpoint_models,
)
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.schemas import ENDPOINT_MODELS
from pipelines.sources.endpoint_models.extract import iter_endpoint_models
from pipelines.sources.endpoint_models.landing import land_endpoint_models
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, day_after, make_config, new_lake, published

REGION = "us-east-1"
ROLE = "arn:aws:iam::{account}:role/SageMakerExecution"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def source(lake: Session, account: str = ACCOUNTS[0]) -> Session:
    return lake.assume(f"arn:aws:iam::{account}:role/MlLakeReader", REGION)


def register(sm: Any, group: str, versions: int, status: str = "Approved") -> list[str]:
    sm.create_model_package_group(ModelPackageGroupName=group)
    spec = {"Containers": [], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    arns = []
    for v in range(1, versions + 1):
        spec["Containers"] = [{"Image": IMAGE, "ModelDataUrl": f"s3://models/{group}/v{v}/model.tar.gz"}]
        arns.append(
            sm.create_model_package(
                ModelPackageGroupName=group,
                InferenceSpecification=spec,
                ModelApprovalStatus=status if v == versions else "Approved",
            )["ModelPackageArn"]
        )
    return arns


def model(sm: Any, name: str, account: str = ACCOUNTS[0], **container: str) -> str:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE.format(account=account), PrimaryContainer=container)
    return name


def endpoint_config(sm: Any, name: str, *variants: tuple[str, str, str, int]) -> str:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": v, "ModelName": m, "InstanceType": t, "InitialInstanceCount": n} for v, m, t, n in variants
        ],
    )
    return name


def fraud_endpoint(sm: Any, versions: int = 3, status: str = "PendingManualApproval") -> list[str]:
    """ep-a: variant `main` from package version `versions`, a `canary` variant from a bare model."""
    arns = register(sm, "fraud", versions, status)
    model(sm, f"fraud-v{versions}", ModelPackageName=arns[-1])
    model(sm, "fraud-canary", Image=IMAGE, ModelDataUrl="s3://models/canary/model.tar.gz")
    endpoint_config(
        sm, f"ep-a-v{versions}", ("main", f"fraud-v{versions}", "ml.g5.2xlarge", 2), ("canary", "fraud-canary", "ml.m5.large", 1)
    )
    sm.create_endpoint(EndpointName="ep-a", EndpointConfigName=f"ep-a-v{versions}")
    return arns


def rows_by_variant(rows: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["endpoint_name"], r["variant_name"]): r for r in rows}


def test_chain_is_resolved_to_the_package_version_and_approval(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    sm = session.client("sagemaker")
    arns = fraud_endpoint(sm)
    observed = datetime(2025, 6, 3, 4, 0, tzinfo=UTC)
    rows = rows_by_variant(iter_endpoint_models(sm, ACCOUNTS[0], REGION, observed_at=observed))
    main = rows[("ep-a", "main")]
    assert {k: main[k] for k in main if k not in ("model_created_at",)} == {
        "account_id": ACCOUNTS[0],
        "region": REGION,
        "endpoint_name": "ep-a",
        "endpoint_status": "InService",
        "endpoint_config_name": "ep-a-v3",
        "variant_name": "main",
        "instance_type": "ml.g5.2xlarge",
        "instance_count": 2,
        "model_name": "fraud-v3",
        "image": IMAGE,
        "model_data_url": "s3://models/fraud/v3/model.tar.gz",
        "model_package_arn": arns[2],
        "model_package_group": "fraud",
        "model_version": 3,
        "approval_status": "PendingManualApproval",
        "observed_at": datetime(2025, 6, 3, 4, 0),
    }
    package = sm.describe_model_package(ModelPackageName=arns[2])
    assert main["model_created_at"] == package["CreationTime"].astimezone(UTC).replace(tzinfo=None)
    assert set(rows) == {("ep-a", "main"), ("ep-a", "canary")}


def test_endpoint_without_a_package_has_null_package_columns(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    sm = session.client("sagemaker")
    fraud_endpoint(sm)
    canary = rows_by_variant(iter_endpoint_models(sm, ACCOUNTS[0], REGION))[("ep-a", "canary")]
    assert (canary["model_name"], canary["image"], canary["model_data_url"]) == (
        "fraud-canary",
        IMAGE,
        "s3://models/canary/model.tar.gz",
    )
    assert [canary[k] for k in ("model_package_arn", "model_package_group", "model_version", "approval_status")] == [None] * 4
    created = sm.describe_model(ModelName="fraud-canary")["CreationTime"].astimezone(UTC).replace(tzinfo=None)
    assert canary["model_created_at"] == created  # without a package: the model's own creation time


def test_missing_config_model_and_package_leave_their_columns_null(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    sm = session.client("sagemaker")
    model(sm, "orphan", ModelPackageName=f"arn:aws:sagemaker:{REGION}:{ACCOUNTS[0]}:model-package/gone/4")
    endpoint_config(sm, "ep-c-config", ("AllTraffic", "orphan", "ml.c5.large", 3))
    sm.create_endpoint(EndpointName="ep-c", EndpointConfigName="ep-c-config")
    model(sm, "doomed", Image=IMAGE)
    endpoint_config(sm, "ep-d-config", ("AllTraffic", "doomed", "ml.c5.large", 1))
    sm.create_endpoint(EndpointName="ep-d", EndpointConfigName="ep-d-config")
    sm.delete_model(ModelName="doomed")
    model(sm, "m", Image=IMAGE)
    endpoint_config(sm, "ep-e-config", ("AllTraffic", "m", "ml.c5.large", 1))
    sm.create_endpoint(EndpointName="ep-e", EndpointConfigName="ep-e-config")
    sm.delete_endpoint_config(EndpointConfigName="ep-e-config")  # allowed while the endpoint serves it
    rows = rows_by_variant(iter_endpoint_models(sm, ACCOUNTS[0], REGION))
    orphan = rows[("ep-c", "AllTraffic")]
    assert (
        orphan["model_package_arn"].endswith("model-package/gone/4")
        and orphan["model_version"] is None
        and orphan["image"] is None
    )
    doomed = rows[("ep-d", "AllTraffic")]
    assert doomed["model_name"] == "doomed" and doomed["image"] is None and doomed["instance_type"] == "ml.c5.large"
    gone = rows[("ep-e", "AllTraffic")]
    assert gone["endpoint_config_name"] == "ep-e-config" and gone["instance_count"] == 1
    assert gone["model_name"] is None and gone["instance_type"] is None


def test_an_endpoint_that_disappears_mid_call_is_skipped(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    sm = session.client("sagemaker")
    fraud_endpoint(sm)
    sm.create_endpoint(EndpointName="ep-gone", EndpointConfigName="ep-a-v3")
    deleter = source(new_lake(make_config(stack.endpoint_url))).client("sagemaker")
    session.register_hook("after-call.sagemaker.ListEndpoints", lambda **_: deleter.delete_endpoint(EndpointName="ep-gone"))
    hooked = session.client("sagemaker")  # clients copy the session's hooks when they are made
    rows = list(iter_endpoint_models(hooked, ACCOUNTS[0], REGION, extra_endpoints=["ep-not-in-this-account"]))
    assert {r["endpoint_name"] for r in rows} == {"ep-a"}


def test_endpoints_are_listed_page_by_page(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    sm = session.client("sagemaker")
    fraud_endpoint(sm)
    for i in range(4):
        sm.create_endpoint(EndpointName=f"ep-copy-{i}", EndpointConfigName="ep-a-v3")
    before = session.calls.snapshot().get("SageMaker.ListEndpoints", 0)
    rows = list(iter_endpoint_models(sm, ACCOUNTS[0], REGION, page_size=2))
    assert session.calls.snapshot()["SageMaker.ListEndpoints"] - before == 3
    assert len({r["endpoint_name"] for r in rows}) == 5 and len(rows) == 10
    assert session.calls.snapshot()["SageMaker.DescribeModelPackage"] == 1  # described once, however many endpoints use it


def _deny_role(account: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in params.get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    return handler


def _deny_sagemaker(model: Any, **_: Any) -> None:
    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no sagemaker:ListEndpoints"}}, model.name)


def test_a_failing_account_is_an_error_and_the_others_land(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    ensure_lake(lake, config.lake)
    fraud_endpoint(source(lake).client("sagemaker"))
    lake.register_hook("before-parameter-build.sts.AssumeRole", _deny_role(ACCOUNTS[1]))
    landing = land_endpoint_models(lake, config, NIGHT, "run-1")
    assert landing.source == "endpoint_models"
    assert len(landing.errors) == 1 and ACCOUNTS[1] in landing.errors[0] and "AccessDenied" in landing.errors[0]
    [staged] = landing.staged
    assert [uri.rsplit("/", 1)[1] for uri in staged.files] == [f"part-{ACCOUNTS[0]}-{REGION}.parquet"] and staged.rows == 2


def test_access_denied_inside_an_account_fails_that_account(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    ensure_lake(lake, config.lake)
    fraud_endpoint(source(lake).client("sagemaker"))
    lake.register_hook("before-call.sagemaker.ListEndpoints", _deny_sagemaker)
    landing = land_endpoint_models(lake, config, NIGHT, "run-2")
    assert landing.staged == [] and len(landing.errors) == 2
    assert all("ListEndpoints" in e and "AccessDeniedException" in e for e in landing.errors)


def _publish(lake: Session, config: Any, night: Any, run_id: str) -> None:
    landing = land_endpoint_models(lake, config, night, run_id)
    assert landing.errors == []
    for staged in landing.staged:
        outcome = audit_and_switch(lake, config, staged, night.isoformat())
        assert outcome.switched is not None, outcome.report.summary()


def test_a_version_change_between_two_nights_shows_in_the_two_partitions(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    ensure_lake(lake, config.lake)
    sm = source(lake).client("sagemaker")
    arns = fraud_endpoint(sm, versions=3, status="Approved")
    _publish(lake, config, NIGHT, "run-a")
    spec = {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://models/fraud/v4/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    v4 = sm.create_model_package(ModelPackageGroupName="fraud", InferenceSpecification=spec, ModelApprovalStatus="Approved")[
        "ModelPackageArn"
    ]
    model(sm, "fraud-v4", ModelPackageName=v4)
    endpoint_config(sm, "ep-a-v4", ("main", "fraud-v4", "ml.g5.2xlarge", 2), ("canary", "fraud-canary", "ml.m5.large", 1))
    sm.update_endpoint(EndpointName="ep-a", EndpointConfigName="ep-a-v4")
    _publish(lake, config, day_after(NIGHT), "run-b")
    first = rows_by_variant(published(lake, config, "endpoint_models", DT).to_pylist())
    second = rows_by_variant(published(lake, config, "endpoint_models", day_after(NIGHT).isoformat()).to_pylist())
    assert (first[("ep-a", "main")]["model_version"], first[("ep-a", "main")]["model_package_arn"]) == (3, arns[2])
    assert (second[("ep-a", "main")]["model_version"], second[("ep-a", "main")]["model_package_arn"]) == (4, v4)
    assert second[("ep-a", "main")]["endpoint_config_name"] == "ep-a-v4"
    assert first[("ep-a", "canary")]["model_name"] == second[("ep-a", "canary")]["model_name"] == "fraud-canary"
    assert published(lake, config, "endpoint_models", DT).schema.equals(ENDPOINT_MODELS.schema, check_metadata=False)


def test_demo_lineage_and_its_model_change(stack: Any) -> None:
    lake = new_lake(make_config(stack.endpoint_url))
    fleet = build_fleet(seed=7, start=NIGHT - timedelta(days=8), days=8)

    def session_for(account: str, region: str) -> Session:
        return lake.assume(f"arn:aws:iam::{account}:role/MlLakeReader", region)

    change = planned_model_change(fleet)
    assert change is not None
    seed_endpoint_models(session_for, fleet)
    sm = session_for(change.account_id, change.region).client("sagemaker")

    def serving() -> dict[tuple[str, str], dict[str, Any]]:
        return rows_by_variant(iter_endpoint_models(sm, change.account_id, change.region))

    before = serving()[(CHANGE_ENDPOINT, "AllTraffic")]
    assert (before["model_version"], before["approval_status"]) == (change.from_version, "Approved")
    assert apply_model_change(session_for(change.account_id, change.region)) is True
    after = serving()[(CHANGE_ENDPOINT, "AllTraffic")]
    assert (after["model_version"], after["approval_status"]) == (change.to_version, "Approved")
    assert apply_model_change(session_for(change.account_id, change.region)) is False  # nothing newer staged
    churn = next(e for e in fleet.endpoints if e.name == UNREGISTERED_ENDPOINT)
    churn_sm = session_for(churn.account_id, churn.region).client("sagemaker")
    [row] = [
        r for r in iter_endpoint_models(churn_sm, churn.account_id, churn.region) if r["endpoint_name"] == UNREGISTERED_ENDPOINT
    ]
    assert row["model_version"] is None and row["image"] and row["model_data_url"]
    every = [
        r
        for e in {(x.account_id, x.region) for x in fleet.endpoints}
        for r in iter_endpoint_models(session_for(*e).client("sagemaker"), *e)
    ]
    assert sorted(r["endpoint_name"] for r in every) == sorted(e.name for e in fleet.endpoints)
