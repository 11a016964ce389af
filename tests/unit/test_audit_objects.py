"""Which objects to hold back when a partition fails: the ones that fail alone; none when the failure concerns the
partition (a duplicate across objects, a row-count band, every object bad)."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from pipelines.audit.engine import validate_table
from pipelines.audit.objects import split_offenders
from pipelines.audit.suites import load_suite
from pipelines.lake.schemas import TABLES
from pipelines.sources.model_monitor.tables import monitor_tables
from tests.unit.test_model_monitor_tables import fixture, report, rows

WINDOW = {"window_start": datetime(2025, 6, 2), "window_end": datetime(2025, 6, 3), "min_rows": None, "max_rows": None}
SUITE = load_suite("monitor_violations")


def _violations(*reports: dict[str, object]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for index, files in enumerate(reports):
        tables, _ = monitor_tables([report(files, schedule=f"s{index}")])
        found += rows(tables, "monitor_violations")
    return found


def _table(found: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(found, schema=TABLES["monitor_violations"].schema)


def test_the_object_that_fails_alone_is_held_and_the_rest_passes() -> None:
    good = {"constraint_violations.json": fixture("data_quality_violations_sdk_test.json")}
    repeat = {"feature_name": "x", "constraint_check_type": "baseline_drift_check", "description": "drift 0.4"}
    odd = {"constraint_violations.json": {"violations": [repeat, repeat]}}
    data = _table(_violations(good, good, odd, good, good))
    split = split_offenders(data, SUITE, WINDOW, dt="2025-06-02", run_id="r")
    assert split is not None
    [culprit] = split.objects
    assert "/s2/" in culprit and split.held.num_rows == 2 and split.kept.num_rows == data.num_rows - 2
    assert split.kept_report.passed and not split.held_report.passed


def test_a_failure_that_needs_two_objects_holds_back_the_partition() -> None:
    one = _violations({"constraint_violations.json": fixture("data_quality_violations_sdk_test.json")})
    twin = [{**row, "source_uri": str(row["source_uri"]).replace(".json", "-copy.json")} for row in one]
    data = _table(one + twin)  # the same violations from two objects of one execution: a duplicate only together
    assert not validate_table(data, SUITE, WINDOW).passed
    assert split_offenders(data, SUITE, WINDOW, dt="2025-06-02", run_id="r") is None


def test_when_every_object_fails_the_partition_is_held_back_whole() -> None:
    repeat = {"feature_name": "x", "constraint_check_type": "baseline_drift_check", "description": "drift 0.4"}
    odd = {"constraint_violations.json": {"violations": [repeat, repeat]}}
    data = _table(_violations(odd, odd))
    assert not validate_table(data, SUITE, WINDOW).passed
    assert split_offenders(data, SUITE, WINDOW, dt="2025-06-02", run_id="r") is None
