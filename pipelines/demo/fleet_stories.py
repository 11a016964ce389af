"""The demo fleet's cast (endpoints and how they behave) and the stories placed in its data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

LATENCY_INCIDENT = "latency_incident"
ERROR_BURST = "error_burst"
LAUNCH_RAMP = "launch_ramp"
QUIET_WEEKEND = "quiet_weekend"

# Standard-time offsets of the regions' main user bases: the daily cycle peaks in their afternoon.
REGION_UTC_OFFSET_HOURS = (("us-east-1", -5.0), ("eu-west-1", 1.0))


@dataclass(frozen=True)
class DemoEndpoint:
    """One SageMaker endpoint (single production variant) with its business mapping."""

    name: str
    account_id: str
    region: str
    variant_name: str
    business_unit: str
    product: str
    owner: str
    instance_type: str
    vcpus: int
    gpus: int
    launched_at: datetime | None  # tz-aware UTC; None: serving since before the fleet's start


@dataclass(frozen=True)
class Story:
    """Something a dashboard should show: what happened, to which endpoint (None: all), when."""

    kind: str  # latency_incident | error_burst | launch_ramp | quiet_weekend
    endpoint_name: str | None
    start: datetime
    end: datetime
    description: str


@dataclass(frozen=True)
class Profile:
    """How an endpoint behaves: traffic level and shape, latency and resource footprint."""

    base_rpm: float  # mean requests per minute on a weekday, before the daily cycle
    cycle_amplitude: float  # daily cycle: rate x (1 + a cos(...)), peak mid-afternoon local time
    weekend_factor: float  # Sat/Sun traffic relative to a weekday
    model_p50_us: float  # ModelLatency median at average load
    model_sigma: float  # lognormal shape of the body of the latency distribution
    overhead_p50_us: float  # OverheadLatency median
    memory_base: float  # MemoryUtilization level, percent of the instance
    disk_base: float  # DiskUtilization level, percent


# name, account, region, variant, business unit, product, owner, instance type, vCPUs, GPUs, profile
_CAST: tuple[tuple[str, str, str, str, str, str, str, str, int, int, Profile], ...] = (
    ("fraud-detector-prod", "111111111111", "us-east-1", "AllTraffic", "Payments",
     "Fraud screening", "risk-ml", "ml.c5.2xlarge", 8, 0,
     Profile(1000, 0.55, 0.70, 38_000, 0.42, 2_600, 42, 23)),
    ("payments-router-eu", "111111111111", "eu-west-1", "AllTraffic", "Payments",
     "Payment routing", "payments-ml", "ml.c5.xlarge", 4, 0,
     Profile(420, 0.60, 0.65, 22_000, 0.38, 1_900, 36, 19)),
    ("kyc-document-ocr-eu", "111111111111", "eu-west-1", "AllTraffic", "Payments",
     "KYC document checks", "risk-ml", "ml.g4dn.2xlarge", 8, 1,
     Profile(90, 0.70, 0.45, 72_000, 0.50, 4_800, 58, 31)),
    ("search-ranker-prod", "111111111111", "us-east-1", "primary", "Marketplace",
     "Search ranking", "search-relevance", "ml.g4dn.xlarge", 4, 1,
     Profile(1250, 0.50, 0.75, 27_000, 0.40, 2_200, 49, 27)),
    ("recommender-prod", "222222222222", "us-east-1", "AllTraffic", "Marketplace",
     "Recommendations", "recsys", "ml.g5.2xlarge", 8, 1,
     Profile(1300, 0.45, 0.75, 52_000, 0.45, 3_100, 61, 35)),
    ("price-optimizer-eu", "222222222222", "eu-west-1", "AllTraffic", "Marketplace",
     "Dynamic pricing", "pricing-ml", "ml.m5.xlarge", 4, 0,
     Profile(300, 0.50, 0.75, 45_000, 0.44, 2_900, 44, 21)),
    ("churn-predictor-prod", "222222222222", "us-east-1", "AllTraffic", "Growth",
     "Retention", "growth-ds", "ml.m5.large", 2, 0,
     Profile(90, 0.65, 0.50, 31_000, 0.48, 2_400, 33, 17)),
    ("lead-scorer-eu", "222222222222", "eu-west-1", "AllTraffic", "Growth",
     "Lead scoring", "growth-ds", "ml.c5.large", 2, 0,
     Profile(520, 0.60, 0.55, 24_000, 0.40, 2_000, 38, 14)),
)

INCIDENT_ENDPOINT = "fraud-detector-prod"
BURST_ENDPOINT = "recommender-prod"
LAUNCH_ENDPOINT = "lead-scorer-eu"
RAMP_DAYS = 3  # the launched endpoint reaches ~full traffic after this long


PROFILES = MappingProxyType({row[0]: row[-1] for row in _CAST})  # read-only: name -> Profile


def cast(start: datetime, days: int) -> tuple[DemoEndpoint, ...]:
    """The endpoints of a fleet starting at `start` (UTC midnight) for `days` days."""
    launch = launch_time(start, days)
    return tuple(
        DemoEndpoint(name, acct, region, variant, bu, product, owner, itype, vcpus, gpus,
                     launch if name == LAUNCH_ENDPOINT else None)
        for name, acct, region, variant, bu, product, owner, itype, vcpus, gpus, _ in _CAST
    )


def default_profile(endpoint: DemoEndpoint) -> Profile:
    """A plausible profile for an endpoint outside the cast (a hand-built fleet)."""
    return Profile(400, 0.55, 0.65, 35_000, 0.42, 2_500, 45 if endpoint.gpus else 38, 22)


def launch_time(start: datetime, days: int) -> datetime:
    """The launched endpoint goes live at 10:00 UTC on the middle day of the period."""
    return start + timedelta(days=days // 2, hours=10)


def place_stories(start: datetime, days: int) -> tuple[Story, ...]:
    """Where the stories happen in a period: incidents on weekdays, every weekend recorded."""
    end = start + timedelta(days=days)
    incident_day = _weekday_near(start, days, round(days * 0.6))
    burst_day = _weekday_near(start, days, round(days * 0.35))
    launch = launch_time(start, days)
    stories = [
        Story(LATENCY_INCIDENT, INCIDENT_ENDPOINT, incident_day + timedelta(hours=14),
              incident_day + timedelta(hours=18),
              "Downstream feature store degraded: ModelLatency p99 up ~6x, p50 up ~1.5x for 4 hours"),
        Story(ERROR_BURST, BURST_ENDPOINT, burst_day + timedelta(hours=16),
              burst_day + timedelta(hours=17),
              "Bad model config pushed and rolled back: ~12% of requests failed with 5xx for an hour"),
        Story(LAUNCH_RAMP, LAUNCH_ENDPOINT, launch, min(end, launch + timedelta(days=RAMP_DAYS)),
              "New endpoint launched: no data before, traffic ramps from ~5% to full over 3 days"),
    ]
    stories.extend(_weekends(start, end))
    return tuple(stories)


def _weekday_near(start: datetime, days: int, index: int) -> datetime:
    """Midnight of the weekday closest to day `index` that lies inside the period (else that day)."""
    index = min(max(index, 0), days - 1)
    for step in (0, 1, -1, 2, -2, 3, -3):
        candidate = index + step
        if 0 <= candidate < days and (start + timedelta(days=candidate)).weekday() < 5:
            return start + timedelta(days=candidate)
    return start + timedelta(days=index)


def _weekends(start: datetime, end: datetime) -> list[Story]:
    """One quiet_weekend story per Saturday/Sunday pair overlapping the period, clipped to it."""
    stories = []
    day = start - timedelta(days=1)  # a period starting on Sunday still gets its weekend
    while day < end:
        if day.weekday() == 5:
            lo, hi = max(day, start), min(day + timedelta(days=2), end)
            if lo < hi:
                stories.append(Story(QUIET_WEEKEND, None, lo, hi,
                                     "Weekend: every endpoint's traffic is 25-55% lower on Sat/Sun (UTC)"))
        day += timedelta(days=1)
    return stories
