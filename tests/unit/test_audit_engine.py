"""The audit engine on real-shaped tables: what passes, what blocks publishing, what is only reported, and how."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.audit.docs import build_data_docs
from pipelines.audit.engine import (
    VALIDATION_RESULTS_SCHEMA,
    ParameterError,
    ValidationReport,
    Validator,
    canonical_map_strings,
    to_validation_frame,
    validate_table,
    validation_rows,
)
from pipelines.audit.suites import frame_type, load_suite
from pipelines.lake.schemas import CLOUDWATCH_METRICS, ENDPOINTS, PIPELINE_RUNS, TABLES, VALIDATION_RESULTS

NIGHT = datetime(2026, 3, 1)
ENDPOINT_NAMES = ("fraud-detector-prod", "churn-scorer-prod")
PARAMS: dict[str, Any] = {
    "window_start": NIGHT,
    "window_end": NIGHT + timedelta(days=1),
    "expected_endpoints": list(ENDPOINT_NAMES),
}
UNIQUE = "expect_compound_columns_to_be_unique(account_id,region,namespace,metric_name,dimensions,stat,period_seconds,ts)"
NON_NEGATIVE = "expect_column_values_to_be_between(value)[sagemaker_non_negative]"
PER_CORE = "expect_column_values_to_be_between(value)[per_core_utilization]"
PERCENT = "expect_column_values_to_be_between(value)[percent_utilization]"
WINDOW = "expect_column_values_to_be_between(ts)"
ROW_COUNT = "expect_table_row_count_to_be_between"
FRESH = "expect_column_distinct_values_to_contain_set(endpoint_name)[invocations_fresh]"
SAGEMAKER, ENDPOINTS_NS, MODEL_METRICS = "AWS/SageMaker", "/aws/sagemaker/Endpoints", "aws/sagemaker/Endpoints/model-metrics"
# (namespace, metric, stat, value, unit) of one endpoint for one period: what a 4-vCPU, 2-GPU box reports.
SERIES = [
    (SAGEMAKER, "Invocations", "Sum", 412.0, "None"),
    (SAGEMAKER, "ModelLatency", "p99", 48_000.0, "Microseconds"),
    (SAGEMAKER, "ModelLatency", "Average", 21_000.0, "Microseconds"),
    (ENDPOINTS_NS, "CPUUtilization", "Average", 350.0, "Percent"),  # 3.5 of 4 cores busy
    (ENDPOINTS_NS, "CPUUtilization", "Sum", 1_750.0, "Percent"),  # 5 one-minute samples: not a percentage
    (ENDPOINTS_NS, "MemoryUtilization", "Maximum", 63.0, "Percent"),
    (ENDPOINTS_NS, "MemoryUtilization", "SampleCount", 5.0, "Percent"),
    (ENDPOINTS_NS, "GPUMemoryUtilization", "Average", 180.0, "Percent"),  # summed over 2 GPUs
    (MODEL_METRICS, "r2", "Average", -0.4, "None"),  # a model worse than the mean: negative, and real
]


def metric_row(
    endpoint: str = ENDPOINT_NAMES[0], series: tuple = SERIES[0], ts: datetime = NIGHT, **overrides: Any
) -> dict[str, Any]:
    namespace, metric, stat, value, unit = series
    row = {
        "account_id": "111111111111",
        "region": "us-east-1",
        "namespace": namespace,
        "metric_name": metric,
        "dimensions": {"EndpointName": endpoint, "VariantName": "AllTraffic"},
        "endpoint_name": endpoint,
        "variant_name": "AllTraffic",
        "stat": stat,
        "period_seconds": 300,
        "ts": ts,
        "value": value,
        "unit": unit,
    }
    return {**row, **overrides}


def clean_rows(periods: int = 12) -> list[dict[str, Any]]:
    return [
        metric_row(endpoint, series, NIGHT + timedelta(minutes=5 * i))
        for endpoint in ENDPOINT_NAMES
        for series in SERIES
        for i in range(periods)
    ]


def first(rows: list[dict[str, Any]], metric: str, stat: str) -> int:
    """Index of the first row of `metric` and `stat`."""
    return next(i for i, r in enumerate(rows) if (r["metric_name"], r["stat"]) == (metric, stat))


def metrics_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CLOUDWATCH_METRICS.schema)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.fixture(scope="module")
def suite() -> Any:
    return load_suite("cloudwatch_metrics")


def run(validator: Validator, suite: Any, rows: list[dict[str, Any]] | pa.Table, **params: Any) -> ValidationReport:
    table = rows if isinstance(rows, pa.Table) else metrics_table(rows)
    return validator.validate(table, suite, {**PARAMS, **params}, dt="2026-03-01", run_id="20260302T020000Z-abc123")


def outcome(report: ValidationReport, name: str) -> Any:
    return next(o for o in report.outcomes if o.name == name)


def test_clean_night_passes(validator, suite):
    report = run(validator, suite, clean_rows(), min_rows=100, max_rows=10_000)
    assert report.passed, report.summary()
    assert report.failed_critical == [] and report.failed_warnings == [] and report.failed_names() == []
    assert not any(o.skipped for o in report.outcomes)
    assert len(report.outcomes) == len(suite.expectations)
    assert report.rows == 2 * len(SERIES) * 12
    assert outcome(report, "expect_table_columns_to_match_ordered_list").success


def test_duplicated_export_fails_the_critical_key(validator, suite):
    rows = clean_rows()
    report = run(validator, suite, rows + rows)
    assert not report.passed
    unique = outcome(report, UNIQUE)
    assert (unique.success, unique.severity, unique.skipped) == (False, "critical", False)
    assert unique.unexpected_count == 2 * len(rows)
    assert unique.element_count == 2 * len(rows)
    assert 1 <= len(unique.examples) <= 5
    example = unique.examples[0]
    assert set(example) == set(CLOUDWATCH_METRICS.key)
    assert json.loads(example["dimensions"]) == {"EndpointName": ENDPOINT_NAMES[0], "VariantName": "AllTraffic"}
    assert UNIQUE in report.failed_names()


def test_same_dimensions_in_another_order_are_the_same_key(validator, suite):
    rows = clean_rows(periods=1)
    reordered = {**rows[0], "dimensions": {"VariantName": "AllTraffic", "EndpointName": ENDPOINT_NAMES[0]}}
    report = run(validator, suite, [*rows, reordered])
    assert outcome(report, UNIQUE).unexpected_count == 2


def test_negative_latency_fails(validator, suite):
    rows = clean_rows()
    latency = first(rows, "ModelLatency", "p99")
    rows[latency] = {**rows[latency], "value": -5.0}
    report = run(validator, suite, rows)
    failed = outcome(report, NON_NEGATIVE)
    assert not failed.success and failed.unexpected_count == 1 and failed.examples == [-5.0]
    assert not report.passed


def test_negative_model_quality_metric_is_real(validator, suite):
    """r2 < 0 happens; only SageMaker's own namespaces are held to >= 0."""
    report = run(validator, suite, clean_rows())
    assert outcome(report, NON_NEGATIVE).success


