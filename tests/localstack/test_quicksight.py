"""The local stack's QuickSight: datasets, analyses and versioned dashboards kept as sent, permissions, refresh schedules and
ingestions, with the API's shapes and errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipelines.localstack.server import LocalStack
from tests.clock import STACK_NOW

ACCOUNT = "123456789012"
ARN = f"arn:aws:quicksight:us-east-1:{ACCOUNT}"
OWNER = {"Principal": f"{ARN}:group/default/owners", "Actions": ["quicksight:DescribeDataSource", "quicksight:DeleteDataSource"]}
VIEWER = {"Principal": f"{ARN}:group/default/viewers", "Actions": ["quicksight:DescribeDashboard"]}
DEFINITION: dict[str, Any] = {
    "DataSetIdentifierDeclarations": [{"Identifier": "fleet", "DataSetArn": f"{ARN}:dataset/d1"}],
    "Sheets": [{"SheetId": "s1", "Name": "Overview"}],
}
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


def _error(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def _data_set(qs: Any, data_set_id: str = "d1", mode: str = "SPICE", **extra: Any) -> dict[str, Any]:
    return dict(
        qs.create_data_set(
            AwsAccountId=ACCOUNT, DataSetId=data_set_id, Name=data_set_id, ImportMode=mode, PhysicalTableMap=TABLE, **extra
        )
    )


def test_update_data_set_stamps_last_updated_time_on_the_stack_clock(stack: LocalStack) -> None:
    qs = _client(stack)
    _data_set(qs)
    stack.clock.set(STACK_NOW + timedelta(hours=1))
    qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="d1", Name="n2", ImportMode="SPICE", PhysicalTableMap=TABLE)
    described = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="d1")["DataSet"]
    assert (described["CreatedTime"], described["LastUpdatedTime"]) == (STACK_NOW, STACK_NOW + timedelta(hours=1))


def test_data_set_and_data_source_permissions_are_granted_and_revoked(stack: LocalStack) -> None:
    qs = _client(stack)
    _data_set(qs, Permissions=[OWNER])
    assert qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="d1")["Permissions"] == [OWNER]
    qs.update_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="d1", GrantPermissions=[VIEWER], RevokePermissions=[OWNER])
    assert qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="d1")["Permissions"] == [VIEWER]
    qs.create_data_source(
        AwsAccountId=ACCOUNT, DataSourceId="src", Name="athena", Type="ATHENA",
        DataSourceParameters={"AthenaParameters": {"WorkGroup": "mlmon"}}, Permissions=[OWNER],
    )  # fmt: skip
    described = qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId="src")
    assert (described["DataSourceArn"], described["Permissions"]) == (f"{ARN}:datasource/src", [OWNER])
    narrower = {"Principal": OWNER["Principal"], "Actions": ["quicksight:DeleteDataSource"]}
    qs.update_data_source_permissions(
        AwsAccountId=ACCOUNT, DataSourceId="src", GrantPermissions=[VIEWER], RevokePermissions=[narrower]
    )
    left = {"Principal": OWNER["Principal"], "Actions": ["quicksight:DescribeDataSource"]}
    assert qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId="src")["Permissions"] == [left, VIEWER]
    assert (
        _error(lambda: qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="src", Name="x", Type="ATHENA"))
        == "ResourceExistsException"
    )
    assert (
        _error(lambda: qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId="nope"))
        == "ResourceNotFoundException"
    )
    assert _error(lambda: qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="nope")) == "ResourceNotFoundException"


def test_an_analysis_is_kept_whole_and_described_from_its_definition(stack: LocalStack) -> None:
    qs = _client(stack)
    tags = [{"Key": "team", "Value": "mlops"}]
    theme = "arn:aws:quicksight::aws:theme/MIDNIGHT"
    created = qs.create_analysis(
        AwsAccountId=ACCOUNT, AnalysisId="a1", Name="Fleet", Definition=DEFINITION, Permissions=[OWNER], Tags=tags, ThemeArn=theme
    )
    assert (created["Arn"], created["CreationStatus"], created["Status"]) == (f"{ARN}:analysis/a1", "CREATION_IN_PROGRESS", 202)
    analysis = qs.describe_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1")["Analysis"]
    assert (analysis["Name"], analysis["Status"], analysis["ThemeArn"], analysis["Errors"]) == (
        "Fleet",
        "CREATION_SUCCESSFUL",
        theme,
        [],
    )
    assert analysis["DataSetArns"] == [f"{ARN}:dataset/d1"]
    assert analysis["Sheets"] == [{"SheetId": "s1", "Name": "Overview"}]
    assert analysis["CreatedTime"] == analysis["LastUpdatedTime"] == STACK_NOW
    definition = qs.describe_analysis_definition(AwsAccountId=ACCOUNT, AnalysisId="a1")
    assert (definition["Definition"], definition["ResourceStatus"], definition["ThemeArn"]) == (
        DEFINITION,
        "CREATION_SUCCESSFUL",
        theme,
    )
    assert qs.list_tags_for_resource(ResourceArn=created["Arn"])["Tags"] == tags
    stack.clock.set(STACK_NOW + timedelta(minutes=5))
    changed = {**DEFINITION, "Sheets": [{"SheetId": "s2", "Name": "Costs"}]}
    assert (
        qs.update_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="Fleet 2", Definition=changed)["UpdateStatus"]
        == "UPDATE_IN_PROGRESS"
    )
    analysis = qs.describe_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1")["Analysis"]
    assert (analysis["Name"], analysis["Status"], analysis["Sheets"]) == (
        "Fleet 2",
        "UPDATE_SUCCESSFUL",
        [{"SheetId": "s2", "Name": "Costs"}],
    )
    assert "ThemeArn" not in analysis  # an update replaces the analysis: what it leaves out is gone
    assert analysis["LastUpdatedTime"] == STACK_NOW + timedelta(minutes=5)
    assert qs.describe_analysis_definition(AwsAccountId=ACCOUNT, AnalysisId="a1")["Definition"] == changed
    assert qs.describe_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="a1")["Permissions"] == [OWNER]


def test_analysis_permissions_are_granted_and_revoked(stack: LocalStack) -> None:
    qs = _client(stack)
    qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="Fleet", Definition=DEFINITION, Permissions=[OWNER])
    granted = qs.update_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="a1", GrantPermissions=[VIEWER])["Permissions"]
    assert granted == [OWNER, VIEWER]
    qs.update_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="a1", RevokePermissions=[OWNER])
    described = qs.describe_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="a1")
    assert (described["AnalysisArn"], described["Permissions"]) == (f"{ARN}:analysis/a1", [VIEWER])


def test_a_deleted_analysis_stays_described_for_its_recovery_window_unless_forced(stack: LocalStack) -> None:
    qs = _client(stack)
    for analysis_id in ("a1", "a2"):
        qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId=analysis_id, Name=analysis_id, Definition=DEFINITION)
    deleted = qs.delete_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", RecoveryWindowInDays=7)
    assert deleted["DeletionTime"] == STACK_NOW + timedelta(days=7)
    assert qs.describe_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1")["Analysis"]["Status"] == "DELETED"
    assert (
        _error(lambda: qs.update_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="x", Definition=DEFINITION))
        == "InvalidParameterValueException"
    )
    assert (
        _error(lambda: qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="x", Definition=DEFINITION))
        == "ResourceExistsException"
    )
    qs.delete_analysis(AwsAccountId=ACCOUNT, AnalysisId="a2", ForceDeleteWithoutRecovery=True)
    assert [(s["AnalysisId"], s["Status"]) for s in qs.list_analyses(AwsAccountId=ACCOUNT)["AnalysisSummaryList"]] == [
        ("a1", "DELETED")
    ]
    stack.clock.set(STACK_NOW + timedelta(days=7))
    assert qs.list_analyses(AwsAccountId=ACCOUNT)["AnalysisSummaryList"] == []
    assert _error(lambda: qs.describe_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1")) == "ResourceNotFoundException"
    qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="again", Definition=DEFINITION)  # the id is free again


def test_missing_and_duplicate_analyses_are_the_apis_errors(stack: LocalStack) -> None:
    qs = _client(stack)
    for call in (
        lambda: qs.describe_analysis(AwsAccountId=ACCOUNT, AnalysisId="nope"),
        lambda: qs.describe_analysis_definition(AwsAccountId=ACCOUNT, AnalysisId="nope"),
        lambda: qs.describe_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="nope"),
        lambda: qs.update_analysis_permissions(AwsAccountId=ACCOUNT, AnalysisId="nope", GrantPermissions=[VIEWER]),
        lambda: qs.update_analysis(AwsAccountId=ACCOUNT, AnalysisId="nope", Name="x", Definition=DEFINITION),
        lambda: qs.delete_analysis(AwsAccountId=ACCOUNT, AnalysisId="nope"),
    ):
        assert _error(call) == "ResourceNotFoundException"
    qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="Fleet", Definition=DEFINITION)
    assert (
        _error(lambda: qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a1", Name="Fleet", Definition=DEFINITION))
        == "ResourceExistsException"
    )
    assert (
        _error(lambda: qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId="a2", Name="Fleet"))
        == "InvalidParameterValueException"
    )


def test_a_dashboard_update_makes_a_version_that_waits_to_be_published(stack: LocalStack) -> None:
    qs = _client(stack)
    options = {"AdHocFilteringOption": {"AvailabilityStatus": "DISABLED"}}
    created = qs.create_dashboard(
        AwsAccountId=ACCOUNT, DashboardId="b1", Name="Fleet", Definition=DEFINITION, Permissions=[OWNER],
        DashboardPublishOptions=options, VersionDescription="first",
    )  # fmt: skip
    assert (created["VersionArn"], created["CreationStatus"]) == (f"{ARN}:dashboard/b1/version/1", "CREATION_IN_PROGRESS")
    stack.clock.set(STACK_NOW + timedelta(hours=1))
    changed = {**DEFINITION, "Sheets": [{"SheetId": "s2", "Name": "Costs"}]}
    updated = qs.update_dashboard(
        AwsAccountId=ACCOUNT, DashboardId="b1", Name="Fleet", Definition=changed, VersionDescription="second"
    )
    assert updated["VersionArn"] == f"{ARN}:dashboard/b1/version/2"
    dashboard = qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1")["Dashboard"]
    version = dashboard["Version"]
    assert (version["VersionNumber"], version["Status"], version["Description"]) == (1, "CREATION_SUCCESSFUL", "first")
    assert (version["DataSetArns"], version["Sheets"], version["Errors"]) == ([f"{ARN}:dataset/d1"], DEFINITION["Sheets"], [])
    assert (dashboard["LastPublishedTime"], dashboard["LastUpdatedTime"]) == (STACK_NOW, STACK_NOW + timedelta(hours=1))
    published = qs.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId="b1")
    assert (published["Definition"], published["DashboardPublishOptions"], published["ResourceStatus"]) == (
        DEFINITION,
        options,
        "CREATION_SUCCESSFUL",
    )
    assert qs.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=2)["Definition"] == changed
    latest = qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", AliasName="$LATEST")["Dashboard"]["Version"]
    assert (latest["VersionNumber"], latest["Status"]) == (2, "UPDATE_SUCCESSFUL")
    summaries = qs.list_dashboard_versions(AwsAccountId=ACCOUNT, DashboardId="b1")["DashboardVersionSummaryList"]
    assert [(s["VersionNumber"], s["Description"]) for s in summaries] == [(1, "first"), (2, "second")]
    stack.clock.set(STACK_NOW + timedelta(hours=2))
    qs.update_dashboard_published_version(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=2)
    dashboard = qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1")["Dashboard"]
    assert (dashboard["Version"]["VersionNumber"], dashboard["LastPublishedTime"]) == (2, STACK_NOW + timedelta(hours=2))
    assert qs.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId="b1")["Definition"] == changed
    assert [s["PublishedVersionNumber"] for s in qs.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]] == [2]


def test_dashboard_permissions_versions_and_deletion(stack: LocalStack) -> None:
    qs = _client(stack)
    qs.create_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", Name="Fleet", Definition=DEFINITION, Permissions=[OWNER])
    qs.update_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId="b1", GrantPermissions=[VIEWER], RevokePermissions=[OWNER])
    described = qs.describe_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId="b1")
    assert (described["DashboardArn"], described["Permissions"]) == (f"{ARN}:dashboard/b1", [VIEWER])
    qs.update_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", Name="Fleet", Definition=DEFINITION)
    assert (
        _error(lambda: qs.delete_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=1))
        == "InvalidParameterValueException"
    )
    qs.delete_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=2)
    versions = qs.list_dashboard_versions(AwsAccountId=ACCOUNT, DashboardId="b1")["DashboardVersionSummaryList"]
    assert [v["VersionNumber"] for v in versions] == [1]
    for call in (
        lambda: qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=2),
        lambda: qs.update_dashboard_published_version(AwsAccountId=ACCOUNT, DashboardId="b1", VersionNumber=9),
    ):
        assert _error(call) == "ResourceNotFoundException"
    assert (
        _error(lambda: qs.create_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", Name="x", Definition=DEFINITION))
        == "ResourceExistsException"
    )
    qs.delete_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1")
    for call in (
        lambda: qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1"),
        lambda: qs.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId="b1"),
        lambda: qs.describe_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId="b1"),
        lambda: qs.update_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1", Name="x", Definition=DEFINITION),
        lambda: qs.list_dashboard_versions(AwsAccountId=ACCOUNT, DashboardId="b1"),
        lambda: qs.delete_dashboard(AwsAccountId=ACCOUNT, DashboardId="b1"),
    ):
        assert _error(call) == "ResourceNotFoundException"


def test_listings_page(stack: LocalStack) -> None:
    qs = _client(stack)
    for n in range(5):
        qs.create_dashboard(AwsAccountId=ACCOUNT, DashboardId=f"b{n}", Name=f"b{n}", Definition=DEFINITION)
        qs.create_analysis(AwsAccountId=ACCOUNT, AnalysisId=f"a{n}", Name=f"a{n}", Definition=DEFINITION)
        _data_set(qs, f"d{n}")
        qs.update_dashboard(AwsAccountId=ACCOUNT, DashboardId="b0", Name="b0", Definition=DEFINITION)
    listings = (
        ("list_dashboards", {}, "DashboardSummaryList", "DashboardId", [f"b{n}" for n in range(5)]),
        ("list_analyses", {}, "AnalysisSummaryList", "AnalysisId", [f"a{n}" for n in range(5)]),
        ("list_data_sets", {}, "DataSetSummaries", "DataSetId", [f"d{n}" for n in range(5)]),
        ("list_dashboard_versions", {"DashboardId": "b0"}, "DashboardVersionSummaryList", "VersionNumber", [1, 2, 3, 4, 5, 6]),
    )
    for operation, args, key, field, expected in listings:
        pages = list(qs.get_paginator(operation).paginate(AwsAccountId=ACCOUNT, **args, PaginationConfig={"PageSize": 2}))
        assert len(pages) == 3, operation
        assert [item[field] for p in pages for item in p[key]] == expected
    assert _error(lambda: qs.list_dashboards(AwsAccountId=ACCOUNT, NextToken="garbage!")) == "InvalidNextTokenException"


def test_refresh_schedules_are_kept_per_spice_data_set(stack: LocalStack) -> None:
    qs = _client(stack)
    _data_set(qs)
    daily = {"Interval": "DAILY", "TimeOfTheDay": "03:30", "Timezone": "UTC"}
    schedule = {
        "ScheduleId": "nightly",
        "ScheduleFrequency": daily,
        "RefreshType": "FULL_REFRESH",
        "StartAfterDateTime": STACK_NOW,
    }
    created = qs.create_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", Schedule=schedule)
    assert (created["ScheduleId"], created["Arn"]) == ("nightly", f"{ARN}:dataset/d1/refresh-schedule/nightly")
    described = qs.describe_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", ScheduleId="nightly")["RefreshSchedule"]
    assert described == {**schedule, "Arn": created["Arn"]}
    later = {**schedule, "ScheduleFrequency": {**daily, "TimeOfTheDay": "05:00"}}
    qs.update_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", Schedule=later)
    listed = qs.list_refresh_schedules(AwsAccountId=ACCOUNT, DataSetId="d1")["RefreshSchedules"]
    assert [s["ScheduleFrequency"]["TimeOfTheDay"] for s in listed] == ["05:00"]
    assert (
        _error(lambda: qs.create_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", Schedule=schedule))
        == "ResourceExistsException"
    )
    qs.delete_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", ScheduleId="nightly")
    assert qs.list_refresh_schedules(AwsAccountId=ACCOUNT, DataSetId="d1")["RefreshSchedules"] == []
    for call in (
        lambda: qs.describe_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", ScheduleId="nightly"),
        lambda: qs.update_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", Schedule=schedule),
        lambda: qs.delete_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="d1", ScheduleId="nightly"),
        lambda: qs.create_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="nope", Schedule=schedule),
    ):
        assert _error(call) == "ResourceNotFoundException"
    _data_set(qs, "live", mode="DIRECT_QUERY")
    assert (
        _error(lambda: qs.create_refresh_schedule(AwsAccountId=ACCOUNT, DataSetId="live", Schedule=schedule))
        == "InvalidParameterValueException"
    )


def test_ingestions_complete_at_once_and_list_newest_first(stack: LocalStack) -> None:
    qs = _client(stack)
    initial = _data_set(qs)  # a SPICE data set is ingested when created, as in AWS
    created = qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId="d1", IngestionId="night-1.a")
    assert (created["Arn"], created["IngestionStatus"]) == (f"{ARN}:dataset/d1/ingestion/night-1.a", "INITIALIZED")
    ingestion = qs.describe_ingestion(AwsAccountId=ACCOUNT, DataSetId="d1", IngestionId="night-1.a")["Ingestion"]
    assert (ingestion["IngestionStatus"], ingestion["RequestType"], ingestion["CreatedTime"]) == (
        "COMPLETED",
        "FULL_REFRESH",
        STACK_NOW,
    )
    stack.clock.set(STACK_NOW + timedelta(days=1))
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId="d1", IngestionId="night-2", IngestionType="INCREMENTAL_REFRESH")
    pages = list(
        qs.get_paginator("list_ingestions").paginate(AwsAccountId=ACCOUNT, DataSetId="d1", PaginationConfig={"PageSize": 2})
    )
    listed = [(i["IngestionId"], i["RequestType"]) for p in pages for i in p["Ingestions"]]
    assert listed == [
        ("night-2", "INCREMENTAL_REFRESH"),
        ("night-1.a", "FULL_REFRESH"),
        (initial["IngestionId"], "INITIAL_INGESTION"),
    ]
    assert len(pages) == 2
    assert (
        _error(lambda: qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId="d1", IngestionId="night-2"))
        == "ResourceExistsException"
    )
    for call in (
        lambda: qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId="nope", IngestionId="i"),
        lambda: qs.describe_ingestion(AwsAccountId=ACCOUNT, DataSetId="d1", IngestionId="nope"),
        lambda: qs.list_ingestions(AwsAccountId=ACCOUNT, DataSetId="nope"),
    ):
        assert _error(call) == "ResourceNotFoundException"
    _data_set(qs, "live", mode="DIRECT_QUERY")
    assert "IngestionId" not in _data_set(qs, "live2", mode="DIRECT_QUERY")
    assert (
        _error(lambda: qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId="live", IngestionId="i"))
        == "InvalidParameterValueException"
    )
    qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="d1")
    _data_set(qs)
    assert len(qs.list_ingestions(AwsAccountId=ACCOUNT, DataSetId="d1")["Ingestions"]) == 1  # only the new data set's own


_INSTALL_CYCLE = """
import moto.quicksight.urls as urls
from moto.quicksight.responses import QuickSightResponse
from pipelines.localstack import quicksight_moto
from pipelines.localstack.server import LocalStack

routes, original = dict(urls.url_paths), QuickSightResponse.__dict__["describe_dashboard"]
first, second = LocalStack(), LocalStack()
first.start(); second.start()
assert quicksight_moto.PATCH.installed and len(urls.url_paths) > len(routes)
assert QuickSightResponse.__dict__["describe_dashboard"] is not original
first.stop()
assert quicksight_moto.PATCH.installed and len(urls.url_paths) > len(routes)
second.stop()
assert not quicksight_moto.PATCH.installed and urls.url_paths == routes
assert QuickSightResponse.__dict__["describe_dashboard"] is original
assert "describe_analysis" not in QuickSightResponse.__dict__
print("ok")
"""


def test_the_fill_is_installed_while_a_stack_runs_and_removed_after_the_last() -> None:
    # In a fresh process: this one has the session's stack running.
    done = subprocess.run([sys.executable, "-c", _INSTALL_CYCLE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
