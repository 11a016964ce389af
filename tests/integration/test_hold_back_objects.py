"""Hold back the smallest unit: one odd report (a bring-your-own container repeating a violation) is held back with
its reason while the rest of monitor_violations publishes; released, its rows join the partition."""

from __future__ import annotations

import json
from typing import Any

from pipelines.audit.decisions import release_quarantined
from pipelines.audit.quarantine import list_quarantined
from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake import catalog
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from pipelines.run_summary import summary_uri
from pipelines.shards import get_text
from tests.integration.lakehelpers import new_lake, published
from tests.integration.test_model_monitor import ACCOUNT, BUCKET, DT, PREFIX, D, monitor_config, put_reports

REPEAT = {"feature_name": "amount", "constraint_check_type": "baseline_drift_check", "description": "drift 0.4 exceeds 0.1"}
BYOC = f"monitoring/ep-b/byoc-drift/{D:%Y/%m/%d}/08/constraint_violations.json"


def _lake(stack: Any) -> tuple[Config, Session]:
    config = monitor_config(stack.endpoint_url, [PREFIX])
    session = new_lake(config)
    put_reports(session)
    source = session.assume(f"arn:aws:iam::{ACCOUNT}:role/MlLakeReader", "us-east-1").client("s3")
    source.put_object(Bucket=BUCKET, Key=BYOC, Body=json.dumps({"violations": [REPEAT, REPEAT]}).encode())
    return config, session


def test_one_odd_report_is_held_back_and_the_rest_publishes_then_released(stack: Any) -> None:
    config, session = _lake(stack)
    result = run_night(config, D, session=session, engine=LocalLakeEngine(session, config.lake))

    odd = f"s3://{BUCKET}/{BYOC}"
    [violations] = [o for o in result.outcomes if o.staged.table == "monitor_violations"]
    assert violations.switched is not None and violations.quarantined is not None
    assert violations.quarantined.objects == (odd,) and violations.status == "published, 1 object(s) held back"
    assert any(name.startswith("expect_compound_columns_to_be_unique") for name in violations.quarantined.failed)
    assert not result.ok  # something was held back: exit 1, and the alarm's QuarantinedPartitions counts it

    rows = published(session, config, "monitor_violations", DT)
    assert rows.num_rows == 3 * 7 + 1  # every other monitor's violations, readable tonight
    assert odd not in set(rows["source_uri"].to_pylist())
    executions = published(session, config, "monitor_executions", DT)
    assert "byoc-drift" in {r["schedule_name"] for r in executions.to_pylist()}  # other tables are not held back

    [held] = list_quarantined(session, config.lake)
    assert (held.table, held.dt, held.objects, held.rows) == ("monitor_violations", DT, (odd,), 2)
    runs = [r for r in published(session, config, "pipeline_runs", DT).to_pylist() if r["run_id"] == result.run_id]
    [record] = [r for r in runs if r["table_name"] == "monitor_violations"]
    assert record["status"] == "published" and record["rows"] == 22 and odd in record["message"]
    summary = json.loads(get_text(session, summary_uri(config.lake, DT, result.run_id)) or "{}")
    assert summary["quarantined"] == [f"monitor_violations/{DT} (1 object(s) held back)"] and summary["ok"] is False

    switched = release_quarantined(session, config, "monitor_violations", DT, None, "sre", "a BYOC quirk, counted twice is fine")
    assert switched.rows == 24 and list_quarantined(session, config.lake) == []
    after = published(session, config, "monitor_violations", DT)
    assert after.num_rows == 24 and sum(uri == odd for uri in after["source_uri"].to_pylist()) == 2
    assert catalog.partition_location(session, config.lake, "monitor_violations", DT) == switched.location
