"""The state machines' JSONata, evaluated as Step Functions would (jsonata-python, with $states, the machine's
variables and Step Functions' own $uuid and $parse bound): dates, run ids, shards, the backfill's nights, the summary's
verdict and the alerts' messages."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import jsonata
import pytest

from tests.unit.stackdefs import definition

START = "2026-12-01T02:00:00.123Z"


def evaluate(expression: str, states: dict[str, Any] | None = None, **variables: Any) -> Any:
    body = expression.strip()
    assert body.startswith("{%") and body.endswith("%}"), expression
    compiled = jsonata.Jsonata(body[2:-2])
    compiled.assign("states", {"context": {"Execution": {"StartTime": START, "Id": "arn:exec"}}, **(states or {})})
    for name, value in variables.items():
        compiled.assign(name, value)
    compiled.register_lambda("uuid", lambda: str(uuid.uuid4()))
    compiled.register_lambda("parse", lambda text: json.loads(text))
    return compiled.evaluate(None)


@pytest.fixture(scope="module")
def nightly() -> dict[str, Any]:
    return definition("NightlyStateMachine")["States"]


@pytest.fixture(scope="module")
def backfill() -> dict[str, Any]:
    return definition("BackfillStateMachine")["States"]


def test_a_scheduled_night_lands_the_day_before_its_start_with_a_fresh_run_id(nightly: dict[str, Any]) -> None:
    plan = nightly["Plan"]["Assign"]
    assert evaluate(plan["date"], {"input": {}}) == "2026-11-30"
    run_id = evaluate(plan["run_id"], {"input": {}})
    assert re.fullmatch(r"20261201T020000Z-[0-9a-f]{6}", run_id)  # pipelines.lake.staging.run_started parses it
    assert evaluate(plan["shards"], {"input": {}}) == 4  # the Shards default
    rerun = {"input": {"date": "2026-11-20", "run_id": "20261120T090000Z-abc123", "shards": "2"}}
    assert (evaluate(plan["date"], rerun), evaluate(plan["run_id"], rerun), evaluate(plan["shards"], rerun)) == (
        "2026-11-20",
        "20261120T090000Z-abc123",
        2,
    )


def test_every_shard_gets_its_index_and_the_night_and_run(nightly: dict[str, Any]) -> None:
    land = nightly["Land"]
    assert evaluate(land["Items"], shards=3) == [0, 1, 2]
    assert evaluate(land["Items"], shards=1) == [0]
    item = {
        k: evaluate(v, {"context": {"Map": {"Item": {"Value": 2}}}}, date="2026-11-30", run_id="R", shards=3)
        for k, v in land["ItemSelector"].items()
    }
    assert item == {"date": "2026-11-30", "run_id": "R", "shard": 2, "shards": 3}
    arguments = land["ItemProcessor"]["States"]["LandShard"]["Arguments"]["Arguments"]
    assert {k: evaluate(v, {"input": item}) for k, v in arguments.items()} == {
        "--date": "2026-11-30",
        "--run_id": "R",
        "--shard": "2",
        "--shards": "3",
    }


def test_the_summary_decides_done_report_or_alert(nightly: dict[str, Any]) -> None:
    summary = {"night": "2026-11-30", "run_id": "R", "ok": False, "quarantined": ["cloudwatch_metrics/2026-11-30"]}
    read = evaluate(nightly["Summary"]["Output"], {"result": {"Body": json.dumps(summary)}})
    assert read == summary
    condition = nightly["Published"]["Choices"][0]["Condition"]
    assert evaluate(condition, {"input": {**summary, "ok": True}}) is True
    assert evaluate(condition, {"input": summary}) is False
    report = nightly["Report"]["Arguments"]
    assert evaluate(report["Subject"], date="2026-11-30") == "mlmon: night 2026-11-30 published with something held back"
    assert json.loads(evaluate(report["Message"], {"input": summary})) == summary
    alert = nightly["Alert"]["Arguments"]
    message = evaluate(
        alert["Message"],
        {"input": {"Error": "S3.NoSuchKeyException", "Cause": "no summary"}},
        date="2026-11-30",
        run_id="R",
        publish_error={"Error": "States.TaskFailed", "Cause": "job run failed"},
    )
    assert json.loads(message) == {
        "night": "2026-11-30",
        "run_id": "R",
        "execution": "arn:exec",
        "error": "S3.NoSuchKeyException",
        "cause": "no summary",
        "publish_error": {"Error": "States.TaskFailed", "Cause": "job run failed"},
    }


def test_a_backfill_runs_the_first_night_alone_then_the_rest_and_lists_the_failed(backfill: dict[str, Any]) -> None:
    nights = backfill["Plan"]["Assign"]["nights"]
    assert evaluate(nights, {"input": {"start": "2026-11-28", "end": "2026-12-01"}}) == [
        "2026-11-28",
        "2026-11-29",
        "2026-11-30",
        "2026-12-01",
    ]
    assert evaluate(nights, {"input": {"start": "2026-02-27", "end": "2026-03-01"}}) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert evaluate(nights, {"input": {"dates": ["2026-11-02", "2026-11-09"]}}) == ["2026-11-02", "2026-11-09"]
    planned = ["2026-11-28", "2026-11-29", "2026-11-30"]
    first = backfill["FirstNight"]
    assert evaluate(first["Arguments"]["Arguments"]["--date"], nights=planned) == "2026-11-28"
    assert evaluate(backfill["Nights"]["Items"], nights=planned) == ["2026-11-29", "2026-11-30"]
    assert evaluate(backfill["Nights"]["Items"], nights=planned[:1]) == []  # one night: nothing left for the Map
    failed_first = evaluate(first["Catch"][0]["Assign"]["first"], {"errorOutput": {"Error": "States.TaskFailed"}}, nights=planned)
    results = evaluate(
        backfill["Nights"]["Output"],
        {"result": [{"date": "2026-11-29", "status": "done"}, {"date": "2026-11-30", "status": "failed"}]},
        first=failed_first,
    )
    assert [r["status"] for r in results] == ["failed", "done", "failed"]
    assert evaluate(backfill["Summary"]["Choices"][0]["Condition"], {"input": results}) is True
    message = json.loads(evaluate(backfill["Alert"]["Arguments"]["Message"], {"input": results}))
    assert message["failed"] == ["2026-11-28", "2026-11-30"]
    fine = evaluate(backfill["Nights"]["Output"], {"result": []}, first=evaluate(first["Assign"]["first"], nights=planned))
    assert evaluate(backfill["Summary"]["Choices"][0]["Condition"], {"input": fine}) is False
