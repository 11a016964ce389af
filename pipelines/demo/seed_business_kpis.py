"""Demo KPI drops: what the fleet's three business units send each morning, echoing the fleet's ML stories.

One CSV per day mixing the units (`<day>.csv`). Two extra files make the inbox's rules visible:
Payments restates its fraud losses for the latency-incident day on the kpi_restatement story's
day (chargebacks arrive late: the first drop carried an early estimate), and a hand-made Growth
sheet with a "TBD" value arrives on the 5xx-burst day and is rejected.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from pipelines.aws import Session
from pipelines.demo.buckets import create_bucket
from pipelines.demo.fleet import Fleet
from pipelines.demo.fleet_stories import (
    ERROR_BURST,
    KPI_RESTATEMENT,
    LATENCY_INCIDENT,
    LAUNCH_RAMP,
    PROFILES,
    QUIET_WEEKEND,
    RAMP_DAYS,
    Story,
)
from pipelines.sources.business_kpis.inbox import Inbox

HEADER = ("date", "business_unit", "kpi", "value", "unit")
KPIS = (("revenue", "USD"), ("conversion_rate", "ratio"), ("orders", "count"), ("fraud_losses", "USD"))
EARLY_FRAUD_ESTIMATE = 0.55  # share of the incident day's fraud losses known the morning after


@dataclass(frozen=True)
class UnitBaseline:
    """An average weekday of one business unit at the fleet's start."""

    revenue: float  # USD per day
    conversion_rate: float  # ratio
    orders: float  # per day
    fraud_rate: float  # fraud losses as a share of revenue


BASELINES = {
    "Payments": UnitBaseline(1_180_000.0, 0.915, 46_000.0, 0.0042),  # checkout success rate
    "Marketplace": UnitBaseline(2_450_000.0, 0.034, 39_500.0, 0.0011),  # visit -> order
    "Growth": UnitBaseline(352_000.0, 0.118, 2_950.0, 0.0009),  # qualified lead -> customer
}


def kpi_values(fleet: Fleet, unit: str, day: date) -> dict[str, float]:
    """One unit's KPIs for one day: baseline x growth x weekend x the day's stories x noise (deterministic).

    Revenue and orders follow demand (volume) times conversion; fraud losses follow volume.
    """
    base = BASELINES[unit]
    rng = np.random.default_rng(np.random.SeedSequence((fleet.seed, zlib.crc32(unit.encode())), spawn_key=(day.toordinal(),)))
    volume = (1.0 + 0.01 * (day - fleet.start.date()).days) * _weekend(fleet, unit, day)  # grows like the fleet's traffic
    conversion, fraud = _launch_lift(fleet, unit, day), 1.0
    for story, hours in _stories_of(fleet, unit, day):
        if story.kind == LATENCY_INCIDENT:  # fraud screening timed out and failed open; some checkouts were declined
            fraud *= 1.0 + 0.6 * hours
            conversion *= 1.0 - 0.004 * hours
        elif story.kind == ERROR_BURST:  # empty carousels, then weak recommendations until the rollback
            conversion *= 1.0 - 0.08 * min(hours, 1.0)
    noise = [float(n) for n in np.exp(rng.normal(0.0, [0.03, 0.012, 0.03, 0.12]))]
    return {
        "revenue": round(base.revenue * volume * conversion * noise[0], 2),
        "conversion_rate": round(min(base.conversion_rate * conversion * noise[1], 1.0), 4),
        "orders": float(round(base.orders * volume * conversion * noise[2])),
        "fraud_losses": round(base.revenue * volume * base.fraud_rate * fraud * noise[3], 2),
    }


