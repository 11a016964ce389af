"""A lake that grows a night at a time: what a night and a query cost must not grow with it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.lake_history import copy_night
from pipelines.audit.gate import trailing_rows
from pipelines.lake.catalog_views import stored_views
from pipelines.lake.runs import read_run_records
from pipelines.lake.schemas import TABLES
from pipelines.lake.trash import TRASH, empty_trash
from pipelines.query.local import LocalLakeEngine
from pipelines.query.view_sql import needed
from tests.integration.lakehelpers import DT, NIGHT, published_night

HISTORY = 30


@pytest.fixture()
def year(stack: Any) -> Any:
    config, session, _ = published_night(stack)
    return config, session


def calls_of(session: Any, run: Any) -> tuple[Any, Counter[str]]:
    before = Counter(session.calls.snapshot())
    result = run()
    return result, Counter(session.calls.snapshot()) - before


def test_a_query_lists_only_what_it_reads_however_many_nights_are_published(year: Any) -> None:
    config, session = year
    engine = LocalLakeEngine(session, config.lake)
    one_night = f"SELECT count(*) AS n FROM cloudwatch_metrics WHERE dt = '{DT}'"
    rows, calls_then = calls_of(session, lambda: engine.run(one_night).to_pylist())

    copy_night(session, config.lake, NIGHT, [NIGHT - timedelta(days=i) for i in range(1, HISTORY + 1)])
    all_nights = "SELECT count(*) AS n FROM cloudwatch_metrics"
    every, calls_now = calls_of(session, lambda: engine.run(all_nights).to_pylist())

    assert every[0]["n"] == rows[0]["n"] * (HISTORY + 1)  # every copied night is read
    # One listing of the table's prefix, not one per partition; and the other tables are not looked at at all.
    assert calls_now["S3.ListObjectsV2"] == calls_then["S3.ListObjectsV2"] == 1
    assert calls_now["Glue.GetPartitions"] == calls_then["Glue.GetPartitions"] == 1


def test_a_view_reads_the_tables_behind_it(year: Any) -> None:
    config, session = year
    engine = LocalLakeEngine(session, config.lake)
    rows, calls = calls_of(session, lambda: engine.run("SELECT count(*) AS n FROM ml_business_daily").to_pylist())
    assert rows[0]["n"] >= 0
    # the executive view reads other views, and through them some tables: their partitions are read, no others
    behind = needed("SELECT * FROM ml_business_daily", stored_views(session, config.lake)) or set()
    partitioned = {spec.name for spec in TABLES.values() if spec.partitioned}
    assert calls["Glue.GetPartitions"] == len(behind & partitioned) < len(partitioned)


def test_emptying_the_trash_reads_no_entry_still_in_its_grace(year: Any) -> None:
    config, session = year
    from pipelines.nightly import run_night

    # A rerun replaces the night's partitions: each replaced prefix waits in the trash, its entry young.
    assert run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake)).ok
    trash = session.client("s3").list_objects_v2(Bucket=config.lake.bucket, Prefix=f"{config.lake.prefix}{TRASH}/")
    assert trash["KeyCount"] >= 4  # an entry per replaced partition
    deleted, calls = calls_of(session, lambda: empty_trash(session, config.lake))
    assert calls["S3.ListObjectsV2"] == 1 and deleted == [] and calls["S3.GetObject"] == 0


def test_a_nights_row_bands_list_the_runs_log_once_however_many_nights_are_published(year: Any) -> None:
    config, session = year
    week = config.validation.trailing_nights
    copy_night(session, config.lake, NIGHT, [NIGHT - timedelta(days=i) for i in range(1, HISTORY + 1)])
    copy_night(session, config.lake, NIGHT, [NIGHT + timedelta(days=i) for i in range(1, 4)])  # later nights too
    night = (NIGHT - timedelta(days=10)).isoformat()
    band, calls = calls_of(session, lambda: trailing_rows(session, config, "cloudwatch_metrics", night, run_id="run-1"))
    # the week before the night, each night's newest published count, as read one night at a time
    nights = [(NIGHT - timedelta(days=10 + back)).isoformat() for back in range(1, week + 1)]
    one_by_one = [
        [r["rows"] for r in read_run_records(session, config.lake, n).to_pylist() if r["table_name"] == "cloudwatch_metrics"][-1]
        for n in nights
    ]
    assert band == one_by_one and len(band) == week and band[0] > 0
    assert calls["S3.ListObjectsV2"] == 1 and calls["S3.GetObject"] == week  # one listing; each night's one record file
    again, calls = calls_of(session, lambda: trailing_rows(session, config, "endpoints", night, run_id="run-1"))
    assert calls == Counter()  # the same run's other tables: read already
