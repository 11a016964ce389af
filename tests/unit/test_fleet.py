"""The demo fleet: deterministic, realistic, and every story visible in the numbers it emits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.demo.fleet import (
    Fleet,
    SeriesData,
    build_fleet,
    endpoint_traffic,
    iter_series,
)
from pipelines.demo.fleet_stories import PROMISED

UNITS = {
    "Invocations": "Count",
    "Invocation4XXErrors": "Count",
    "Invocation5XXErrors": "Count",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
    "CPUUtilization": "Percent",
    "MemoryUtilization": "Percent",
    "DiskUtilization": "Percent",
    "GPUUtilization": "Percent",
    "GPUMemoryUtilization": "Percent",
}
NAMESPACES = {
    "AWS/SageMaker": {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency"},
    "/aws/sagemaker/Endpoints": {
        "CPUUtilization",
        "MemoryUtilization",
        "DiskUtilization",
        "GPUUtilization",
        "GPUMemoryUtilization",
    },
}

Day = dict[tuple[str, str], SeriesData]  # (endpoint, metric) -> that day's series


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return build_fleet(seed=7, start=date(2025, 6, 2), days=14)


@pytest.fixture(scope="module")
def days(fleet: Fleet) -> dict[date, Day]:
    """All 14 days, generated once (about a second)."""
    return {d: _index(iter_series(fleet, d)) for d in fleet.dates}


def _index(series: object) -> Day:
    out: Day = {}
    for s in series:  # type: ignore[attr-defined]
        key = (s.dimensions["EndpointName"], s.metric_name)
        assert key not in out, f"duplicate series {key}"
        out[key] = s
    return out


def _story(fleet: Fleet, kind: str):  # noqa: ANN202 - a Story
    return next(s for s in fleet.stories if s.kind == kind)


def _quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Weighted percentile, the way CloudWatch sees one value per request."""
    order = np.argsort(values)
    cum = np.cumsum(counts[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


def _window(s: SeriesData, start: datetime, end: datetime) -> np.ndarray:
    return (s.timestamps >= start.timestamp()) & (s.timestamps < end.timestamp())


# --- shape of the fleet ---------------------------------------------------------------


def test_fleet_spans_two_accounts_two_regions_and_three_business_units(fleet: Fleet) -> None:
    assert len(fleet.endpoints) >= 6
    assert len({e.name for e in fleet.endpoints}) == len(fleet.endpoints)
    combos = {(e.account_id, e.region) for e in fleet.endpoints}
    assert combos == {(a, r) for a in ("111111111111", "222222222222") for r in ("us-east-1", "eu-west-1")}
    assert {e.business_unit for e in fleet.endpoints} == {"Payments", "Marketplace", "Growth"}
    for e in fleet.endpoints:
        assert e.product and e.owner and e.variant_name
        assert e.instance_type.startswith("ml.") and e.vcpus >= 2 and e.gpus >= 0
        assert e.launched_at is None or e.launched_at.tzinfo is not None
    assert any(e.gpus for e in fleet.endpoints) and any(not e.gpus for e in fleet.endpoints)


def test_fleet_period_and_stories_lie_inside_it(fleet: Fleet) -> None:
    assert fleet.start == datetime(2025, 6, 2, tzinfo=UTC)
    assert fleet.dates[0] == date(2025, 6, 2) and len(fleet.dates) == 14
    kinds = {s.kind for s in fleet.stories}
    assert kinds == set(PROMISED) and fleet.left_out == ()
    names = {e.name for e in fleet.endpoints}
    for s in fleet.stories:
        assert fleet.start <= s.start < s.end <= fleet.end, s
        assert s.endpoint_name is None or s.endpoint_name in names
        assert s.description
    weekends = [s for s in fleet.stories if s.kind == "quiet_weekend"]
    assert [s.start.date() for s in weekends] == [date(2025, 6, 7), date(2025, 6, 14)]


@pytest.mark.parametrize("n_days", [1, 2, 3, 7])
def test_short_periods_still_hold_the_fleets_own_stories(n_days: int) -> None:
    short = build_fleet(seed=1, start=date(2025, 6, 3), days=n_days)
    for s in short.stories:
        assert short.start <= s.start < s.end <= short.end
    assert {"latency_incident", "error_burst", "launch_ramp", "truncated_report"} <= {s.kind for s in short.stories}


def test_build_fleet_normalises_start_and_checks_arguments() -> None:
    from_datetime = build_fleet(start=datetime(2025, 6, 2, 23, 30, tzinfo=UTC))
    assert from_datetime.start == datetime(2025, 6, 2, tzinfo=UTC)
    assert build_fleet(start=date(2025, 6, 2)) == from_datetime
    with pytest.raises(ValueError, match="days"):
        build_fleet(days=0)
    with pytest.raises(ValueError, match="lookback_days must be 0..1"):
        build_fleet(days=2, lookback_days=2)
    with pytest.raises(ValueError, match="outside"):
        next(iter_series(from_datetime, date(2025, 6, 1)))


# --- determinism ------------------------------------------------------------------------


def _fingerprint(series: list[SeriesData]) -> list[tuple[object, ...]]:
    return [
        (
            s.account_id,
            s.region,
            s.namespace,
            s.metric_name,
            tuple(s.dimensions.items()),
            s.unit,
            s.timestamps.tobytes(),
            s.values.tobytes(),
            None if s.counts is None else s.counts.tobytes(),
        )
        for s in series
    ]


def test_same_seed_gives_byte_identical_series_whatever_the_order() -> None:
    first, second = build_fleet(seed=3, days=5), build_fleet(seed=3, days=5)
    d = first.dates[3]
    alone = _fingerprint(list(iter_series(first, d)))
    list(iter_series(second, second.dates[4]))  # generating other days first changes nothing
    assert _fingerprint(list(iter_series(second, d))) == alone
    everything = _fingerprint(list(iter_series(second)))
    assert alone[0] in everything and alone[-1] in everything


def test_another_seed_gives_other_numbers() -> None:
    a, b = build_fleet(seed=3, days=2), build_fleet(seed=4, days=2)
    sa, sb = next(iter_series(a, a.dates[0])), next(iter_series(b, b.dates[0]))
    assert sa.metric_name == sb.metric_name and not np.array_equal(sa.values, sb.values)


# --- series contracts -------------------------------------------------------------------


def test_series_have_right_namespaces_units_dimensions_and_dtypes(fleet: Fleet, days: dict[date, Day]) -> None:
    gpu = {e.name for e in fleet.endpoints if e.gpus}
    for d, day in days.items():
        midnight = datetime.combine(d, datetime.min.time(), tzinfo=UTC).timestamp()
        for (endpoint, metric), s in day.items():
            assert s.unit == UNITS[metric]
            assert metric in NAMESPACES[s.namespace]
            assert set(s.dimensions) == {"EndpointName", "VariantName"}
            assert metric.startswith("GPU") <= (endpoint in gpu)
            assert s.timestamps.dtype == np.int64 and s.values.dtype == np.float64
            assert s.timestamps.size == s.values.size > 0
            assert np.all(s.timestamps % 60 == 0)
            assert midnight <= s.timestamps.min() and s.timestamps.max() < midnight + 86400
            assert np.all(np.diff(s.timestamps) >= 0) and np.all(np.isfinite(s.values))
            if s.unit == "Microseconds":
                assert s.counts is not None and s.counts.dtype == np.float64
                assert np.all(s.counts > 0) and np.all(s.values > 0)
            else:
                assert s.counts is None and np.unique(s.timestamps).size == s.timestamps.size
        for e in fleet.endpoints:
            if (e.name, "Invocations") in day:
                expected = set(UNITS) - (set() if e.gpus else {"GPUUtilization", "GPUMemoryUtilization"})
                assert {m for (n, m) in day if n == e.name} == expected


def test_latency_counts_sum_to_each_minutes_invocations(days: dict[date, Day]) -> None:
    for day in days.values():
        for (endpoint, metric), s in day.items():
            if metric not in ("ModelLatency", "OverheadLatency"):
                continue
            inv = day[(endpoint, "Invocations")]
            minute = np.searchsorted(inv.timestamps, s.timestamps)
            assert np.array_equal(inv.timestamps[minute], s.timestamps)
            per_minute = np.bincount(minute, weights=s.counts, minlength=inv.values.size)
            np.testing.assert_array_equal(per_minute, inv.values)  # zero traffic: no latency


def test_error_counts_are_whole_and_within_invocations(days: dict[date, Day]) -> None:
    for day in days.values():
        for (endpoint, metric), s in day.items():
            if metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors"):
                inv = day[(endpoint, "Invocations")]
                assert np.array_equal(s.timestamps, inv.timestamps)
                assert np.all(s.values == np.round(s.values)) and np.all(s.values >= 0)
        for endpoint in {n for n, _ in day}:
            errors = day[(endpoint, "Invocation4XXErrors")].values + day[(endpoint, "Invocation5XXErrors")].values
            assert np.all(errors <= day[(endpoint, "Invocations")].values)


def test_instance_utilisation_stays_within_cores(fleet: Fleet, days: dict[date, Day]) -> None:
    cores = {e.name: (e.vcpus, e.gpus) for e in fleet.endpoints}
    exceeded_100 = False
    for day in days.values():
        for (endpoint, metric), s in day.items():
            vcpus, gpus = cores[endpoint]
            limit = {"CPUUtilization": 100 * vcpus, "GPUUtilization": 100 * gpus, "GPUMemoryUtilization": 100 * gpus}.get(
                metric, 100
            )
            if s.unit == "Percent":
                assert s.values.min() >= 0 and s.values.max() <= limit, (endpoint, metric)
                exceeded_100 |= metric == "CPUUtilization" and s.values.max() > 100
    assert exceeded_100, "multi-core CPU utilisation should go past 100 at peak"


# --- realistic numbers --------------------------------------------------------------------


def test_numbers_are_realistic_on_an_ordinary_weekday(days: dict[date, Day]) -> None:
    day = days[date(2025, 6, 4)]  # a Wednesday with no story
    for endpoint in {n for n, _ in day}:
        inv = day[(endpoint, "Invocations")].values
        assert 50 <= inv.mean() <= 2000, endpoint
        e4 = day[(endpoint, "Invocation4XXErrors")].values.sum() / inv.sum()
        e5 = day[(endpoint, "Invocation5XXErrors")].values.sum() / inv.sum()
        assert 0.003 < e4 < 0.008 and 0.0001 < e5 < 0.0015, endpoint
        model = day[(endpoint, "ModelLatency")]
        p50 = _quantile(model.values, model.counts, 0.50)
        p99 = _quantile(model.values, model.counts, 0.99)
        assert 20_000 <= p50 <= 80_000 and 3 <= p99 / p50 <= 10, endpoint
        overhead = day[(endpoint, "OverheadLatency")]
        assert 1_000 <= _quantile(overhead.values, overhead.counts, 0.5) <= 8_000


def test_daily_cycle_peaks_in_the_afternoon(fleet: Fleet) -> None:
    for e in fleet.endpoints:
        if e.launched_at is None:
            hourly = endpoint_traffic(fleet, e.name, date(2025, 6, 4)).reshape(24, 60).sum(1)
            assert hourly.max() > 2 * hourly.min(), e.name


# --- stories --------------------------------------------------------------------------------


def test_latency_incident_raises_p99_a_lot_and_p50_a_bit(fleet: Fleet, days: dict[date, Day]) -> None:
    story = _story(fleet, "latency_incident")
    model = days[story.start.date()][(story.endpoint_name, "ModelLatency")]
    inside = _window(model, story.start, story.end)
    # compare with the same hours of the previous day, so the daily cycle cancels out
    before = days[story.start.date() - timedelta(days=1)][(story.endpoint_name, "ModelLatency")]
    same_hours = _window(before, story.start - timedelta(days=1), story.end - timedelta(days=1))
    p99_in = _quantile(model.values[inside], model.counts[inside], 0.99)
    p99_out = _quantile(before.values[same_hours], before.counts[same_hours], 0.99)
    p50_in = _quantile(model.values[inside], model.counts[inside], 0.50)
    p50_out = _quantile(before.values[same_hours], before.counts[same_hours], 0.50)
    assert p99_in > 4 * p99_out
    assert 1.2 * p50_out < p50_in < 2 * p50_out
    rest = ~inside
    assert _quantile(model.values[rest], model.counts[rest], 0.99) < 1.3 * p99_out
    others = [s for (n, m), s in days[story.start.date()].items() if m == "ModelLatency" and n != story.endpoint_name]
    for s in others:  # the incident is one endpoint's
        w = _window(s, story.start, story.end)
        assert _quantile(s.values[w], s.counts[w], 0.99) < 6 * _quantile(s.values, s.counts, 0.5)


def test_error_burst_shows_5xx_far_above_baseline_for_one_hour(fleet: Fleet, days: dict[date, Day]) -> None:
    story = _story(fleet, "error_burst")
    assert story.end - story.start == timedelta(hours=1)
    day = days[story.start.date()]
    e5, inv = day[(story.endpoint_name, "Invocation5XXErrors")], day[(story.endpoint_name, "Invocations")]
    burst = _window(e5, story.start, story.end)
    rate_in = e5.values[burst].sum() / inv.values[burst].sum()
    rate_out = e5.values[~burst].sum() / inv.values[~burst].sum()
    assert rate_in > 0.05 and rate_in > 50 * rate_out
    assert np.count_nonzero(e5.values[~burst] == 0) > 0  # quiet minutes publish explicit zeros


def test_weekend_traffic_is_lower_than_weekdays(fleet: Fleet, days: dict[date, Day]) -> None:
    weekend = [d for d in days if d.weekday() >= 5 and d < date(2025, 6, 9)]
    weekdays = [d for d in days if d.weekday() < 5 and d < date(2025, 6, 7)]
    for e in fleet.endpoints:
        if e.launched_at is None:
            total = {d: days[d][(e.name, "Invocations")].values.sum() for d in days}
            weekday_mean = np.mean([total[d] for d in weekdays])
            assert max(total[d] for d in weekend) < 0.9 * weekday_mean, e.name


def test_launched_endpoint_has_no_data_before_launch_then_ramps(fleet: Fleet, days: dict[date, Day]) -> None:
    story = _story(fleet, "launch_ramp")
    endpoint = next(e for e in fleet.endpoints if e.name == story.endpoint_name)
    assert endpoint.launched_at == story.start
    launch = endpoint.launched_at.timestamp()
    for d, day in days.items():
        mine = [s for (n, _), s in day.items() if n == endpoint.name]
        if d < story.start.date():
            assert mine == []
        for s in mine:
            assert s.timestamps.min() >= launch
    traffic = endpoint_traffic(fleet, endpoint.name, story.start.date())
    launch_minute = int((launch % 86400) // 60)
    assert np.all(np.isnan(traffic[:launch_minute])) and not np.isnan(traffic[launch_minute])
    first_hours = traffic[launch_minute : launch_minute + 180].sum()
    later = endpoint_traffic(fleet, endpoint.name, story.start.date() + timedelta(days=2))
    assert first_hours * 4 < later[launch_minute : launch_minute + 180].sum()


# --- size ------------------------------------------------------------------------------------
# (how fast a day generates is the demo's seeding time, which `make demo` shows; no test times it)


def test_one_day_is_of_bounded_size(fleet: Fleet) -> None:
    points = sum(s.points for s in iter_series(fleet, date(2025, 6, 10)))
    assert 200_000 < points < 3_000_000


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), day_index=st.integers(0, 4))
def test_invariants_hold_for_any_seed(seed: int, day_index: int) -> None:
    fleet = build_fleet(seed=seed, start=date(2024, 12, 30), days=5)
    day = _index(iter_series(fleet, fleet.dates[day_index]))
    for (endpoint, metric), s in day.items():
        inv = day[(endpoint, "Invocations")]
        if s.counts is not None:
            minute = np.searchsorted(inv.timestamps, s.timestamps)
            sums = np.bincount(minute, weights=s.counts, minlength=inv.values.size)
            np.testing.assert_array_equal(sums, inv.values)
        if metric in ("MemoryUtilization", "DiskUtilization"):
            assert 0 <= s.values.min() and s.values.max() <= 100
