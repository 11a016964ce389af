"""Views are applied after each night: created, replaced only when changed, refused with the view's name."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.lake.catalog_views import stored_views
from pipelines.nightly import run_night
from pipelines.publish.apply_views import apply_views
from pipelines.publish.views import ViewError, load_views
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, seed_invocations


@pytest.fixture()
def night(stack: Any) -> Any:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT, metric="Invocation5XXErrors", value=1.0)
    config = make_config(stack.endpoint_url, lookback_days=0)
    config = config.model_copy(update={"sources": config.sources[:1]})
    session = new_lake(config)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert result.ok, result.records
    return config, session


def test_night_applies_views_in_order_and_readers_query_them(night: Any) -> None:
    config, session = night
    views = load_views()
    assert list(stored_views(session, config.lake)) == list(views)
    glue = session.client("glue").get_table(DatabaseName=config.lake.database, Name="endpoint_daily")["Table"]
    assert glue["TableType"] == "VIRTUAL_VIEW" and glue["ViewOriginalText"].startswith("/* Presto View: ")
    rows = LocalLakeEngine(session, config.lake).run(
        f"select endpoint_name, invocations, invocation_5xx_rate from endpoint_daily where dt = '{DT}'"
    )
    assert rows.to_pylist() == [{"endpoint_name": "ep-a", "invocations": 14400, "invocation_5xx_rate": 0.1}]


def test_views_are_replaced_only_when_changed(night: Any) -> None:
    config, session = night
    assert {c.action for c in apply_views(session, config.lake, LocalLakeEngine(session, config.lake))} == {"unchanged"}
    views = load_views()
    views["drift_daily"] = views["drift_daily"] + "\n-- reviewed"
    changes = {c.name: c.action for c in apply_views(session, config.lake, LocalLakeEngine(session, config.lake), views)}
    assert changes["drift_daily"] == "updated" and {a for n, a in changes.items() if n != "drift_daily"} == {"unchanged"}
    assert stored_views(session, config.lake)["drift_daily"].endswith("-- reviewed")


def test_an_invalid_view_fails_with_its_name_and_the_engines_message(night: Any) -> None:
    config, session = night
    views = {**load_views(), "broken_daily": "select no_such_column from endpoint_daily"}
    with pytest.raises(ViewError, match=r"view broken_daily: .*no_such_column"):
        apply_views(session, config.lake, LocalLakeEngine(session, config.lake), views)
    assert "broken_daily" not in stored_views(session, config.lake)
