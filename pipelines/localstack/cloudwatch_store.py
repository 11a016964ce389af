"""Columnar, indexed CloudWatch metric data and its statistics, so the local stack answers in O(window) not O(all data)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Dimensions = tuple[tuple[str, str], ...]  # sorted by name
SeriesKey = tuple[str, str, Dimensions]  # namespace, metric name, dimensions
NO_UNIT = "None"  # what CloudWatch records when PutMetricData names no unit
BASIC_STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
# pNN, pNN.N, pNN.NN and p100; CloudWatch's other extended statistics (tm, wm, TC, ...) are not emulated.
_PERCENTILE = re.compile(r"^p(100(?:\.0{1,2})?|\d{1,2}(?:\.\d{1,2})?)$")
_VALUE_COLUMNS = ("ts", "value", "count", "unit")
_SET_COLUMNS = ("ts", "sum", "count", "min", "max", "unit")
_MAX_PENDING_CHUNKS = 64
_EMPTY_TS = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)

Columns = dict[str, np.ndarray]


def series_key(namespace: str, metric_name: str, dimensions: Mapping[str, str] | Iterable[Any]) -> SeriesKey:
    """The identity of a series: dimensions as a name-sorted tuple (a dict, pairs, or API-shaped {Name, Value} dicts)."""
    pairs: Iterable[Any]
    if isinstance(dimensions, Mapping):
        pairs = dimensions.items()
    else:
        pairs = ((d["Name"], d["Value"]) if isinstance(d, Mapping) else d for d in dimensions)
    return namespace, metric_name, tuple(sorted((str(k), str(v)) for k, v in pairs))


@dataclass(frozen=True)
class Statistic:
    """One requested statistic: a basic one by name, or a percentile in hundredths of a percent (p99.9 -> 9990)."""

    name: str
    hundredths: int | None = None

    @classmethod
    def parse(cls, text: str) -> Statistic:
        if text in BASIC_STATISTICS:
            return cls(text)
        match = _PERCENTILE.match(text)
        if not match:
            raise ValueError(f"statistic {text!r} is not supported (basic statistics and pNN.NN percentiles are)")
        return cls(text, round(float(match.group(1)) * 100))


@dataclass(frozen=True)
class SeriesSlice:
    """A series' datapoints in [start, end), sorted by time: raw values with weights, then statistic sets."""

    ts: np.ndarray
    value: np.ndarray
    count: np.ndarray
    set_ts: np.ndarray
    sets: Columns  # sum, count, min, max aligned with set_ts


class _SortedRuns:
    """Columns sorted by "ts", kept as a few sorted runs merged geometrically: amortised O(log n) work per row.

    Appends are buffered and sorted on the next read, so interleaving puts and reads never re-sorts everything.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._pending: list[Columns] = []
        self._runs: list[Columns] = []
        self.last_ts: int | None = None

    def append(self, columns: Columns) -> None:
        if len(columns["ts"]) == 0:
            return
        self._pending.append(columns)
        if len(self._pending) >= _MAX_PENDING_CHUNKS:  # many small PutMetricData chunks: sort them into runs now
            self._flush()
        newest = int(columns["ts"].max())
        self.last_ts = newest if self.last_ts is None else max(self.last_ts, newest)

    def window(self, start: int, end: int) -> Columns:
        self._flush()
        parts = []
        for run in self._runs:
            lo, hi = np.searchsorted(run["ts"], (start, end), side="left")
            if hi > lo:
                parts.append({name: col[lo:hi] for name, col in run.items()})
        if not parts:
            return {name: _empty_like(name) for name in self._names}
        if len(parts) == 1:
            return parts[0]
        return _sort_by_ts(_concat(parts))

    def _flush(self) -> None:
        if not self._pending:
            return
        self._runs.append(_sort_by_ts(_concat(self._pending)))
        self._pending = []
        while len(self._runs) >= 2 and len(self._runs[-2]["ts"]) <= 2 * len(self._runs[-1]["ts"]):
            newer, older = self._runs.pop(), self._runs.pop()
            merged = _concat([older, newer])
            in_order = older["ts"][-1] <= newer["ts"][0]
            self._runs.append(merged if in_order else _sort_by_ts(merged))


def _empty_like(name: str) -> np.ndarray:
    empty: dict[str, np.ndarray] = {"ts": _EMPTY_TS, "unit": np.zeros(0, dtype=np.uint8)}
    return empty.get(name, _EMPTY_F)


def _concat(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _sort_by_ts(columns: Columns) -> Columns:
    ts = columns["ts"]
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return columns
    order = np.argsort(ts, kind="stable")  # timsort: linear on concatenated sorted runs
    return {name: col[order] for name, col in columns.items()}


class Series:
    """One metric's datapoints: raw values with weights (counts), statistic sets, and a unit per datapoint."""

    def __init__(self) -> None:
        self.values = _SortedRuns(_VALUE_COLUMNS)
        self.sets = _SortedRuns(_SET_COLUMNS)
        self.units: list[str] = []
        self.last_unit = NO_UNIT

    @property
    def last_ts(self) -> int | None:
        stamps = [t for t in (self.values.last_ts, self.sets.last_ts) if t is not None]
        return max(stamps) if stamps else None

    def unit_code(self, unit: str | None) -> int:
        unit = unit or NO_UNIT
        self.last_unit = unit
        if unit not in self.units:
            if len(self.units) == 255:
                raise ValueError("more than 255 distinct units in one series")
            self.units.append(unit)
        return self.units.index(unit)

    def window(self, start: int, end: int, unit: str | None = None) -> SeriesSlice:
        raw, sets = self.values.window(start, end), self.sets.window(start, end)
        if unit is not None:
            code = self.units.index(unit) if unit in self.units else 256  # no datapoint has a code of 256
            raw = {k: v[raw["unit"] == code] for k, v in raw.items()}
            sets = {k: v[sets["unit"] == code] for k, v in sets.items()}
        return SeriesSlice(
            raw["ts"], raw["value"], raw["count"], sets["ts"], {k: sets[k] for k in ("sum", "count", "min", "max")}
        )