def test_cpu_above_the_core_bound_fails_and_multi_core_percentages_pass(validator, suite):
    report = run(validator, suite, clean_rows())  # CPU 350% on a 4-core box, default bound 19200
    assert outcome(report, PER_CORE).success
    rows = clean_rows()
    cpu = first(rows, "CPUUtilization", "Average")
    rows[cpu] = {**rows[cpu], "value": 900.0}
    report = run(validator, suite, rows, max_utilization_percent=800)
    failed = outcome(report, PER_CORE)
    assert not failed.success and failed.unexpected_count == 1 and failed.examples == [900.0]
    assert failed.expected["max_value"] == 800


def test_memory_above_100_percent_fails(validator, suite):
    rows = clean_rows()
    memory = first(rows, "MemoryUtilization", "Maximum")
    rows[memory] = {**rows[memory], "value": 120.0}
    report = run(validator, suite, rows)
    failed = outcome(report, PERCENT)
    assert not failed.success and failed.examples == [120.0] and not report.passed


def test_sums_and_sample_counts_of_percentages_are_not_percentages(validator, suite):
    rows = [
        *clean_rows(),
        metric_row(series=(ENDPOINTS_NS, "MemoryUtilization", "Sum", 480.0, "Percent"), ts=NIGHT + timedelta(hours=3)),
    ]
    assert outcome(run(validator, suite, rows), PERCENT).success


