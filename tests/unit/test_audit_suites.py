"""Suites are data: every table has one, each loads, and a broken file fails on load naming the file and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.audit.suites import SUITES_DIR, SuiteError, frame_type, load_suite, load_suites
from pipelines.lake.schemas import TABLES

HEADER = """\
table: cloudwatch_metrics
parameters:
  min_rows: {default: null}
expectations:
"""


def write_suite(directory: Path, body: str, table: str = "cloudwatch_metrics", header: str = HEADER) -> Path:
    path = directory / f"{table}.yaml"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_every_table_has_a_suite_file():
    assert {p.stem for p in SUITES_DIR.glob("*.yaml")} >= set(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_each_suite_loads_and_is_named_after_its_table(table):
    suite = load_suite(table)
    assert suite.table == table
    assert suite.path == SUITES_DIR / f"{table}.yaml"
    assert suite.expectations
    assert {e.severity for e in suite.expectations} <= {"critical", "warning"}
    names = [e.short_name for e in suite.expectations]
    assert len(names) == len(set(names))


def test_load_suites_returns_every_suite_by_table():
    assert set(load_suites()) >= set(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_schema_checks_are_derived_from_the_contract(table):
    spec, suite = TABLES[table], load_suite(table)
    ordered = [e for e in suite.expectations if e.type == "expect_table_columns_to_match_ordered_list"]
    assert [e.kwargs["column_list"] for e in ordered] == [spec.schema.names]
    types = {e.kwargs["column"]: e.kwargs["type_"] for e in suite.expectations if e.type == "expect_column_values_to_be_of_type"}
    assert types == {f.name: frame_type(f.type) for f in spec.schema}
    assert all(e.severity == "critical" for e in ordered)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_non_nullable_columns_and_the_key_are_checked_critically(table):
    """Keeps suite and contract in step: a new non-null column or key change needs its expectation."""
    spec, suite = TABLES[table], load_suite(table)
    critical = [e for e in suite.expectations if e.severity == "critical"]
    not_null = {e.kwargs["column"] for e in critical if e.type == "expect_column_values_to_not_be_null"}
    assert not_null == {f.name for f in spec.schema if not f.nullable}
    unique = [tuple(e.kwargs["column_list"]) for e in critical if e.type == "expect_compound_columns_to_be_unique"]
    unique += [(e.kwargs["column"],) for e in critical if e.type == "expect_column_values_to_be_unique"]
    assert spec.key in unique


def test_cloudwatch_suite_parameters_and_severities():
    suite = load_suite("cloudwatch_metrics")
    assert {p.name for p in suite.parameters} == {
        "window_start",
        "window_end",
        "min_rows",
        "max_rows",
        "max_utilization_percent",
        "expected_endpoints",
    }
    assert suite.parameter("window_start").required and suite.parameter("window_end").required
    assert suite.parameter("max_utilization_percent").default == 19200
    assert suite.parameter("min_rows").default is None
    by_name = {e.short_name: e for e in suite.expectations}
    assert by_name["expect_column_distinct_values_to_contain_set(endpoint_name)[invocations_fresh]"].severity == "warning"
    assert by_name["expect_table_row_count_to_be_between"].parameters == ("min_rows", "max_rows")
    assert by_name["expect_column_values_to_be_between(ts)"].parameters == ("window_start", "window_end")


def test_short_names_are_type_and_columns():
    by_name = {e.short_name for e in load_suite("cloudwatch_metrics").expectations}
    assert (
        "expect_compound_columns_to_be_unique(account_id,region,namespace,metric_name,dimensions,stat,period_seconds,ts)"
        in by_name
    )
    assert "expect_column_values_to_not_be_null(ts)" in by_name
    assert "expect_column_values_to_be_between(value)[percent_utilization]" in by_name


def test_unknown_expectation_type_names_file_and_expectation(tmp_path):
    path = write_suite(
        tmp_path,
        """\
  - type: expect_column_values_to_not_be_null
    kwargs: {column: ts}
    severity: critical
  - type: expect_values_to_be_lovely
    kwargs: {column: ts}
    severity: critical
""",
    )
    with pytest.raises(SuiteError) as raised:
        load_suite("cloudwatch_metrics", tmp_path)
    message = str(raised.value)
    assert str(path) in message
    assert "#1" in message and "expect_values_to_be_lovely" in message
    assert "unknown expectation type" in message


def test_unknown_severity_is_an_error(tmp_path):
    path = write_suite(
        tmp_path,
        """\
  - type: expect_column_values_to_not_be_null
    kwargs: {column: ts}
    severity: blocker
