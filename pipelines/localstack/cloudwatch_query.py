"""CloudWatch's API semantics over the metric store: PutMetricData datums, GetMetricData and ListMetrics with
CloudWatch's validation, order, limits and pagination."""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from pipelines.localstack.cloudwatch_store import (
    Dimensions,
    RegionMetrics,
    SeriesKey,
    SeriesSlice,
    Statistic,
    aggregate,
    series_key,
)

MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800  # per GetMetricData response, as in CloudWatch
LIST_PAGE_SIZE = 500  # ListMetrics
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
_EMPTY_TS = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0)
UNSUPPORTED_EXPRESSION = "Metric math and Metrics Insights are not emulated by the local stack: empty result."

WindowSource = Callable[[SeriesKey, int, int, str | None], SeriesSlice | None]  # key, start, end, unit -> data
# A query's AccountId -> that account's data, or None when the caller may not read it (not a linked account).
AccountWindows = Callable[[str], WindowSource | None]
OwnedKey = tuple[str, str, Dimensions, str]  # a series key and its owning account: what a monitoring account lists
FORBIDDEN_ACCOUNT = "The account {} is not linked to this monitoring account in this Region."


class MetricRequestError(ValueError):
    """A request CloudWatch would reject; `code` is the AWS error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class MetricQuery:
    """One entry of MetricDataQueries: a MetricStat (key set) or an expression (key None, not evaluated)."""

    id: str
    label: str
    key: SeriesKey | None = None
    statistic: Statistic | None = None
    period: int = 60
    unit: str | None = None
    account_id: str | None = None  # AccountId: read from this (linked) account


@dataclass(frozen=True)
class MetricDataRequest:
    """A validated GetMetricData call; start and end in epoch seconds (start inclusive, end exclusive)."""

    queries: tuple[MetricQuery, ...]
    start: int
    end: int
    descending: bool = True
    max_datapoints: int = MAX_DATAPOINTS
    next_token: str | None = None

    def fingerprint(self) -> str:
        """What a NextToken is bound to: the same queries, window and order (not the page size)."""
        text = repr((self.queries, self.start, self.end, self.descending))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class MetricResult:
    """One MetricDataResult of one page."""

    id: str
    label: str
    timestamps: np.ndarray  # int64 epoch seconds, in the requested order
    values: np.ndarray
    status: str = "Complete"
    messages: list[dict[str, str]] = field(default_factory=list)


@dataclass
class MetricDataPage:
    results: list[MetricResult]
    next_token: str | None = None


# --- PutMetricData ---


def put_metric_data(region: RegionMetrics, namespace: str, datums: Sequence[Mapping[str, Any]], received_at: int) -> None:
    """PutMetricData's MetricData (API shape), checked as a whole before anything is stored, one append per series.

    No Timestamp means `received_at`. A statistic set that describes identical samples (Minimum == Maximum and
    Sum == Minimum x SampleCount) is stored as a raw value, which is when CloudWatch can give percentiles for it.
    """
    groups: dict[tuple[SeriesKey, str | None], int] = {}
    group_of: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    counts: list[float] = []
    sets: dict[tuple[SeriesKey, str | None], tuple[list[int], list[tuple[float, ...]]]] = {}
    for i, datum in enumerate(datums, start=1):
        try:
            key = series_key(namespace, datum["MetricName"], datum.get("Dimensions") or ())
        except (KeyError, TypeError) as error:
            raise ValueError(f"MetricData.member.{i} lacks {error}") from None
        unit, stamp = datum.get("Unit"), _datum_epoch(datum.get("Timestamp"), received_at, i)
        datum_values, datum_counts = _datum_values(datum, i)
        if datum_values is None:
            set_stamps, set_stats = sets.setdefault((key, unit), ([], []))
            set_stamps.append(stamp)
            set_stats.append(statistic_set(datum["StatisticValues"], i))
            continue
        n = len(datum_values)
        group_of.extend([groups.setdefault((key, unit), len(groups))] * n)
        stamps.extend([stamp] * n)
        values.extend(datum_values)
        counts.extend(datum_counts)
    if groups:
        region.put_rows(list(groups), np.array(group_of), np.array(stamps, dtype=np.int64), np.array(values), np.array(counts))
    for (key, unit), (set_stamps, set_stats) in sets.items():
        region.put_statistic_sets(key, unit, set_stamps, set_stats)


def statistic_set(stats: Mapping[str, Any], member: int) -> tuple[float, ...]:
    """(Sum, SampleCount, Minimum, Maximum) of a StatisticValues datum, or ValueError naming the datum."""
    try:
        total, count, low, high = (float(stats[k]) for k in ("Sum", "SampleCount", "Minimum", "Maximum"))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"MetricData.member.{member}.StatisticValues needs numeric Sum, SampleCount, Minimum, Maximum") from None
    if not all(math.isfinite(x) for x in (total, count, low, high)) or count <= 0 or low > high:
        raise ValueError(f"MetricData.member.{member}.StatisticValues is inconsistent: {dict(stats)}")
    return total, count, low, high


def _datum_values(datum: Mapping[str, Any], member: int) -> tuple[list[float] | None, list[float]]:
    """Values and counts of one datum; (None, []) for a statistic set that is not reducible to one raw value."""
    if datum.get("StatisticValues"):
        total, count, low, high = statistic_set(datum["StatisticValues"], member)
        if low == high and abs(total - low * count) <= 1e-12 * max(abs(total), 1.0):
            return [low], [count]
        return None, []
    if datum.get("Values"):
        values = [float(v) for v in datum["Values"]]
        counts = [float(c) for c in datum.get("Counts") or [1.0] * len(values)]
        if len(counts) != len(values):
            raise ValueError(f"MetricData.member.{member}: Values and Counts must be of the same size")
        if not all(math.isfinite(v) for v in values) or not all(math.isfinite(c) and c >= 0 for c in counts):
            raise ValueError(f"MetricData.member.{member}: Values must be finite and Counts finite and >= 0")
        return values, counts
    if datum.get("Value") is None:
        raise ValueError(f"MetricData.member.{member} has no Value, Values or StatisticValues")
    value = float(datum["Value"])
    if not math.isfinite(value):
        raise ValueError(f"MetricData.member.{member}.Value must be finite")
    return [value], [1.0]


def _datum_epoch(timestamp: Any, default: int, member: int) -> int:
    """Epoch seconds of a datum's Timestamp: a datetime (naive is UTC), epoch seconds, or ISO 8601 text."""
    if timestamp is None:
        return default
    if isinstance(timestamp, str) and not timestamp.replace(".", "", 1).isdigit():
        try:
            timestamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"MetricData.member.{member}.Timestamp {timestamp!r} is not a timestamp") from None
    if isinstance(timestamp, datetime):
        aware = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        return int(aware.timestamp() // 1)
    return int(float(timestamp) // 1)


# --- GetMetricData ---


def parse_metric_data_request(params: Mapping[str, Any], to_epoch: Callable[[Any], int]) -> MetricDataRequest:
    """Validate GetMetricData parameters (as botocore names them) as CloudWatch does, before any work."""
    try:
        return _parse_metric_data_request(params, to_epoch)
    except (KeyError, TypeError) as error:  # botocore checks required members; other clients may not
        raise MetricRequestError("ValidationError", f"GetMetricData is missing or mistypes {error}") from None


def _parse_metric_data_request(params: Mapping[str, Any], to_epoch: Callable[[Any], int]) -> MetricDataRequest:
    raw = list(params.get("MetricDataQueries") or [])
    if not raw:
        raise MetricRequestError("ValidationError", "The parameter MetricDataQueries is required.")
    if len(raw) > MAX_QUERIES:
        raise MetricRequestError(
            "ValidationError",
            f"1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_QUERIES} (got {len(raw)})",
        )
    start, end = to_epoch(params["StartTime"]), to_epoch(params["EndTime"])
    if start >= end:
        raise MetricRequestError("ValidationError", "The parameter StartTime must be less than the parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise MetricRequestError("ValidationError", f"The value {scan_by} for parameter ScanBy is invalid.")
    max_datapoints = int(params.get("MaxDatapoints") or MAX_DATAPOINTS)
    if max_datapoints < 1:
        raise MetricRequestError("ValidationError", "The parameter MaxDatapoints must be greater than 0.")
    queries = [_parse_query(q, n) for n, q in enumerate(raw, start=1)]
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise MetricRequestError("ValidationError", "The values for parameter Id in MetricDataQueries must be unique.")
    returned = tuple(q for q, spec in zip(queries, raw, strict=True) if spec.get("ReturnData", True))
    return MetricDataRequest(
        returned, start, end, scan_by == "TimestampDescending", min(max_datapoints, MAX_DATAPOINTS), params.get("NextToken")
    )


def _parse_query(spec: Mapping[str, Any], n: int) -> MetricQuery:
    query_id = str(spec.get("Id") or "")
    if not _QUERY_ID.match(query_id):
        raise MetricRequestError(
            "ValidationError", f"The value {query_id} for parameter MetricDataQueries.member.{n}.Id is invalid."
        )
    if ("MetricStat" in spec) == ("Expression" in spec):
        raise MetricRequestError(
            "ValidationError", f"Exactly one of MetricStat and Expression must be set in MetricDataQueries.member.{n}."
        )
    if "Expression" in spec:
        return MetricQuery(query_id, spec.get("Label") or query_id)
    stat_spec, metric = spec["MetricStat"], spec["MetricStat"]["Metric"]
    try:
        statistic = Statistic.parse(stat_spec["Stat"])
    except ValueError as error:
        raise MetricRequestError("ValidationError", f"MetricDataQueries.member.{n}.MetricStat.Stat: {error}") from None
    period = int(stat_spec["Period"])
    if period < 1 or (period % 60 and period not in _HIGH_RESOLUTION_PERIODS):
        message = f"The parameter MetricDataQueries.member.{n}.MetricStat.Period must be 1, 5, 10, 20, 30, or a multiple of 60."
        raise MetricRequestError("ValidationError", message)
    key = series_key(metric["Namespace"], metric["MetricName"], metric.get("Dimensions") or ())
    # CloudWatch labels a MetricStat result with the metric name unless a Label is given.
    label = spec.get("Label") or metric["MetricName"]
    return MetricQuery(query_id, label, key, statistic, period, stat_spec.get("Unit"), spec.get("AccountId"))


def get_metric_data(request: MetricDataRequest, windows: WindowSource, accounts: AccountWindows | None = None) -> MetricDataPage:
    """One page: results in query order until the datapoint budget runs out.

    The result cut by the budget is PartialData; the NextToken resumes inside it. Results fully returned on an
    earlier page are not repeated, and queries not reached yet are absent from this page. A query with an
    AccountId reads `accounts(AccountId)`; one the caller may not read is an empty `Forbidden` result.
    """
    first, offset = _decode_token(request)
    budget, page = request.max_datapoints, MetricDataPage([])
    for index in range(first, len(request.queries)):
        query = request.queries[index]
        source = windows if query.account_id is None else (accounts(query.account_id) if accounts else None)
        if source is None:
            message = {"Code": "Forbidden", "Value": FORBIDDEN_ACCOUNT.format(query.account_id)}
            page.results.append(MetricResult(query.id, query.label, _EMPTY_TS, _EMPTY_F, "Forbidden", [message]))
            continue
        timestamps, values = _evaluate(query, request, source)
        skip = min(offset, len(timestamps)) if index == first else 0
        remaining = len(timestamps) - skip
        if remaining > budget:
            if budget:
                cut = slice(skip, skip + budget)
                page.results.append(MetricResult(query.id, query.label, timestamps[cut], values[cut], "PartialData"))
            page.next_token = _encode_token(request, index, skip + budget)
            return page
        messages = [] if query.key else [{"Code": "Unsupported", "Value": UNSUPPORTED_EXPRESSION}]
        page.results.append(MetricResult(query.id, query.label, timestamps[skip:], values[skip:], "Complete", messages))
        budget -= remaining
    return page


def _evaluate(query: MetricQuery, request: MetricDataRequest, windows: WindowSource) -> tuple[np.ndarray, np.ndarray]:
    if query.key is None or query.statistic is None:
        return _EMPTY_TS, _EMPTY_F
    window = windows(query.key, request.start, request.end, query.unit)
    if window is None:
        return _EMPTY_TS, _EMPTY_F
    timestamps, values = aggregate(window, request.start, query.period, query.statistic)
    return (timestamps[::-1], values[::-1]) if request.descending else (timestamps, values)


def _encode_token(request: MetricDataRequest, query_index: int, offset: int) -> str:
    payload = json.dumps([request.fingerprint(), query_index, offset]).encode()
    return base64.urlsafe_b64encode(payload).decode()


def _decode_token(request: MetricDataRequest) -> tuple[int, int]:
    if request.next_token is None:
        return 0, 0
    try:
        fingerprint, query_index, offset = json.loads(base64.urlsafe_b64decode(request.next_token.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise MetricRequestError("InvalidNextToken", "The NextToken is invalid.") from None
    if fingerprint != request.fingerprint() or not 0 <= int(query_index) < len(request.queries):
        raise MetricRequestError(
            "InvalidNextToken", "The NextToken does not belong to these queries, StartTime, EndTime and ScanBy."
        )
    return int(query_index), int(offset)


# --- ListMetrics ---


@dataclass(frozen=True)
class ListMetricsRequest:
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: tuple[tuple[str, str | None], ...] = ()  # each name must be present; with a value, equal
    active_since: int | None = None  # epoch seconds: only series with a datapoint at or after it
    next_token: str | None = None
    include_linked: bool = False  # IncludeLinkedAccounts: the catalog's keys carry their owning account
    owning_account: str | None = None

    def fingerprint(self) -> str:
        # Not active_since: the clock moves.
        text = repr((self.namespace, self.metric_name, self.dimensions, self.include_linked, self.owning_account))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


ListedKey = TypeVar("ListedKey", SeriesKey, OwnedKey)


def list_metrics(catalog: Sequence[tuple[ListedKey, int]], request: ListMetricsRequest) -> tuple[list[ListedKey], str | None]:
    """One page of at most 500 distinct series from a key-sorted catalog of (series, newest datapoint).

    A monitoring account's catalog has (namespace, name, dimensions, owning account) keys: the same series
    of two accounts are two entries, sorted by account.
    """
    keys = [key for key, _ in catalog]
    lo, hi = _prefix_range(keys, request.namespace, request.metric_name)
    if request.next_token is not None:
        lo = max(lo, bisect.bisect_right(keys, _decode_list_token(request), lo, hi))
    page: list[ListedKey] = []
    for position in range(lo, hi):
        key, last_ts = catalog[position]
        if not _matches(key, last_ts, request):
            continue
        if len(page) == LIST_PAGE_SIZE:
            return page, _encode_list_token(request, page[-1])
        page.append(key)
    return page, None


def _prefix_range(keys: Sequence[tuple[Any, ...]], namespace: str | None, metric_name: str | None) -> tuple[int, int]:
    """Keys sort by namespace, then name: a namespace (and name) filter is a contiguous range."""
    if namespace is None:
        return 0, len(keys)
    prefix: tuple[str, ...] = (namespace,) if metric_name is None else (namespace, metric_name)
    successor = (*prefix[:-1], prefix[-1] + "\0")  # the smallest tuple after every key starting with prefix
    return bisect.bisect_left(keys, prefix), bisect.bisect_left(keys, successor)


def _matches(key: SeriesKey | OwnedKey, last_ts: int, request: ListMetricsRequest) -> bool:
    if request.active_since is not None and last_ts < request.active_since:
        return False
    if request.metric_name is not None and key[1] != request.metric_name:
        return False
    present = dict(key[2])
    return all(name in present and (value is None or present[name] == value) for name, value in request.dimensions)


def _encode_list_token(request: ListMetricsRequest, last: SeriesKey | OwnedKey) -> str:
    payload = json.dumps([request.fingerprint(), last[0], last[1], [list(d) for d in last[2]], *last[3:]]).encode()
    return base64.urlsafe_b64encode(payload).decode()


def _decode_list_token(request: ListMetricsRequest) -> tuple[Any, ...]:
    try:
        fingerprint, namespace, name, dims, *owner = json.loads(base64.urlsafe_b64decode((request.next_token or "").encode()))
        key = (str(namespace), str(name), tuple((str(k), str(v)) for k, v in dims), *(str(o) for o in owner))
    except (binascii.Error, ValueError, TypeError):
        raise MetricRequestError("InvalidParameterValue", "Request parameter NextToken is invalid") from None
    if fingerprint != request.fingerprint():
        raise MetricRequestError("InvalidParameterValue", "Request parameter NextToken does not belong to these filters")
    return key
