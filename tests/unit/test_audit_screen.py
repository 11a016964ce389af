"""The witness audit (pipelines/audit/screen.py) reaches GE's verdict on every row: the same outcomes when a partition
passes, and when anything fails, the row-by-row report itself (exact counts and examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.audit.engine import ValidationReport, validate_table
from pipelines.audit.screen import plan_for, validate_files
from pipelines.audit.suites import ExpectationSpec, Suite, load_suite
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from tests.unit.test_audit_engine import (
    ENDPOINT_NAMES,
    NON_NEGATIVE,
    PARAMS,
    PERCENT,
    ROW_COUNT,
    UNIQUE,
    WINDOW,
    clean_rows,
    first,
    metrics_table,
    outcome,
)

SCHEMA = CLOUDWATCH_METRICS.schema
DT, RUN = "2026-03-01", "20260302T020000Z-abc123"


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite("cloudwatch_metrics")


def staged_files(directory: Path, table: pa.Table, parts: int = 3) -> list[Path]:
    """The table as `parts` Parquet files, as accounts x regions stage them (fields nullable, as any writer may leave them)."""
    directory.mkdir(parents=True, exist_ok=True)
    table = table.cast(pa.schema([field.with_nullable(True) for field in table.schema]))
    size = -(-table.num_rows // parts)
    paths = []
    for i in range(parts):
        path = directory / f"{i:05d}.parquet"
        pq.write_table(table.slice(i * size, size), path)
        paths.append(path)
    return paths


def both(tmp: Path, suite: Suite, rows: list[dict[str, Any]], **params: Any) -> tuple[ValidationReport, ValidationReport]:
    """(the audit of the staged files with the witness forced on, GE on every row of the same table)."""
    table = metrics_table(rows)
    parameters = {**PARAMS, **params}
    screened = validate_files(staged_files(tmp, table), SCHEMA, suite, parameters, tmp, dt=DT, run_id=RUN, screen_rows=0)
    full = validate_table(table, suite, parameters, dt=DT, run_id=RUN)
    return screened, full


def assert_same(screened: ValidationReport, full: ValidationReport) -> None:
    assert screened.passed == full.passed
    assert screened.failed_names() == full.failed_names()
    assert screened.rows == full.rows
    assert screened.outcomes == full.outcomes  # every count, observed value and example


def middle(rows: list[dict[str, Any]], metric: str, stat: str) -> int:
    """A row of `metric`/`stat` that is neither its series' first nor last point (not picked by the ts bounds)."""
    return first(rows, metric, stat) + 5


def test_a_clean_night_is_validated_on_a_witness_with_the_outcomes_of_every_row(tmp_path, suite):
    rows = clean_rows(periods=48)
    screened, full = both(tmp_path, suite, rows)
    assert screened.passed and screened.witness_rows is not None
    assert screened.witness_rows < len(rows) / 5
    assert_same(screened, full)
    assert outcome(screened, UNIQUE).element_count == len(rows)
    assert f"on a witness of {screened.witness_rows:,} rows" in screened.summary()


def test_row_conditions_count_only_their_rows(tmp_path, suite):
    rows = clean_rows(periods=48)
    screened, full = both(tmp_path, suite, rows)
    percent = outcome(screened, PERCENT)
    memory = sum(1 for r in rows if r["metric_name"] == "MemoryUtilization" and r["stat"] not in ("Sum", "SampleCount"))
    assert percent.element_count == memory == outcome(full, PERCENT).element_count


def corrupt(rows: list[dict[str, Any]], index: int, **changes: Any) -> list[dict[str, Any]]:
    return [*rows[:index], {**rows[index], **changes}, *rows[index + 1 :]]


