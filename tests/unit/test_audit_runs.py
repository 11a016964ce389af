"""The witness and the key proof from the order the landing writes rows in (pipelines/audit/runs.py): the same
verdict as every row, a key proved unique only when it is, and DuckDB's scans whenever the order proves nothing."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.audit.runs import _map_changes, scan
from pipelines.audit.screen import plan_for
from pipelines.audit.suites import Suite, load_suite
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from tests.unit.test_audit_engine import NON_NEGATIVE, clean_rows, metrics_table
from tests.unit.test_audit_screen import _brute_repeats, assert_same, both

SCHEMA = CLOUDWATCH_METRICS.schema
KEY = tuple(CLOUDWATCH_METRICS.key)
ROWS = clean_rows(periods=48)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite("cloudwatch_metrics")


def write(directory: Path, rows: list[dict[str, Any]], *, files: int = 3, row_group_size: int = 50) -> list[Path]:
    """The rows in their order as `files` Parquet files of small row groups (a series crosses both boundaries)."""
    directory.mkdir(parents=True, exist_ok=True)
    table = metrics_table(rows)
    size = -(-table.num_rows // files)
    paths = []
    for i in range(files):
        paths.append(directory / f"{i:05d}.parquet")
        pq.write_table(table.slice(i * size, size), paths[-1], row_group_size=row_group_size)
    return paths


def test_rows_in_series_order_give_every_groups_extremes_and_prove_the_key(tmp_path, suite):
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    found = scan(write(tmp_path, ROWS), SCHEMA, plan)
    assert found is not None and found.total == len(ROWS)
    assert found.unique == {KEY: True}
    assert sum(found.groups.column("__rows").to_pylist()) == len(ROWS)
    full = metrics_table(ROWS).to_pandas()
    witness = found.rows.to_pandas()
    assert len(witness) < len(full) / 5
    for group, rows in full.groupby(list(plan.keys)):
        picked = witness[(witness[list(plan.keys)] == pd_row(plan.keys, group)).all(axis=1)]
        for column in plan.bounded:  # each group's minimum and maximum are real rows of the witness
            assert rows[column].min() in set(picked[column]) and rows[column].max() in set(picked[column])


def pd_row(keys: tuple[str, ...], group: Any) -> dict[str, Any]:
    return dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))


def test_rows_in_no_order_are_grouped_by_duckdb_with_the_same_verdict(tmp_path, suite):
    rows = list(ROWS)
    random.Random(7).shuffle(rows)
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    assert scan(write(tmp_path / "s", rows), SCHEMA, plan) is None  # runs of ~1 row: nothing gained
    screened, full = both(tmp_path, suite, rows)
    assert screened.passed and screened.witness_rows is not None
    assert_same(screened, full)


def halves(rows: list[dict[str, Any]], periods: int = 48) -> list[dict[str, Any]]:
    """Every series' first half, then every series' second half: each group in two runs, far apart."""
    series = [rows[i : i + periods] for i in range(0, len(rows), periods)]
    return [r for s in series for r in s[: periods // 2]] + [r for s in series for r in s[periods // 2 :]]


def test_a_series_written_in_two_parts_is_judged_on_both(tmp_path, suite):
    rows = halves(ROWS)
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    found = scan(write(tmp_path / "s", rows), SCHEMA, plan)
    assert found is not None and found.unique == {KEY: False}  # a run's key comes back: DuckDB counts it (0)
    screened, full = both(tmp_path / "clean", suite, rows)
    assert screened.passed and screened.witness_rows is not None
    assert_same(screened, full)
    late = max(i for i, r in enumerate(rows) if r["metric_name"] == "Invocations") - 10  # mid second run, never negative
    bad = [*rows[:late], {**rows[late], "value": -1.0}, *rows[late + 1 :]]
    screened, full = both(tmp_path / "bad", suite, bad)
    assert NON_NEGATIVE in screened.failed_names()
    assert_same(screened, full)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.integers(0, len(ROWS) - 1),
    at=st.integers(0, len(ROWS)),
    reorder=st.booleans(),
    row_group_size=st.sampled_from([7, 50, 1000]),
)
def test_a_repeated_key_is_never_proved_unique(tmp_path, suite, source, at, reorder, row_group_size):
    copy = dict(ROWS[source])
    if reorder:  # the same key for GE: maps compare by their entries
        copy["dimensions"] = dict(reversed(list(copy["dimensions"].items())))
    rows = [*ROWS[:at], copy, *ROWS[at:]]
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    found = scan(write(tmp_path / "h", rows, row_group_size=row_group_size), SCHEMA, plan)
    assert found is None or found.unique == {KEY: False}  # then DuckDB counts it (test_audit_screen: GE's verdict)


DIMENSION_VALUES = st.one_of(st.none(), st.sampled_from(["a", "b", "ep-1"]))
MAPS = st.one_of(
    st.none(),
    st.lists(st.tuples(st.sampled_from(["EndpointName", "VariantName", "Host"]), DIMENSION_VALUES), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(MAPS, min_size=1, max_size=12), st.booleans())
def test_a_map_changes_where_its_entries_or_their_order_or_its_nullness_do(maps, as_dictionary):
    array = pa.array(maps, pa.map_(pa.string(), pa.string()))
    if as_dictionary:  # as the audit reads it: keys and values dictionary-coded
        path_rows = pa.table({"m": array})
        buffer = pa.BufferOutputStream()
        pq.write_table(path_rows, buffer)
        array = (
            pq.read_table(pa.BufferReader(buffer.getvalue()), read_dictionary=["m.key_value.key", "m.key_value.value"])
            .column("m")
            .chunk(0)
        )
    changes = _map_changes(array)
    assert changes is not None
    assert list(changes) == [maps[i] != maps[i - 1] for i in range(1, len(maps))]


def test_a_proof_across_files_counts_what_duckdb_counts(tmp_path, suite):
    """A series that ends one file and goes on in the next is one run; the same series again later is not."""
    plan = plan_for(suite, SCHEMA)
    assert plan is not None
    tables = [metrics_table(ROWS[:100]), metrics_table(ROWS[100:])]
    paths = []
    for i, table in enumerate(tables):
        paths.append(tmp_path / f"{i}.parquet")
        pq.write_table(table, paths[-1], row_group_size=30)
    found = scan(paths, SCHEMA, plan)
    assert found is not None and found.unique == {KEY: True}
    assert _brute_repeats(tables, KEY) == 0
