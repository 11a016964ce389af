"""Puts our Logs Insights evaluator behind moto's StartQuery/GetQueryResults (reversibly), reads logGroupIdentifiers, adds
StopQuery, and judges PutLogEvents' event ages by the stack's clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from moto.logs.exceptions import InvalidParameterException, LogsClientError, ResourceNotFoundException
from moto.logs.models import LogGroup, LogsBackend
from moto.logs.responses import LogsResponse
from moto.moto_api._internal import mock_random

from pipelines.localstack.logs_insights import InsightsQueryError, LogRecord, QueryResult, evaluate_query, parse_query
from pipelines.localstack.moto_patch import MethodPatch
from pipelines.localstack.settings import STACKS

MAX_LOG_GROUPS_PER_QUERY = 50  # StartQuery: "You can include up to 50 log groups."
MAX_EVENT_AGE, MAX_EVENT_LEAD = timedelta(days=14), timedelta(hours=2)  # PutLogEvents refuses events outside these
_ARN = re.compile(r"^arn:aws[a-z-]*:logs:(?P<region>[^:]+):(?P<account>\d{12}):log-group:(?P<name>[^:*]+)(?P<star>:\*)?$")


class MalformedQueryException(LogsClientError):
    def __init__(self, message: str) -> None:
        self.code = 400
        super().__init__("MalformedQueryException", message)


class InsightsQuery:
    """A finished query as moto's backend keeps it (describe_queries reads the same attributes)."""

    def __init__(self, query_id: str, query: str, log_group_names: list[str], result: QueryResult) -> None:
        self.query_id = query_id
        self.query = query
        self.log_group_names = log_group_names
        self.result = result
        self.status = "Complete"  # evaluated when started: a local query never runs long
        self.create_time = datetime.now(UTC)

    def to_json(self, log_group_name: str) -> dict[str, Any]:
        return {
            "queryId": self.query_id,
            "queryString": self.query,
            "status": self.status,
            "createTime": int(self.create_time.timestamp() * 1000),
            "logGroupName": log_group_name,
        }

    def to_result_json(self) -> dict[str, Any]:
        statistics = {
            "recordsMatched": float(self.result.records_matched),
            "recordsScanned": float(self.result.records_scanned),
            "bytesScanned": float(self.result.bytes_scanned),
        }
        rows = [[{"field": name, "value": value} for name, value in row] for row in self.result.rows]
        return {"results": rows if self.status == "Complete" else [], "statistics": statistics, "status": self.status}


def _log_group_names(response: LogsResponse) -> list[str]:
    """Exactly one of logGroupName, logGroupNames, logGroupIdentifiers (names or ARNs of this account and region)."""
    given = {key: response._get_param(key) for key in ("logGroupName", "logGroupNames", "logGroupIdentifiers")}
    present = [key for key, value in given.items() if value]
    if len(present) != 1:
        raise InvalidParameterException(
            "A StartQuery operation must include exactly one of logGroupName, logGroupNames or logGroupIdentifiers."
        )
    values = [given["logGroupName"]] if present == ["logGroupName"] else list(given[present[0]])
    if len(values) > MAX_LOG_GROUPS_PER_QUERY:
        raise InvalidParameterException(f"A query can include up to {MAX_LOG_GROUPS_PER_QUERY} log groups; got {len(values)}.")
    names = []
    backend = response.logs_backend
    for value in values:
        found = _ARN.match(value)
        if found is None:
            names.append(value)
            continue
        if found["star"]:
            raise InvalidParameterException(f"A log group ARN in logGroupIdentifiers must not end with '*': {value}")
        if (found["account"], found["region"]) != (backend.account_id, backend.region_name):
            raise ResourceNotFoundException(f"The specified log group does not exist: {value}")
        names.append(found["name"])
    return names


def _records(backend: LogsBackend, groups: list[LogGroup], start_ms: int, end_ms: int) -> Iterator[LogRecord]:
    for group in groups:
        log = f"{backend.account_id}:{group.name}"
        for stream in group.streams.values():
            for event in stream.events:
                if start_ms <= event.timestamp < end_ms:
                    yield LogRecord(
                        event.timestamp, event.message, stream.log_stream_name, log, event.ingestion_time, str(event.event_id)
                    )


