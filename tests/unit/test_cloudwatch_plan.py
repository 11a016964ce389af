"""Query planning: statistics per series, packing into calls, night windows."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.config import CloudWatchConfig
from pipelines.sources.cloudwatch_metrics.metric_query import MetricSeries
from pipelines.sources.cloudwatch_metrics.plan import (
    MAX_POINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    MAX_REQUEST_BYTES,
    Packer,
    batches,
    minimum_calls,
    plan_queries,
    queries_per_call,
)
from pipelines.windows import night_window


def _series(n: int, metric: str = "Invocations", value_len: int = 12) -> list[MetricSeries]:
    return [
        MetricSeries(
            "111111111111",
            "us-east-1",
            "AWS/SageMaker",
            metric,
            (("EndpointName", f"ep-{i:0{value_len}d}"), ("VariantName", "AllTraffic")),
        )
        for i in range(n)
    ]


def test_percentiles_only_for_latency_metrics() -> None:
    settings = CloudWatchConfig()
    queries = plan_queries(_series(1, "ModelLatency") + _series(1, "Invocations"), settings)
    by_metric: dict[str, list[str]] = {}
    for q in queries:
        by_metric.setdefault(q.series.metric_name, []).append(q.stat)
    assert by_metric["ModelLatency"] == ["Average", "Sum", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p99"]
    assert by_metric["Invocations"] == ["Average", "Sum", "Minimum", "Maximum", "SampleCount"]
    assert {q.unit for q in queries if q.series.metric_name == "ModelLatency"} == {"Microseconds"}


@given(n=st.integers(min_value=0, max_value=700), stats=st.integers(min_value=1, max_value=5))
def test_n_series_times_s_statistics_pack_into_ceil_calls(n: int, stats: int) -> None:
    settings = CloudWatchConfig(statistics=["Average", "Sum", "Minimum", "Maximum", "SampleCount"][:stats])
    queries = plan_queries(_series(n), settings)
    packed = batches(queries)
    assert len(queries) == n * stats
    assert len(packed) == math.ceil(n * stats / MAX_QUERIES_PER_CALL)
    assert [q.id for batch in packed for q in batch] == [q.id for q in queries]
    assert all(len({q.id for q in batch}) == len(batch) for batch in packed)


def test_long_dimension_values_split_by_request_size() -> None:
    queries = plan_queries(_series(500, value_len=1500), CloudWatchConfig(statistics=["Sum"]))
    packed = batches(queries)
    assert len(packed) > 1
    assert all(sum(len(str(q.to_api())) for q in b) <= MAX_REQUEST_BYTES * 1.2 for b in packed)


def test_night_window_is_utc_days_with_lookback() -> None:
    window = night_window(date(2026, 3, 10), lookback_days=1)
    assert window.start == datetime(2026, 3, 9, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 11, tzinfo=UTC)
    assert window.days == ["2026-03-09", "2026-03-10"]
    assert night_window(date(2026, 3, 10), 0).days == ["2026-03-10"]


def test_minimum_calls() -> None:
    assert minimum_calls(0, 0) == 0
    assert minimum_calls(336, 336 * 576) == 2  # 193,536 points need two 100,800-point pages
    assert minimum_calls(1001, 1001) == 3


@given(n=st.integers(min_value=1, max_value=3000), period=st.sampled_from([60, 300, 3600]), days=st.integers(1, 3))
def test_batches_fill_whole_pages_so_calls_reach_the_minimum(n: int, period: int, days: int) -> None:
    """Pages a batch needs are ceil(its points / 100,800); packed this way, their sum is the theoretical minimum."""
    queries = plan_queries(_series(n), CloudWatchConfig(statistics=["Sum"], period_seconds=period))
    points = days * 86_400 // period
    packed = batches(queries, points)
    pages = sum(math.ceil(len(batch) * points / MAX_POINTS_PER_CALL) for batch in packed)
    assert pages == minimum_calls(len(queries), len(queries) * points)
    assert all(len(batch) <= MAX_QUERIES_PER_CALL for batch in packed)
    assert [q.id for batch in packed for q in batch] == [q.id for q in queries]


def test_a_day_at_60_s_packs_70_queries_a_call() -> None:
    assert queries_per_call(1440) == 70  # one page of 70 queries x 1,440 points
    assert queries_per_call(2 * 1440) == 35  # two days: one page of 35
    assert queries_per_call(3 * 1440) == 70  # three days: 3 pages of 70 (23 a page would not fill it)
    assert queries_per_call(288) == 350  # 1 day at 300 s: one page of 350
    assert queries_per_call(24) == MAX_QUERIES_PER_CALL  # hourly: 500 queries fit one page


@pytest.mark.parametrize(
    ("period", "days", "billed"),
    [(60, 1, 490 * 7 + 6710), (60, 3, 490 * 21 + 6650 * 3 + 60 * 3), (300, 2, 350 * 2 + 6850), (3600, 1, 7200)],
)
def test_after_the_first_call_each_query_is_billed_on_the_fewest_pages(period: int, days: int, billed: int) -> None:
    """CloudWatch bills a call's queries once per page it takes: the first call fills the most whole pages, the rest
    the fewest (batches of 490 throughout billed a one-day 60 s night 7 metrics a query; this, 1.4)."""
    queries = plan_queries(_series(7200), CloudWatchConfig(statistics=["Sum"], period_seconds=period))
    points = days * 86_400 // period
    packed = batches(queries, points)
    pages = sum(math.ceil(len(batch) * points / MAX_POINTS_PER_CALL) for batch in packed)
    assert pages == minimum_calls(len(queries), len(queries) * points)
    assert sum(len(batch) * math.ceil(len(batch) * points / MAX_POINTS_PER_CALL) for batch in packed) == billed


def test_the_packer_sizes_each_call_from_the_points_calls_returned() -> None:
    queries = plan_queries(_series(2000), CloudWatchConfig(statistics=["Sum"], period_seconds=300))
    packer = Packer(queries)
    assert packer.next_size(576) == 350  # two days at 300 s: the first call the most that fill whole pages (2 of 175)
    first = packer.take(packer.next_size(576))
    packer.answered(len(first), len(first) * 576)  # every point there: the plan holds
    assert packer.next_size(576) == 175  # then the fewest that fill one page: billed once each
    packer.answered(350, 350 * 144)  # a quarter of the points
    assert packer.next_size(576) == int(MAX_POINTS_PER_CALL // ((350 * 576 + 350 * 144) / 700))
    assert Packer(queries).next_size(0) == MAX_QUERIES_PER_CALL
    empty = Packer(queries)
    empty.answered(350, 0)  # series with no points at all in the window: as many queries as a call takes
    assert empty.next_size(576) == MAX_QUERIES_PER_CALL
    taken = [first, *(packer.take(400) for _ in range(5))]
    assert [len(b) for b in taken] == [350, 400, 400, 400, 400, 50] and packer.left == 0
    assert [q.id for b in taken for q in b] == [q.id for q in queries]


def test_the_packer_keeps_requests_under_the_byte_limit() -> None:
    long = [MetricSeries("1" * 12, "us-east-1", "NS", f"m{i}", (("Key", "v" * 1000 + str(i)),)) for i in range(600)]
    packer = Packer(plan_queries(long, CloudWatchConfig(statistics=["Sum"])))
    sizes = []
    while packer.left:
        batch = packer.take(MAX_QUERIES_PER_CALL)
        assert sum(len(json.dumps(q.to_api())) for q in batch) <= MAX_REQUEST_BYTES
        sizes.append(len(batch))
    assert sum(sizes) == 600 and max(sizes) < MAX_QUERIES_PER_CALL
