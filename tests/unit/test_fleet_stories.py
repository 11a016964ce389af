"""Where the demo's stories go: on the nights whatever the date, or left out with a reason; and the seeded data follows them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.demo.fleet import Fleet, fleet_for_nights
from pipelines.demo.fleet_stories import (
    CHANGE_ENDPOINT,
    DUPLICATED_EXPORT,
    ERROR_BURST,
    FULL_STORY_NIGHTS,
    KPI_RESTATEMENT,
    LATENCY_INCIDENT,
    LAUNCH_RAMP,
    MODEL_CHANGE,
    PROMISED,
    QUIET_WEEKEND,
    STORM_ENDPOINT,
    TRUNCATED_REPORT,
    WEEKLY_504_STORM,
)
from pipelines.demo.seed_business_kpis import kpi_drops
from pipelines.demo.seed_endpoint_logs import endpoint_log_lines
from pipelines.demo.seed_endpoint_models import planned_model_change
from pipelines.demo.seed_model_monitor import monitor_objects, monitored_endpoints

SMALLEST, E2E, DEFAULT, LARGEST = 1, 3, 14, 30  # `mlmon demo --days` (the e2e suite runs 3)
A_WEEK_OF_ENDS = [date(2026, 11, 23) + timedelta(days=i) for i in range(7)]  # Monday .. Sunday


def check_placement(fleet: Fleet) -> None:
    """Every promised story is on the nights or left out with a reason, and keeps the rules the seeding relies on."""
    nights = fleet.nights
    first, after = _midnight(nights[0]), _midnight(nights[-1]) + timedelta(days=1)
    placed = {s.kind for s in fleet.stories}
    left = {o.kind: o.reason for o in fleet.left_out}
    assert placed | set(left) == set(PROMISED) and not placed & set(left), (placed, left)
    assert all(reason for reason in left.values())
    assert [s.start for s in fleet.stories] == sorted(s.start for s in fleet.stories)
    for story in fleet.stories:
        assert first <= story.start < story.end <= after, story  # never on the lookback day, never past the last night
    weekdays = [n for n in nights if n.weekday() < 5]
    n = len(nights)

    incident, burst = _day(fleet, LATENCY_INCIDENT), _day(fleet, ERROR_BURST)
    if any(d.weekday() < 5 for d in nights[:-1]):
        assert incident.weekday() < 5
    if weekdays:
        assert burst.weekday() < 5
    if len(weekdays) >= 2 and any(d.weekday() < 5 for d in nights[:-1]):
        assert incident != burst
    assert (KPI_RESTATEMENT in placed) == (MODEL_CHANGE in placed) == (n >= 2)
    if n >= 2:
        assert incident < _day(fleet, KPI_RESTATEMENT) <= nights[-1]
        assert _day(fleet, MODEL_CHANGE) > nights[0]  # a night served by the old version comes first
    assert (DUPLICATED_EXPORT in placed) == (n >= 3)
    if n >= 3:
        assert nights[0] < _day(fleet, DUPLICATED_EXPORT) < nights[-1]  # published before, repaired after
    assert _day(fleet, LAUNCH_RAMP) in nights and _day(fleet, TRUNCATED_REPORT) in nights

    weekend_days = {n for s in fleet.stories if s.kind == QUIET_WEEKEND for n in nights if s.start <= _midnight(n) < s.end}
    assert weekend_days == {d for d in nights if d.weekday() >= 5}
    storms = [s for s in fleet.stories if s.kind == WEEKLY_504_STORM]
    assert [s.start for s in storms] == [_midnight(d) + timedelta(hours=2) for d in nights if d.weekday() == 1]
    assert all(s.endpoint_name == STORM_ENDPOINT for s in storms)
    assert (QUIET_WEEKEND in left) == (not weekend_days) and (WEEKLY_504_STORM in left) == (not storms)
    if n >= FULL_STORY_NIGHTS:
        assert not left


@pytest.mark.parametrize("nights", [SMALLEST, 2, E2E, FULL_STORY_NIGHTS, DEFAULT, LARGEST])
@pytest.mark.parametrize("end", A_WEEK_OF_ENDS, ids=lambda d: d.strftime("%a"))
def test_every_story_fits_or_is_left_out_whatever_the_weekday_of_the_last_night(end: date, nights: int) -> None:
    check_placement(fleet_for_nights(7, end, nights))


@settings(max_examples=200, deadline=None)
@given(end=st.dates(date(2000, 1, 1), date(2100, 12, 31)), nights=st.integers(SMALLEST, LARGEST))
def test_placement_depends_on_the_calendar_alone(end: date, nights: int) -> None:
    fleet = fleet_for_nights(7, end, nights)
    check_placement(fleet)
    assert fleet.stories == fleet_for_nights(8, end, nights).stories  # the seed shapes numbers, not the calendar


def test_what_is_left_out_says_why() -> None:
    one = fleet_for_nights(7, date(2026, 12, 2), 1)  # a Wednesday
    reasons = {o.kind: o.reason for o in one.left_out}
    assert list(reasons) == [KPI_RESTATEMENT, MODEL_CHANGE, DUPLICATED_EXPORT, QUIET_WEEKEND, WEEKLY_504_STORM]
    assert "needs 2 nights" in reasons[MODEL_CHANGE] and "needs 3 nights" in reasons[DUPLICATED_EXPORT]
    assert reasons[WEEKLY_504_STORM] == "no Tuesday among the 1 night 2026-12-02 (a Wednesday)..2026-12-02"


# --- the seeding follows the stories ---------------------------------------------------------


@pytest.mark.parametrize("end", A_WEEK_OF_ENDS, ids=lambda d: d.strftime("%a"))
def test_the_seeded_sources_tell_the_placed_stories(end: date) -> None:
    fleet = fleet_for_nights(7, end, E2E)
    drops = dict(kpi_drops(fleet, fleet.nights))
    burst, incident, restated = _day(fleet, ERROR_BURST), _day(fleet, LATENCY_INCIDENT), _day(fleet, KPI_RESTATEMENT)
    extra = [key for key in drops if key.count(".") > 1]
    assert sorted(extra) == sorted([f"{burst}.growth-manual.csv", f"{incident}.payments-restated.csv"])
    assert list(drops).index(f"{incident}.payments-restated.csv") > list(drops).index(f"{restated}.csv")  # sent that night

    truncated = fleet.story(TRUNCATED_REPORT)
    assert truncated is not None
    endpoints = monitored_endpoints(fleet, "any-bucket")
    objects = monitor_objects(fleet, endpoints, fleet.nights)
    key = f"monitoring/{truncated.endpoint_name}/data-quality-hourly/{truncated.start:%Y/%m/%d/%H}/statistics.json"
    broken = [k for k, body in objects.items() if k.endswith("statistics.json") and not body.rstrip().endswith(b"}")]
    assert broken == [key]

    change = planned_model_change(fleet)
    assert change is not None and (change.endpoint_name, change.day) == (CHANGE_ENDPOINT, _day(fleet, MODEL_CHANGE))

    router = next(e for e in fleet.endpoints if e.name == STORM_ENDPOINT)
    for night in fleet.nights:
        lines = [m for stream in endpoint_log_lines(fleet, router, night).values() for _, m in stream]
        assert (sum(" 504 " in m for m in lines) >= 18) == (night.weekday() == 1), night


def test_a_single_night_stages_no_model_change() -> None:
    assert planned_model_change(fleet_for_nights(7, date(2026, 11, 24), 1)) is None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _day(fleet: Fleet, kind: str) -> date:
    story = fleet.story(kind)
    assert story is not None, kind
    return story.start.date()
