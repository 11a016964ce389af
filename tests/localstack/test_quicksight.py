"""The local stack's QuickSight datasets: kept whole, described, updated, listed, deleted, as the API does."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipelines.localstack.server import LocalStack

ACCOUNT = "123456789012"
TABLE = {
    "t": {
        "RelationalTable": {
            "DataSourceArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:datasource/src",
            "Schema": "db",
            "Name": "t",
            "InputColumns": [{"Name": "a", "Type": "STRING"}],
        }
    }
}


def _client(stack: LocalStack) -> Any:
    return boto3.client("quicksight", endpoint_url=stack.endpoint_url, region_name="us-east-1")


def test_a_data_set_is_kept_whole_and_answered_from(stack: LocalStack) -> None:
    qs = _client(stack)
    tags = [{"Key": "team", "Value": "mlops"}]
    arn = qs.create_data_set(
        AwsAccountId=ACCOUNT, DataSetId="d1", Name="n", ImportMode="SPICE", PhysicalTableMap=TABLE, Tags=tags
    )["Arn"]
    described = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="d1")["DataSet"]
    assert (described["Arn"], described["Name"], described["ImportMode"]) == (arn, "n", "SPICE")
    assert described["PhysicalTableMap"] == TABLE
    assert qs.list_tags_for_resource(ResourceArn=arn)["Tags"] == tags
    qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="d1", Name="n2", ImportMode="DIRECT_QUERY", PhysicalTableMap=TABLE)
    assert qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="d1")["DataSet"]["ImportMode"] == "DIRECT_QUERY"
    assert [s["DataSetId"] for s in qs.list_data_sets(AwsAccountId=ACCOUNT)["DataSetSummaries"]] == ["d1"]
    qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="d1")
    assert qs.list_data_sets(AwsAccountId=ACCOUNT)["DataSetSummaries"] == []


def test_missing_and_duplicate_data_sets_are_the_apis_errors(stack: LocalStack) -> None:
    qs = _client(stack)
    for call in (
        lambda: qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="nope"),
        lambda: qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="nope", Name="x", ImportMode="SPICE", PhysicalTableMap=TABLE),
        lambda: qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="nope"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    qs.create_data_set(AwsAccountId=ACCOUNT, DataSetId="d1", Name="n", ImportMode="SPICE", PhysicalTableMap=TABLE)
    with pytest.raises(ClientError) as raised:
        qs.create_data_set(AwsAccountId=ACCOUNT, DataSetId="d1", Name="n", ImportMode="SPICE", PhysicalTableMap=TABLE)
    assert raised.value.response["Error"]["Code"] == "ResourceExistsException"
