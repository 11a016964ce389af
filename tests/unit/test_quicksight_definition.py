"""The analysis and dashboard of quicksight/: every sheet the issue asks for, checked against their datasets offline.

A definition naming a column its dataset lacks, a FieldId used twice, a layout element that is no
visual of its sheet, an enum typo or a two-member union is refused before any call, named by path.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipelines.config import Config, parse_config
from pipelines.publish.quicksight.assets import analysis_request, dashboard_request, dataset_requests
from pipelines.publish.quicksight.check import RequestError, check_request
from pipelines.publish.quicksight.definition import check_definition, dataset_columns
from pipelines.publish.quicksight.row_access import RULES_DATA_SET_ID, rules
from tests.viewhelpers import catalog_columns

ACCOUNT = "111111111111"
GROUP = f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:group/default/"
USER = f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:user/default/"


def _config(**quicksight: Any) -> Config:
    return parse_config(
        {
            "lake": {"region": "eu-west-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
            "sources": [{"account_id": ACCOUNT, "regions": ["eu-west-1"]}],
            "quicksight": {"account_id": ACCOUNT, "owners": [GROUP + "mlops"], "viewers": [GROUP + "executives"], **quicksight},
        }
    )


@pytest.fixture(scope="module")
def data_sets() -> list[dict[str, Any]]:
    return dataset_requests(_config(), catalog_columns())


@pytest.fixture(scope="module")
def analysis(data_sets: list[dict[str, Any]]) -> dict[str, Any]:
    return analysis_request(_config(), data_sets)


def _visuals(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sheet["Name"]: {next(iter(v.values()))["VisualId"]: v for v in sheet["Visuals"]} for sheet in definition["Sheets"]}


def test_one_analysis_with_the_five_sheets_filters_and_controls(analysis: dict[str, Any]) -> None:
    definition = analysis["Definition"]
    assert analysis["Name"] == "ML performance and business impact"
    sheets = _visuals(definition)
    assert list(sheets) == ["Executive", "Model health", "Drift and quality", "Incident impact", "Rightsizing"]
    executive_kpis = [v["KPIVisual"] for v in sheets["Executive"].values() if "KPIVisual" in v]
    titles = {k["Title"]["FormatText"]["PlainText"] for k in executive_kpis}
    assert {"Revenue", "Conversion rate", "Orders", "5xx rate", "Drift violations", "Quality breaches"} <= titles
    for kpi in executive_kpis:  # the change against the previous period
        options = kpi["ChartConfiguration"]["KPIOptions"]
        assert options["Comparison"]["ComparisonMethod"] == "PERCENT_DIFFERENCE"
        assert kpi["ChartConfiguration"]["FieldWells"]["TrendGroups"]
    filters = {next(iter(f.values()))["Column"]["ColumnName"] for g in definition["FilterGroups"] for f in g["Filters"]}
    assert {"dt", "business_unit", "endpoint_name"} <= filters
    for sheet in definition["Sheets"]:  # every sheet lets the reader pick dates and a business unit or an endpoint
        controls = [next(iter(c.values()))["SourceFilterId"] for c in sheet["FilterControls"]]
        assert "ml-lake-dates" in controls and ({"ml-lake-bu", "ml-lake-endpoint"} & set(controls))
    assert {p["Principal"] for p in analysis["Permissions"]} == {GROUP + "mlops"}  # the analysis is the owners' workbench


def test_the_dashboard_shows_the_analysis_to_owners_and_viewers(analysis: dict[str, Any]) -> None:
    dashboard = dashboard_request(_config(), analysis)
    assert dashboard["Definition"] == analysis["Definition"]
    actions = {p["Principal"]: p["Actions"] for p in dashboard["Permissions"]}
    assert "quicksight:UpdateDashboardPublishedVersion" in actions[GROUP + "mlops"]
    assert actions[GROUP + "executives"] == [
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
    ]
    assert check_request("CreateDashboard", dashboard) == []


def test_every_visual_column_exists_in_its_dataset(data_sets: list[dict[str, Any]], analysis: dict[str, Any]) -> None:
    by_id = {d["DataSetId"]: dataset_columns(d) for d in data_sets}
    declared = {
        d["Identifier"]: by_id[d["DataSetArn"].rsplit("/", 1)[1]] for d in analysis["Definition"]["DataSetIdentifierDeclarations"]
    }
    assert check_definition(analysis["Definition"], declared) == []
    assert "fleet_5xx_rate" not in declared["ml_business_daily"]  # a calculated field of the analysis, not of the view


def _problems(analysis: dict[str, Any], data_sets: list[dict[str, Any]], change: Any) -> list[str]:
    broken = copy.deepcopy(analysis)
    change(broken["Definition"])
    by_id = {d["DataSetId"]: dataset_columns(d) for d in data_sets}
    declared = {
        d["Identifier"]: by_id[d["DataSetArn"].rsplit("/", 1)[1]] for d in broken["Definition"]["DataSetIdentifierDeclarations"]
    }
    return [str(p) for p in check_definition(broken["Definition"], declared)]


def test_a_column_no_dataset_has_is_named_with_its_path(analysis: dict[str, Any], data_sets: list[dict[str, Any]]) -> None:
    def rename(definition: dict[str, Any]) -> None:
        kpi = definition["Sheets"][0]["Visuals"][0]["KPIVisual"]
        kpi["ChartConfiguration"]["FieldWells"]["Values"][0]["NumericalMeasureField"]["Column"]["ColumnName"] = "revenu"

    assert _problems(analysis, data_sets, rename) == [
        "Definition.Sheets[0].Visuals[0].KPIVisual.ChartConfiguration.FieldWells.Values[0].NumericalMeasureField.Column: "
        "dataset 'ml_business_daily' has no column 'revenu'"
    ]


def test_duplicate_field_ids_unknown_layout_elements_and_controls_are_refused(
    analysis: dict[str, Any], data_sets: list[dict[str, Any]]
) -> None:
    def break_it(definition: dict[str, Any]) -> None:
        first, second = (
            v["KPIVisual"]["ChartConfiguration"]["FieldWells"]["Values"][0] for v in definition["Sheets"][0]["Visuals"][:2]
        )
        second["NumericalMeasureField"]["FieldId"] = first["NumericalMeasureField"]["FieldId"]
        definition["Sheets"][1]["Layouts"][0]["Configuration"]["GridLayout"]["Elements"][0]["ElementId"] = "exec-revenue"
        definition["Sheets"][2]["FilterControls"][0]["DateTimePicker"]["SourceFilterId"] = "no-such-filter"

    problems = _problems(analysis, data_sets, break_it)
    assert any("FieldId 'exec-revenue.revenue.sum' is used twice" in p for p in problems)
    assert any("layout element 'exec-revenue' is no visual or control of sheet 'Model health'" in p for p in problems)
    assert any(p.startswith("Definition.Sheets[2].FilterControls[0]") and "no-such-filter" in p for p in problems)


def test_a_broken_definition_is_refused_before_any_request_is_made(data_sets: list[dict[str, Any]], tmp_path: Any) -> None:
    import json
    import shutil

    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR

    shutil.copytree(QUICKSIGHT_DIR, tmp_path / "qs")
    path = tmp_path / "qs" / "analysis.json"
    document = json.loads(path.read_text())
    kpi = document["Definition"]["Sheets"][0]["Visuals"][0]["KPIVisual"]
    kpi["ChartConfiguration"]["KPIOptions"]["Comparison"]["ComparisonMethod"] = "PERCENT_DIFERENCE"  # an enum typo
    document["Definition"]["Sheets"][0]["Visuals"][1]["LineChartVisual"] = {"VisualId": "extra"}  # two members of a union
    path.write_text(json.dumps(document))
    with pytest.raises(RequestError) as raised:
        analysis_request(_config(), data_sets, tmp_path / "qs")
    message = str(raised.value)
    assert message.startswith("analysis.json: QuickSight would refuse CreateAnalysis")
    assert "'PERCENT_DIFERENCE' is not one of" in message
    assert "Visual is a union type: set one of its members, not KPIVisual, LineChartVisual" in message


def test_row_access_rules_come_from_config_and_guard_every_business_unit_dataset() -> None:
    config = _config(row_access={GROUP + "executives": [], USER + "ana": ["Retail", "Payments"]})
    assert rules(config) == [("", "executives", ""), ("ana", "", "Payments"), ("ana", "", "Retail")]
    requests = {r["DataSetId"]: r for r in dataset_requests(config, catalog_columns())}
    sql = requests[RULES_DATA_SET_ID]["PhysicalTableMap"]["rules"]["CustomSql"]["SqlQuery"]
    assert "('ana', '', 'Payments')" in sql and "('', 'executives', '')" in sql
    guarded = {i for i, r in requests.items() if "RowLevelPermissionDataSet" in r}
    assert guarded == {"ml-lake-ml-business-daily", "ml-lake-incident-impact"}
    rls = requests["ml-lake-ml-business-daily"]["RowLevelPermissionDataSet"]
    assert rls["Arn"].endswith(f":{ACCOUNT}:dataset/{RULES_DATA_SET_ID}") and rls["PermissionPolicy"] == "GRANT_ACCESS"
    assert list(requests)[0] == RULES_DATA_SET_ID  # made before the datasets that name it
    assert not any("RowLevelPermissionDataSet" in r for r in dataset_requests(_config(), catalog_columns()))


def test_a_misplaced_key_in_an_asset_file_is_an_error_naming_file_and_path(tmp_path: Any) -> None:
    import json
    import shutil

    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR

    shutil.copytree(QUICKSIGHT_DIR, tmp_path / "qs")
    path = tmp_path / "qs" / "datasets" / "drift_daily.json"
    document = json.loads(path.read_text())
    document["Schedule"] = {"ScheduleId": "daily", "ScheduleFrequency": {"Interval": "DAILY"}}  # belongs to a refresh schedule
    path.write_text(json.dumps(document))
    with pytest.raises(
        RequestError,
        match=r"(?s)drift_daily.json: QuickSight would refuse CreateDataSet .*Unknown parameter in input: \"Schedule\"",
    ):
        dataset_requests(_config(), catalog_columns(), tmp_path / "qs")