ROWS = clean_rows(periods=48)
FAULTS = {
    "negative latency mid-series": (corrupt(ROWS, middle(ROWS, "ModelLatency", "p99"), value=-3.0), NON_NEGATIVE),
    "memory above 100 mid-series": (corrupt(ROWS, middle(ROWS, "MemoryUtilization", "Maximum"), value=101.0), PERCENT),
    "a point after the night": (
        corrupt(ROWS, middle(ROWS, "Invocations", "Sum"), ts=PARAMS["window_end"]),
        WINDOW,
    ),
    "a null key": (corrupt(ROWS, middle(ROWS, "Invocations", "Sum"), region=None), "expect_column_values_to_not_be_null(region)"),
    "an account id that is not 12 digits": (
        corrupt(ROWS, middle(ROWS, "Invocations", "Sum"), account_id="11111111111x"),
        "expect_column_values_to_match_regex(account_id)",
    ),
    "a duplicated point": ([*ROWS, ROWS[7]], UNIQUE),
    "a duplicate whose dimensions are in another order": (
        [*ROWS, {**ROWS[7], "dimensions": dict(reversed(list(ROWS[7]["dimensions"].items())))}],
        UNIQUE,
    ),
    "an endpoint without invocations": (
        [r for r in ROWS if not (r["endpoint_name"] == ENDPOINT_NAMES[1] and r["metric_name"] == "Invocations")],
        "expect_column_distinct_values_to_contain_set(endpoint_name)[invocations_fresh]",
    ),
}


# Faults a whole-table check finds: decided on the witness, pass or fail, without a second validation.
ON_WITNESS = {"an endpoint without invocations"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_anywhere_gets_the_report_of_every_row(tmp_path, suite, fault):
    rows, failed = FAULTS[fault]
    screened, full = both(tmp_path, suite, rows)
    assert failed in screened.failed_names()
    # row-wise and key faults are validated row by row (exact counts and examples); whole-table ones stay on the witness
    assert (screened.witness_rows is not None) is (fault in ON_WITNESS)
    assert_same(screened, full)  # either way, GE's verdict on every row: every count, observed value and example


def test_a_silent_endpoint_beside_a_row_fault_gets_every_row_validated(tmp_path, suite):
    """The witness keeps only a failure of whole-table checks alone: with a row-wise fault beside it, every row."""
    silent, _ = FAULTS["an endpoint without invocations"]
    rows = corrupt(silent, middle(silent, "ModelLatency", "p99"), value=-3.0)
    screened, full = both(tmp_path, suite, rows)
    assert {NON_NEGATIVE, FAULTS["an endpoint without invocations"][1]} <= set(screened.failed_names())
    assert screened.witness_rows is None
    assert_same(screened, full)


def test_a_nan_is_never_taken_for_the_maximum(tmp_path, suite):
    """DuckDB orders NaN above every number; GE takes it for a missing value. The 150 % beside it must still be seen."""
    index = middle(ROWS, "MemoryUtilization", "Maximum")
    rows = corrupt(corrupt(ROWS, index, value=150.0), index + 1, value=float("nan"))
    screened, full = both(tmp_path, suite, rows)
    assert PERCENT in screened.failed_names()
    assert_same(screened, full)


def test_missing_values_pass_as_they_do_row_by_row(tmp_path, suite):
    rows = corrupt(corrupt(ROWS, 3, value=None), 4, value=float("nan"))
    screened, full = both(tmp_path, suite, rows)
    assert screened.passed and screened.witness_rows is not None
    assert_same(screened, full)


@pytest.mark.parametrize(("band", "passes"), [((10, 10**9), True), (((len(ROWS) + 1), 10**9), False)])
def test_the_row_count_band_judges_the_whole_partition(tmp_path, suite, band, passes):
    screened, full = both(tmp_path, suite, ROWS, min_rows=band[0], max_rows=band[1])
    assert screened.passed is passes
    assert screened.witness_rows is not None  # the count is the partition's, pass or fail: no second validation
    assert outcome(screened, ROW_COUNT).observed == len(ROWS)
    assert_same(screened, full)


VALUES = st.sampled_from([-1.0, 0.0, 99.0, 101.0, 5_000.0, 30_000.0, float("nan"), None])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(ROWS) - 1), VALUES), min_size=1, max_size=3))
def test_any_values_get_the_verdict_of_every_row(tmp_path, suite, changes):
    rows = ROWS
    for index, value in changes:
        rows = corrupt(rows, index, value=value)
    screened, full = both(tmp_path / "h", suite, rows)
    assert_same(screened, full)


