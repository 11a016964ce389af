"""The Glue Python-shell entry point runs a night from a config kept in S3, ignoring Glue's own arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from pipelines.lake import catalog
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, PREV_DT, make_config, new_lake, seed_invocations

JOB = Path(__file__).resolve().parents[2] / "glue_jobs" / "nightly.py"


def test_glue_job_lands_a_night(stack: Any) -> None:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    session = new_lake(config)
    session.client("s3").put_object(
        Bucket=config.lake.bucket, Key="config/prod.yaml", Body=yaml.safe_dump(config.model_dump(mode="json")).encode()
    )
    env = {**os.environ, "AWS_ENDPOINT_URL": stack.endpoint_url}
    args = [
        "--config_s3_uri",
        f"s3://{config.lake.bucket}/config/prod.yaml",
        "--date",
        DT,
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--JOB_NAME",
        "mlmon-nightly",
    ]
    done = subprocess.run([sys.executable, str(JOB), *args], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is not None
    # Its last steps: the run summary as one JSON log line, and the fleet's alarms converged.
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    summary = next(e for e in events if e["event"] == "run_summary")
    assert summary["ok"] is True and "cloudwatch_metrics" in summary["published"]
    assert any(e["event"] == "alarms_deployed" and e.get("created", 0) > 0 for e in events)
    alarms = session.client("cloudwatch").describe_alarms(AlarmNamePrefix="mlmon-pipeline-")["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == {"mlmon-pipeline-night-failed", "mlmon-pipeline-quarantined-partitions"}
    # A backfill in one job run (--start/--end): the night already published is skipped, the one before lands.
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT - timedelta(days=1))
    backfill = [*args[:2], "--start", PREV_DT, "--end", DT, "--deploy_alarms", "false"]
    done = subprocess.run([sys.executable, str(JOB), *backfill], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", PREV_DT) is not None
    summaries = [json.loads(line) for line in done.stderr.splitlines() if '"run_summary"' in line]
    assert [s["night"] for s in summaries] == [PREV_DT]


def test_glue_job_refuses_a_half_range() -> None:
    done = subprocess.run(
        [sys.executable, str(JOB), "--config_s3_uri", "s3://b/c.yaml", "--start", "2026-11-01"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "give --date, or --start and --end" in done.stderr
