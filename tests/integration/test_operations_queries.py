"""The Logs Insights queries of docs/operations.md, run as written over the JSON lines a real night logs (one source
account denied, so there is something to find), on the local stack's Logs Insights."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipelines.aws import lake_session
from pipelines.logs import configure_logging
from pipelines.nightly import run_night
from pipelines.publish.alarms.deploy import after_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, NIGHT, make_config, new_lake, seed_invocations

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
GROUP = "/aws-glue/mlmon/ml-lake"
QUERY = re.compile(r"^### (?P<title>.+?)\n.*?```logs-insights\n(?P<query>.*?)```", re.S | re.M)


def documented_queries() -> dict[str, str]:
    return {m["title"]: m["query"] for m in QUERY.finditer(DOC.read_text(encoding="utf-8"))}


def _deny(account: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in params.get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    return handler


def _run(logs: Any, query: str, start: int, end: int) -> list[dict[str, str]]:
    query_id = logs.start_query(logGroupName=GROUP, startTime=start, endTime=end, queryString=query)["queryId"]
    results = logs.get_query_results(queryId=query_id)
    assert results["status"] == "Complete"
    return [{cell["field"]: cell["value"] for cell in row} for row in results["results"]]


@pytest.fixture()
def night_logs(stack: Any, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    """A night with ACCOUNTS[1]'s role denied, then the alarms step; its JSON lines in the job's log group."""
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    config = config.model_copy(update={"alerts": config.alerts.model_copy(update={"sns_topic_arn": None})})
    new_lake(config)
    session = lake_session(config.lake.region, config.endpoint_url)
    session.register_hook("before-parameter-build.sts.AssumeRole", _deny(ACCOUNTS[1]))
    configure_logging()
    capsys.readouterr()
    engine = LocalLakeEngine(session, config.lake)
    result = run_night(config, NIGHT, session=session, engine=engine)
    after_night(session, config, engine)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert not result.ok and lines
    return result.run_id, lines


def test_every_documented_query_finds_what_it_promises(stack: Any, night_logs: tuple[str, list[str]]) -> None:
    run_id, lines = night_logs
    logs = lake_session("us-east-1", stack.endpoint_url).client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="jr_0001-driver")
    now_ms = int(stack.clock.now().timestamp() * 1000)
    events = [{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName="jr_0001-driver", logEvents=events)
    span = (now_ms // 1000 - 60, now_ms // 1000 + 60)
    queries = documented_queries()
    assert set(queries) == {
        "Nights at a glance",
        "What a night held back",
        "Accounts and regions that failed, and why",
        "Everything one run did",
        "Warnings and errors",
        "Alarms kept after each night",
    }
    found = {title: _run(logs, query.replace("RUN_ID", run_id), *span) for title, query in queries.items()}

    (night,) = found["Nights at a glance"]
    assert (night["run_id"], night["ok"], night["night"]) == (run_id, "false", NIGHT.isoformat())
    assert int(night["rows_published"]) > 0 and int(night["api_calls"]) > 0
    (held,) = found["What a night held back"]
    assert "AccessDenied" in held["source_errors.0"] and ACCOUNTS[1] in held["source_errors.0"]
    failed = {(r["account_id"], r["source"]): r for r in found["Accounts and regions that failed, and why"]}
    assert ACCOUNTS[0] not in {account for account, _ in failed}
    denied = failed[(ACCOUNTS[1], "cloudwatch_metrics")]
    assert int(denied["failures"]) >= 1 and "AccessDenied" in denied["last_error"] and denied["region"] == "us-east-1"
    everything = found["Everything one run did"]
    assert {"account_region", "account_region_failed", "views", "run_summary"} <= {r["event"] for r in everything}
    assert len(everything) == sum(json.loads(line).get("run_id") == run_id for line in lines)  # every line of the run
    assert "account_region_failed" in {r["event"] for r in found["Warnings and errors"]}
    (alarms,) = found["Alarms kept after each night"]
    assert int(alarms["created"]) > 0
