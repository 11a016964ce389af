"""A sharded night (shards landing concurrently, one step publishing) publishes exactly what one process would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
import yaml
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from pipelines.aws import Session, lake_session
from pipelines.backfill import run_backfill
from pipelines.cli import app
from pipelines.config import Config, parse_config
from pipelines.fanout import land_shard, publish_night, shard_plan
from pipelines.lake import catalog
from pipelines.lake.schemas import TABLES
from pipelines.nightly import new_run_id, run_night
from pipelines.query.local import LocalLakeEngine
from pipelines.run_summary import summary_uri
from pipelines.shards import get_text, manifest_uri
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, PREV_DT, new_lake, published, seed_invocations

REGIONS = ("us-east-1", "eu-west-1")
ROOT = Path(__file__).resolve().parents[2]
# Columns that say when or by which run a row was loaded, not what it says.
LOAD_TIME = {"run_id", "loaded_at", "observed_at", "detected_at", "started_at", "finished_at", "evaluated_at"}
LOAD_TIME |= {"api_calls", "cost_usd", "message"}


def _config(endpoint_url: str, lake: str) -> Config:
    """Two accounts x two regions (four shards' worth), a KPI inbox: a lake of its own per name."""
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": f"mlmon-{lake}", "database": f"ml_{lake}"},
            "sources": [
                {"account_id": a, "role_arn": f"arn:aws:iam::{a}:role/MlLakeReader", "regions": list(REGIONS)} for a in ACCOUNTS
            ],
            "cloudwatch": {"namespaces": ["AWS/SageMaker"], "period_seconds": 300, "statistics": ["Sum", "Maximum"]},
            "business_kpis": {"inbox": f"s3://mlmon-{lake}/inbox/kpis/"},
            "endpoints": {"ep-a": {"business_unit": "Payments"}, "ep-b": {"business_unit": "Growth"}},
            "endpoint_url": endpoint_url,
        }
    )


def _lake(endpoint_url: str, name: str) -> tuple[Config, Session]:
    config = _config(endpoint_url, name)
    session = new_lake(config)
    drop = f"date,business_unit,kpi,value\n{DT},Payments,revenue,100\n{PREV_DT},Growth,signups,7\n"
    session.client("s3").put_object(Bucket=config.lake.bucket, Key="inbox/kpis/drop.csv", Body=drop.encode())
    return config, session


def _config_file(config: Config, tmp_path: Path) -> Path:
    path = tmp_path / f"{config.lake.database}.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


@pytest.fixture()
def fleet(stack: Any) -> Any:
    """Two endpoints in every account x region, the night and the day before it (the lookback)."""
    for account in ACCOUNTS:
        for region in REGIONS:
            for endpoint in ("ep-a", "ep-b"):
                for day in (NIGHT - timedelta(days=1), NIGHT):
                    seed_invocations(stack.metric_store, account, endpoint, day, region=region)
    return stack


def _rows(session: Session, config: Config, table: str, dt: str | None) -> list[str]:
    """What readers see, load-time columns left out, the lake's own bucket named alike, in a stable order."""
    rows = published(session, config, table, dt).to_pylist()
    kept = [{k: v for k, v in row.items() if k not in LOAD_TIME} for row in rows]
    return sorted(repr(row).replace(config.lake.bucket, "BUCKET") for row in kept)


def _lake_rows(session: Session, config: Config, dts: list[str]) -> dict[str, list[str]]:
    found = {}
    for spec in TABLES.values():
        for dt in dts if spec.partitioned else [None]:
            found[f"{spec.name}/{dt}"] = _rows(session, config, spec.name, dt)
    return found


def _engine(session: Session, config: Config) -> LocalLakeEngine:
    return LocalLakeEngine(session, config.lake)