def test_empty_night_is_not_blocked_by_value_checks(validator, suite):
    """An empty partition is the row-count band's business (and the freshness warning's), nothing else's."""
    report = run(validator, suite, CLOUDWATCH_METRICS.schema.empty_table())
    assert report.passed and report.failed_names() == [FRESH]


def test_zero_second_period_fails(validator, suite):
    rows = clean_rows(periods=1)
    rows[0] = {**rows[0], "period_seconds": 0}
    assert run(validator, suite, rows).failed_names() == ["expect_column_values_to_be_between(period_seconds)"]


def test_timestamps_outside_the_night_fail(validator, suite):
    rows = clean_rows()
    rows[0] = {**rows[0], "ts": NIGHT + timedelta(days=1)}  # the end is exclusive
    rows[13] = {**rows[13], "ts": NIGHT - timedelta(minutes=5)}
    report = run(validator, suite, rows)
    failed = outcome(report, WINDOW)
    assert not failed.success and failed.unexpected_count == 2
    assert set(failed.examples) == {"2026-03-02T00:00:00", "2026-02-28T23:55:00"}


def test_aware_window_parameters_are_compared_in_utc(validator, suite):
    aware = {"window_start": NIGHT.replace(tzinfo=UTC), "window_end": (NIGHT + timedelta(days=1)).replace(tzinfo=UTC)}
    assert outcome(run(validator, suite, clean_rows(), **aware), WINDOW).success


def test_null_key_fails(validator, suite):
    rows = clean_rows()
    rows[0] = {**rows[0], "region": None}
    report = run(validator, suite, rows)
    failed = outcome(report, "expect_column_values_to_not_be_null(region)")
    assert not failed.success and failed.unexpected_count == 1 and failed.severity == "critical"
    assert not report.passed


def test_wrong_column_type_fails_the_schema(validator, suite):
    table = metrics_table(clean_rows())
    index = table.schema.get_field_index("period_seconds")
    table = table.set_column(index, pa.field("period_seconds", pa.int64()), table.column(index).cast(pa.int64()))
    report = run(validator, suite, table)
    failed = outcome(report, "expect_column_values_to_be_of_type(period_seconds)")
    assert not failed.success and failed.observed == "int64" and failed.expected == {"type_": "int32"}
    assert not report.passed


def test_value_as_text_fails_the_schema(validator, suite):
    table = metrics_table(clean_rows())
    index = table.schema.get_field_index("value")
    table = table.set_column(index, pa.field("value", pa.string()), table.column(index).cast(pa.string()))
    report = run(validator, suite, table)
    assert outcome(report, "expect_column_values_to_be_of_type(value)").observed == "str"
    assert not report.passed


def test_missing_column_fails_the_schema(validator, suite):
    report = run(validator, suite, metrics_table(clean_rows()).drop_columns(["unit"]))
    assert not outcome(report, "expect_table_columns_to_match_ordered_list").success
    missing = outcome(report, "expect_column_values_to_be_of_type(unit)")
    assert not missing.success and missing.observed == "missing column(s): unit"
    assert "missing column(s): unit" in report.summary()


def test_row_count_below_the_band_fails(validator, suite):
    report = run(validator, suite, clean_rows(), min_rows=1_000, max_rows=100_000)
    failed = outcome(report, ROW_COUNT)
    assert not failed.success and failed.observed == 2 * len(SERIES) * 12
    assert failed.expected == {"min_value": 1_000, "max_value": 100_000}
    assert not report.passed


