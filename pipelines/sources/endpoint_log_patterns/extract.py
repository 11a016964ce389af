"""Error classes per endpoint and hour from the endpoints' log groups, counted by CloudWatch Logs Insights (one query per class)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import pagination
from pipelines.errors import FatalError, PipelineError, RetriableError
from pipelines.logs import get_logger
from pipelines.windows import Window

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

log = get_logger(__name__)

ENDPOINT_LOG_PREFIX = "/aws/sagemaker/Endpoints/"
MAX_LOG_GROUPS_PER_QUERY = 50  # StartQuery's limit for logGroupNames
RESULT_LIMIT = 10_000  # rows one query may return; a batch is sized so (hours x groups) stays below it
SAMPLE_CHARS = 1_000  # a sample message is evidence, not an archive
HOUR_FIELD, LOG_FIELD, COUNT_FIELD, SAMPLE_FIELD = "bin(1h)", "@log", "n", "sample"
_DONE = {"Complete"}
_BROKEN = {"Failed", "Cancelled", "Timeout", "Unknown"}
_REFUSALS = {
    "AccessDeniedException",
    "AccessDenied",
    "InvalidParameterException",
    "MalformedQueryException",
    "ResourceNotFoundException",
}
# RE2 (Insights' regex engine) has no lookaround and no backreferences.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


class LogQueryFailed(RetriableError):
    """A Logs Insights query ended Failed, Cancelled or Timeout, or could not be started or read."""


class LogQueryRefused(FatalError):
    """Logs Insights refused a query for a reason a retry will not fix (access denied, a malformed query, a missing group)."""


class LogQueryTimeout(RetriableError):
    """Logs Insights queries did not complete within the deadline (they were asked to stop)."""


@dataclass(frozen=True)
class _Started:
    error_class: str
    query_id: str
    query: str


def log_pattern_query(pattern: str) -> str:
    """The Insights query that counts, per hour and log group, the lines matching `pattern` (case-insensitive).

    `earliest(@message)` is the hour's first matching line: a sample a person can read.
    """
    try:
        re.compile(pattern)
    except re.error as error:
        raise FatalError(f"error pattern {pattern!r} is not a regular expression: {error}") from error
    if _NOT_RE2.search(pattern):
        raise FatalError(f"error pattern {pattern!r}: Logs Insights regexes (RE2) have no lookaround or backreferences")
    flags = "i"
    leading = _LEADING_FLAGS.match(pattern)
    if leading:  # Python and RE2 want one leading flag group: merge the pattern's own into ours
        flags, pattern = "".join(sorted(set("i" + leading.group(1)))), pattern[leading.end() :]
    body = re.sub(r"(?<!\\)((?:\\\\)*)/", r"\1\\/", pattern)  # a bare / would end the regex literal
    return (
        "fields @timestamp, @message, @log"
        f" | filter @message like /(?{flags}){body}/"
        f" | stats count(*) as {COUNT_FIELD}, earliest(@message) as {SAMPLE_FIELD} by bin(1h), @log"
    )


def iter_endpoint_log_groups(
    logs: CloudWatchLogsClient, prefix: str = ENDPOINT_LOG_PREFIX, page_size: int | None = None
) -> Iterator[str]:
    """Every log group named `prefix...` (DescribeLogGroups, followed page by page)."""
    paginator = logs.get_paginator("describe_log_groups")
    config = pagination(page_size)
    for page in paginator.paginate(logGroupNamePrefix=prefix, PaginationConfig=config):
        for group in page.get("logGroups", ()):
            yield group["logGroupName"]


def iter_log_pattern_counts(
    logs_client: CloudWatchLogsClient,
    log_groups: Sequence[str],
    window: Window,
    patterns: Mapping[str, str],
    timeout: float,
    *,
    poll_seconds: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Yield {log_group, endpoint_name, hour, error_class, count, sample_message} for each hour of
    `window` in which a log group has lines of an error class.

    Classes are independent: a line matching two patterns counts in both. Log groups are
    queried in batches of up to 50 (the API's limit); each batch runs one query per class,
    concurrently, and must complete within `timeout` seconds, or the queries are stopped and
    LogQueryTimeout is raised. Hours outside `window` (Insights' end time is inclusive) are dropped.
    `clock` and `sleep` time the polling (tests pass their own: no test waits on the wall clock).
    """
    if not patterns:
        raise FatalError("no error patterns to count")
    if timeout <= 0 or window.end <= window.start:
        raise FatalError(f"need a positive timeout and a non-empty window, got {timeout} and {window}")
    queries = {name: log_pattern_query(pattern) for name, pattern in patterns.items()}
    hours = math.ceil(window.seconds() / 3600) + 1
    batch_size = max(1, min(MAX_LOG_GROUPS_PER_QUERY, RESULT_LIMIT // hours - 1))
    groups = sorted(set(log_groups))
    for first in range(0, len(groups), batch_size):
        batch = groups[first : first + batch_size]
        started: list[_Started] = []
        try:  # whatever goes wrong, queries already started are stopped: they would scan (and bill) on
            for name, query in queries.items():
                started.append(_start(logs_client, batch, window, name, query))
            finished = _await(logs_client, started, batch, _Polling(timeout, poll_seconds, clock, sleep))
        except PipelineError:
            _stop(logs_client, started)
            raise
        for begun, rows in finished:
            yield from _counts(begun.error_class, rows, window)


def _start(logs: CloudWatchLogsClient, batch: list[str], window: Window, error_class: str, query: str) -> _Started:
    try:
        response = logs.start_query(
            logGroupNames=batch,
            startTime=int(window.start.timestamp()),
            endTime=int(window.end.timestamp()),
            queryString=query,
            limit=RESULT_LIMIT,
        )
    except (ClientError, BotoCoreError) as error:
        refused = isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _REFUSALS
        kind = LogQueryRefused if refused else LogQueryFailed
        raise kind(f"StartQuery for {error_class!r} over {len(batch)} log groups ({batch[0]}, ...): {error}") from error
    return _Started(error_class, response["queryId"], query)


@dataclass(frozen=True)
class _Polling:
    """How long to wait for a batch of queries, how often to ask, and the clock that times it."""

    timeout: float
    poll_seconds: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def _await(
    logs: CloudWatchLogsClient, started: list[_Started], batch: list[str], polling: _Polling
) -> list[tuple[_Started, list[Any]]]:
    """Poll GetQueryResults until every query is Complete; any broken status or the deadline is an error."""
    timeout, poll_seconds = polling.timeout, polling.poll_seconds
    deadline = polling.clock() + timeout
    pending = {s.query_id: s for s in started}
    done: dict[str, list[Any]] = {}
    pause = min(poll_seconds, 0.25)
    while pending:
        for query_id, begun in list(pending.items()):
            response = _results(logs, begun)
            status = response.get("status")
            if status in _DONE:
                done[query_id] = response.get("results", [])
                del pending[query_id]
            elif status in _BROKEN:
                raise LogQueryFailed(
                    f"Logs Insights query for {begun.error_class!r} over {batch[0]} (+{len(batch) - 1} log groups) "
                    f"ended {status}: {begun.query}"
                )
        if not pending:
            break
        remaining = deadline - polling.clock()
        if remaining <= 0:
            names = sorted(s.error_class for s in pending.values())
            raise LogQueryTimeout(
                f"Logs Insights queries for {names} over {len(batch)} log groups ({batch[0]}, ...) "
                f"did not complete within {timeout:g} s; stopped them"
            )
        polling.sleep(min(pause, remaining))
        pause = min(pause * 2, poll_seconds)
    return [(s, done[s.query_id]) for s in started]


def _results(logs: CloudWatchLogsClient, begun: _Started) -> dict[str, Any]:
    try:
        return dict(logs.get_query_results(queryId=begun.query_id))
    except (ClientError, BotoCoreError) as error:
        raise LogQueryFailed(f"GetQueryResults {begun.query_id} ({begun.error_class!r}): {error}") from error


def _stop(logs: CloudWatchLogsClient, started: list[_Started]) -> None:
    """Best effort: a query left running keeps scanning (and billing) up to its own 60-minute limit.
    Finished queries answer success=false, which is fine."""
    for begun in started:
        try:
            logs.stop_query(queryId=begun.query_id)
        except (ClientError, BotoCoreError) as error:
            log.warning("stop_query_failed", query_id=begun.query_id, error_class=begun.error_class, error=str(error))


def _counts(error_class: str, rows: list[Any], window: Window) -> Iterator[dict[str, Any]]:
    if len(rows) >= RESULT_LIMIT:
        raise LogQueryFailed(f"{error_class!r}: {len(rows)} rows is the result limit; counts would be incomplete")
    start, end = _naive(window.start), _naive(window.end)
    for row in rows:
        fields = {f["field"]: f.get("value") for f in row}
        hour = parse_insights_time(fields[HOUR_FIELD])
        if not start <= hour < end:
            continue
        group = str(fields[LOG_FIELD]).split(":", 1)[-1]  # @log is account-id:log-group-name
        sample = fields.get(SAMPLE_FIELD)
        yield {
            "log_group": group,
            "endpoint_name": group.removeprefix(ENDPOINT_LOG_PREFIX),
            "hour": hour,
            "error_class": error_class,
            "count": int(float(fields[COUNT_FIELD])),
            "sample_message": sample[:SAMPLE_CHARS] if sample is not None else None,
        }


def parse_insights_time(value: str) -> datetime:
    """Insights prints times as `2025-06-03 02:00:00.000` (UTC); naive UTC like every lake timestamp."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return _naive(parsed)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