def _as_epoch_seconds(timestamps: Any) -> np.ndarray:
    ts = np.asarray(timestamps)
    if ts.dtype.kind == "M":
        return ts.astype("datetime64[s]").astype(np.int64)
    return np.floor(ts.astype(np.float64)).astype(np.int64) if ts.dtype.kind == "f" else ts.astype(np.int64)


def _checked(values: Any, counts: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    c = np.ones(n, dtype=np.float64) if counts is None else np.asarray(counts, dtype=np.float64)
    if v.shape != (n,) or c.shape != (n,):
        raise ValueError(f"timestamps, values and counts must be 1-d and of one length ({n}), got {v.shape} and {c.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (CloudWatch rejects NaN and infinity)")
    if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
        raise ValueError("counts must be finite and >= 0")
    return v, c


class RegionMetrics:
    """Every series of one account and region, by namespace, metric name and sorted dimensions; thread-safe."""

    def __init__(self) -> None:
        self._series: dict[SeriesKey, Series] = {}
        self._lock = threading.Lock()
        self._sorted_keys: list[SeriesKey] | None = None
        # Cross-account observability: the source accounts this (monitoring) account sees in this region.
        self.linked_accounts: set[str] = set()

    def _get_or_create(self, key: SeriesKey) -> Series:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series()
            self._sorted_keys = None
        return series

    def put_values(self, key: SeriesKey, unit: str | None, timestamps: Any, values: Any, counts: Any = None) -> None:
        """Raw values, each standing for `counts` identical samples (PutMetricData Values/Counts); O(n)."""
        ts = _as_epoch_seconds(timestamps)
        v, c = _checked(values, counts, len(ts))
        keep = c > 0  # a value seen zero times is no sample at all
        if not np.all(keep):
            ts, v, c = ts[keep], v[keep], c[keep]
        with self._lock:
            series = self._get_or_create(key)
            code = np.full(len(ts), series.unit_code(unit), dtype=np.uint8)
            series.values.append({"ts": ts, "value": v, "count": c, "unit": code})

    def put_statistic_sets(self, key: SeriesKey, unit: str | None, timestamps: list[int], stats: list[tuple[float, ...]]) -> None:
        """StatisticValues datums as (Sum, SampleCount, Minimum, Maximum) tuples, already checked by `statistic_set`."""
        with self._lock:
            series = self._get_or_create(key)
            total, count, low, high = (np.array(column, dtype=np.float64) for column in zip(*stats, strict=True))
            code = np.full(len(timestamps), series.unit_code(unit), dtype=np.uint8)
            ts = np.array(timestamps, dtype=np.int64)
            series.sets.append({"ts": ts, "sum": total, "count": count, "min": low, "max": high, "unit": code})

    def put_rows(self, groups: list[tuple[SeriesKey, str | None]], group_of: np.ndarray, *columns: np.ndarray) -> None:
        """Checked (ts, value, count) rows of several series (`group_of` indexes `groups`): one sort, one append per group."""
        keep = columns[2] > 0
        order = np.argsort(group_of[keep], kind="stable")
        ts, v, c = (column[keep][order] for column in columns)
        bounds = np.searchsorted(group_of[keep][order], np.arange(len(groups) + 1))
        with self._lock:
            for g, (key, unit) in enumerate(groups):
                lo, hi = bounds[g], bounds[g + 1]
                if hi > lo:
                    series = self._get_or_create(key)
                    code = np.full(hi - lo, series.unit_code(unit), dtype=np.uint8)
                    series.values.append({"ts": ts[lo:hi], "value": v[lo:hi], "count": c[lo:hi], "unit": code})

    def window(self, key: SeriesKey, start: int, end: int, unit: str | None = None) -> SeriesSlice | None:
        with self._lock:
            series = self._series.get(key)
            return None if series is None else series.window(start, end, unit)

    def last_unit(self, key: SeriesKey) -> str:
        series = self._series.get(key)
        return NO_UNIT if series is None else series.last_unit

    def catalog(self) -> list[tuple[SeriesKey, int]]:
        """Every series with its newest datapoint (epoch seconds), sorted by key."""
        with self._lock:
            if self._sorted_keys is None:
                self._sorted_keys = sorted(self._series)
            return [(k, self._series[k].last_ts or 0) for k in self._sorted_keys]

    def __contains__(self, key: object) -> bool:
        return key in self._series

    def __len__(self) -> int:
        return len(self._series)


class MetricStore:
    """Metric data of every account and region; `resolve` says where a region's data lives (default: in here)."""

    def __init__(self, resolve: Callable[[str, str], RegionMetrics] | None = None) -> None:
        self._own: dict[tuple[str, str], RegionMetrics] = {}
        self._resolve = resolve or self._own_region

    def _own_region(self, account_id: str, region: str) -> RegionMetrics:
        return self._own.setdefault((account_id, region), RegionMetrics())

    def region(self, account_id: str, region: str) -> RegionMetrics:
        return self._resolve(account_id, region)

    def link_accounts(self, monitoring_account: str, source_accounts: Iterable[str], regions: Iterable[str]) -> None:
        """OAM links, as CreateSink in `monitoring_account` and CreateLink in each source account would make them
        (metrics only), in each of `regions`: the monitoring account then sees the sources' metrics there."""
        sources = {account for account in source_accounts if account != monitoring_account}
        for region in regions:
            self.region(monitoring_account, region).linked_accounts.update(sources)

    def put_series(
        self,
        account_id: str,
        region: str,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str],
        unit: str | None,
        timestamps: np.ndarray,
        values: np.ndarray,
        counts: np.ndarray | None = None,
    ) -> None:
        """Bulk load, equivalent to PutMetricData with Values/Counts: int64 epoch seconds (repeats allowed), float64 values."""
        key = series_key(namespace, metric_name, dimensions)
        self.region(account_id, region).put_values(key, unit, timestamps, values, counts)


