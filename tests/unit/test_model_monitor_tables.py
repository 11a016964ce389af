"""Model Monitor reports -> the six tables: every real fixture, every lenient case, every unreadable file."""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.audit.engine import validate_table
from pipelines.audit.suites import load_suite
from pipelines.lake.schemas import MONITOR_FEATURE_STATISTICS, TABLES
from pipelines.lake.staging import parquet_bytes
from pipelines.sources.model_monitor.documents import (
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
    UnreadableReport,
    as_count,
    as_float,
    parse_description,
    read_report,
    snake_case,
)
from pipelines.sources.model_monitor.landing import rejection_row
from pipelines.sources.model_monitor.reports import Execution, ReportObject, iter_report_bodies, report_kind
from pipelines.sources.model_monitor.tables import REPORT_TABLES, ExecutionReport, monitor_tables

FIXTURES = Path(__file__).parent.parent / "fixtures" / "model_monitor"
HOUR = datetime(2025, 6, 2, 3)
BUCKET = "sagemaker-us-east-1-111111111111"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def report(
    files: dict[str, bytes | Any], endpoint: str | None = "ep-a", schedule: str = "sched", hour: datetime = HOUR
) -> ExecutionReport:
    """An execution folder holding `files` (name -> bytes or a JSON-able document), parsed as the landing does."""
    folder = f"monitoring/{endpoint + '/' if endpoint else ''}{schedule}/{hour:%Y/%m/%d/%H}/"
    objects, parsed = [], {}
    for name, content in files.items():
        body = content if isinstance(content, bytes) else json.dumps(content).encode()
        obj = ReportObject(BUCKET, folder + name, len(body), name)
        objects.append(obj)
        if obj.kind:
            parsed[obj.uri] = read_report(obj.kind, body)
    execution = Execution("111111111111", "us-east-1", endpoint, schedule, hour, f"s3://{BUCKET}/{folder}", tuple(objects))
    return ExecutionReport(execution, parsed)


def rows(tables: dict[str, pa.Table], name: str) -> list[dict[str, Any]]:
    return tables[name].to_pylist()


# ---- the real files ---------------------------------------------------------------------------


def test_data_quality_execution_from_real_files() -> None:
    stats = fixture_json("data_quality_statistics_baseline.json")
    violations = fixture_json("data_quality_violations_sdk_test.json")["violations"]
    execution = report(
        {
            "statistics.json": fixture("data_quality_statistics_baseline.json"),
            "constraints.json": fixture("data_quality_constraints_baseline.json"),
            "constraint_violations.json": fixture("data_quality_violations_sdk_test.json"),
        }
    )
    tables, undetermined = monitor_tables([execution])
    assert not undetermined
    [row] = rows(tables, "monitor_executions")
    assert row["monitoring_type"] == "DataQuality"
    assert row["violation_count"] == len(violations) == 7
    assert row["item_count"] == stats["dataset"]["item_count"] == 100
    assert row["report_files"] == ["constraint_violations.json", "constraints.json", "statistics.json"]
    assert row["source_uri"] == execution.execution.uri and row["scheduled_hour"] == HOUR
    features = rows(tables, "monitor_feature_statistics")
    assert [f["feature_name"] for f in features] == [f["name"] for f in stats["features"]]
    for got, want in zip(features, stats["features"], strict=True):
        numbers = want["numerical_statistics"]
        assert (got["num_present"], got["num_missing"]) == (numbers["common"]["num_present"], numbers["common"]["num_missing"])
        assert (got["mean"], got["sum"], got["std_dev"], got["min"], got["max"]) == tuple(
            numbers[k] for k in ("mean", "sum", "std_dev", "min", "max")
        )
        assert got["inferred_type"] == want["inferred_type"] and got["source_uri"].endswith("/statistics.json")
    found = rows(tables, "monitor_violations")
    assert [(v["feature_name"], v["constraint_check_type"], v["description"]) for v in found] == [
        (v["feature_name"], v["constraint_check_type"], v["description"]) for v in violations
    ]
    assert [v["observed_value"] for v in found] == [float(v["description"].split()[1]) for v in violations]
    assert {v["threshold_value"] for v in found} == {None}
    for spec in REPORT_TABLES:
        assert tables[spec.name].schema.equals(spec.schema)