def kpi_drops(fleet: Fleet, days: int | Iterable[date] | None = None) -> list[tuple[str, str]]:
    """(key under the inbox, CSV text) in upload order for `days` (None: all; N: the last N of the fleet)."""
    chosen = _days(fleet, days)
    incident, burst = _story_day(fleet, LATENCY_INCIDENT), _story_day(fleet, ERROR_BURST)
    correction_day = _story_day(fleet, KPI_RESTATEMENT)
    drops = []
    for day in chosen:
        rows = [(unit, kpi, value) for unit in BASELINES for kpi, value in kpi_values(fleet, unit, day).items()]
        if day == incident:
            rows = [
                (u, k, round(v * EARLY_FRAUD_ESTIMATE, 2) if (u, k) == ("Payments", "fraud_losses") else v) for u, k, v in rows
            ]
        drops.append((f"{day.isoformat()}.csv", _csv(day, rows)))
        if day == burst:
            drops.append((f"{day.isoformat()}.growth-manual.csv", _csv(day, [("Growth", "revenue", "TBD")])))
        if incident and correction_day and day == correction_day:
            restated = [("Payments", k, v) for k, v in kpi_values(fleet, "Payments", incident).items()]
            drops.append((f"{incident.isoformat()}.payments-restated.csv", _csv(incident, restated)))
    return drops


def seed_kpi_drops(session: Session, inbox_uri: str, fleet: Fleet, days: int | Iterable[date] | None = None) -> None:
    """Upload the drops of `days` into the inbox, in order (a restatement after the drop it restates).

    Call once per night with that night's day to watch drops arrive day by day (the restatement
    then replaces a published partition), or once with every day (it wins within the first night).
    """
    inbox = Inbox.from_uri(inbox_uri)
    create_bucket(session, inbox.bucket, session.region_name or "us-east-1")
    s3 = session.client("s3")
    for key, text in kpi_drops(fleet, days):
        s3.put_object(Bucket=inbox.bucket, Key=inbox.prefix + key, Body=text.encode("utf-8"), ContentType="text/csv")


def _csv(day: date, rows: Sequence[tuple[str, str, float | str]]) -> str:
    units = dict(KPIS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for unit, kpi, value in rows:
        digits = {"orders": 0, "conversion_rate": 4}.get(kpi, 2)
        text = value if isinstance(value, str) else f"{value:.{digits}f}"
        writer.writerow((day.isoformat(), unit, kpi, text, units[kpi]))
    return out.getvalue()


def _days(fleet: Fleet, days: int | Iterable[date] | None) -> list[date]:
    if days is None:
        return list(fleet.dates)
    if isinstance(days, int):
        if not 0 < days <= fleet.days:
            raise ValueError(f"days must be 1..{fleet.days}, got {days}")
        return list(fleet.dates[-days:])
    chosen = sorted(set(days))
    if outside := [d for d in chosen if d not in fleet.dates]:
        raise ValueError(f"{outside[0]} is outside the fleet's period {fleet.dates[0]}..{fleet.dates[-1]}")
    return chosen


def _stories_of(fleet: Fleet, unit: str, day: date) -> list[tuple[Story, float]]:
    """The stories of the unit's endpoints (or of all endpoints) that overlap `day`, with the hours they overlap."""
    units = {e.name: e.business_unit for e in fleet.endpoints}
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    found = []
    for story in fleet.stories:
        hours = (min(story.end, end) - max(story.start, start)).total_seconds() / 3600
        if hours > 0 and (story.endpoint_name is None or units.get(story.endpoint_name) == unit):
            found.append((story, hours))
    return found


def _weekend(fleet: Fleet, unit: str, day: date) -> float:
    """Weekend business follows the unit's endpoints' weekend traffic."""
    factors = [PROFILES[e.name].weekend_factor for e in fleet.endpoints if e.business_unit == unit and e.name in PROFILES]
    quiet = sum(hours for story, hours in _stories_of(fleet, unit, day) if story.kind == QUIET_WEEKEND) / 24
    return 1.0 - (1.0 - (sum(factors) / len(factors) if factors else 0.7)) * quiet


def _launch_lift(fleet: Fleet, unit: str, day: date) -> float:
    """The new lead scorer lifts Growth's conversion by ~12% as its traffic ramps up, and keeps it."""
    for story in fleet.stories:
        if story.kind == LAUNCH_RAMP and any(e.name == story.endpoint_name and e.business_unit == unit for e in fleet.endpoints):
            age = (datetime.combine(day, datetime.max.time(), tzinfo=UTC) - story.start).total_seconds() / 86400
            return 1.0 + 0.12 * min(max(age, 0.0) / RAMP_DAYS, 1.0)
    return 1.0


def _story_day(fleet: Fleet, kind: str) -> date | None:
    story = fleet.story(kind)
    return story.start.date() if story else None
