"""A seeded synthetic SageMaker fleet whose CloudWatch metrics the demo seeds into the local stack."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from pipelines.demo.fleet_stories import (
    ERROR_BURST,
    LATENCY_INCIDENT,
    LAUNCH_RAMP,
    PROFILES,
    RAMP_DAYS,
    REGION_UTC_OFFSET_HOURS,
    DemoEndpoint,
    LeftOut,
    Profile,
    Story,
    cast,
    default_profile,
    place_stories,
)

__all__ = [
    "DemoEndpoint",
    "Fleet",
    "LeftOut",
    "SeriesData",
    "Story",
    "build_fleet",
    "endpoint_traffic",
    "fleet_for_nights",
    "iter_series",
]

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
DEFAULT_START = date(2025, 6, 2)  # a Monday; fixed so the default fleet is the same everywhere
MINUTES_PER_DAY = 1440

# Latency histograms: bucket edges in log space relative to the minute's median latency,
# so a handful of distinct values per minute carries the whole distribution's shape.
_LATENCY_BUCKETS = 40
_EDGES = np.linspace(math.log(0.1), math.log(200.0), _LATENCY_BUCKETS + 1)
# (median multiplier, body sigma = profile's, tail fraction, tail median multiplier, tail sigma)
_NORMAL_TAIL = (1.0, 0.015, 4.0, 0.5)
_INCIDENT_TAIL = (1.4, 0.10, 8.5, 0.5)  # slow dependency: a fat, far tail and a slower median
_OVERHEAD = (0.30, 0.01, 3.0, 0.4)  # sigma, tail fraction, tail multiplier, tail sigma

# Random streams per (endpoint, day): each metric family draws from its own.
_TRAFFIC, _ERRORS, _MODEL_LATENCY, _OVERHEAD_LATENCY, _INSTANCE = range(5)


@dataclass(frozen=True)
class Fleet:
    """The whole demo fleet: endpoints, the period (UTC days from `start`) and its stories."""

    seed: int
    start: datetime  # tz-aware UTC midnight of the first day
    days: int
    endpoints: tuple[DemoEndpoint, ...]
    stories: tuple[Story, ...]  # in order of their start
    left_out: tuple[LeftOut, ...] = ()  # promised stories the nights cannot hold, with the reason
    lookback_days: int = 0  # first days of the period: data the first night re-reads, no stories

    @property
    def nights(self) -> tuple[date, ...]:
        """The days the stories lie on: the period after its lookback days."""
        return self.dates[self.lookback_days :]

    def story(self, kind: str) -> Story | None:
        """The first story of `kind`, or None when the nights could not hold it."""
        return next((s for s in self.stories if s.kind == kind), None)

    @property
    def end(self) -> datetime:
        """Exclusive end of the period (UTC midnight after the last day)."""
        return self.start + timedelta(days=self.days)

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple((self.start + timedelta(days=i)).date() for i in range(self.days))


@dataclass(frozen=True, eq=False)
class SeriesData:
    """One metric series' datapoints for one day, shaped for PutMetricData Values/Counts."""

    account_id: str
    region: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    unit: str  # Count, Microseconds, Percent
    timestamps: np.ndarray  # int64 epoch seconds of minute starts; repeats for latency
    values: np.ndarray  # float64
    counts: np.ndarray | None  # float64 requests per value; None: each value counts once

    @property
    def points(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class _Day:
    """One endpoint's live minutes on one day and the traffic drawn for them."""

    ts: np.ndarray  # int64 minute starts (only minutes after launch)
    invocations: np.ndarray  # float64 requests per minute
    load: np.ndarray  # expected traffic relative to the endpoint's average weekday
    incident: np.ndarray  # bool: inside a latency incident
    burst: np.ndarray  # bool: inside a 5xx burst


def build_fleet(seed: int = 7, start: date | datetime = DEFAULT_START, days: int = 14, *, lookback_days: int = 0) -> Fleet:
    """The demo fleet: 8 endpoints over 2 accounts x 2 regions, stories placed on the days after `lookback_days`."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not 0 <= lookback_days < days:
        raise ValueError(f"lookback_days must be 0..{days - 1}, got {lookback_days}")
    start_dt = datetime.combine(_utc_date(start), datetime.min.time(), tzinfo=UTC)
    stories, left_out = place_stories(start_dt, days, lookback_days)
    launch = next(s.start for s in stories if s.kind == LAUNCH_RAMP)
    return Fleet(seed, start_dt, days, cast(launch), stories, left_out, lookback_days)


def fleet_for_nights(seed: int, end: date, nights: int, lookback_days: int = 1) -> Fleet:
    """The fleet of a demo running `nights` nights up to `end`: data from `lookback_days` earlier, stories on the nights."""
    if nights < 1:
        raise ValueError(f"nights must be >= 1, got {nights}")
    start = end - timedelta(days=nights - 1 + lookback_days)
    return build_fleet(seed, start, nights + lookback_days, lookback_days=lookback_days)


def iter_series(fleet: Fleet, day: date | None = None) -> Iterator[SeriesData]:
    """Every series of the fleet, day by day (or one UTC day), endpoint by endpoint."""
    days = fleet.dates if day is None else (_checked_day(fleet, day),)
    for d in days:
        for endpoint in fleet.endpoints:
            frame = _day_frame(fleet, endpoint, d)
            if frame is not None:
                yield from _endpoint_series(fleet, endpoint, d, frame)


def endpoint_traffic(fleet: Fleet, endpoint_name: str, day: date) -> np.ndarray:
    """Per-minute Invocations of one endpoint on one day (1440 values; NaN before launch)."""
    d = _checked_day(fleet, day)
    endpoint = next((e for e in fleet.endpoints if e.name == endpoint_name), None)
    if endpoint is None:
        raise KeyError(f"no endpoint {endpoint_name!r} in the fleet")
    out = np.full(MINUTES_PER_DAY, np.nan)
    frame = _day_frame(fleet, endpoint, d)
    if frame is not None:
        out[(frame.ts - _epoch(d)) // 60] = frame.invocations
    return out


def _endpoint_series(fleet: Fleet, ep: DemoEndpoint, d: date, f: _Day) -> Iterator[SeriesData]:
    dims = {"EndpointName": ep.name, "VariantName": ep.variant_name}

    def series(
        namespace: str, metric: str, unit: str, ts: np.ndarray, values: np.ndarray, counts: np.ndarray | None = None
    ) -> SeriesData:
        return SeriesData(ep.account_id, ep.region, namespace, metric, dict(dims), unit, ts, values, counts)

    profile = _profile(ep)
    errors_4xx, errors_5xx = _errors(f, _rng(fleet.seed, ep.name, d, _ERRORS))
    yield series(INVOCATION_NAMESPACE, "Invocations", "Count", f.ts, f.invocations)
    yield series(INVOCATION_NAMESPACE, "Invocation4XXErrors", "Count", f.ts, errors_4xx)
    yield series(INVOCATION_NAMESPACE, "Invocation5XXErrors", "Count", f.ts, errors_5xx)
    model = _model_latency(profile, f, _rng(fleet.seed, ep.name, d, _MODEL_LATENCY))
    yield series(INVOCATION_NAMESPACE, "ModelLatency", "Microseconds", *model)
    overhead = _overhead_latency(profile, f, _rng(fleet.seed, ep.name, d, _OVERHEAD_LATENCY))
    yield series(INVOCATION_NAMESPACE, "OverheadLatency", "Microseconds", *overhead)
    live_since = ep.launched_at or fleet.start
    instance = _instance(ep, profile, f, live_since, _rng(fleet.seed, ep.name, d, _INSTANCE))
    for metric, values in instance.items():
        yield series(INSTANCE_NAMESPACE, metric, "Percent", f.ts, values)


def _day_frame(fleet: Fleet, ep: DemoEndpoint, d: date) -> _Day | None:
    """Traffic of one endpoint on one day: cycle x weekend x launch ramp x growth x noise."""
    p = _profile(ep)
    ts = _epoch(d) + 60 * np.arange(MINUTES_PER_DAY, dtype=np.int64)
    if ep.launched_at is not None:
        ts = ts[ts >= _ceil_minute(ep.launched_at)]
        if ts.size == 0:
            return None
    local = ts + int(dict(REGION_UTC_OFFSET_HOURS).get(ep.region, 0.0) * 3600)
    hour = (local % 86400) / 3600.0
    # Weekends by UTC day, like the quiet_weekend stories and the lake's daily partitions.
    weekday = (ts // 86400 + 3) % 7  # 1970-01-01 was a Thursday (3)
    load = 1.0 + p.cycle_amplitude * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    load = load * np.where(weekday >= 5, p.weekend_factor, 1.0)
    if ep.launched_at is not None:
        age_days = (ts - ep.launched_at.timestamp()) / 86400.0
        load = load * (1.0 - 0.95 * np.exp(-age_days * 3.0 / RAMP_DAYS))
    growth = 1.0 + 0.01 * (d - fleet.start.date()).days  # a fleet in use grows slowly
    rng = _rng(fleet.seed, ep.name, d, _TRAFFIC)
    noise = np.exp(rng.normal(-(0.07**2) / 2, 0.07, ts.size))
    invocations = rng.poisson(p.base_rpm * growth * load * noise).astype(np.float64)
    return _Day(ts, invocations, load, _in_stories(fleet, ep, ts, LATENCY_INCIDENT), _in_stories(fleet, ep, ts, ERROR_BURST))


def _errors(f: _Day, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """4xx (~0.5%, client mistakes vary minute to minute) and 5xx (~0.05%, bursts, timeouts)."""
    n = f.invocations.astype(np.int64)
    p4 = np.clip(0.005 * np.exp(rng.normal(-0.03, 0.25, n.size)), 0.0, 1.0)
    p5 = np.where(f.burst, 0.12, np.where(f.incident, 0.003, 0.0005))
    e4 = rng.binomial(n, p4)
    e5 = np.minimum(rng.binomial(n, p5), n - e4)
    return e4.astype(np.float64), e5.astype(np.float64)


def _model_latency(p: Profile, f: _Day, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """ModelLatency: slightly slower under load; an incident slows the median and fattens the tail."""
    median = p.model_p50_us * (1.0 + 0.12 * (f.load - 1.0)) * np.exp(rng.normal(0, 0.04, f.ts.size))
    normal = _bucket_probabilities(p.model_sigma, *_NORMAL_TAIL[1:])
    incident = _bucket_probabilities(p.model_sigma, *_INCIDENT_TAIL[1:])
    pvals = np.where(f.incident[:, None], incident[None, :], normal[None, :])
    median = median * np.where(f.incident, _INCIDENT_TAIL[0], _NORMAL_TAIL[0])
    return _histogram(f, median, pvals, rng)


def _overhead_latency(p: Profile, f: _Day, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """OverheadLatency: a few ms of SageMaker's own work, narrow, barely load-dependent."""
    median = p.overhead_p50_us * (1.0 + 0.05 * (f.load - 1.0)) * np.exp(rng.normal(0, 0.03, f.ts.size))
    pvals = np.broadcast_to(_bucket_probabilities(*_OVERHEAD), (f.ts.size, _LATENCY_BUCKETS))
    return _histogram(f, median, pvals, rng)


def _histogram(
    f: _Day, median: np.ndarray, pvals: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each minute's requests as (timestamp, distinct value, count) rows; empty minutes vanish."""
    counts = rng.multinomial(f.invocations.astype(np.int64), pvals)
    jitter = rng.random(counts.shape)  # where in its bucket each value lies (log scale)
    minute, bucket = np.nonzero(counts)  # row-major: by minute, then ascending value
    lo, width = _EDGES[bucket], _EDGES[1] - _EDGES[0]
    values = median[minute] * np.exp(lo + jitter[minute, bucket] * width)
    return f.ts[minute], values, counts[minute, bucket].astype(np.float64)


def _bucket_probabilities(sigma: float, tail_fraction: float, tail_multiplier: float, tail_sigma: float) -> np.ndarray:
    """Mass of a lognormal body + slow-tail mixture (median 1) in each bucket; ends are open."""

    def cdf(x: float) -> float:
        body = 0.5 * (1 + math.erf(x / (sigma * math.sqrt(2))))
        tail = 0.5 * (1 + math.erf((x - math.log(tail_multiplier)) / (tail_sigma * math.sqrt(2))))
        return (1 - tail_fraction) * body + tail_fraction * tail

    inner = np.array([cdf(float(x)) for x in _EDGES[1:-1]])
    return np.diff(np.concatenate(([0.0], inner, [1.0])))


def _instance(ep: DemoEndpoint, p: Profile, f: _Day, live_since: datetime, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Instance metrics in percent; CPU and GPU summed over cores (up to 100 x cores)."""
    size = f.ts.size
    busy = f.invocations / (p.base_rpm * (1.0 + p.cycle_amplitude))  # ~1 at a weekday peak
    cpu_per_busy = 0.30 if ep.gpus else 0.55  # GPU endpoints do their heavy lifting on the GPU
    cpu = 0.05 + cpu_per_busy * p.cpu_load * busy + 0.18 * f.incident + rng.normal(0, 0.015, size)
    phase = (zlib.crc32(ep.name.encode()) % 360) * math.pi / 180
    drift = 3.0 * np.sin(2 * np.pi * f.ts / (2.7 * 86400) + phase)
    memory = p.memory_base + drift + 4.0 * busy + rng.normal(0, 0.25, size)
    age_days = (f.ts - live_since.timestamp()) / 86400.0
    disk = p.disk_base + 0.35 * age_days + rng.normal(0, 0.02, size)  # logs and caches pile up
    out = {
        "CPUUtilization": 100.0 * ep.vcpus * np.clip(cpu, 0.002, 1.0),
        "MemoryUtilization": np.clip(memory, 0.0, 100.0),
        "DiskUtilization": np.clip(disk, 0.0, 100.0),
    }
    if ep.gpus:
        gpu = 0.02 + 0.70 * busy + rng.normal(0, 0.02, size)
        gpu_memory = 0.58 + 0.06 * busy + rng.normal(0, 0.004, size)
        out["GPUUtilization"] = 100.0 * ep.gpus * np.clip(gpu, 0.0, 1.0)
        out["GPUMemoryUtilization"] = 100.0 * ep.gpus * np.clip(gpu_memory, 0.0, 1.0)
    return out


def _in_stories(fleet: Fleet, ep: DemoEndpoint, ts: np.ndarray, kind: str) -> np.ndarray:
    mask = np.zeros(ts.size, dtype=bool)
    for story in fleet.stories:
        if story.kind == kind and story.endpoint_name == ep.name:
            mask |= (ts >= story.start.timestamp()) & (ts < story.end.timestamp())
    return mask


def _profile(ep: DemoEndpoint) -> Profile:
    return PROFILES.get(ep.name) or default_profile(ep)


def _rng(seed: int, endpoint_name: str, d: date, stream: int) -> np.random.Generator:
    """An independent stream per (seed, endpoint, day, metric family): order never matters."""
    entropy = (seed, zlib.crc32(endpoint_name.encode()))
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(d.toordinal(), stream)))


def _utc_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def _checked_day(fleet: Fleet, day: date) -> date:
    d = _utc_date(day)
    if not fleet.start.date() <= d < fleet.end.date():
        raise ValueError(f"{d} is outside the fleet's period {fleet.start.date()}..{fleet.dates[-1]}")
    return d


def _epoch(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), tzinfo=UTC).timestamp())


def _ceil_minute(moment: datetime) -> int:
    return -(-int(math.ceil(moment.timestamp())) // 60) * 60