def test_model_quality_metrics_join_the_baseline_constraints() -> None:
    stats = fixture_json("model_quality_regression_statistics.json")["regression_metrics"]
    constraints = fixture_json("model_quality_regression_constraints.json")["regression_constraints"]
    baseline = read_report("constraints", fixture("model_quality_regression_constraints.json")).thresholds
    execution = report({"statistics.json": fixture("model_quality_regression_statistics.json")})
    tables, _ = monitor_tables([execution], {"ep-a": baseline})
    metrics = rows(tables, "model_quality_metrics")
    assert [m["metric_name"] for m in metrics] == list(stats) == ["mae", "mse", "rmse", "r2"]
    for metric in metrics:
        assert metric["problem_type"] == "regression" and metric["monitoring_type"] == MODEL_QUALITY
        assert metric["value"] == stats[metric["metric_name"]]["value"]
        assert metric["standard_deviation"] is None  # "NaN" in the file
        want = constraints[metric["metric_name"]]
        assert (metric["threshold"], metric["comparison_operator"]) == (want["threshold"], want["comparison_operator"])
    [execution_row] = rows(tables, "monitor_executions")
    assert execution_row["violation_count"] == 0 and execution_row["item_count"] == 100


def test_model_quality_without_a_baseline_uses_the_folder_constraints_or_none() -> None:
    bare = report({"statistics.json": fixture("model_quality_regression_statistics.json")}, hour=HOUR.replace(hour=1))
    folder = report(
        {
            "statistics.json": fixture("model_quality_regression_statistics.json"),
            "constraints.json": fixture("model_quality_regression_constraints.json"),
        }
    )
    tables, _ = monitor_tables([bare, folder], {"another-endpoint": {("regression", "mae"): (9.0, "X")}})
    by_hour = {(m["scheduled_hour"].hour, m["metric_name"]): m for m in rows(tables, "model_quality_metrics")}
    assert by_hour[(1, "mae")]["threshold"] is None and by_hour[(1, "mae")]["comparison_operator"] is None
    assert by_hour[(3, "r2")]["threshold"] == -3.208758170289026
    assert by_hour[(3, "r2")]["comparison_operator"] == "LessThanThreshold"


def test_bias_pre_and_post_training() -> None:
    analysis = fixture_json("bias_baseline_pre_post_analysis.json")
    tables, _ = monitor_tables([report({"analysis.json": fixture("bias_baseline_pre_post_analysis.json")})])
    metrics = rows(tables, "bias_metrics")
    for stage in ("pre_training", "post_training"):
        section = analysis[f"{stage}_bias_metrics"]
        want = [
            (f, g["value_or_threshold"], m["name"], m["value"])
            for f, groups in section["facets"].items()
            for g in groups
            for m in g["metrics"]
        ]
        got = [(m["facet"], m["facet_value"], m["metric_name"], m["value"]) for m in metrics if m["stage"] == stage]
        assert got == want
        assert {m["label"] for m in metrics if m["stage"] == stage} == {section["label"]}
    assert len(metrics) == 8 + 13
    assert {m["monitoring_type"] for m in metrics} == {MODEL_BIAS}
    assert rows(tables, "monitor_executions")[0]["violation_count"] == 0  # no constraint_violations.json: none


def test_bias_pre_training_only_with_an_interval_facet_value() -> None:
    tables, _ = monitor_tables([report({"analysis.json": fixture("bias_pretraining_analysis.json")})])
    metrics = rows(tables, "bias_metrics")
    assert len(metrics) == 8
    assert {(m["stage"], m["label"], m["facet"], m["facet_value"]) for m in metrics} == {
        ("pre_training", "Label", "F1", "(0.5, 0.9936148802477393]")
    }
    assert {m["metric_name"]: m["value"] for m in metrics}["CI"] == -0.08


