"""Which model serves each endpoint variant: endpoint -> endpoint config -> model -> model package, as SageMaker describes it tonight."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import pagination
from pipelines.errors import AccountError
from pipelines.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

log = get_logger(__name__)

# SageMaker answers "does not exist" with ValidationException (a few APIs say ResourceNotFound).
NOT_FOUND_CODES = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})


class _Describer:
    """Describe calls of one account x region: not-found is None, anything else fails the source; models and packages cached."""

    def __init__(self, sagemaker: SageMakerClient, account_id: str, region: str) -> None:
        self.sagemaker, self.account_id, self.region = sagemaker, account_id, region
        self._models: dict[str, dict[str, Any] | None] = {}
        self._packages: dict[str, dict[str, Any] | None] = {}

    def call(self, operation: Callable[..., Any], what: str, **params: str) -> dict[str, Any] | None:
        try:
            return dict(operation(**params))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                return None
            raise AccountError(self.account_id, self.region, f"{what}: {error}") from error
        except BotoCoreError as error:
            raise AccountError(self.account_id, self.region, f"{what}: {error}") from error

    def model(self, name: str) -> dict[str, Any] | None:
        if name not in self._models:
            self._models[name] = self.call(self.sagemaker.describe_model, f"DescribeModel {name}", ModelName=name)
        return self._models[name]

    def package(self, name_or_arn: str) -> dict[str, Any] | None:
        if name_or_arn not in self._packages:
            self._packages[name_or_arn] = self.call(
                self.sagemaker.describe_model_package, f"DescribeModelPackage {name_or_arn}", ModelPackageName=name_or_arn
            )
        return self._packages[name_or_arn]


def iter_endpoint_names(sagemaker: SageMakerClient, account_id: str, region: str, page_size: int | None = None) -> Iterator[str]:
    """Every endpoint ListEndpoints knows (followed page by page); a failure fails the account x region."""
    config = pagination(page_size)
    try:
        for page in sagemaker.get_paginator("list_endpoints").paginate(PaginationConfig=config):
            for endpoint in page.get("Endpoints", ()):
                yield endpoint["EndpointName"]
    except (ClientError, BotoCoreError) as error:
        raise AccountError(account_id, region, f"ListEndpoints: {error}") from error


def iter_endpoint_models(
    sagemaker: SageMakerClient,
    account_id: str,
    region: str,
    *,
    extra_endpoints: Iterable[str] = (),
    observed_at: datetime | None = None,
    page_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one `endpoint_models` row per production variant of every endpoint in the account x region.

    Endpoints are the listed ones plus `extra_endpoints` (e.g. those named in config; absent
    ones are skipped quietly). An endpoint deleted between listing and describing is skipped
    with a log line; a config, model or package that cannot be found leaves its columns null.
    Any other failure (AccessDenied, throttling after retries) raises AccountError.
    """
    observed = _naive_utc(observed_at or datetime.now(UTC))
    listed = list(iter_endpoint_names(sagemaker, account_id, region, page_size))
    describer = _Describer(sagemaker, account_id, region)
    for name in sorted(set(listed) | set(extra_endpoints)):
        endpoint = describer.call(sagemaker.describe_endpoint, f"DescribeEndpoint {name}", EndpointName=name)
        if endpoint is None:
            if name in listed:
                log.info("endpoint_vanished", account_id=account_id, region=region, endpoint=name)
            continue
        for row in _variant_rows(describer, endpoint):
            yield {"account_id": account_id, "region": region, **row, "observed_at": observed}


def _variant_rows(describer: _Describer, endpoint: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The endpoint config's production variants (or, with the config gone, the endpoint's own variant list)."""
    config_name = endpoint.get("EndpointConfigName")
    config = None
    if config_name:
        config = describer.call(
            describer.sagemaker.describe_endpoint_config, f"DescribeEndpointConfig {config_name}", EndpointConfigName=config_name
        )
    live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants") or ()}
    variants = (config or {}).get("ProductionVariants") or list(live.values())
    for variant in variants:
        name = variant["VariantName"]
        count = live.get(name, {}).get("CurrentInstanceCount", variant.get("InitialInstanceCount"))
        yield {
            "endpoint_name": endpoint["EndpointName"],
            "endpoint_status": endpoint.get("EndpointStatus"),
            "endpoint_config_name": config_name,
            "variant_name": name,
            "instance_type": variant.get("InstanceType"),
            "instance_count": int(count) if count is not None else None,
            **_model_columns(describer, variant.get("ModelName")),
        }


def _model_columns(describer: _Describer, model_name: str | None) -> dict[str, Any]:
    model = describer.model(model_name) if model_name else None
    container = _serving_container(model)
    reference = container.get("ModelPackageName")
    package = describer.package(reference) if reference else None
    packaged = ((package or {}).get("InferenceSpecification") or {}).get("Containers") or [{}]
    created = (package or {}).get("CreationTime") if reference else (model or {}).get("CreationTime")
    return {
        "model_name": model_name,
        "image": container.get("Image") or packaged[0].get("Image"),
        "model_data_url": _model_data_url(container) or _model_data_url(packaged[0]),
        "model_package_arn": (package or {}).get("ModelPackageArn") or reference,
        "model_package_group": (package or {}).get("ModelPackageGroupName"),
        "model_version": (package or {}).get("ModelPackageVersion"),
        "approval_status": (package or {}).get("ModelApprovalStatus"),
        "model_created_at": _naive_utc(created) if isinstance(created, datetime) else None,
    }


def _serving_container(model: dict[str, Any] | None) -> dict[str, Any]:
    """PrimaryContainer, else (an inference pipeline) the first container from a package, else the first one."""
    if not model:
        return {}
    if model.get("PrimaryContainer"):
        return dict(model["PrimaryContainer"])
    containers = model.get("Containers") or []
    packaged = [c for c in containers if c.get("ModelPackageName")]
    return dict((packaged or containers or [{}])[0])


def _model_data_url(container: dict[str, Any]) -> str | None:
    url = container.get("ModelDataUrl") or ((container.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
    return str(url) if url else None


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
