"""The whole report against the local stack: deploy twice creates once; one changed visual updates only the analysis
and the dashboard (a new published version), and the plan shows exactly that; export brings console edits back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipelines.aws import lake_session
from pipelines.config import Config, parse_config
from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
from pipelines.publish.quicksight.deploy import CREATED, UNCHANGED, UPDATED, Waiting
from pipelines.publish.quicksight.release import build_release, deploy_release, export_release
from pipelines.publish.quicksight.row_access import RULES_DATA_SET_ID
from tests.viewhelpers import catalog_columns

ACCOUNT = "123456789012"
GROUP = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/"
DASHBOARD = "ml-performance-and-business-impact"


@pytest.fixture(scope="module")
def columns() -> dict[str, list[tuple[str, str]]]:
    return catalog_columns()


def _config(endpoint_url: str, **quicksight: Any) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
            "sources": [{"account_id": ACCOUNT, "regions": ["us-east-1"]}],
            "quicksight": {
                "account_id": ACCOUNT,
                "owners": [GROUP + "mlops"],
                "viewers": [GROUP + "executives"],
                "row_access": {GROUP + "executives": [], GROUP + "payments-leads": ["Payments"]},
                **quicksight,
            },
            "endpoint_url": endpoint_url,
        }
    )


def _mutating(session: Any, before: dict[str, int]) -> dict[str, int]:
    """The calls since `before` that change something (create, update, tag, delete, publish)."""
    made = {k: n - before.get(k, 0) for k, n in session.calls.snapshot().items() if n != before.get(k, 0)}
    return {k: n for k, n in made.items() if k.split(".")[1].startswith(("Create", "Update", "Tag", "Delete"))}


def _assets(tmp_path: Path) -> Path:
    shutil.copytree(QUICKSIGHT_DIR, tmp_path / "quicksight")
    return tmp_path / "quicksight"


def test_deploy_twice_creates_once_and_the_second_changes_nothing(endpoint_url: str, columns: dict[str, Any]) -> None:
    session = lake_session("us-east-1", endpoint_url)
    quicksight = session.client("quicksight")
    release = build_release(_config(endpoint_url), columns)
    first = deploy_release(quicksight, release)
    kinds = [(c.kind, c.action) for c in first]
    assert set(a for _, a in kinds) == {CREATED}
    assert [k for k, _ in kinds] == ["data_source", *["data_set"] * 10, *["refresh_schedule"] * 10, "analysis", "dashboard"]
    assert first[1].asset_id == RULES_DATA_SET_ID  # the rules exist before the datasets that name them

    before = dict(session.calls.snapshot())
    second = deploy_release(quicksight, build_release(_config(endpoint_url), columns))
    assert {c.action for c in second} == {UNCHANGED}
    assert _mutating(session, before) == {}

    dashboard = quicksight.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)["Dashboard"]
    assert dashboard["Version"]["VersionNumber"] == 1 and dashboard["Name"] == "ML performance and business impact"
    permissions = quicksight.describe_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)["Permissions"]
    assert {p["Principal"] for p in permissions} == {GROUP + "mlops", GROUP + "executives"}
    business = quicksight.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="ml-lake-ml-business-daily")["DataSet"]
    assert business["RowLevelPermissionDataSet"]["Arn"].endswith(f"dataset/{RULES_DATA_SET_ID}")
    schedules = quicksight.list_refresh_schedules(AwsAccountId=ACCOUNT, DataSetId="ml-lake-endpoint-daily")["RefreshSchedules"]
    assert [(s["ScheduleFrequency"]["Interval"], s["ScheduleFrequency"]["TimeOfTheDay"]) for s in schedules] == [
        ("DAILY", "06:00")
    ]


def test_one_changed_visual_updates_only_the_analysis_and_dashboard(
    endpoint_url: str, columns: dict[str, Any], tmp_path: Path
) -> None:
    session = lake_session("us-east-1", endpoint_url)
    quicksight = session.client("quicksight")
    assets = _assets(tmp_path)
    deploy_release(quicksight, build_release(_config(endpoint_url), columns, assets))
    path = assets / "analysis.json"
    document = json.loads(path.read_text())
    document["Definition"]["Sheets"][0]["Visuals"][0]["KPIVisual"]["Title"]["FormatText"]["PlainText"] = "Net revenue"
    path.write_text(json.dumps(document))
    release = build_release(_config(endpoint_url), columns, assets)

    before = dict(session.calls.snapshot())
    plan = deploy_release(quicksight, release, apply=False)
    assert _mutating(session, before) == {}
    assert {(c.kind, c.asset_id): c.action for c in plan if c.action != UNCHANGED} == {
        ("analysis", DASHBOARD): UPDATED,
        ("dashboard", DASHBOARD): UPDATED,
    }
    diff = next(c for c in plan if c.kind == "analysis").diff
    assert [
        line[0] + line[1:].strip() for line in diff if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ] == [
        '-"PlainText": "Revenue"',
        '+"PlainText": "Net revenue"',
    ]

    applied = deploy_release(quicksight, release)
    assert [(c.kind, c.action) for c in applied if c.action != UNCHANGED] == [("analysis", UPDATED), ("dashboard", UPDATED)]
    assert next(c for c in applied if c.kind == "dashboard").version == 2
    published = quicksight.describe_dashboard_definition(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)
    kpi = published["Definition"]["Sheets"][0]["Visuals"][0]["KPIVisual"]
    assert kpi["Title"]["FormatText"]["PlainText"] == "Net revenue"
    versions = quicksight.list_dashboard_versions(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)["DashboardVersionSummaryList"]
    assert sorted(v["VersionNumber"] for v in versions) == [1, 2]
    assert (
        quicksight.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)["Dashboard"]["Version"]["VersionNumber"] == 2
    )


def test_changed_viewers_are_granted_and_revoked_on_update(endpoint_url: str, columns: dict[str, Any]) -> None:
    quicksight = lake_session("us-east-1", endpoint_url).client("quicksight")
    deploy_release(quicksight, build_release(_config(endpoint_url), columns))
    changed = build_release(_config(endpoint_url, viewers=[GROUP + "board"]), columns)
    deploy_release(quicksight, changed)
    permissions = quicksight.describe_dashboard_permissions(AwsAccountId=ACCOUNT, DashboardId=DASHBOARD)["Permissions"]
    assert {p["Principal"] for p in permissions} == {GROUP + "mlops", GROUP + "board"}


def test_export_writes_a_console_edit_back_with_placeholders(endpoint_url: str, columns: dict[str, Any], tmp_path: Path) -> None:
    quicksight = lake_session("us-east-1", endpoint_url).client("quicksight")
    assets = _assets(tmp_path)
    config = _config(endpoint_url)
    release = build_release(config, columns, assets)
    deploy_release(quicksight, release)
    edited = json.loads(json.dumps(release.analysis["Definition"]))
    edited["Sheets"][1]["Name"] = "Model health (edited in the console)"
    quicksight.update_analysis(
        AwsAccountId=ACCOUNT, AnalysisId=DASHBOARD, Name="ML performance and business impact", Definition=edited
    )

    written = export_release(quicksight, config, assets)
    assert written == [assets / "analysis.json", assets / "dashboard.json"]
    exported = json.loads((assets / "analysis.json").read_text())
    assert exported["Definition"]["Sheets"][1]["Name"] == "Model health (edited in the console)"
    assert exported["AwsAccountId"] == "${account_id}"
    arns = {d["DataSetArn"] for d in exported["Definition"]["DataSetIdentifierDeclarations"]}
    assert "arn:aws:quicksight:${region}:${account_id}:dataset/ml-lake-endpoint-daily" in arns
    assert ACCOUNT not in (assets / "analysis.json").read_text()
    # the exported files deploy again: only the analysis and the dashboard follow the edit
    again = deploy_release(quicksight, build_release(config, columns, assets))
    assert {c.kind for c in again if c.action != UNCHANGED} == {"analysis", "dashboard"}


def test_a_failed_creation_is_removed_and_reported(endpoint_url: str, columns: dict[str, Any]) -> None:
    session = lake_session("us-east-1", endpoint_url)
    quicksight = session.client("quicksight")
    release = build_release(_config(endpoint_url), columns)

    def failed(parsed: dict[str, Any], **_: Any) -> None:  # QuickSight says the analysis could not be made
        if "Analysis" not in parsed:  # the first look: not there yet
            return
        parsed["Analysis"]["Status"] = "CREATION_FAILED"
        parsed["Analysis"]["Errors"] = [{"Type": "COLUMN_TYPE_MISMATCH", "Message": "dt is not a date"}]

    quicksight.meta.events.register("after-call.quicksight.DescribeAnalysis", failed, unique_id="fail-analysis")
    from pipelines.publish.quicksight.deploy import DeployError

    with pytest.raises(
        DeployError, match="analysis ml-performance-and-business-impact: CREATION_FAILED: COLUMN_TYPE_MISMATCH: dt is not"
    ):
        deploy_release(quicksight, release, waiting=Waiting(sleep=lambda s: None))
    assert quicksight.list_analyses(AwsAccountId=ACCOUNT)["AnalysisSummaryList"] == []  # no wreck left behind
    quicksight.meta.events.unregister("after-call.quicksight.DescribeAnalysis", unique_id="fail-analysis")
    again = deploy_release(quicksight, release)
    assert {(c.kind, c.action) for c in again if c.action != UNCHANGED} == {("analysis", CREATED), ("dashboard", CREATED)}


def test_a_busy_asset_is_retried_with_backoff_and_a_stuck_one_stops_at_the_deadline(
    endpoint_url: str, columns: dict[str, Any], tmp_path: Path
) -> None:
    from botocore.awsrequest import AWSResponse

    from pipelines.publish.quicksight.deploy import DeployError

    quicksight = lake_session("us-east-1", endpoint_url).client("quicksight")
    assets = _assets(tmp_path)
    deploy_release(quicksight, build_release(_config(endpoint_url), columns, assets))
    document = json.loads((assets / "analysis.json").read_text())
    document["Name"] = "ML performance and business impact (v2)"
    (assets / "analysis.json").write_text(json.dumps(document))
    release = build_release(_config(endpoint_url), columns, assets)

    conflicts: list[str] = []

    def busy(**_: Any) -> Any:  # QuickSight: "the analysis is being updated by another request", twice
        if len(conflicts) == 2:
            return None
        conflicts.append("409")
        error = {"Error": {"Code": "ConflictException", "Message": "busy"}, "ResponseMetadata": {"HTTPStatusCode": 409}}
        return AWSResponse("https://quicksight", 409, {}, None), error

    quicksight.meta.events.register("before-call.quicksight.UpdateAnalysis", busy, unique_id="busy")
    slept: list[float] = []
    changes = deploy_release(quicksight, release, waiting=Waiting(sleep=slept.append))
    quicksight.meta.events.unregister("before-call.quicksight.UpdateAnalysis", unique_id="busy")
    assert (conflicts, slept) == (["409", "409"], [1.0, 2.0])
    assert next(c for c in changes if c.kind == "analysis").action == UPDATED

    def in_progress(parsed: dict[str, Any], **_: Any) -> None:
        if "Dashboard" in parsed:
            parsed["Dashboard"]["Version"]["Status"] = "UPDATE_IN_PROGRESS"

    quicksight.meta.events.register("after-call.quicksight.DescribeDashboard", in_progress, unique_id="stuck")
    clock = iter(range(0, 10_000, 60))
    document["Definition"]["Sheets"][0]["Name"] = "Executive summary"  # the dashboard shows it too: a new version
    (assets / "analysis.json").write_text(json.dumps(document))
    with pytest.raises(DeployError, match="dashboard ml-performance-and-business-impact: still UPDATE_IN_PROGRESS after 600 s"):
        deploy_release(
            quicksight,
            build_release(_config(endpoint_url), columns, assets),
            waiting=Waiting(sleep=lambda s: None, monotonic=lambda: float(next(clock))),
        )