def test_feature_attributions() -> None:
    shap = fixture_json("explainability_analysis.json")["explanations"]["kernel_shap"]["label0"]
    tables, _ = monitor_tables([report({"analysis.json": fixture("explainability_analysis.json")})])
    values = rows(tables, "feature_attributions")
    assert len(values) == len(shap["global_shap_values"]) == 45
    assert {v["feature_name"]: v["shap_value"] for v in values} == shap["global_shap_values"]
    assert {(v["label"], v["expected_value"], v["monitoring_type"]) for v in values} == {
        ("label0", shap["expected_value"], MODEL_EXPLAINABILITY)
    }
    assert rows(tables, "bias_metrics") == []


def test_empty_tables_have_the_contract_schemas() -> None:
    tables, undetermined = monitor_tables([])
    assert not undetermined
    for spec in REPORT_TABLES:
        assert tables[spec.name].num_rows == 0 and tables[spec.name].schema.equals(spec.schema)


# ---- lenient values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "observed", "threshold"),
    [
        ("Baseline drift distance: 0.1735 exceeds threshold: 0.1", 0.1735, 0.1),
        ("Value: 0.0 does not meet the constraint requirement! ", 0.0, None),
        ("Value 0.0751544567666083 does not meet the constraint requirement", 0.0751544567666083, None),
        ("Value Infinity does not meet the constraint requirement", math.inf, None),
        (
            "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
            "Observed: Only 99.64% of data is Integral.",
            0.9964,
            1.0,
        ),
        ("Metric auc with 0.61 +/- 8.08E-4 was LessThanThreshold '0.7'", 0.61, 0.7),
        ("Metric gini with 0.6111 was LessThanThreshold 0.6611", 0.6111, 0.6611),
        ("Metric rmse with 8.08E-4 +/- 1.0E-5 was GreaterThanThreshold '-1.5E-3'", 8.08e-4, -1.5e-3),
        ("Feature attribution drift 0.7639720923277322 exceeds threshold 0.9", 0.7639720923277322, 0.9),
        ("There are missing columns in current dataset. Number of columns in current dataset: 3", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_violation_descriptions_of_every_container_version(
    description: str | None, observed: float | None, threshold: float | None
) -> None:
    got_observed, got_threshold = parse_description(description)
    assert got_observed == pytest.approx(observed) if observed is not None else got_observed is None
    assert got_threshold == pytest.approx(threshold) if threshold is not None else got_threshold is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (24, 24.0),
        (24.0, 24.0),
        ("8.08E-4", 8.08e-4),
        ("NaN", None),
        (math.nan, None),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        (None, None),
        (True, None),
        ("n/a", None),
        ([1.0], None),
    ],
)
def test_as_float(value: Any, expected: float | None) -> None:
    assert as_float(value) == expected


def test_counts_written_as_floats_or_strings() -> None:
    assert [as_count(v) for v in (24, 24.0, "24", "NaN", math.inf, None, 9.3e18)] == [24, 24, 24, None, None, None, None]


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("truePositiveRate", "true_positive_rate"),
        ("weightedF2", "weighted_f2"),
        ("weightedF0_5", "weighted_f0_5"),
        ("auc", "auc"),
        ("f0_5", "f0_5"),
        ("false_positive_rate", "false_positive_rate"),
        ("AUC", "auc"),
        ("PR-AUC", "pr_auc"),
    ],
)
def test_metric_names_to_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("statistics.json", "statistics"),
        ("statistic.json", "statistics"),
        ("constraints.json", "constraints"),
        ("constraint.json", "constraints"),
        ("constraint_violations.json", "violations"),
        ("constraint_violation.json", "violations"),
        ("Constraint-Violations.json", "violations"),
        ("constraintviolations.json", "violations"),
        ("analysis.json", "analysis"),
        ("analysis_config.json", None),
        ("report.html", None),
        ("statistics.json.gz", None),
        ("merged.jsonl", None),
    ],
)
def test_report_file_names_are_matched_tolerantly(name: str, kind: str | None) -> None:
    assert report_kind(name) == kind