def test_small_partitions_go_row_by_row(tmp_path, suite):
    table = metrics_table(ROWS)
    report = validate_files(staged_files(tmp_path, table), SCHEMA, suite, PARAMS, tmp_path, dt=DT, run_id=RUN)
    assert report.witness_rows is None and report.passed


def spec(kind: str, **kwargs: Any) -> ExpectationSpec:
    return ExpectationSpec(kind, kwargs, "critical")


def test_plan_groups_by_what_each_check_reads(suite):
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    assert plan.bounded == ("ts", "value")  # read only by between / not null / the key: min, max and nulls decide
    assert "metric_name" in plan.keys and "stat" in plan.keys  # read by row conditions: grouped by value
    assert "account_id" in plan.keys  # read by a regex
    assert "dimensions" in plan.null_keys  # only ever checked for null (and in the key, checked apart)
    assert plan.unique == (tuple(CLOUDWATCH_METRICS.key),)


@pytest.mark.parametrize(
    "expectation",
    [
        spec("expect_column_values_to_be_between", column="value", min_value=0, mostly=0.9),  # counts matter
        spec("expect_column_mean_to_be_between", column="value", min_value=0),  # an aggregate of every row
    ],
)
def test_plan_declines_suites_it_cannot_decide(suite, expectation):
    other = Suite(suite.table, (*suite.expectations, expectation), suite.path, suite.parameters)
    assert plan_for(other, SCHEMA) is None


def _brute_repeats(tables: list[pa.Table], columns: tuple[str, ...]) -> int:
    """Rows whose key an earlier row has, in Python: maps as their sorted entries."""
    keys = [
        tuple(tuple(sorted(row[c])) if isinstance(row[c], list) else row[c] for c in columns)
        for table in tables
        for row in table.select(list(columns)).to_pylist()
    ]
    return len(keys) - len(set(keys))


ACCOUNTS = ("111111111111", "222222222222")


@pytest.mark.parametrize(
    "arrangement",
    ["a duplicate across files of one account", "the same point in two accounts", "a file writing period_seconds as int64"],
)
def test_the_duplicate_count_leaves_out_what_each_file_holds_constant_and_counts_the_same(tmp_path, suite, arrangement):
    """Each account x region's file holds one account, region and namespace (its footer says so): the duplicate
    scan leaves those out of the key, files that agree on them counted together, and finds what a plain count finds."""
    from pipelines.audit.screen import _constant_columns, find_witness

    rows = [{**r, "account_id": ACCOUNTS[0]} for r in ROWS[:200]]
    other = [{**r, "account_id": ACCOUNTS[1]} for r in ROWS[:200]]  # the same points in another account: no repeat
    first_half, second_half = metrics_table(rows[:100]), metrics_table(rows[100:])
    tables = [first_half, second_half, metrics_table(other)]
    if arrangement == "a duplicate across files of one account":
        tables[1] = metrics_table([*rows[100:], rows[7]])  # rows[7] is in the first file too
    if arrangement == "a file writing period_seconds as int64":  # the same value, another width in the footer
        tables[1] = metrics_table([*rows[100:], rows[7]]).cast(
            pa.schema([f.with_type(pa.int64()) if f.name == "period_seconds" else f for f in SCHEMA])
        )
    paths = []
    for i, table in enumerate(tables):
        paths.append(tmp_path / f"{i}.parquet")
        pq.write_table(table, paths[-1])
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    [key] = plan.unique
    constant = _constant_columns(paths[0], key, SCHEMA)
    assert {"account_id", "region", "namespace"} <= set(constant) and "ts" not in constant and "dimensions" not in constant
    repeated = find_witness(paths, SCHEMA, plan, tmp_path).repeated[key]
    assert repeated == _brute_repeats(tables, key)
    assert repeated == (0 if arrangement == "the same point in two accounts" else 1)
