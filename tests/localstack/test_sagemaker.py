"""The local stack's SageMaker fixes: UpdateEndpoint, and instance types newer than moto's list."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipelines.localstack.server import LocalStack

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def model(sm: Any, name: str) -> str:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    return name


def endpoint_config(sm: Any, name: str, *variants: tuple[str, str, str, int]) -> str:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": v, "ModelName": m, "InstanceType": t, "InitialInstanceCount": n} for v, m, t, n in variants
        ],
    )
    return name


def test_stack_update_endpoint_switches_config_and_checks_names(stack: LocalStack) -> None:
    sm = boto3.client("sagemaker", endpoint_url=stack.endpoint_url, region_name="us-east-1")
    model(sm, "m1")
    model(sm, "m2")
    endpoint_config(sm, "c1", ("AllTraffic", "m1", "ml.inf2.xlarge", 1))
    endpoint_config(sm, "c2", ("AllTraffic", "m2", "ml.g5.2xlarge", 3))
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    created = sm.describe_endpoint(EndpointName="e")
    arn = sm.update_endpoint(EndpointName="e", EndpointConfigName="c2")["EndpointArn"]
    updated = sm.describe_endpoint(EndpointName="e")
    assert arn == created["EndpointArn"] and updated["EndpointConfigName"] == "c2" and updated["EndpointStatus"] == "InService"
    assert updated["ProductionVariants"][0]["CurrentInstanceCount"] == 3
    assert updated["LastModifiedTime"] >= created["LastModifiedTime"]
    for name, config_name in (("missing", "c2"), ("e", "missing")):
        with pytest.raises(ClientError) as raised:
            sm.update_endpoint(EndpointName=name, EndpointConfigName=config_name)
        assert raised.value.response["Error"]["Code"] == "ValidationException" and "Could not find" in str(raised.value)
    with pytest.raises(ClientError) as raised:
        endpoint_config(sm, "bad", ("AllTraffic", "m1", "g5.2xlarge", 1))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