def test_canonical_name_wins_over_a_misspelt_twin() -> None:
    execution = report(
        {"statistic.json": {"features": []}, "statistics.json": {"features": []}, "constraint_violation.json": {"violations": []}}
    )
    assert sorted(o.name for o in execution.execution.reports) == ["constraint_violation.json", "statistics.json"]


def test_lenient_data_quality_statistics() -> None:
    stats = {
        "version": 0.0,
        "dataset": {"item_count": 24.0, "surprise": "extra keys are ignored"},
        "features": [
            {
                "name": "amount",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": 23.0, "num_missing": 1.0},
                    "mean": "NaN",
                    "sum": 10,
                    "std_dev": "Infinity",
                    "min": 0,
                    "max": 9,
                    "distribution": {
                        "kll": {"buckets": [], "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[], [1.0]]}}
                    },
                },
            },
            {
                "name": "country",
                "inferred_type": "String",
                "string_statistics": {"common": {"num_present": 24, "num_missing": 0}, "distinct_count": 3.0},
            },
            {
                "name": "free_text",
                "inferred_type": "String",
                "string_statistics": {"common": {"num_present": 24}, "distinct_count": 24.0},
            },
            {"name": "no_statistics_at_all"},
            {"inferred_type": "Integral"},  # no name: skipped, counted
            "not a feature",
        ],
    }
    parsed = read_report("statistics", json.dumps(stats).encode())
    assert parsed.skipped == 2 and parsed.item_count == 24
    tables, _ = monitor_tables([report({"statistics.json": stats})])
    got = {r["feature_name"]: r for r in rows(tables, "monitor_feature_statistics")}
    assert (got["amount"]["num_present"], got["amount"]["num_missing"], got["amount"]["mean"], got["amount"]["std_dev"]) == (
        23,
        1,
        None,
        math.inf,
    )
    assert got["country"]["distinct_count"] == 3.0 and got["country"]["mean"] is None
    assert got["free_text"]["num_missing"] is None
    assert got["no_statistics_at_all"]["num_present"] is None and got["no_statistics_at_all"]["item_count"] == 24


def test_lenient_model_quality_camel_case_and_non_scalars() -> None:
    stats = {
        "binary_classification_metrics": {
            "confusion_matrix": {"0": {"0": 5, "1": 1}, "1": {"0": 2, "1": 8}},
            "receiver_operating_characteristic_curve": {"false_positive_rates": [0, 1], "true_positive_rates": [0, 1]},
            "auc": {"value": 0.91, "standard_deviation": 0.002},
            "truePositiveRate": {"value": 0.8, "standard_deviation": "NaN"},
            "f1": 0.7,  # a bare number from a bring-your-own container
            "recall": {"value": [0.1, 0.2]},  # not scalar: skipped, counted
        }
    }
    constraints = {
        "binary_classification_constraints": {"truePositiveRate": {"threshold": 0.85, "comparison_operator": "LessThanThreshold"}}
    }
    violations = {
        "violations": [
            {
                "metric_name": "truePositiveRate",
                "constraint_check_type": "LessThanThreshold",
                "description": "Metric truePositiveRate with 0.8 +/- 8.08E-4 was LessThanThreshold '0.85'",
            }
        ]
    }
    assert read_report("statistics", json.dumps(stats).encode()).skipped == 1
    tables, _ = monitor_tables(
        [report({"statistics.json": stats, "constraint_violations.json": violations})],
        {"ep-a": read_report("constraints", json.dumps(constraints).encode()).thresholds},
    )
    metrics = {m["metric_name"]: m for m in rows(tables, "model_quality_metrics")}
    assert sorted(metrics) == ["auc", "f1", "true_positive_rate"]
    assert (metrics["true_positive_rate"]["threshold"], metrics["true_positive_rate"]["standard_deviation"]) == (0.85, None)
    assert metrics["f1"]["value"] == 0.7
    [violation] = rows(tables, "monitor_violations")
    assert (violation["metric_name"], violation["observed_value"], violation["threshold_value"]) == (
        "true_positive_rate",
        0.8,
        0.85,
    )
    assert rows(tables, "monitor_executions")[0]["violation_count"] == 1