def test_row_count_without_history_is_skipped_not_failed(validator, suite):
    report = run(validator, suite, clean_rows(), min_rows=None, max_rows=None)
    skipped = outcome(report, ROW_COUNT)
    assert (skipped.skipped, skipped.success) == (True, True)
    assert skipped.observed == "no value for min_rows, max_rows"
    assert report.passed and ROW_COUNT not in report.failed_names()
    assert f"SKIPPED  {ROW_COUNT}: no value for min_rows, max_rows" in report.summary()


def test_one_sided_band_still_checks(validator, suite):
    report = run(validator, suite, clean_rows(), min_rows=None, max_rows=10)
    assert not outcome(report, ROW_COUNT).success


def test_missing_endpoint_is_a_warning_only(validator, suite):
    report = run(validator, suite, clean_rows(), expected_endpoints=[*ENDPOINT_NAMES, "ep-silent"])
    assert report.passed
    [warning] = report.failed_warnings
    assert warning.name == FRESH and warning.severity == "warning"
    assert warning.examples == ["ep-silent"] and warning.unexpected_count == 1
    assert report.failed_names() == [FRESH]


def test_required_parameter_missing_is_an_error(validator, suite):
    with pytest.raises(ParameterError, match="window_start, window_end"):
        validator.validate(metrics_table(clean_rows()), suite, {})


def test_extra_parameters_are_ignored(validator):
    rows = [{"endpoint_name": "a", "business_unit": "Payments", "product": None, "owner": None}]
    report = validator.validate(pa.Table.from_pylist(rows, schema=ENDPOINTS.schema), load_suite("endpoints"), PARAMS)
    assert report.passed, report.summary()


def test_summary_names_table_expectation_count_and_examples(validator, suite):
    rows = clean_rows()
    memory = first(rows, "MemoryUtilization", "Maximum")
    rows[memory] = {**rows[memory], "value": 120.0}
    text = run(validator, suite, rows + rows, expected_endpoints=["ep-silent", *ENDPOINT_NAMES]).summary()
    assert text.startswith(
        "cloudwatch_metrics dt=2026-03-01 run 20260302T020000Z-abc123: FAILED, not publishable: 2 critical and 1 warning"
    )
    assert f"CRITICAL {UNIQUE}: {2 * len(rows)} of {2 * len(rows)} rows unexpected" in text
    assert f"e.g. account_id=111111111111, region=us-east-1, namespace={SAGEMAKER}, metric_name=Invocations" in text
    assert (
        f"CRITICAL {PERCENT}: 2 of 48 rows unexpected; expected min_value=0.0, max_value=100.0 (rows where metric_name in" in text
    )
    assert "e.g. 120.0" in text
    assert f"WARNING  {FRESH}: 1 missing: ep-silent" in text
    assert "why: One value per metric" in text


def test_to_dict_is_json(validator, suite):
    rows = clean_rows()
    report = run(validator, suite, rows + rows, expected_endpoints=["ep-silent"])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["table"] == "cloudwatch_metrics" and data["dt"] == "2026-03-01" and data["passed"] is False
    assert data["failed_expectations"][0] == UNIQUE
    assert len(data["outcomes"]) == len(suite.expectations)


def test_validation_rows_fit_the_validation_results_contract(validator, suite):
    assert VALIDATION_RESULTS_SCHEMA == VALIDATION_RESULTS.schema
    report = run(validator, suite, clean_rows() * 2)
    rows = validation_rows(report)
    table = pa.Table.from_pylist(rows, schema=VALIDATION_RESULTS_SCHEMA)
    assert table.num_rows == len(suite.expectations)
    unique = next(r for r in rows if r["expectation"] == UNIQUE)
    assert unique["success"] is False and unique["unexpected_count"] > 0 and json.loads(unique["examples"])
    skipped = next(r for r in rows if r["expectation"] == ROW_COUNT)
    assert skipped["skipped"] is True and json.loads(skipped["observed"]) == "no value for min_rows, max_rows"


