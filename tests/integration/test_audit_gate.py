"""The audit gate against the local stack: quarantine, warnings, release, drop, results, alarms' metric."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pipelines.audit.decisions import release_quarantined
from pipelines.audit.quarantine import QuarantineError, list_quarantined
from pipelines.cli import app
from pipelines.demo.incidents import duplicate_export
from pipelines.lake import catalog
from pipelines.lake.log_tables import read_log
from pipelines.lake.schemas import VALIDATION_RESULTS
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.clock import STACK_NOW
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, PREV_DT, make_config, new_lake, published, seed_invocations

UNIQUE = "expect_compound_columns_to_be_unique"


@pytest.fixture()
def lake(stack: Any) -> Any:
    for account in ACCOUNTS:
        for day in (NIGHT - timedelta(days=2), NIGHT - timedelta(days=1), NIGHT):
            seed_invocations(stack.metric_store, account, "ep-a", day)
            seed_invocations(stack.metric_store, account, "ep-b", day)
    config = make_config(stack.endpoint_url, statistics=["Sum", "Maximum"])
    return config, new_lake(config)


def _duplicating(config: Any, session: Any) -> Any:
    from pipelines.aws import lake_session

    broken = lake_session(config.lake.region, config.endpoint_url, calls=session.calls)
    broken.register_hook("after-call.cloudwatch.GetMetricData", duplicate_export)
    return broken


def _records(session: Any, config: Any, dt: str) -> list[dict[str, Any]]:
    return published(session, config, "pipeline_runs", dt).sort_by("started_at").to_pylist()


def test_critical_failure_never_reaches_the_table(lake: Any) -> None:
    config, session = lake
    run_night(config, NIGHT - timedelta(days=1), session=session, engine=LocalLakeEngine(session, config.lake))
    before = published(session, config, "cloudwatch_metrics", PREV_DT)
    location_before = catalog.partition_location(session, config.lake, "cloudwatch_metrics", PREV_DT)

    result = run_night(config, NIGHT, session=_duplicating(config, session), engine=LocalLakeEngine(session, config.lake))
    assert not result.ok
    assert {(o.staged.table, o.staged.dt) for o in result.quarantined} == {
        ("cloudwatch_metrics", PREV_DT),
        ("cloudwatch_metrics", DT),
    }
    # Readers still see the previous state: the old partition for D-1, nothing for D.
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", PREV_DT) == location_before
    assert published(session, config, "cloudwatch_metrics", PREV_DT).equals(before)
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None
    counts = {
        r["dt"]: r["n"]
        for r in LocalLakeEngine(session, config.lake)
        .run("select dt, count(*) as n from cloudwatch_metrics group by dt")
        .to_pylist()
    }
    assert counts[PREV_DT] == before.num_rows and DT not in counts
    # The endpoints table passed its own audit and was published.
    assert [o.status for o in result.outcomes if o.staged.table == "endpoints"] == ["published"]

    latest = [
        r for r in _records(session, config, DT) if r["run_id"] == result.run_id and r["table_name"] == "cloudwatch_metrics"
    ]
    assert latest[0]["status"] == "quarantined"
    assert any(name.startswith(UNIQUE) for name in latest[0]["failed_expectations"])
    assert "cloudwatch_metrics" in latest[0]["message"] and UNIQUE in latest[0]["message"]

    held = list_quarantined(session, config.lake)
    assert {(q.table, q.dt) for q in held} == {("cloudwatch_metrics", PREV_DT), ("cloudwatch_metrics", DT)}
    assert all(q.rows == 2 * 2 * 2 * 2 * 288 for q in held)  # 2 accounts x 2 endpoints x 2 stats x doubled
    results = read_log(session, config.lake, VALIDATION_RESULTS, DT).to_pylist()
    unique = [r for r in results if r["run_id"] == result.run_id and r["expectation"].startswith(UNIQUE)]
    assert unique and not unique[0]["success"] and unique[0]["unexpected_count"] > 0


def test_next_night_heals_and_release_refuses_to_overwrite_newer_data(lake: Any) -> None:
    config, session = lake
    run_night(config, NIGHT - timedelta(days=1), session=session, engine=LocalLakeEngine(session, config.lake))
    run_night(config, NIGHT, session=_duplicating(config, session), engine=LocalLakeEngine(session, config.lake))
    # The next night re-reads D (lookback) and publishes it clean.
    healed = run_night(config, NIGHT + timedelta(days=1), session=session, engine=LocalLakeEngine(session, config.lake))
    assert [o.status for o in healed.outcomes if o.staged.dt == DT] == ["published"]
    with pytest.raises(QuarantineError, match="newer run"):
        release_quarantined(session, config, "cloudwatch_metrics", DT, None, "tester", "looks fine")


def _cli(config_path: Path, *args: str) -> Any:
    """`mlmon ARGS --config PATH`: the command words first, then the options."""
    words = list(args[:2]) if args[0] == "quarantine" else list(args[:1])
    return CliRunner().invoke(app, [*words, "--config", str(config_path), *args[len(words) :]])


def test_quarantine_cli_list_show_release_drop(lake: Any, tmp_path: Path) -> None:
    config, session = lake
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    run_night(config, NIGHT, session=_duplicating(config, session), engine=LocalLakeEngine(session, config.lake))

    listed = _cli(path, "quarantine", "list")
    assert listed.exit_code == 0 and listed.output.count("cloudwatch_metrics") == 2
    shown = _cli(path, "quarantine", "show", "--table", "cloudwatch_metrics", "--date", DT)
    assert shown.exit_code == 0 and UNIQUE in shown.output and '"failed"' in shown.output

    released = _cli(
        path,
        "quarantine",
        "release",
        "--table",
        "cloudwatch_metrics",
        "--date",
        DT,
        "--reason",
        "duplicates are harmless here",
        "--by",
        "alice",
    )
    assert released.exit_code == 0, released.output
    assert published(session, config, "cloudwatch_metrics", DT).num_rows == 2 * 2 * 2 * 2 * 288
    decision = _records(session, config, DT)[-1]
    assert decision["status"] == "published" and "released from quarantine by alice" in decision["message"]

    dropped = _cli(
        path, "quarantine", "drop", "--table", "cloudwatch_metrics", "--date", PREV_DT, "--reason", "bad export", "--by", "bob"
    )
    assert dropped.exit_code == 0, dropped.output
    assert _records(session, config, PREV_DT)[-1]["message"].startswith("dropped from quarantine by bob")
    assert _cli(path, "quarantine", "list").output.strip() == "nothing quarantined"
    missing = _cli(path, "quarantine", "show", "--table", "cloudwatch_metrics", "--date", DT)
    assert missing.exit_code == 2 and "nothing quarantined" in missing.output


def test_warning_publishes_and_is_reported(lake: Any) -> None:
    config, session = lake
    endpoints = {**{k: v.model_dump() for k, v in config.endpoints.items()}, "ep-silent": {"business_unit": "Growth"}}
    config = config.model_copy(update={"endpoints": {k: type(config.endpoints["ep-a"])(**v) for k, v in endpoints.items()}})
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert result.ok
    outcome = next(o for o in result.outcomes if o.staged.table == "cloudwatch_metrics" and o.staged.dt == DT)
    assert outcome.switched and outcome.report.passed
    assert outcome.report.failed_warnings and "ep-silent" in outcome.report.summary()
    record = next(r for r in _records(session, config, DT) if r["table_name"] == "cloudwatch_metrics")
    assert record["status"] == "published" and record["failed_expectations"]


def test_metrics_for_alarms_are_emitted(lake: Any) -> None:
    config, session = lake
    run_night(config, NIGHT, session=_duplicating(config, session), engine=LocalLakeEngine(session, config.lake))
    now = STACK_NOW  # no Timestamp given: the stack stamps them with its clock
    answer = session.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "MLLake",
                        "MetricName": "QuarantinedPartitions",
                        "Dimensions": [{"Name": "Table", "Value": "cloudwatch_metrics"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
    )
    assert sum(answer["MetricDataResults"][0]["Values"]) == 2.0


def test_validate_command_revalidates_published_partitions(lake: Any, tmp_path: Path) -> None:
    config, session = lake
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    done = _cli(path, "validate", "--date", DT)
    assert done.exit_code == 0, done.output
    assert "cloudwatch_metrics" in done.output and "endpoints" in done.output


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_data_docs_are_built_each_night(lake: Any, tmp_path: Path, where: str) -> None:
    config, session = lake
    target = str(tmp_path / "docs") if where == "folder" else f"s3://{config.lake.bucket}/data-docs/"
    config = config.model_copy(update={"validation": config.validation.model_copy(update={"data_docs": target})})
    run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    if where == "folder":
        index = tmp_path / "docs" / NIGHT.isoformat() / "index.html"
        assert (
            index.exists() and "cloudwatch_metrics" in "".join(p.name for p in index.parent.rglob("*.html")) + index.read_text()
        )
    else:
        keys = [
            o["Key"] for o in session.client("s3").list_objects_v2(Bucket=config.lake.bucket, Prefix="data-docs/")["Contents"]
        ]
        assert f"data-docs/{NIGHT.isoformat()}/index.html" in keys and len(keys) > 3


def test_a_night_with_90_percent_fewer_rows_is_held_back(stack: Any) -> None:
    days = [NIGHT - timedelta(days=i) for i in (3, 2, 1, 0)]
    for day in days[:3]:
        for i in range(20):
            seed_invocations(stack.metric_store, ACCOUNTS[0], f"ep-{i:02d}", day)
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-00", days[3])  # one endpoint of twenty reported
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    config = config.model_copy(update={"sources": config.sources[:1]})
    session = new_lake(config)
    for day in days[:3]:
        assert run_night(config, day, session=session, engine=LocalLakeEngine(session, config.lake)).ok
    result = run_night(config, days[3], session=session, engine=LocalLakeEngine(session, config.lake))
    held = [o for o in result.quarantined if o.staged.table == "cloudwatch_metrics"]
    assert len(held) == 1 and held[0].staged.rows == 288
    assert any(n.startswith("expect_table_row_count_to_be_between") for n in held[0].report.failed_names())
    # Readers querying the lake see nothing for that night rather than a tenth of it.
    answer = LocalLakeEngine(session, config.lake).run(f"select count(*) as n from cloudwatch_metrics where dt = '{DT}'")
    assert answer.column("n").to_pylist() == [0]
    previous = LocalLakeEngine(session, config.lake).run(f"select count(*) as n from cloudwatch_metrics where dt = '{PREV_DT}'")
    assert previous.column("n").to_pylist() == [20 * 288]