def test_sharded_night_publishes_what_one_process_does(fleet: Any, tmp_path: Path) -> None:
    config, session = _lake(fleet.endpoint_url, "single")
    single = run_night(config, NIGHT, session=session, engine=_engine(session, config))
    assert single.ok, single.records
    expected = _lake_rows(session, config, [PREV_DT, DT])
    assert len(expected["cloudwatch_metrics/" + DT]) == 4 * 2 * 2 * 288 and expected["business_kpis/" + DT]

    # As processes, through the CLI: `mlmon nightly --shards 3` starts three `mlmon shard` workers, then publishes.
    # (Through the API, in one process: the failed-shard test below; the Glue entry points: the last test.)
    config, session = _lake(fleet.endpoint_url, "cli")
    assert [len(s.pairs) for s in shard_plan(config, 3)] == [2, 1, 1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "nightly",
            "--config",
            str(_config_file(config, tmp_path)),
            "--date",
            DT,
            "--shards",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{ACCOUNTS[1]} eu-west-1: {2 * 2 * 288 * 2} datapoints" in done.stdout  # endpoints x stats x periods x days
    shards_logged = [line for line in done.stderr.splitlines() if '"event": "shard"' in line]
    assert len(shards_logged) == 3, done.stderr[-6000:]
    assert _lake_rows(session, config, [PREV_DT, DT]) == expected  # pipeline_runs too: each table's rows and status


def _deny_role(account: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in params.get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    return handler


def test_a_failed_shard_fails_its_accounts_only_and_a_rerun_of_publish_changes_nothing(fleet: Any) -> None:
    config, session = _lake(fleet.endpoint_url, "fail")
    assert run_night(config, NIGHT, session=session, engine=_engine(session, config)).ok
    before = published(session, config, "cloudwatch_metrics", DT)
    # New tonight in every account x region: only the shards that land bring it in.
    for account in ACCOUNTS:
        for region in REGIONS:
            seed_invocations(fleet.metric_store, account, "ep-new", NIGHT, region=region)

    plan = shard_plan(config, 3)  # 0: 111/us-east-1 + 222/eu-west-1, 1: 111/eu-west-1, 2: 222/us-east-1
    assert plan[1].pairs == ((ACCOUNTS[0], "eu-west-1"),) and plan[2].pairs == ((ACCOUNTS[1], "us-east-1"),)
    run_id = new_run_id()
    land_shard(config, NIGHT, shard_index=0, shards=3, run_id=run_id, session=session)
    denied = lake_session(
        config.lake.region, config.endpoint_url
    )  # shard 1's process: its role cannot be assumed (fault injected at the botocore boundary)
    denied.register_hook("before-parameter-build.sts.AssumeRole", _deny_role(ACCOUNTS[0]))
    failing = land_shard(config, NIGHT, shard_index=1, shards=3, run_id=run_id, session=denied)
    assert failing.errors and "AccessDenied" in failing.errors[0]
    # shard 2 never writes its manifest (its process died)
    result = publish_night(config, NIGHT, run_id=run_id, shards=3, session=session, engine=_engine(session, config))

    assert not result.ok
    errors = {(a.account_id, a.region): a.error for a in result.landing("cloudwatch_metrics").accounts}
    assert errors[(ACCOUNTS[0], "us-east-1")] is None and errors[(ACCOUNTS[1], "eu-west-1")] is None
    assert "AccessDenied" in str(errors[(ACCOUNTS[0], "eu-west-1")])
    assert manifest_uri(config.lake, DT, run_id, 2) in str(errors[(ACCOUNTS[1], "us-east-1")])
    after = published(session, config, "cloudwatch_metrics", DT)
    fresh = after.filter(pc.equal(after["endpoint_name"], "ep-new"))
    assert set(zip(fresh["account_id"].to_pylist(), fresh["region"].to_pylist(), strict=True)) == {
        (ACCOUNTS[0], "us-east-1"),
        (ACCOUNTS[1], "eu-west-1"),
    }
    # The failed ones kept what was published for them before, row for row.
    old = after.filter(pc.not_equal(after["endpoint_name"], "ep-new"))
    assert old.num_rows == before.num_rows
    runs = [r for r in published(session, config, "pipeline_runs", DT).to_pylist() if r["run_id"] == run_id]
    cloudwatch = [r for r in runs if r["table_name"] == "cloudwatch_metrics"][0]
    assert cloudwatch["status"] == "failed" and "wrote no manifest" in cloudwatch["message"]
    # Shard 0 also landed the sources that are not per account: they published.
    assert {r["table_name"]: r["status"] for r in runs}["endpoints"] == "published"
    # The run summary (what the state machine's Summary step reads) says so in one record.
    summary = json.loads(get_text(session, summary_uri(config.lake, DT, run_id)) or "{}")
    assert (summary["run_id"], summary["ok"]) == (run_id, False) and "endpoints" in summary["published"]
    assert any(line.startswith("cloudwatch_metrics: ") and "wrote no manifest" in line for line in summary["failed"])
    assert any("AccessDenied" in line for line in summary["source_errors"])

    lake_before, keys_before = _lake_rows(session, config, [PREV_DT, DT]), _keys(session, config)
    again = publish_night(config, NIGHT, run_id=run_id, shards=3, session=session, engine=_engine(session, config))
    assert [(o.staged.table, o.staged.dt, o.status) for o in again.outcomes] == [
        (o.staged.table, o.staged.dt, o.status) for o in result.outcomes
    ]
    assert _lake_rows(session, config, [PREV_DT, DT]) == lake_before
    assert _keys(session, config) == keys_before
    with pytest.raises(Exception, match="already being published"):
        land_shard(config, NIGHT, shard_index=2, shards=3, run_id=run_id, session=session)


def _keys(session: Session, config: Config) -> list[str]:
    pages = session.client("s3").get_paginator("list_objects_v2").paginate(Bucket=config.lake.bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_parallel_backfill_equals_the_sequential_one(fleet: Any, tmp_path: Path) -> None:
    first = NIGHT - timedelta(days=1)
    dts = [PREV_DT, DT]
    config, session = _lake(fleet.endpoint_url, "sequential")
    assert run_backfill(config, first, NIGHT, session=session, engine=_engine(session, config), show_progress=False).ok
    expected = _lake_rows(session, config, dts)

    config, session = _lake(fleet.endpoint_url, "parallel")
    path = _config_file(config, tmp_path)
    command = [sys.executable, "-m", "pipelines", "backfill", "--config", str(path), "--start", dts[0], "--end", DT]
    done = subprocess.run([*command, "--parallel", "2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "landed 2 nights, skipped 0 already published" in done.stdout
    assert _lake_rows(session, config, dts) == expected
    resumed = CliRunner().invoke(app, [*command[3:], "--parallel", "2"])  # nothing left to land: in this process
    assert resumed.exit_code == 0 and "landed 0 nights, skipped 2 already published" in resumed.stdout


def test_glue_entry_points_land_shards_and_publish(fleet: Any) -> None:
    config, session = _lake(fleet.endpoint_url, "glue")
    session.client("s3").put_object(
        Bucket=config.lake.bucket, Key="config/prod.yaml", Body=yaml.safe_dump(config.model_dump(mode="json")).encode()
    )
    env = {**os.environ, "AWS_ENDPOINT_URL": fleet.endpoint_url}
    common = ["--config_s3_uri", f"s3://{config.lake.bucket}/config/prod.yaml", "--date", DT, "--run_id", "sfn-exec-1"]
    glue = ["--job-bookmark-option", "job-bookmark-disable", "--JOB_NAME", "mlmon-shard"]
    shards = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "glue_jobs" / "land_shard.py"), *common, "--shard", str(i), "--shards", "2", *glue],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    for process in shards:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None, "shards publish nothing"
    done = subprocess.run(
        [sys.executable, str(ROOT / "glue_jobs" / "publish_night.py"), *common, "--shards", "2", *glue],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "run=sfn-exec-1" in str(catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT))
    assert published(session, config, "cloudwatch_metrics", DT).num_rows == 4 * 2 * 2 * 288