def test_validate_table_reuses_one_validator(suite):
    first = validate_table(metrics_table(clean_rows(periods=1)), suite, PARAMS)
    second = validate_table(metrics_table(clean_rows(periods=2)), suite, PARAMS)
    assert first.passed and second.passed and (first.rows, second.rows) == (len(SERIES) * 2, len(SERIES) * 4)


def test_every_table_validates_clean_rows_of_its_contract(validator):
    """The frame conversion and the derived schema checks agree for every contract type."""
    now = NIGHT + timedelta(hours=2)
    samples = {
        "cloudwatch_metrics": clean_rows(periods=1),
        "endpoints": [
            {
                "endpoint_name": "fraud-detector-prod",
                "business_unit": "Payments",
                "product": "Fraud screening",
                "owner": "risk-ml",
            }
        ],
        "pipeline_runs": [
            {
                "run_id": "r1",
                "table_name": "cloudwatch_metrics",
                "rows": 10,
                "status": "quarantined",
                "failed_expectations": [UNIQUE],
                "message": "duplicates",
                "api_calls": None,
                "cost_usd": 0.01,
                "started_at": now,
                "finished_at": now + timedelta(seconds=3),
            }
        ],
        "validation_results": [
            {
                "run_id": "r1",
                "table_name": "cloudwatch_metrics",
                "expectation": UNIQUE,
                "column": None,
                "severity": "critical",
                "success": False,
                "skipped": False,
                "unexpected_count": 2,
                "element_count": 4,
                "observed": None,
                "examples": "[]",
                "evaluated_at": now,
            }
        ],
        "business_kpis": [
            {
                "business_unit": "Payments",
                "kpi_name": "revenue",
                "value": 1.0,
                "unit": "USD",
                "source_uri": "s3://b/inbox/kpis/d.csv",
                "loaded_at": now,
            }
        ],
        "endpoint_models": [
            {
                "account_id": "111111111111",
                "region": "us-east-1",
                "endpoint_name": "fraud-detector-prod",
                "endpoint_status": "InService",
                "endpoint_config_name": "fd-config-7",
                "variant_name": "AllTraffic",
                "instance_type": "ml.c5.2xlarge",
                "instance_count": 2,
                "model_name": "fd-model-7",
                "image": "img",
                "model_data_url": "s3://b/model.tar.gz",
                "model_package_arn": "arn:aws:sagemaker:us-east-1:111111111111:model-package/fd/7",
                "model_package_group": "fd",
                "model_version": 7,
                "approval_status": "Approved",
                "model_created_at": now,
                "observed_at": now,
            }
        ],
        "endpoint_log_patterns": [
            {
                "account_id": "111111111111",
                "region": "us-east-1",
                "endpoint_name": "fraud-detector-prod",
                "log_group": "/aws/sagemaker/Endpoints/fraud-detector-prod",
                "hour": NIGHT + timedelta(hours=2),
                "error_class": "http_5xx",
                "count": 3,
                "sample_message": "504 Gateway Timeout",
            }
        ],
    }
    # The Model Monitor tables are checked the same way on the real SageMaker files in test_monitor_tables.py.
    report_tables = {
        "monitor_executions",
        "monitor_violations",
        "monitor_feature_statistics",
        "model_quality_metrics",
        "bias_metrics",
        "feature_attributions",
        "source_rejections",
    }
    assert set(samples) | report_tables == set(TABLES)
    for name, rows in samples.items():
        report = validator.validate(pa.Table.from_pylist(rows, schema=TABLES[name].schema), load_suite(name), PARAMS)
        assert report.passed and not report.failed_warnings, report.summary()


