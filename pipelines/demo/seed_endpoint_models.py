"""Seed the demo fleet's SageMaker lineage (registry, models, configs, endpoints) and the model change the lineage should catch."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.demo.fleet import DemoEndpoint, Fleet
from pipelines.demo.fleet_stories import CHANGE_ENDPOINT, CHANGE_FROM_VERSION, MODEL_CHANGE

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# A session for (account id, region): a function or a mapping
SessionFor = Callable[[str, str], Session] | Mapping[tuple[str, str], Session]

UNREGISTERED_ENDPOINT = "churn-predictor-prod"  # a hand-deployed model: no model package, lineage columns stay null
GO_LIVE_TAG = "mlmon:demo-go-live"  # on the staged endpoint config: the day the demo switches to it


@dataclass(frozen=True)
class ModelChange:
    """The demo's planned deployment: `endpoint_name` moves to `to_version` on `day` (before that night runs)."""

    endpoint_name: str
    account_id: str
    region: str
    from_version: int
    to_version: int
    day: date


def planned_model_change(fleet: Fleet) -> ModelChange | None:
    """The fleet's model_change story as a deployment (None when the nights are too few to show one)."""
    story = fleet.story(MODEL_CHANGE)
    if story is None:
        return None
    endpoint = _endpoint(fleet, CHANGE_ENDPOINT)
    return ModelChange(
        endpoint.name, endpoint.account_id, endpoint.region, CHANGE_FROM_VERSION, CHANGE_FROM_VERSION + 1, story.start.date()
    )


def seed_endpoint_models(sessions_by_account_region: SessionFor, fleet: Fleet) -> None:
    """Every fleet endpoint served by a registered model (one by a bare model), and the next version staged.

    CHANGE_ENDPOINT's registry holds versions 1..7 (7 live, approved) and, when the fleet has a
    model_change story, 8 pending approval with its model and endpoint config ready, tagged with
    the story's day; `apply_model_change` approves and deploys it. Call once per fresh stack
    (names are fixed).
    """
    change = planned_model_change(fleet)
    for endpoint in fleet.endpoints:
        session = session_for(sessions_by_account_region, endpoint.account_id, endpoint.region)
        sagemaker = session.client("sagemaker", region_name=endpoint.region)
        if endpoint.name == UNREGISTERED_ENDPOINT:
            container = {"Image": _image(endpoint), "ModelDataUrl": _artifact(endpoint, 1)}
            model = _create_model(sagemaker, endpoint, f"{endpoint.name}-handmade", container)
            _deploy(sagemaker, endpoint, model, f"{endpoint.name}-config-1")
            continue
        live = CHANGE_FROM_VERSION if endpoint.name == CHANGE_ENDPOINT else 1 + zlib.crc32(endpoint.name.encode()) % 4
        group = _group_name(endpoint)
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription=f"{endpoint.product} models"
        )
        arns = [_register(sagemaker, endpoint, group, version, _history_status(version, live)) for version in range(1, live + 1)]
        model = _create_model(sagemaker, endpoint, f"{group}-v{live}", {"ModelPackageName": arns[-1]})
        _deploy(sagemaker, endpoint, model, f"{endpoint.name}-v{live}")
        if change is not None and endpoint.name == change.endpoint_name:
            staged = _register(sagemaker, endpoint, group, live + 1, "PendingManualApproval")
            model = _create_model(sagemaker, endpoint, f"{group}-v{live + 1}", {"ModelPackageName": staged})
            _config(sagemaker, endpoint, model, f"{endpoint.name}-v{live + 1}", tags={GO_LIVE_TAG: change.day.isoformat()})


def apply_model_change(session: Session, endpoint_name: str = CHANGE_ENDPOINT) -> bool:
    """Approve the staged package version and switch the endpoint to its config (UpdateEndpoint).

    `session` is the endpoint's account and region. Returns False (and changes nothing) when
    the endpoint already serves the newest staged config.
    """
    sagemaker = session.client("sagemaker")
    current = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    found = re.fullmatch(rf"{re.escape(endpoint_name)}-v(\d+)", current)
    if found is None:  # not deployed by seed_endpoint_models's naming: nothing staged to switch to
        return False
    target = f"{endpoint_name}-v{int(found.group(1)) + 1}"
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=target)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            return False
        raise
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    package = model["PrimaryContainer"].get("ModelPackageName")
    if package:
        sagemaker.update_model_package(
            ModelPackageArn=package,
            ModelApprovalStatus="Approved",
            ApprovalDescription="Shadow test passed; promoted by the demo",
        )
    sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=target)
    return True


def session_for(sessions: SessionFor, account_id: str, region: str) -> Session:
    return sessions[(account_id, region)] if isinstance(sessions, Mapping) else sessions(account_id, region)


def _endpoint(fleet: Fleet, name: str) -> DemoEndpoint:
    for endpoint in fleet.endpoints:
        if endpoint.name == name:
            return endpoint
    raise KeyError(f"no endpoint {name!r} in the fleet")


def _group_name(endpoint: DemoEndpoint) -> str:
    for suffix in ("-prod", "-eu"):
        if endpoint.name.endswith(suffix):
            return endpoint.name[: -len(suffix)]
    return endpoint.name


def _history_status(version: int, live: int) -> str:
    """Older versions were approved once, except the one before last, which failed review."""
    return "Approved" if version == live or version != live - 1 else "Rejected"


def _image(endpoint: DemoEndpoint) -> str:
    repository = "pytorch-inference:2.3.0-gpu-py311" if endpoint.gpus else "sagemaker-xgboost:1.7-1"
    return f"763104351884.dkr.ecr.{endpoint.region}.amazonaws.com/{repository}"


def _artifact(endpoint: DemoEndpoint, version: int) -> str:
    return f"s3://sagemaker-{endpoint.region}-{endpoint.account_id}/models/{_group_name(endpoint)}/v{version}/model.tar.gz"


def _register(sagemaker: SageMakerClient, endpoint: DemoEndpoint, group: str, version: int, status: str) -> str:
    container = {"Image": _image(endpoint), "ModelDataUrl": _artifact(endpoint, version)}
    spec: Any = {  # InferenceSpecificationTypeDef
        "Containers": [container],
        "SupportedContentTypes": ["text/csv", "application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
        "SupportedRealtimeInferenceInstanceTypes": [endpoint.instance_type],
    }
    response = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=spec,
        ModelApprovalStatus=cast(Any, status),
        ModelPackageDescription=f"{group} v{version}",
    )
    return str(response["ModelPackageArn"])


def _create_model(sagemaker: SageMakerClient, endpoint: DemoEndpoint, name: str, container: dict[str, str]) -> str:
    role = f"arn:aws:iam::{endpoint.account_id}:role/SageMakerExecution"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role, PrimaryContainer=cast(Any, container))
    return name


def _config(sagemaker: SageMakerClient, endpoint: DemoEndpoint, model: str, name: str, tags: dict[str, str] | None = None) -> str:
    count = 2 if endpoint.gpus == 0 and endpoint.vcpus >= 8 else 1
    variant: Any = {  # ProductionVariantTypeDef
        "VariantName": endpoint.variant_name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": endpoint.instance_type,
        "InitialVariantWeight": 1.0,
    }
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant], Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    )
    return name


def _deploy(sagemaker: SageMakerClient, endpoint: DemoEndpoint, model: str, config_name: str) -> None:
    _config(sagemaker, endpoint, model, config_name)
    sagemaker.create_endpoint(EndpointName=endpoint.name, EndpointConfigName=config_name)