# --- statistics: buckets of `period` seconds aligned at `start`; a bucket is reported at its start time ---

_REDUCERS = {"sum": np.add, "count": np.add, "min": np.minimum, "max": np.maximum}
_NEEDS = {"Sum": ("sum",), "SampleCount": ("count",), "Average": ("sum", "count"), "Minimum": ("min",), "Maximum": ("max",)}


def aggregate(window: SeriesSlice, start: int, period: int, statistic: Statistic) -> tuple[np.ndarray, np.ndarray]:
    """(bucket start times ascending, statistic values) for the non-empty buckets of the window."""
    if statistic.hundredths is not None:
        return _percentile(window, start, period, statistic.hundredths)
    needed = _NEEDS[statistic.name]
    ts, columns = window.ts, {name: _raw_column(window, name) for name in needed}
    if len(window.set_ts):  # statistic sets join the raw values' partial aggregates
        ts = np.concatenate([ts, window.set_ts])
        columns = {name: np.concatenate([col, window.sets[name]]) for name, col in columns.items()}
        order = np.argsort(ts, kind="stable")
        ts, columns = ts[order], {name: col[order] for name, col in columns.items()}
    ids, starts = _buckets((ts - start) // period)
    reduced = {name: _REDUCERS[name].reduceat(col, starts) for name, col in columns.items()} if len(ids) else columns
    values = reduced["sum"] / reduced["count"] if statistic.name == "Average" else reduced[needed[0]]
    return start + ids * period, values


def _raw_column(window: SeriesSlice, name: str) -> np.ndarray:
    if name == "sum":
        return window.value * window.count
    return window.count if name == "count" else window.value


def _buckets(bucket_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bucket ids, index of each bucket's first row) for rows already sorted by bucket."""
    if not len(bucket_of_row):
        return _EMPTY_TS, _EMPTY_TS
    first = np.flatnonzero(np.concatenate(([True], bucket_of_row[1:] != bucket_of_row[:-1])))
    return bucket_of_row[first], first


def _percentile(window: SeriesSlice, start: int, period: int, hundredths: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest rank on count-weighted values: the smallest value v of the bucket such that the weight of its values
    <= v is >= p/100 of the bucket's weight. Exact for integer counts (compared in units of 1/10000 of a weight).

    A bucket holding a statistic set has no percentile: the samples hidden in the set are unknown.
    """
    bucket = (window.ts - start) // period
    order = np.lexsort((window.value, bucket))
    bucket, values, weights = bucket[order], window.value[order], window.count[order]
    ids, first = _buckets(bucket)
    if not len(ids):
        return _EMPTY_TS, _EMPTY_F
    last = np.concatenate((first[1:], [len(bucket)])) - 1
    cumulative = np.cumsum(weights)
    before = cumulative[first] - weights[first]
    target = before * 10_000 + (cumulative[last] - before) * hundredths
    rank = np.clip(np.searchsorted(cumulative * 10_000, target, side="left"), first, last)
    result = values[rank]
    if len(window.set_ts):
        keep = ~np.isin(ids, (window.set_ts - start) // period)
        ids, result = ids[keep], result[keep]
    return start + ids * period, result
