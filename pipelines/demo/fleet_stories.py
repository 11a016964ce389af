"""The demo fleet's cast (endpoints and how they behave) and the stories placed in its data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

LATENCY_INCIDENT = "latency_incident"
ERROR_BURST = "error_burst"  # with the hand-made KPI sheet that the inbox rejects
KPI_RESTATEMENT = "kpi_restatement"
LAUNCH_RAMP = "launch_ramp"
MODEL_CHANGE = "model_change"
DUPLICATED_EXPORT = "duplicated_export"  # the night the audit quarantines
TRUNCATED_REPORT = "truncated_report"
QUIET_WEEKEND = "quiet_weekend"
WEEKLY_504_STORM = "weekly_504_storm"
# Every story the demo promises (README), in the order the summary explains what was left out.
PROMISED = (
    LATENCY_INCIDENT,
    ERROR_BURST,
    KPI_RESTATEMENT,
    LAUNCH_RAMP,
    MODEL_CHANGE,
    DUPLICATED_EXPORT,
    TRUNCATED_REPORT,
    QUIET_WEEKEND,
    WEEKLY_504_STORM,
)
FULL_STORY_NIGHTS = 7  # from this many nights on, every story fits whatever the last night's weekday

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

    kind: str  # one of PROMISED
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
    cpu_load: float = 1.0  # how hard the traffic works the instance's cores: < 1 over-provisioned, > 1 under


# name, account, region, variant, business unit, product, owner, instance type, vCPUs, GPUs, profile
_CAST: tuple[tuple[str, str, str, str, str, str, str, str, int, int, Profile], ...] = (
    (
        "fraud-detector-prod",
        "111111111111",
        "us-east-1",
        "AllTraffic",
        "Payments",
        "Fraud screening",
        "risk-ml",
        "ml.c5.2xlarge",
        8,
        0,
        Profile(1000, 0.55, 0.70, 38_000, 0.42, 2_600, 42, 23),
    ),
    (
        "payments-router-eu",
        "111111111111",
        "eu-west-1",
        "AllTraffic",
        "Payments",
        "Payment routing",
        "payments-ml",
        "ml.c5.xlarge",
        4,
        0,
        Profile(420, 0.60, 0.65, 22_000, 0.38, 1_900, 36, 19),
    ),
    (
        "kyc-document-ocr-eu",
        "111111111111",
        "eu-west-1",
        "AllTraffic",
        "Payments",
        "KYC document checks",
        "risk-ml",
        "ml.g4dn.2xlarge",
        8,
        1,
        Profile(90, 0.70, 0.45, 72_000, 0.50, 4_800, 58, 31),
    ),
    (
        "search-ranker-prod",
        "111111111111",
        "us-east-1",
        "primary",
        "Marketplace",
        "Search ranking",
        "search-relevance",
        "ml.g4dn.xlarge",
        4,
        1,
        Profile(1250, 0.50, 0.75, 27_000, 0.40, 2_200, 49, 27),
    ),
    (
        "recommender-prod",
        "222222222222",
        "us-east-1",
        "AllTraffic",
        "Marketplace",
        "Recommendations",
        "recsys",
        "ml.g5.2xlarge",
        8,
        1,
        Profile(1300, 0.45, 0.75, 52_000, 0.45, 3_100, 61, 35),
    ),
    (
        "price-optimizer-eu",
        "222222222222",
        "eu-west-1",
        "AllTraffic",
        "Marketplace",
        "Dynamic pricing",
        "pricing-ml",
        "ml.m5.4xlarge",  # sized for a launch that never came: the rightsizing sheet says downsize
        16,
        0,
        Profile(300, 0.50, 0.75, 45_000, 0.44, 2_900, 11, 21, cpu_load=0.2),
    ),
    (
        "churn-predictor-prod",
        "222222222222",
        "us-east-1",
        "AllTraffic",
        "Growth",
        "Retention",
        "growth-ds",
        "ml.m5.large",  # outgrown: its cores run hot at the daily peak, the rightsizing sheet says upsize
        2,
        0,
        Profile(90, 0.65, 0.50, 31_000, 0.48, 2_400, 33, 17, cpu_load=1.6),
    ),
    (
        "lead-scorer-eu",
        "222222222222",
        "eu-west-1",
        "AllTraffic",
        "Growth",
        "Lead scoring",
        "growth-ds",
        "ml.c5.large",
        2,
        0,
        Profile(520, 0.60, 0.55, 24_000, 0.40, 2_000, 38, 14),
    ),
)

INCIDENT_ENDPOINT = "fraud-detector-prod"
BURST_ENDPOINT = "recommender-prod"
LAUNCH_ENDPOINT = "lead-scorer-eu"
RAMP_DAYS = 3  # the launched endpoint reaches ~full traffic after this long
RESTATEMENT_DELAY_DAYS = 2  # chargebacks arrive late: Payments restates the incident day's fraud losses
CHANGE_ENDPOINT = "fraud-detector-prod"  # goes from model package version 7 to 8 on the model_change night
CHANGE_FROM_VERSION = 7
TRUNCATED_ENDPOINT, TRUNCATED_HOUR = "search-ranker-prod", 12  # its data-quality report of 12:00 is cut short
# A weekly reconciliation job saturates this endpoint's downstream: 504s and timeouts, Tuesdays 02:00-02:25 UTC.
STORM_ENDPOINT = "payments-router-eu"
STORM_WEEKDAY, STORM_HOUR, STORM_MINUTES = 1, 2, 25


PROFILES = MappingProxyType({row[0]: row[-1] for row in _CAST})  # read-only: name -> Profile


@dataclass(frozen=True)
class LeftOut:
    """A promised story that the nights cannot hold, and why (the demo's summary says so)."""

    kind: str
    reason: str


def cast(launched_at: datetime | None) -> tuple[DemoEndpoint, ...]:
    """The endpoints; the launched one goes live at `launched_at` (None: it serves from the start too)."""
    return tuple(
        DemoEndpoint(
            name, acct, region, variant, bu, product, owner, itype, vcpus, gpus, launched_at if name == LAUNCH_ENDPOINT else None
        )
        for name, acct, region, variant, bu, product, owner, itype, vcpus, gpus, _ in _CAST
    )


def default_profile(endpoint: DemoEndpoint) -> Profile:
    """A plausible profile for an endpoint outside the cast (a hand-built fleet)."""
    return Profile(400, 0.55, 0.65, 35_000, 0.42, 2_500, 45 if endpoint.gpus else 38, 22)


def place_stories(start: datetime, days: int, lookback_days: int = 0) -> tuple[tuple[Story, ...], tuple[LeftOut, ...]]:
    """Where each promised story happens, or why it cannot: a function of the period alone.

    Stories lie on the nights, the days after the first `lookback_days` (which the first night's
    lookback only re-reads): a story there would reach the lake only in part. Incidents prefer
    weekdays; weekends and the Tuesday storm happen when the calendar says so.
    """
    nights = [start + timedelta(days=lookback_days + i) for i in range(days - lookback_days)]
    if not nights:
        raise ValueError(f"a period of {days} days with {lookback_days} lookback days has no night")
    stories: list[Story] = []
    left_out: list[LeftOut] = []
    for place in (_incidents, _middle_night, _calendar):
        placed, missing = place(nights)
        stories += placed
        left_out += missing
    return tuple(sorted(stories, key=lambda s: (s.start, s.kind))), tuple(sorted(left_out, key=lambda o: PROMISED.index(o.kind)))


Placed = tuple[list[Story], list[LeftOut]]


def _incidents(nights: list[datetime]) -> Placed:
    """The latency incident (with its later KPI restatement), the 5xx burst and the model change."""
    incident = _nearest(nights, 0.6, range(max(len(nights) - 1, 1)))  # never the last night: the restatement comes later
    burst = _nearest(nights, 0.35, range(len(nights)), avoid=incident)
    stories = [
        Story(
            LATENCY_INCIDENT,
            INCIDENT_ENDPOINT,
            incident + timedelta(hours=14),
            incident + timedelta(hours=18),
            "Downstream feature store degraded: ModelLatency p99 up ~6x, p50 up ~1.5x for 4 hours; data drift, fraud losses up",
        ),
        Story(
            ERROR_BURST,
            BURST_ENDPOINT,
            burst + timedelta(hours=16),
            burst + timedelta(hours=17),
            "Bad model config pushed and rolled back: ~12% of requests failed with 5xx for an hour; "
            "Marketplace conversion dips, and Growth's hand-made KPI sheet ('TBD') is rejected",
        ),
    ]
    if len(nights) < 2:
        return stories, [
            LeftOut(KPI_RESTATEMENT, "needs 2 nights: the restated figures arrive on a night after the incident's"),
            LeftOut(MODEL_CHANGE, "needs 2 nights: one served by the old model version, one by the new"),
        ]
    restated = min(incident + timedelta(days=RESTATEMENT_DELAY_DAYS), nights[-1])
    stories.append(
        _day_story(
            KPI_RESTATEMENT,
            None,
            restated,
            timedelta(days=1),
            f"Payments restates the fraud losses of {incident:%Y-%m-%d} (the first drop was an early estimate)",
        )
    )
    change = _nearest(nights, 2 / 3, range(1, len(nights)))
    stories.append(
        _day_story(
            MODEL_CHANGE,
            CHANGE_ENDPOINT,
            change,
            timedelta(days=1),
            f"Model package version {CHANGE_FROM_VERSION + 1} goes live (was {CHANGE_FROM_VERSION}); "
            "endpoint_models shows it from this night's partition",
        )
    )
    return stories, []


def _middle_night(nights: list[datetime]) -> Placed:
    """The launch, the truncated report and the duplicated export, on the middle night."""
    middle = nights[len(nights) // 2]
    launch = middle + timedelta(hours=10)
    stories = [
        Story(
            LAUNCH_RAMP,
            LAUNCH_ENDPOINT,
            launch,
            min(nights[-1] + timedelta(days=1), launch + timedelta(days=RAMP_DAYS)),
            "New endpoint launched: no data before, traffic ramps from ~5% to full over 3 days",
        ),
        _day_story(
            TRUNCATED_REPORT,
            TRUNCATED_ENDPOINT,
            middle + timedelta(hours=TRUNCATED_HOUR),
            timedelta(hours=1),
            "An interrupted upload: one data-quality statistics.json is cut short; source_rejections names it, the rest lands",
        ),
    ]
    if len(nights) < 3:  # the middle night must have a published night before it and a repairing one after
        reason = "needs 3 nights: a published night before the bad export and one after it whose lookback repairs the day"
        return stories, [LeftOut(DUPLICATED_EXPORT, reason)]
    stories.append(
        _day_story(
            DUPLICATED_EXPORT,
            None,
            middle,
            timedelta(days=1),
            "Every GetMetricData point of this night's export arrives twice: the audit quarantines its "
            "cloudwatch_metrics partitions, readers keep the previous data, the next night's lookback "
            "republishes the day",
        )
    )
    return stories, []


def _calendar(nights: list[datetime]) -> Placed:
    """What the weekday decides: the quiet weekends and the Tuesday 504 storms."""
    span = f"the {len(nights)} night{'s' * (len(nights) > 1)} {nights[0]:%Y-%m-%d} (a {nights[0]:%A})..{nights[-1]:%Y-%m-%d}"
    weekends = _weekends(nights[0], nights[-1] + timedelta(days=1))
    storms = [
        _day_story(
            WEEKLY_504_STORM,
            STORM_ENDPOINT,
            night + timedelta(hours=STORM_HOUR),
            timedelta(minutes=STORM_MINUTES),
            "Weekly reconciliation job: 504s and upstream timeouts at 02:00 UTC every Tuesday",
        )
        for night in nights
        if night.weekday() == STORM_WEEKDAY
    ]
    left_out = [LeftOut(QUIET_WEEKEND, f"no Saturday or Sunday among {span}")] if not weekends else []
    left_out += [LeftOut(WEEKLY_504_STORM, f"no Tuesday among {span}")] if not storms else []
    return weekends + storms, left_out


def _day_story(kind: str, endpoint_name: str | None, start: datetime, length: timedelta, description: str) -> Story:
    return Story(kind, endpoint_name, start, start + length, description)


def _nearest(nights: list[datetime], fraction: float, usable: range, avoid: datetime | None = None) -> datetime:
    """The usable night nearest `fraction` of the way through: a weekday if there is one, else any; `avoid` last."""
    target = round((len(nights) - 1) * fraction)
    return nights[min(usable, key=lambda i: (nights[i].weekday() >= 5, nights[i] == avoid, abs(i - target), i))]


def _weekends(start: datetime, end: datetime) -> list[Story]:
    """One quiet_weekend story per Saturday/Sunday pair overlapping the period, clipped to it."""
    stories = []
    day = start - timedelta(days=1)  # a period starting on Sunday still gets its weekend
    while day < end:
        if day.weekday() == 5:
            lo, hi = max(day, start), min(day + timedelta(days=2), end)
            if lo < hi:
                stories.append(
                    Story(QUIET_WEEKEND, None, lo, hi, "Weekend: every endpoint's traffic is 25-55% lower on Sat/Sun (UTC)")
                )
        day += timedelta(days=1)
    return stories
