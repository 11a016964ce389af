"""The local stack's CloudWatch cross-account observability: a monitoring account sees its linked accounts' metrics."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.localstack import LocalStack
from pipelines.localstack.cloudwatch_query import LIST_PAGE_SIZE

MONITORING = "123456789012"  # moto's default account: the credentials "testing" act in it
SOURCES = ("111111111111", "222222222222")
UNLINKED = "333333333333"
REGION = "us-east-1"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
ONE_HOUR = {"StartTime": DAY, "EndTime": DAY + timedelta(hours=1)}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(recently_active_days=None) as local:
        yield local


@pytest.fixture()
def cw(stack: LocalStack) -> Any:
    stack.reset()
    return client(stack)


def client(stack: LocalStack, service: str = "cloudwatch", region: str = REGION, **credentials: str) -> Any:
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(
        service, endpoint_url=stack.endpoint_url, region_name=region, config=Config(retries={"max_attempts": 1}), **keys
    )


def seed(stack: LocalStack, account: str, endpoint: str, value: float, region: str = REGION) -> None:
    ts = int(DAY.timestamp()) + np.arange(60, dtype=np.int64) * 60
    dims = {"EndpointName": endpoint}
    stack.metric_store.put_series(account, region, "AWS/SageMaker", "Invocations", dims, "None", ts, np.full(60, value))


def query(query_id: str, account: str | None, endpoint: str = "ep") -> dict[str, Any]:
    metric = {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
    }
    owner = {"AccountId": account} if account else {}
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": 3600, "Stat": "Sum"}, **owner}


def test_list_metrics_with_linked_accounts_names_each_owner(stack: LocalStack, cw: Any) -> None:
    for value, account in enumerate((MONITORING, *SOURCES, UNLINKED), start=1):
        seed(stack, account, "ep", value)
    stack.metric_store.link_accounts(MONITORING, SOURCES, [REGION])

    own = cw.list_metrics(Namespace="AWS/SageMaker")
    assert len(own["Metrics"]) == 1 and "OwningAccounts" not in own
    linked = cw.list_metrics(Namespace="AWS/SageMaker", IncludeLinkedAccounts=True)
    assert linked["OwningAccounts"] == sorted([MONITORING, *SOURCES])  # the same series, once per account
    assert all(m["Dimensions"] == [{"Name": "EndpointName", "Value": "ep"}] for m in linked["Metrics"])
    one = cw.list_metrics(IncludeLinkedAccounts=True, OwningAccount=SOURCES[1])
    assert one["OwningAccounts"] == [SOURCES[1]] and len(one["Metrics"]) == 1
    assert cw.list_metrics(IncludeLinkedAccounts=True, OwningAccount=UNLINKED)["Metrics"] == []
    with pytest.raises(ClientError, match="IncludeLinkedAccounts"):
        cw.list_metrics(OwningAccount=SOURCES[0])


def test_linked_listing_pages_split_one_series_between_accounts(stack: LocalStack, cw: Any) -> None:
    accounts = (MONITORING, *SOURCES)
    for account in accounts:
        for i in range(200):
            seed(stack, account, f"ep-{i:03d}", 1.0)
    stack.metric_store.link_accounts(MONITORING, SOURCES, [REGION])
    listed: list[tuple[str, str]] = []
    pages = 0
    for page in cw.get_paginator("list_metrics").paginate(IncludeLinkedAccounts=True):
        pages += 1
        assert len(page["Metrics"]) == len(page["OwningAccounts"]) <= LIST_PAGE_SIZE
        listed += [(m["Dimensions"][0]["Value"], owner) for m, owner in zip(page["Metrics"], page["OwningAccounts"], strict=True)]
    # 600 entries: the first page ends inside ep-166's three accounts, and the token resumes exactly there.
    assert pages == 2
    assert listed == [(f"ep-{i:03d}", account) for i in range(200) for account in sorted(accounts)]


def test_get_metric_data_reads_the_account_each_query_names(stack: LocalStack, cw: Any) -> None:
    for value, account in enumerate((MONITORING, *SOURCES, UNLINKED), start=1):
        seed(stack, account, "ep", value)
    stack.metric_store.link_accounts(MONITORING, SOURCES, [REGION])
    queries = [
        query("own", None),
        query("mine", MONITORING),
        query("a", SOURCES[0]),
        query("b", SOURCES[1]),
        query("x", UNLINKED),
    ]
    results = {r["Id"]: r for r in cw.get_metric_data(MetricDataQueries=queries, **ONE_HOUR)["MetricDataResults"]}
    assert {i: (r["StatusCode"], r["Values"]) for i, r in results.items()} == {
        "own": ("Complete", [60.0]),
        "mine": ("Complete", [60.0]),
        "a": ("Complete", [120.0]),
        "b": ("Complete", [180.0]),
        "x": ("Forbidden", []),
    }
    assert results["x"]["Messages"][0]["Code"] == "Forbidden"


def test_links_are_per_region_one_way_and_reset_with_the_stack(stack: LocalStack, cw: Any) -> None:
    for region in (REGION, "eu-west-1"):
        seed(stack, SOURCES[0], "ep", 2.0, region)
        seed(stack, MONITORING, "ep", 1.0, region)
    stack.metric_store.link_accounts(MONITORING, SOURCES[:1], [REGION])
    eu = client(stack, region="eu-west-1")
    assert eu.list_metrics(IncludeLinkedAccounts=True)["OwningAccounts"] == [MONITORING]
    forbidden = eu.get_metric_data(MetricDataQueries=[query("a", SOURCES[0])], **ONE_HOUR)["MetricDataResults"]
    assert forbidden[0]["StatusCode"] == "Forbidden"
    # A source account does not see its monitoring account's metrics.
    role = f"arn:aws:iam::{SOURCES[0]}:role/Reader"
    keys = client(stack, "sts").assume_role(RoleArn=role, RoleSessionName="tests")["Credentials"]
    source = client(
        stack,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    assert source.list_metrics(IncludeLinkedAccounts=True)["OwningAccounts"] == [SOURCES[0]]
    assert source.get_metric_data(MetricDataQueries=[query("m", MONITORING)], **ONE_HOUR)["MetricDataResults"][0][
        "StatusCode"
    ] == ("Forbidden")
    stack.reset()
    seed(stack, SOURCES[0], "ep", 2.0)
    assert cw.list_metrics(IncludeLinkedAccounts=True)["Metrics"] == []


def test_query_protocol_lists_owning_accounts(stack: LocalStack, cw: Any) -> None:
    seed(stack, SOURCES[0], "ep", 1.0)
    stack.metric_store.link_accounts(MONITORING, SOURCES[:1], [REGION])
    form = {"Action": "ListMetrics", "Version": "2010-08-01", "IncludeLinkedAccounts": "true"}
    auth = f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261120/{REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=0"
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    request = urllib.request.Request(stack.endpoint_url, data=urllib.parse.urlencode(form).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback endpoint
        xml = response.read().decode()
    assert f"<OwningAccounts><member>{SOURCES[0]}</member></OwningAccounts>" in xml