def test_pipeline_runs_suite_catches_a_load_that_ends_before_it_starts(validator):
    now = NIGHT + timedelta(hours=2)
    row = {
        "run_id": "r1",
        "table_name": "endpoints",
        "rows": 3,
        "status": "done",
        "started_at": now,
        "finished_at": now - timedelta(seconds=1),
    }
    report = validator.validate(pa.Table.from_pylist([row], schema=PIPELINE_RUNS.schema), load_suite("pipeline_runs"), {})
    assert set(report.failed_names()) == {
        "expect_column_values_to_be_in_set(status)",
        "expect_column_pair_values_a_to_be_greater_than_b(finished_at,started_at)",
    }


def test_validation_frame_types_match_the_schema_checks():
    for spec in TABLES.values():
        frame = to_validation_frame(spec.schema.empty_table())
        assert list(frame.columns) == spec.schema.names
        for field in spec.schema:
            expected = frame_type(field.type)
            assert frame[field.name].dtype.type.__name__.startswith(expected) or (expected, frame[field.name].dtype.name) == (
                "str",
                "str",
            )


def test_validation_frame_turns_maps_and_lists_into_json():
    table = pa.table(
        {
            "dimensions": pa.array([[("b", "2"), ("a", "1")], None], pa.map_(pa.string(), pa.string())),
            "failed": pa.array([["x", "y"], None], pa.list_(pa.string())),
            "ts": pa.array([NIGHT, None], pa.timestamp("us")),
            "n": pa.array([1, None], pa.int32()),
        }
    )
    frame = to_validation_frame(table)
    assert frame["dimensions"].tolist()[0] == '{"a":"1","b":"2"}' and frame["dimensions"].isna().tolist() == [False, True]
    assert frame["failed"].tolist()[0] == '["x", "y"]'
    assert str(frame["ts"].dtype) == "datetime64[ns]" and str(frame["n"].dtype) == "Int32"


def test_canonical_maps_handle_slices_nulls_empties_and_separators():
    maps = pa.array(
        [
            [("b", "2"), ("a", "1")],
            [("a", "1"), ("b", "2")],
            None,
            [],
            [("a", None)],
            [("a", "")],
            [("x:1", "y")],
            [("x", "1:y")],
        ],
        pa.map_(pa.string(), pa.string()),
    )
    expected = ['{"a":"1","b":"2"}', '{"a":"1","b":"2"}', None, "{}", '{"a":null}', '{"a":""}', '{"x:1":"y"}', '{"x":"1:y"}']
    assert canonical_map_strings(pa.chunked_array([maps])).to_pylist() == expected
    assert canonical_map_strings(pa.chunked_array([maps.slice(3), maps.slice(0, 2)])).to_pylist() == expected[3:] + expected[:2]
    assert canonical_map_strings(pa.chunked_array([], maps.type)).to_pylist() == []


entries = st.dictionaries(st.text(max_size=6), st.one_of(st.none(), st.text(max_size=6)), max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), entries), max_size=12), st.randoms())
def test_canonical_maps_are_sorted_json_whatever_the_entry_order(maps, random):
    shuffled = [None if m is None else random.sample(list(m.items()), len(m)) for m in maps]
    array = pa.array([None if m is None else list(m.items()) for m in maps], pa.map_(pa.string(), pa.string()))
    array_shuffled = pa.array(shuffled, pa.map_(pa.string(), pa.string()))
    expected = [None if m is None else json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for m in maps]
    assert canonical_map_strings(pa.chunked_array([array])).to_pylist() == expected
    assert canonical_map_strings(pa.chunked_array([array_shuffled])).to_pylist() == expected


def test_build_data_docs_writes_an_index(validator, suite, tmp_path: Path):
    rows = clean_rows()
    reports = [run(validator, suite, rows), run(validator, suite, rows + rows)]
    index = build_data_docs(reports, tmp_path / "docs")
    assert index == tmp_path / "docs" / "index.html" and index.is_file()
    pages = list((tmp_path / "docs" / "validations" / "cloudwatch_metrics").rglob("*.html"))
    assert len(pages) == 2
    assert any("duplicated export" in p.read_text() for p in pages)
    assert (tmp_path / "docs" / "expectations" / "cloudwatch_metrics.html").is_file()