def test_lenient_bias_null_values_with_errors_and_infinity() -> None:
    analysis = {
        "version": "1.0",
        "post_training_bias_metrics": {
            "label": "fraud",
            "facets": {
                "age_band": [
                    {
                        "value_or_threshold": 40,
                        "metrics": [
                            {"name": "DI", "description": "Disparate Impact (DI)", "value": None, "error": "Denominator is 0"},
                            {"name": "DPPL", "value": "Infinity"},
                            {"name": "AD", "value": 0.1, "unexpected": True},
                            {"description": "no name"},
                        ],
                    }
                ]
            },
        },
    }
    violations = {
        "version": "1.0",
        "violations": [
            {
                "facet": "age_band",
                "facet_value": "40",
                "metric_name": "DPPL",
                "constraint_check_type": "bias_drift_check",
                "description": "Value Infinity does not meet the constraint requirement",
            }
        ],
    }
    tables, _ = monitor_tables([report({"analysis.json": analysis, "constraint_violations.json": violations})])
    metrics = {m["metric_name"]: m for m in rows(tables, "bias_metrics")}
    assert sorted(metrics) == ["AD", "DI", "DPPL"]
    assert (metrics["DI"]["value"], metrics["DI"]["error"], metrics["DI"]["facet_value"]) == (None, "Denominator is 0", "40")
    assert metrics["DPPL"]["value"] == math.inf
    [violation] = rows(tables, "monitor_violations")
    assert (violation["facet"], violation["facet_value"], violation["metric_name"], violation["observed_value"]) == (
        "age_band",
        "40",
        "DPPL",
        math.inf,
    )
    assert rows(tables, "monitor_executions")[0]["monitoring_type"] == MODEL_BIAS


def test_attribution_violations_per_label_stay_apart() -> None:
    violations = {
        "violations": [
            {
                "label": label,
                "metric_name": "shap",
                "constraint_check_type": "feature_attribution_drift_check",
                "description": f"Feature attribution drift 0.{i}5 exceeds threshold 0.9",
            }
            for i, label in enumerate(["label0", "label1"])
        ]
    }
    tables, _ = monitor_tables(
        [report({"analysis.json": fixture("explainability_analysis.json"), "constraint_violations.json": violations})]
    )
    found = rows(tables, "monitor_violations")
    assert [(v["label"], v["observed_value"], v["threshold_value"]) for v in found] == [
        ("label0", 0.05, 0.9),
        ("label1", 0.15, 0.9),
    ]
    assert {v["monitoring_type"] for v in found} == {MODEL_EXPLAINABILITY}


