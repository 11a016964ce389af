"""The local stack's CloudWatch Logs: StartQuery checks what AWS checks, PutLogEvents judges ages by the stack's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipelines.localstack.server import LocalStack
from tests.clock import NIGHT

PREFIX = "/aws/sagemaker/Endpoints/"
REGION = "us-east-1"
MIDNIGHT = datetime.combine(NIGHT, datetime.min.time(), tzinfo=UTC)


def client(stack: LocalStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.endpoint_url, region_name=REGION)


def at(hours: float = 0, minutes: float = 0) -> int:
    return int((MIDNIGHT + timedelta(hours=hours, minutes=minutes)).timestamp() * 1000)


def put(logs: Any, group: str, events: list[tuple[int, str]]) -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    response = logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t, "message": m} for t, m in events]
    )
    assert not response.get("rejectedLogEventsInfo"), response


def test_stack_start_query_parameters(stack: LocalStack) -> None:
    logs = client(stack, "logs")
    put(logs, f"{PREFIX}ep-a", [(at(2), "HTTP 504 Gateway Timeout"), (at(3), "torch.OutOfMemoryError")])
    put(logs, f"{PREFIX}ep-b", [(at(10, m), f"ModelError: bad input {m}") for m in (15, 16, 59)])
    window = {"startTime": at() // 1000, "endTime": at(24) // 1000}
    account = client(stack, "sts").get_caller_identity()["Account"]
    arn = f"arn:aws:logs:{REGION}:{account}:log-group:{PREFIX}ep-b"
    query_id = logs.start_query(logGroupIdentifiers=[arn], queryString="stats count(*) as n", **window)["queryId"]
    result = logs.get_query_results(queryId=query_id)
    assert result["status"] == "Complete" and result["results"] == [[{"field": "n", "value": "3"}]]
    assert result["statistics"]["recordsScanned"] == 3.0
    assert logs.stop_query(queryId=query_id)["success"] is False  # already complete
    query_id = logs.start_query(logGroupName=f"{PREFIX}ep-a", queryString="fields @message | limit 1", limit=5, **window)[
        "queryId"
    ]
    assert len(logs.get_query_results(queryId=query_id)["results"]) == 1
    assert logs.describe_queries(logGroupName=f"{PREFIX}ep-a")["queries"][0]["status"] == "Complete"
    failures = [
        (dict(logGroupName=f"{PREFIX}ep-a", logGroupNames=[f"{PREFIX}ep-b"]), "InvalidParameterException"),
        (dict(logGroupNames=[f"{PREFIX}ep-{i}" for i in range(51)]), "InvalidParameterException"),
        (dict(logGroupIdentifiers=[arn + ":*"]), "InvalidParameterException"),
        (dict(logGroupNames=[f"{PREFIX}nope"]), "ResourceNotFoundException"),
    ]
    for groups, code in failures:
        with pytest.raises(ClientError) as raised:
            logs.start_query(queryString="fields @message", **groups, **window)
        assert raised.value.response["Error"]["Code"] == code, groups
    with pytest.raises(ClientError) as raised:
        logs.start_query(logGroupNames=[f"{PREFIX}ep-a"], queryString="fields @message | dedup @message", **window)
    assert raised.value.response["Error"]["Code"] == "MalformedQueryException" and "dedup" in str(raised.value)
    with pytest.raises(ClientError) as raised:
        logs.get_query_results(queryId="no-such-query")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_stack_put_log_events_judges_ages_by_the_stack_clock(stack: LocalStack) -> None:
    logs = client(stack, "logs")
    logs.create_log_group(logGroupName=f"{PREFIX}ep-a")
    logs.create_log_stream(logGroupName=f"{PREFIX}ep-a", logStreamName="s")
    now_ms = int(stack.clock.now().timestamp() * 1000)
    day, hour = 86_400_000, 3_600_000
    stamps = [now_ms - 15 * day, now_ms - 14 * day - 1, now_ms - 13 * day, now_ms, now_ms + 2 * hour, now_ms + 3 * hour]
    response = logs.put_log_events(
        logGroupName=f"{PREFIX}ep-a",
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": f"e{i}"} for i, t in enumerate(stamps)],
    )
    assert response["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 5}
    kept = logs.get_log_events(logGroupName=f"{PREFIX}ep-a", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in kept] == ["e2", "e3", "e4"]
    stack.clock.set(stack.clock.now() - timedelta(days=20))  # the same events, seen from three weeks earlier: all too new
    late = logs.put_log_events(logGroupName=f"{PREFIX}ep-a", logStreamName="s", logEvents=[{"timestamp": now_ms, "message": "x"}])
    assert late["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}
    with pytest.raises(ClientError) as raised:
        logs.put_log_events(
            logGroupName=f"{PREFIX}ep-a",
            logStreamName="s",
            logEvents=[{"timestamp": now_ms, "message": "b"}, {"timestamp": now_ms - 1, "message": "a"}],
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as raised:
        logs.put_log_events(logGroupName=f"{PREFIX}nope", logStreamName="s", logEvents=[{"timestamp": now_ms, "message": "x"}])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