def _start_query(self: LogsResponse) -> str:
    """StartQuery, evaluated at once. The range is [startTime, endTime] in epoch seconds, endTime inclusive (its whole second)."""
    names = _log_group_names(self)
    start, end, query = self._get_param("startTime"), self._get_param("endTime"), self._get_param("queryString")
    if start is None or end is None or query is None:
        raise InvalidParameterException("startTime, endTime and queryString are required.")
    if int(end) < int(start):
        raise InvalidParameterException("endTime must not be before startTime.")
    if self._get_param("queryLanguage") not in (None, "CWLI"):
        raise InvalidParameterException("The local stack evaluates only the Logs Insights query language (CWLI).")
    try:
        commands = parse_query(query)
    except InsightsQueryError as error:
        raise MalformedQueryException(str(error)) from None
    backend = self.logs_backend
    missing = [name for name in names if name not in backend.groups]
    if missing:
        raise ResourceNotFoundException(f"The specified log group does not exist: {missing[0]}")
    records = _records(backend, [backend.groups[name] for name in names], int(start) * 1000, (int(end) + 1) * 1000)
    query_id = str(mock_random.uuid4())
    backend.queries[query_id] = InsightsQuery(  # stands in for moto's LogQuery
        query_id, query, names, evaluate_query(commands, records, self._get_int_param("limit"))
    )
    return json.dumps({"queryId": query_id})


def _stored(self: LogsResponse) -> InsightsQuery:
    query_id = self._get_param("queryId")
    query = self.logs_backend.queries.get(query_id)
    if not isinstance(query, InsightsQuery):
        raise ResourceNotFoundException(f"Query {query_id} does not exist.")
    return query


def _get_query_results(self: LogsResponse) -> str:
    return json.dumps(_stored(self).to_result_json())


def _stop_query(self: LogsResponse) -> str:
    """StopQuery: only a running (or scheduled) query can be stopped; it becomes Cancelled."""
    query = _stored(self)
    stopped = query.status in ("Scheduled", "Running")
    if stopped:
        query.status = "Cancelled"
    return json.dumps({"success": stopped})


def _put_log_events(self: LogsResponse) -> str:
    """PutLogEvents: events older than 14 days or more than 2 hours ahead of the stack's clock are refused (moto: the wall clock's)."""
    group = self.logs_backend.groups.get(self._get_param("logGroupName"))
    if group is None:
        raise ResourceNotFoundException()
    events = self._get_param("logEvents") or []
    stamps = [int(event["timestamp"]) for event in events]
    if any(later < earlier for earlier, later in pairwise(stamps)):
        raise InvalidParameterException("Log events in a single PutLogEvents request must be in chronological order.")
    now = STACKS.for_response(self).clock.now()
    oldest, newest = _ms(now - MAX_EVENT_AGE), _ms(now + MAX_EVENT_LEAD)
    rejected: dict[str, int] = {}
    if too_old := [i for i, stamp in enumerate(stamps) if stamp < oldest]:
        rejected["tooOldLogEventEndIndex"] = too_old[-1]
    if too_new := [i for i, stamp in enumerate(stamps) if stamp > newest]:
        rejected["tooNewLogEventStartIndex"] = too_new[0]
    token = group.put_log_events(
        self._get_param("logStreamName"), [e for e, t in zip(events, stamps, strict=True) if oldest <= t <= newest]
    )
    return json.dumps({"nextSequenceToken": token} | ({"rejectedLogEventsInfo": rejected} if rejected else {}))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# The one piece of module state: moto's classes are process-wide, so is the record of what was replaced.
PATCH = MethodPatch(
    (
        (LogsResponse, "start_query", _start_query),
        (LogsResponse, "get_query_results", _get_query_results),
        (LogsResponse, "stop_query", _stop_query),
        (LogsResponse, "put_log_events", _put_log_events),
    )
)