def test_byoc_findings_that_differ_only_in_extra_keys_stay_distinct_and_pass_the_audit() -> None:
    """A bring-your-own container reported the same check on the same feature for two windows, saying so only in keys
    the contract has no column for: kept in details, the two are two rows and the uniqueness check holds; a true
    repeat (every key equal) still fails it."""
    finding = {"feature_name": "amount", "constraint_check_type": "baseline_drift_check", "description": "drift 0.4"}
    byoc = [{**finding, "window": "1h", "statistic": {"name": "psi", "bins": 10}}, {**finding, "window": "24h"}]
    tables, _ = monitor_tables(
        [report({"statistics.json": {"features": []}, "constraint_violations.json": {"violations": byoc}})]
    )
    found = rows(tables, "monitor_violations")
    assert [json.loads(v["details"]) for v in found] == [
        {"statistic": {"bins": 10, "name": "psi"}, "window": "1h"},
        {"window": "24h"},
    ]
    window = {"window_start": datetime(2025, 6, 2), "window_end": datetime(2025, 6, 3), "min_rows": None, "max_rows": None}
    suite = load_suite("monitor_violations")
    assert validate_table(tables["monitor_violations"], suite, window).passed
    repeated, _ = monitor_tables(
        [report({"statistics.json": {"features": []}, "constraint_violations.json": {"violations": [byoc[1], byoc[1]]}})]
    )
    assert "expect_compound_columns_to_be_unique" in " ".join(
        validate_table(repeated["monitor_violations"], suite, window).failed_names()
    )
    sagemaker, _ = monitor_tables([report({"constraint_violations.json": fixture("data_quality_violations_sdk_test.json")})])
    assert {v["details"] for v in rows(sagemaker, "monitor_violations")} == {None}  # SageMaker's own: nothing extra


def test_violation_without_a_check_type_is_kept_as_unknown() -> None:
    tables, _ = monitor_tables(
        [
            report(
                {
                    "statistics.json": {"features": []},
                    "constraint_violation.json": [{"feature_name": "x", "description": "odd"}, 7],
                }
            )
        ]
    )
    [violation] = rows(tables, "monitor_violations")
    assert (violation["feature_name"], violation["constraint_check_type"]) == ("x", "unknown")


def test_monitoring_type_from_siblings_when_the_files_do_not_say() -> None:
    dq = report({"statistics.json": fixture("data_quality_statistics_baseline.json")}, hour=HOUR.replace(hour=1))
    empty = report({"constraint_violations.json": {"violations": []}, "report.html": b"<html/>"})
    lonely = report({"constraint_violations.json": {"violations": []}}, schedule="other")
    tables, undetermined = monitor_tables([dq, empty, lonely])
    assert {(r["schedule_name"], r["scheduled_hour"].hour): r["monitoring_type"] for r in rows(tables, "monitor_executions")} == {
        ("sched", 1): "DataQuality",
        ("sched", 3): "DataQuality",
    }
    [left_out] = undetermined
    assert left_out.execution.schedule_name == "other" and "cannot tell the monitoring type" in left_out.reason


def test_batch_transform_executions_have_no_endpoint() -> None:
    tables, _ = monitor_tables([report({"statistics.json": fixture("data_quality_statistics_baseline.json")}, endpoint=None)])
    assert {r["endpoint_name"] for r in rows(tables, "monitor_feature_statistics")} == {None}


# ---- unreadable files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (fixture("data_quality_statistics_baseline.json")[:700], "not valid JSON (truncated?)"),
        (gzip.compress(fixture("data_quality_violations_sdk_test.json")), "not UTF-8 text"),
        (fixture("data_quality_violations_sdk_test.json").decode().encode("utf-16"), "not UTF-8 text"),
        (b"", "empty object"),
        (b"  \n", "empty object"),
        (b"<html>Access denied</html>", "not valid JSON"),
        (b'"just a string"', "unexpected shape: top level is str"),
        (b"[1, 2]", "unexpected shape: statistics is a list"),
        (b'{"version": 0.0}', "unexpected shape: statistics has neither"),
    ],
)
def test_unreadable_statistics_are_rejected_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(UnreadableReport) as raised:
        read_report("statistics", body)
    assert raised.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("violations", {"violation": []}),
        ("analysis", {"version": "1.0"}),
        ("constraints", {"version": 0.0}),
        ("analysis", [1]),
    ],
)
def test_unrecognised_shapes_are_rejected(kind: str, document: Any) -> None:
    with pytest.raises(UnreadableReport, match="unexpected shape"):
        read_report(kind, json.dumps(document).encode())


