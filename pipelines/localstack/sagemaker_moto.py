"""Fills moto's SageMaker gaps the lineage needs (reversibly): UpdateEndpoint, and instance types newer than moto's list."""

from __future__ import annotations

import re

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from pipelines.localstack.moto_patch import MethodPatch

# SageMaker hosting instance types: ml.<family>.<size> (ml.g5.2xlarge, ml.inf2.xlarge, ml.p4de.24xlarge, ...).
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+$")


def _validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    """moto 5.2.5 knows a fixed 2019-era list (no g5, inf2, trn1, ...): accept any well-formed ml.* type, as the API's shape does."""
    if not isinstance(instance_type, str) or not _INSTANCE_TYPE.match(instance_type):
        raise ValidationError(
            message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: not an ml.* instance type"
        )


def _update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
    """UpdateEndpoint: the endpoint serves the new config's variants at once (AWS goes Updating -> InService)."""
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = self.describe_endpoint_config(endpoint_config_name)  # ValidationError when it does not exist
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.data_capture_config = config.get("DataCaptureConfig") or {}
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    return endpoint


def _update_endpoint_response(self: SageMakerResponse) -> ActionResult:
    name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
    endpoint = self.sagemaker_backend.update_endpoint(name, config_name)  # added by this patch
    return ActionResult({"EndpointArn": endpoint.arn})


# The one piece of module state: moto's classes are process-wide, so is the record of what was replaced.
PATCH = MethodPatch(
    (
        (FakeEndpointConfig, "validate_instance_type", _validate_instance_type),
        (SageMakerModelBackend, "update_endpoint", _update_endpoint),
        (SageMakerResponse, "update_endpoint", _update_endpoint_response),
    )
)
