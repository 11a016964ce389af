"""The part of the CloudWatch Logs Insights language our queries use, evaluated over stored events, so tests run the AWS query text."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pipelines.localstack.logs_insights_syntax import (
    Aggregate,
    BoolOp,
    Command,
    Fields,
    Filter,
    Group,
    InsightsQueryError,
    Limit,
    NotOp,
    Predicate,
    Sort,
    Stats,
    parse_query,
)

__all__ = [
    "DEFAULT_LIMIT",
    "Instant",
    "InsightsQueryError",
    "LogRecord",
    "QueryResult",
    "evaluate",
    "parse_query",
    "evaluate_query",
]

DEFAULT_LIMIT = 10_000  # rows a query returns when neither the query nor StartQuery says otherwise
DISCOVERED_FIELDS = 200  # Insights extracts at most this many fields from one JSON event


@dataclass(frozen=True)
class LogRecord:
    """One stored log event with the system fields Insights generates for it."""

    timestamp: int  # epoch milliseconds
    message: str
    log_stream: str = ""
    log: str = ""  # account-id:log-group-name, like Insights' @log
    ingestion_time: int = 0
    ptr: str = ""


@dataclass(frozen=True, order=True)
class Instant:
    """A time value (epoch ms); printed the way Insights prints @timestamp and bin()."""

    ms: int

    def __str__(self) -> str:
        moment = datetime.fromtimestamp(self.ms // 1000, tz=UTC)
        return f"{moment:%Y-%m-%d %H:%M:%S}.{self.ms % 1000:03d}"


@dataclass(frozen=True)
class QueryResult:
    """Rows as Insights returns them (field/value pairs, values as text) and the scan statistics."""

    rows: list[list[tuple[str, str]]]
    records_scanned: int
    records_matched: int
    bytes_scanned: int


Row = dict[str, Any]


def evaluate_query(commands: Sequence[Command], records: Iterable[LogRecord], limit: int | None = None) -> QueryResult:
    """Evaluate parsed commands in order over `records` (already cut to the query's time range).

    Without `sort`, events come newest first and stats rows in group-key order. `limit` (StartQuery's)
    and the query's `limit` both cap the rows; DEFAULT_LIMIT when neither is given.
    """
    rows = [_row(record) for record in records]
    scanned, size = len(rows), sum(len(row["@message"].encode()) for row in rows)
    shown: list[str] = []
    matched: int | None = None
    cap, ordered = limit or DEFAULT_LIMIT, False
    for command in commands:
        if isinstance(command, Fields):
            shown += [name for name in command.names if name not in shown]
        elif isinstance(command, Filter):
            rows = [row for row in rows if _holds(command.predicate, row)]
        elif isinstance(command, Stats):
            matched, rows, ordered = len(rows), _aggregate_rows(command, rows), True
            shown = [*(g.name for g in command.groups), *(a.name for a in command.aggregates)]
        elif isinstance(command, Sort):
            rows, ordered = sort_rows(rows, command.keys), True
        elif isinstance(command, Limit):
            cap = min(cap, command.count)
    if not ordered:
        rows = sort_rows(rows, (("@timestamp", True),))
    if matched is None:  # not a stats query: Insights shows @timestamp and @message by default, and always @ptr
        matched = len(rows)
        shown = [*(shown or ["@timestamp", "@message"]), *(["@ptr"] if "@ptr" not in shown else [])]
    out = [[(name, format_value(row[name])) for name in shown if row.get(name) is not None] for row in rows[:cap]]
    return QueryResult(out, scanned, matched, size)


def _row(record: LogRecord) -> Row:
    return {
        **discovered_fields(record.message),
        "@timestamp": Instant(record.timestamp),
        "@message": record.message,
        "@logStream": record.log_stream,
        "@log": record.log,
        "@ingestionTime": Instant(record.ingestion_time),
        "@ptr": record.ptr,
    }


def discovered_fields(message: str) -> Row:
    """Insights' automatic discovery in a JSON event: every leaf, nested keys joined with `.`, list items by index
    (`errors.0`), booleans as `true`/`false`; at most DISCOVERED_FIELDS of them. Anything else discovers nothing."""
    if not message.lstrip().startswith("{"):
        return {}
    try:
        document = json.loads(message)
    except ValueError:
        return {}
    found: Row = {}

    def walk(value: Any, name: str) -> None:
        if len(found) >= DISCOVERED_FIELDS:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{name}.{key}" if name else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{name}.{index}")
        elif value is not None:
            found[name] = ("true" if value else "false") if isinstance(value, bool) else value

    walk(document, "")
    return found


def _holds(predicate: Predicate, row: Row) -> bool:
    if isinstance(predicate, BoolOp):
        left = _holds(predicate.left, row)
        return (left and _holds(predicate.right, row)) if predicate.op == "and" else (left or _holds(predicate.right, row))
    if isinstance(predicate, NotOp):
        return not _holds(predicate.operand, row)
    value = row.get(predicate.field)
    text = None if value is None else format_value(value)
    if predicate.op == "like":
        hit = text is not None and (
            predicate.pattern.search(text) is not None if isinstance(predicate.pattern, re.Pattern) else predicate.pattern in text
        )
    else:
        hit = (text == predicate.pattern) == (predicate.op == "=")
    return hit != predicate.negate


def _aggregate_rows(stats: Stats, rows: list[Row]) -> list[Row]:
    """One row per distinct group key (events without a group field form the null group), in key order."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(_group_key(group, row) for group in stats.groups), []).append(row)
    out = []
    for key in sorted(groups, key=functools.cmp_to_key(_compare_keys)):
        members = groups[key]
        result: Row = {group.name: value for group, value in zip(stats.groups, key, strict=True)}
        for aggregate in stats.aggregates:
            result[aggregate.name] = _apply(aggregate, members)
        out.append(result)
    return out


def _group_key(group: Group, row: Row) -> Any:
    if group.bin_ms is None:
        return row.get(group.field or "")
    stamp = row.get("@timestamp")
    return Instant(stamp.ms // group.bin_ms * group.bin_ms) if isinstance(stamp, Instant) else None


def _apply(aggregate: Aggregate, members: list[Row]) -> Any:
    if aggregate.func == "count":
        return len(members) if aggregate.arg == "*" else sum(row.get(aggregate.arg) is not None for row in members)
    # earliest/latest: the field's value on the event with the smallest/largest @timestamp (first seen wins ties)
    timed = [
        (row["@timestamp"].ms, index, row) for index, row in enumerate(members) if isinstance(row.get("@timestamp"), Instant)
    ]
    if not timed:
        return None
    pick = min(timed, key=lambda t: (t[0], t[1])) if aggregate.func == "earliest" else max(timed, key=lambda t: (t[0], -t[1]))
    return pick[2].get(aggregate.arg)


def sort_rows(rows: list[Row], keys: Sequence[tuple[str, bool]]) -> list[Row]:
    """Insights' natural order: non-numbers before numbers ascending, digit runs by length then value; nulls last."""
    out = list(rows)
    for name, descending in reversed(keys):  # stable sorts, last key first
        present = [row for row in out if row.get(name) is not None]
        missing = [row for row in out if row.get(name) is None]
        present.sort(key=functools.cmp_to_key(partial(_compare_field, name)), reverse=descending)
        out = present + missing
    return out


def _compare_field(name: str, a: Row, b: Row) -> int:
    return compare_values(a[name], b[name])


def _compare_keys(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    for x, y in zip(a, b, strict=False):  # equal keys so far: the shorter sorts first
        if x is None or y is None:
            if x is not y:
                return 1 if x is None else -1
            continue
        if order := compare_values(x, y):
            return order
    return 0


def compare_values(a: Any, b: Any) -> int:
    """-1, 0, 1 in Insights' ascending order: any non-number < any number; numbers and times by value."""
    num_a, num_b = _number(a), _number(b)
    if num_a is not None and num_b is not None:
        return (num_a > num_b) - (num_a < num_b)
    if (num_a is None) != (num_b is None):
        return -1 if num_a is None else 1
    return _natural(str(a), str(b))


def _number(value: Any) -> float | None:
    if isinstance(value, Instant):
        return float(value.ms)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    return None


def _natural(a: str, b: str) -> int:
    chunks_a, chunks_b = re.findall(r"\d+|\D+", a), re.findall(r"\d+|\D+", b)
    for x, y in zip(chunks_a, chunks_b, strict=False):  # a common prefix: the shorter sorts first
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if (len(x), x) < (len(y), y) else 1
        return -1 if x < y else 1
    return (len(chunks_a) > len(chunks_b)) - (len(chunks_a) < len(chunks_b))


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def evaluate(query: str, records: Iterable[LogRecord], limit: int | None = None) -> QueryResult:
    """Parse and run `query` over `records` in one step."""
    return evaluate_query(parse_query(query), records, limit)
