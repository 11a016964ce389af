"""QuickSight requests are checked before they are sent: botocore's model, and the enums, lengths, patterns and unions it leaves out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipelines.publish.quicksight.check import RequestError, check_request, is_union, require_valid

ACCOUNT = "111111111111"
KPI = {"VisualId": "revenue", "Title": {"Visibility": "VISIBLE", "FormatText": {"PlainText": "Revenue"}}}
ANALYSIS: dict[str, Any] = {
    "AwsAccountId": ACCOUNT,
    "AnalysisId": "ml-performance",
    "Name": "ML performance and business impact",
    "Definition": {
        "DataSetIdentifierDeclarations": [
            {"Identifier": "ml_business_daily", "DataSetArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dataset/ml_business_daily"}
        ],
        "Sheets": [{"SheetId": "executive", "Name": "Executive", "Visuals": [{"KPIVisual": KPI}]}],
    },
}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    request = copy.deepcopy(ANALYSIS)
    target = request
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return request


def test_a_well_formed_request_has_no_problem() -> None:
    assert check_request("CreateAnalysis", ANALYSIS) == []
    require_valid("CreateAnalysis", ANALYSIS)


def test_a_visual_with_two_members_is_refused_as_a_union() -> None:
    request = _with(["Definition", "Sheets", 0, "Visuals", 0], {"KPIVisual": KPI, "BarChartVisual": {"VisualId": "bars"}})
    [problem] = check_request("CreateAnalysis", request)
    assert problem.path == "Definition.Sheets[0].Visuals[0]"
    assert "union type" in problem.message and "BarChartVisual, KPIVisual" in problem.message


def test_an_enum_typo_is_named_with_its_path_and_the_allowed_values() -> None:
    request = _with(["Definition", "Sheets", 0, "Visuals", 0, "KPIVisual", "Title", "Visibility"], "SHOWN")
    assert [str(p) for p in check_request("CreateAnalysis", request)] == [
        "Definition.Sheets[0].Visuals[0].KPIVisual.Title.Visibility: 'SHOWN' is not one of HIDDEN, VISIBLE"
    ]


def test_lengths_patterns_and_what_botocore_already_checks() -> None:
    assert [str(p) for p in check_request("CreateAnalysis", _with(["Name"], "x" * 2049))] == [
        "Name: 2049 characters, at most 2048 allowed"
    ]
    problems = [str(p) for p in check_request("CreateAnalysis", _with(["AwsAccountId"], "11111111111a"))]
    assert problems == ["AwsAccountId: '11111111111a' does not match ^[0-9]{12}$"]
    unknown = [str(p) for p in check_request("CreateAnalysis", {**ANALYSIS, "Colour": "red", "AnalysisId": ""})]
    assert any('Unknown parameter in input: "Colour"' in p for p in unknown)
    assert any("AnalysisId, value: 0, valid min length: 1" in p for p in unknown)


def test_require_valid_lists_every_problem_and_unknown_operations_are_errors() -> None:
    request = _with(["Definition", "Sheets", 0, "Visuals", 0, "KPIVisual", "Title", "Visibility"], "SHOWN")
    with pytest.raises(RequestError, match=r"CreateAnalysis \(2 problems\)") as raised:
        require_valid("CreateAnalysis", {**request, "Name": "x" * 3000})
    assert "Visibility" in str(raised.value) and "Name: 3000 characters" in str(raised.value)
    with pytest.raises(RequestError, match="no operation 'CreateAnalyses'"):
        check_request("CreateAnalyses", ANALYSIS)


def test_union_types_are_found_in_the_documentation_too() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("quicksight")
    assert is_union(model.shape_for("Visual")) and is_union(model.shape_for("ImageSource"))
    assert not is_union(model.shape_for("SheetDefinition"))