def test_a_utf8_byte_order_mark_is_fine() -> None:
    assert read_report("violations", b"\xef\xbb\xbf" + fixture("data_quality_violations_sdk_test.json")).rows[
        "monitor_violations"
    ]


def test_objects_over_the_size_limit_are_refused_without_a_download() -> None:
    big = ReportObject(BUCKET, "monitoring/ep/s/2025/06/02/03/statistics.json", 2_000_000, "statistics.json")
    seen: list[tuple[int, int]] = []
    # No client at all: a download would fail loudly.
    [fetched] = iter_report_bodies(None, [big], max_workers=2, max_bytes=1_000_000, progress=lambda d, t: seen.append((d, t)))
    assert fetched.body is None and "over max_report_bytes" in (fetched.error or "")
    assert seen == [(1, 1)]


# ---- round trip -------------------------------------------------------------------------------

_maybe_float = st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(10**9), 10**9))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=12), _maybe_float, _maybe_float, _maybe_float),
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_feature_statistics_round_trip_through_parquet(features: list[tuple[str, Any, Any, Any]]) -> None:
    stats = {
        "dataset": {"item_count": 10.0},
        "features": [
            {
                "name": name,
                "numerical_statistics": {"common": {"num_present": present, "num_missing": 0}, "mean": mean, "max": top},
            }
            for name, present, mean, top in features
        ],
    }
    tables, _ = monitor_tables([report({"statistics.json": stats})])
    table = tables[MONITOR_FEATURE_STATISTICS.name]
    back = pq.read_table(pa.BufferReader(parquet_bytes(table)), schema=MONITOR_FEATURE_STATISTICS.schema)
    assert back.equals(table) and back.num_rows == len(features)


def test_every_report_table_is_a_contract_table() -> None:
    assert {spec.name for spec in REPORT_TABLES} <= set(TABLES)


def test_tables_from_the_real_files_pass_their_suites() -> None:
    """The suites and the parsers agree on real data: no critical failure, no warning."""
    baseline = read_report("constraints", fixture("model_quality_regression_constraints.json")).thresholds
    tables, _ = monitor_tables(
        [
            report(
                {
                    "statistics.json": fixture("data_quality_statistics_baseline.json"),
                    "constraints.json": fixture("data_quality_constraints_baseline.json"),
                    "constraint_violations.json": fixture("data_quality_violations_sdk_test.json"),
                },
                schedule="dq",
                hour=HOUR.replace(hour=0),
            ),
            report({"statistics.json": fixture("model_quality_regression_statistics.json")}, schedule="mq"),
            report(
                {"analysis.json": fixture("bias_baseline_pre_post_analysis.json")}, schedule="bias", hour=HOUR.replace(hour=23)
            ),
            report({"analysis.json": fixture("explainability_analysis.json")}, endpoint=None, schedule="shap"),
        ],
        {"ep-a": baseline},
    )
    tables["source_rejections"] = pa.Table.from_pylist(
        [
            rejection_row(("111111111111", "us-east-1"), f"s3://{BUCKET}/monitoring/x/statistics.json", "not valid JSON", 12),
            rejection_row(None, f"s3://{BUCKET}/baselines/constraints.json", "baseline constraints: empty object", None),
        ],
        schema=TABLES["source_rejections"].schema,
    )
    window = {"window_start": datetime(2025, 6, 2), "window_end": datetime(2025, 6, 3), "min_rows": None, "max_rows": None}
    for name, table in tables.items():
        assert table.num_rows, name
        result = validate_table(table, load_suite(name), window, dt="2025-06-02", run_id="r1")
        assert result.passed and not result.failed_warnings, result.summary()
    late = tables["monitor_executions"].set_column(5, "scheduled_hour", pa.array([datetime(2025, 6, 3)] * 4, pa.timestamp("us")))
    assert (
        "expect_column_values_to_be_between(scheduled_hour)"
        in validate_table(late, load_suite("monitor_executions"), window).failed_names()
    )
