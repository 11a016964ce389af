"""A partition too large to validate row by row in the night's time, through the real gate on the local stack: a
clean one publishes on its witness with the whole partition's counts; one bad point is found and counted exactly."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from pipelines.audit.gate import AuditCopyError, audit_and_switch
from pipelines.audit.screen import SCREEN_ROWS
from pipelines.lake import catalog
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.log_tables import read_log
from pipelines.lake.schemas import CLOUDWATCH_METRICS, VALIDATION_RESULTS
from pipelines.lake.staging import Stager
from tests.integration.lakehelpers import DT, make_config, new_lake

SCHEMA = CLOUDWATCH_METRICS.schema
METRICS = (("Invocations", "Sum"), ("ModelLatency", "p99"), ("ModelLatency", "Average"))
UNIQUE = "expect_compound_columns_to_be_unique(account_id,region,namespace,metric_name,dimensions,stat,period_seconds,ts)"
NON_NEGATIVE = "expect_column_values_to_be_between(value)[sagemaker_non_negative]"


def fleet_night(endpoints: int, day: str = DT) -> pa.Table:
    """`endpoints` x 3 series, one point a minute for the day: the shape GetMetricData lands."""
    series = [
        (f"ep-{i:03d}" if i > 1 else ("ep-a", "ep-b")[i], metric, stat) for i in range(endpoints) for metric, stat in METRICS
    ]
    points = 1440
    n = len(series) * points
    start = int(datetime.fromisoformat(day).timestamp())
    per_series = {
        "endpoint_name": [s[0] for s in series],
        "metric_name": [s[1] for s in series],
        "stat": [s[2] for s in series],
    }
    repeat = pa.array(np.repeat(np.arange(len(series)), points))
    dimensions = pa.array(
        [[("EndpointName", s[0]), ("VariantName", "AllTraffic")] for s in series], type=SCHEMA.field("dimensions").type
    )
    columns = {
        "account_id": pa.array(["111111111111"] * n),
        "region": pa.array(["us-east-1"] * n),
        "namespace": pa.array(["AWS/SageMaker"] * n),
        "dimensions": dimensions.take(repeat),
        "variant_name": pa.array(["AllTraffic"] * n),
        "period_seconds": pa.array(np.full(n, 60, dtype=np.int32)),
        "unit": pa.array(["None"] * n),
        "ts": pa.array(np.tile((start + 60 * np.arange(points)) * 1_000_000, len(series)), type=pa.timestamp("us")),
        "value": pa.array(np.random.default_rng(7).gamma(2.0, 20.0, n)),
        **{name: pa.array(values).take(repeat) for name, values in per_series.items()},
    }
    return pa.table([columns[f.name] for f in SCHEMA], schema=SCHEMA)


@pytest.fixture()
def lake(stack: Any) -> Any:
    config = make_config(stack.endpoint_url)
    session = new_lake(config)
    ensure_lake(session, config.lake)
    return config, session


def stage(session: Any, config: Any, table: pa.Table, run_id: str) -> Any:
    stager = Stager(session, config.lake, CLOUDWATCH_METRICS, run_id)
    half = table.num_rows // 2
    stager.add(DT, "111111111111-us-east-1", table.slice(0, half))
    stager.add(DT, "222222222222-us-east-1", table.slice(half))
    return stager.staged()[0]


def test_a_clean_large_partition_publishes_on_its_witness(lake: Any) -> None:
    config, session = lake
    table = fleet_night(50)
    assert table.num_rows >= SCREEN_ROWS
    outcome = audit_and_switch(session, config, stage(session, config, table, "20270110T020000Z-big001"), DT)

    assert outcome.switched is not None and outcome.quarantined is None
    report = outcome.report
    assert report.rows == table.num_rows
    assert report.witness_rows is not None and report.witness_rows < table.num_rows / 100
    results = {r["expectation"]: r for r in read_log(session, config.lake, VALIDATION_RESULTS, DT).to_pylist()}
    assert results[UNIQUE]["element_count"] == table.num_rows and results[UNIQUE]["unexpected_count"] == 0
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) == outcome.switched.location


def test_one_bad_point_in_a_large_partition_is_found_and_counted_exactly(lake: Any) -> None:
    config, session = lake
    table = fleet_night(50)
    values = table.column("value").to_numpy().copy()
    middle = 1440 * 40 + 700  # a latency series, neither its first nor last point nor its extreme value
    values[middle] = -1.0
    table = table.set_column(SCHEMA.get_field_index("value"), SCHEMA.field("value"), pa.array(values))

    outcome = audit_and_switch(session, config, stage(session, config, table, "20270110T020000Z-big002"), DT)

    assert outcome.switched is None and outcome.quarantined is not None
    assert outcome.report.witness_rows is None  # the verdict is GE's on every row
    bad = next(o for o in outcome.report.outcomes if o.name == NON_NEGATIVE)
    assert (bad.unexpected_count, bad.element_count) == (1, table.num_rows)
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None


def test_the_window_reaches_the_night_after(lake: Any) -> None:
    """A day staged under the wrong partition is caught on the witness's timestamps (its bounds are real rows)."""
    config, session = lake
    table = fleet_night(50, day=(datetime.fromisoformat(DT) + timedelta(days=1)).date().isoformat())
    outcome = audit_and_switch(session, config, stage(session, config, table, "20270110T020000Z-big003"), DT)
    assert outcome.quarantined is not None
    window = next(o for o in outcome.report.outcomes if o.name == "expect_column_values_to_be_between(ts)")
    assert window.unexpected_count == table.num_rows


def test_no_local_disk_for_the_audit_is_one_clear_error(lake: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Where TMPDIR points nowhere (a full or missing disk), the partition fails with what to do, not a traceback."""
    config, session = lake
    staged = stage(session, config, fleet_night(2), "20270110T020000Z-big004")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))  # what TMPDIR=<a missing folder> gives
    with pytest.raises(AuditCopyError, match="TMPDIR"):
        audit_and_switch(session, config, staged, DT)
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None