""",
    )
    with pytest.raises(SuiteError, match=r"expectation #0 \(expect_column_values_to_not_be_null\): severity 'blocker'") as raised:
        load_suite("cloudwatch_metrics", tmp_path)
    assert str(path) in str(raised.value)


def test_missing_severity_is_an_error(tmp_path):
    write_suite(tmp_path, "  - type: expect_column_values_to_not_be_null\n    kwargs: {column: ts}\n")
    with pytest.raises(SuiteError, match="severity None"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_bad_yaml_is_an_error(tmp_path):
    path = write_suite(tmp_path, "  - type: [unclosed\n")
    with pytest.raises(SuiteError, match="invalid YAML") as raised:
        load_suite("cloudwatch_metrics", tmp_path)
    assert str(path) in str(raised.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(SuiteError, match="no expectation suite for table 'cloudwatch_metrics'") as raised:
        load_suite("cloudwatch_metrics", tmp_path)
    assert str(tmp_path / "cloudwatch_metrics.yaml") in str(raised.value)


def test_misspelt_kwarg_is_an_error(tmp_path):
    write_suite(
        tmp_path,
        """\
  - type: expect_column_values_to_be_between
    kwargs: {column: value, min_valu: 0}
    severity: critical
""",
    )
    with pytest.raises(SuiteError, match=r"#0 \(expect_column_values_to_be_between\): invalid kwargs: .*min_valu"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_column_outside_the_contract_is_an_error(tmp_path):
    write_suite(
        tmp_path,
        """\
  - type: expect_column_values_to_not_be_null
    kwargs: {column: timestamp}
    severity: critical
""",
    )
    with pytest.raises(SuiteError, match=r"columns \['timestamp'\] are not in the contract of cloudwatch_metrics"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_row_condition_must_evaluate_against_the_contract(tmp_path):
    write_suite(
        tmp_path,
        """\
  - type: expect_column_values_to_be_between
    kwargs: {column: value, min_value: 0, row_condition: 'metric == "x"', condition_parser: pandas}
    severity: critical
""",
    )
    with pytest.raises(SuiteError, match="row_condition .* does not evaluate"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_undeclared_parameter_is_an_error(tmp_path):
    write_suite(
        tmp_path,
        """\
  - type: expect_table_row_count_to_be_between
    kwargs: {min_value: {$PARAMETER: min_row}}
    severity: critical
""",
    )
    with pytest.raises(SuiteError, match=r"parameters \['min_row'\] are not declared"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_parameter_needs_required_or_default(tmp_path):
    header = "table: cloudwatch_metrics\nparameters:\n  min_rows: {description: no default}\nexpectations:\n"
    write_suite(
        tmp_path,
        "  - type: expect_table_row_count_to_be_between\n    kwargs: {min_value: 1}\n    severity: critical\n",
        header=header,
    )
    with pytest.raises(SuiteError, match="parameter 'min_rows' needs exactly one of"):
        load_suite("cloudwatch_metrics", tmp_path)


def test_table_key_must_match_the_file_name(tmp_path):
    write_suite(
        tmp_path,
        "  - type: expect_table_row_count_to_be_between\n    kwargs: {min_value: 1}\n    severity: critical\n",
        table="endpoints",
    )
    with pytest.raises(SuiteError, match="a suite is named after its table"):
        load_suite("endpoints", tmp_path)


def test_same_short_name_twice_needs_a_name(tmp_path):
    entry = "  - type: expect_column_values_to_be_between\n    kwargs: {column: value, min_value: 0}\n    severity: critical\n"
    write_suite(tmp_path, entry + entry)
    with pytest.raises(
        SuiteError, match=r"two expectations are both expect_column_values_to_be_between\(value\); give one a 'name'"
    ):
        load_suite("cloudwatch_metrics", tmp_path)


def test_a_minimal_custom_suite_loads(tmp_path):
    write_suite(
        tmp_path,
        """\
  - type: expect_table_row_count_to_be_between
    kwargs: {min_value: {$PARAMETER: min_rows}}
    severity: warning
    description: at least some rows
""",
    )
    suite = load_suite("cloudwatch_metrics", tmp_path)
    [spec] = suite.expectations
    assert (spec.severity, spec.description, spec.parameters, spec.column) == (
        "warning",
        "at least some rows",
        ("min_rows",),
        None,
    )
