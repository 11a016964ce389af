"""Backfill: a range of nights lands once each, and a rerun resumes instead of redoing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipelines.backfill import run_backfill
from pipelines.lake import catalog
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, NIGHT, make_config, new_lake, published, seed_invocations


def test_backfill_lands_each_night_and_resumes(stack: Any) -> None:
    days = [NIGHT - timedelta(days=i) for i in (2, 1, 0)]
    for day in days:
        seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", day)
    config = make_config(stack.endpoint_url, statistics=["Sum"])
    session = new_lake(config)

    # Interrupted after the first night: only that one is published.
    first = run_backfill(
        config, days[0], days[0], session=session, engine=LocalLakeEngine(session, config.lake), show_progress=False
    )
    assert first.ok and [n.night for n in first.nights] == [days[0].isoformat()]

    resumed = run_backfill(
        config, days[0], days[-1], session=session, engine=LocalLakeEngine(session, config.lake), show_progress=False
    )
    assert resumed.skipped == [days[0].isoformat()]
    assert [n.night for n in resumed.nights] == [d.isoformat() for d in days[1:]]
    for day in days:
        rows = published(session, config, "cloudwatch_metrics", day.isoformat())
        assert rows.num_rows == 288  # one series, one statistic, each night only its own day
        assert set(rows["value"].to_pylist()) == {50.0}
    # No lookback in a backfill: the day before the range was not touched.
    before = (days[0] - timedelta(days=1)).isoformat()
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", before) is None

    forced = run_backfill(
        config, days[0], days[-1], session=session, engine=LocalLakeEngine(session, config.lake), force=True, show_progress=False
    )
    assert len(forced.nights) == 3 and not forced.skipped
