"""Deploying the data source and datasets against the local stack: created once, a second deploy changes nothing,
a changed dataset is updated alone, and a plan says so without a call that changes anything."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.aws import lake_session
from pipelines.config import Config, parse_config
from pipelines.publish.quicksight.assets import data_source_request, dataset_requests
from pipelines.publish.quicksight.deploy import (
    CREATED,
    HASH_TAG,
    UNCHANGED,
    UPDATED,
    content_hash,
    deploy_data_sets,
    deploy_data_source,
)
from tests.viewhelpers import catalog_columns

ACCOUNT = "123456789012"  # the local stack's account for the default test credentials


@pytest.fixture(scope="module")
def columns() -> dict[str, list[tuple[str, str]]]:
    return catalog_columns()


def _config(endpoint_url: str) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
            "sources": [{"account_id": ACCOUNT, "regions": ["us-east-1"]}],
            "quicksight": {"account_id": ACCOUNT, "owners": [f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/mlops"]},
            "endpoint_url": endpoint_url,
        }
    )


def _calls(session: Any, prefix: str) -> list[str]:
    return [k for k in session.calls.snapshot() if k.startswith(prefix)]


def test_deploy_twice_creates_once_and_then_changes_nothing(endpoint_url: str, columns: dict[str, Any]) -> None:
    config = _config(endpoint_url)
    session = lake_session("us-east-1", endpoint_url)
    quicksight = session.client("quicksight")
    source, data_sets = data_source_request(config), dataset_requests(config, columns)
    assert deploy_data_source(quicksight, source).action == CREATED
    assert {c.action for c in deploy_data_sets(quicksight, data_sets)} == {CREATED}

    before = dict(session.calls.snapshot())
    assert deploy_data_source(quicksight, source).action == UNCHANGED
    assert {c.action for c in deploy_data_sets(quicksight, data_sets)} == {UNCHANGED}
    made = {k: n - before.get(k, 0) for k, n in session.calls.snapshot().items() if n != before.get(k, 0)}
    assert not [k for k in made if k.split(".")[1].startswith(("Create", "Update", "Tag"))], made

    stored = quicksight.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="ml-lake-endpoint-daily")["DataSet"]
    relational = stored["PhysicalTableMap"]["endpoint-daily"]["RelationalTable"]
    assert [c["Name"] for c in relational["InputColumns"]] == [n for n, _ in columns["endpoint_daily"]]
    tags = quicksight.list_tags_for_resource(ResourceArn=stored["Arn"])["Tags"]
    want = content_hash(next(r for r in data_sets if r["DataSetId"] == "ml-lake-endpoint-daily"))
    assert {"Key": HASH_TAG, "Value": want} in tags


def test_a_changed_dataset_is_updated_alone_and_a_plan_changes_nothing(endpoint_url: str, columns: dict[str, Any]) -> None:
    config = _config(endpoint_url)
    quicksight = lake_session("us-east-1", endpoint_url).client("quicksight")
    data_sets = dataset_requests(config, columns)
    deploy_data_sets(quicksight, data_sets)
    renamed = [dict(r, Name="Endpoint health, renamed") if r["DataSetId"] == "ml-lake-endpoint-daily" else r for r in data_sets]

    planned = deploy_data_sets(quicksight, renamed, apply=False)
    assert {c.asset_id: c.action for c in planned if c.action != UNCHANGED} == {"ml-lake-endpoint-daily": UPDATED}
    assert (
        quicksight.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="ml-lake-endpoint-daily")["DataSet"]["Name"]
        != "Endpoint health, renamed"
    )

    applied = deploy_data_sets(quicksight, renamed)
    assert [c.action for c in applied] == [c.action for c in planned]
    assert (
        quicksight.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="ml-lake-endpoint-daily")["DataSet"]["Name"]
        == "Endpoint health, renamed"
    )
    assert {c.action for c in deploy_data_sets(quicksight, renamed)} == {UNCHANGED}


def test_a_request_quicksight_would_refuse_is_refused_before_any_call(endpoint_url: str, columns: dict[str, Any]) -> None:
    from pipelines.publish.quicksight.check import RequestError

    session = lake_session("us-east-1", endpoint_url)
    bad = dict(dataset_requests(_config(endpoint_url), columns)[0], ImportMode="SPYCE")
    with pytest.raises(RequestError, match="'SPYCE' is not one of"):
        deploy_data_sets(session.client("quicksight"), [bad])
    assert _calls(session, "QuickSight.") == []
