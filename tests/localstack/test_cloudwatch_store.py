"""The metric store's statistics, ordering and paging against direct computations of CloudWatch's documented semantics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.localstack.cloudwatch_query import (
    LIST_PAGE_SIZE,
    ListMetricsRequest,
    MetricDataRequest,
    MetricQuery,
    MetricRequestError,
    get_metric_data,
    list_metrics,
    parse_metric_data_request,
    put_metric_data,
)
from pipelines.localstack.cloudwatch_store import (
    MetricStore,
    RegionMetrics,
    SeriesSlice,
    Statistic,
    aggregate,
    series_key,
)

KEY = series_key("App", "Latency", {"EndpointName": "ep", "VariantName": "AllTraffic"})
API_DIMENSIONS = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
START = 1_700_000_000
BASIC = ("Sum", "SampleCount", "Average", "Minimum", "Maximum")


def window_of(ts: list[int], values: list[float], counts: list[float] | None = None) -> SeriesSlice:
    region = RegionMetrics()
    weights = None if counts is None else np.array(counts)
    region.put_values(KEY, "Milliseconds", np.array(ts, dtype=np.int64), np.array(values), weights)
    found = region.window(KEY, -(2**62), 2**62)
    assert found is not None
    return found


def nearest_rank(values: list[float], weights: list[int], percent: str) -> float:
    """The smallest v with (weight of values <= v) >= p/100 x total weight, in exact arithmetic."""
    total, threshold = sum(weights), Fraction(percent) / 100
    for v in sorted(set(values)):
        if Fraction(sum(w for x, w in zip(values, weights, strict=True) if x <= v)) >= threshold * total:
            return v
    raise AssertionError("unreachable")


# --- basic statistics ---


def test_basic_statistics_match_numpy_per_bucket() -> None:
    rng = np.random.default_rng(7)
    ts = START + rng.integers(-600, 4000, 5000)
    values, counts = rng.normal(100, 20, 5000), rng.integers(0, 5, 5000).astype(float)
    region = RegionMetrics()
    region.put_values(KEY, None, ts, values, counts)
    start, end, period = START, START + 3600, 300
    window = region.window(KEY, start, end)
    assert window is not None
    got = {name: dict(zip(*aggregate(window, start, period, Statistic.parse(name)), strict=True)) for name in BASIC}
    for bucket in range(start, end, period):
        mask = (ts >= bucket) & (ts < bucket + period) & (counts > 0)
        v, c = values[mask], counts[mask]
        assert got["SampleCount"][bucket] == c.sum()
        assert got["Sum"][bucket] == pytest.approx((v * c).sum())
        assert got["Average"][bucket] == pytest.approx((v * c).sum() / c.sum())
        assert got["Minimum"][bucket] == v.min()
        assert got["Maximum"][bucket] == v.max()
    assert set(got["Sum"]) == set(range(start, end, period))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-500, 3000), st.integers(-50, 50)), min_size=0, max_size=60),
    st.integers(0, 400),
    st.integers(1, 2500),
    st.sampled_from([1, 5, 60, 120, 300, 3600]),
)
def test_buckets_are_aligned_at_start_with_start_inclusive_and_end_exclusive(
    points: list[tuple[int, int]], start: int, length: int, period: int
) -> None:
    region = RegionMetrics()
    region.put_values(KEY, None, np.array([t for t, _ in points], dtype=np.int64), np.array([float(v) for _, v in points]))
    end = start + length
    window = region.window(KEY, start, end)
    assert window is not None
    stamps, counts = aggregate(window, start, period, Statistic("SampleCount"))
    expected: dict[int, int] = {}
    for t, _ in points:
        if start <= t < end:
            bucket = start + (t - start) // period * period
            expected[bucket] = expected.get(bucket, 0) + 1
    assert dict(zip(stamps.tolist(), counts.tolist(), strict=True)) == expected
    assert stamps.tolist() == sorted(expected)


# --- percentiles: nearest rank on count-weighted values ---


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 599), st.sampled_from([-3.5, 0.0, 1.0, 2.0, 2.5, 10.0, 99.0]), st.integers(1, 4)),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from(["p0", "p1", "p10", "p25", "p50", "p90", "p99", "p99.9", "p99.99", "p100", "p33.33"]),
)
def test_percentiles_are_nearest_rank_on_weighted_values(points: list[tuple[int, float, int]], percent: str) -> None:
    window = window_of([t for t, _, _ in points], [v for _, v, _ in points], [float(w) for _, _, w in points])
    stamps, got = aggregate(window, 0, 300, Statistic.parse(percent))
    for bucket, value in zip(stamps.tolist(), got.tolist(), strict=True):
        inside = [(v, w) for t, v, w in points if bucket <= t < bucket + 300]
        assert value == nearest_rank([v for v, _ in inside], [w for _, w in inside], percent[1:])


def test_percentiles_of_unweighted_values_match_a_sorted_array() -> None:
    values = np.random.default_rng(3).permutation(np.arange(1, 1001, dtype=float))  # 1..1000
    window = window_of([START] * 1000, values.tolist())
    for percent, expected in (("p50", 500.0), ("p90", 900.0), ("p99", 990.0), ("p99.9", 999.0), ("p100", 1000.0)):
        assert aggregate(window, START, 60, Statistic.parse(percent))[1].tolist() == [expected]


def test_statistic_sets_join_basic_statistics_but_block_percentiles() -> None:
    region = RegionMetrics()
    region.put_values(KEY, None, [START, START + 60], [1.0, 5.0])
    statistic_set = {"Sum": 30.0, "SampleCount": 3.0, "Minimum": 2.0, "Maximum": 20.0}
    datum = {"MetricName": "Latency", "Dimensions": API_DIMENSIONS, "Timestamp": START + 10, "StatisticValues": statistic_set}
    put_metric_data(region, "App", [datum], received_at=0)
    window = region.window(KEY, START, START + 120)
    assert window is not None
    result = {name: aggregate(window, START, 60, Statistic.parse(name))[1].tolist() for name in (*BASIC, "p50")}
    assert result == {
        "Sum": [31.0, 5.0],
        "SampleCount": [4.0, 1.0],
        "Average": [7.75, 5.0],
        "Minimum": [1.0, 5.0],
        "Maximum": [20.0, 5.0],
        "p50": [5.0],  # the first bucket holds a statistic set: its samples are unknown
    }


def test_a_statistic_set_of_identical_samples_counts_as_raw_values_for_percentiles() -> None:
    region = RegionMetrics()
    datum = {"MetricName": "Latency", "Dimensions": API_DIMENSIONS, "Timestamp": START}
    identical = {"Sum": 40.0, "SampleCount": 4.0, "Minimum": 10.0, "Maximum": 10.0}
    put_metric_data(region, "App", [{**datum, "StatisticValues": identical}, {**datum, "Value": 50.0}], received_at=0)
    window = region.window(KEY, START, START + 60)
    assert window is not None and len(window.set_ts) == 0
    assert aggregate(window, START, 60, Statistic.parse("p80"))[1].tolist() == [10.0]
    assert aggregate(window, START, 60, Statistic.parse("p81"))[1].tolist() == [50.0]


def test_put_metric_data_without_timestamp_uses_the_time_of_receipt() -> None:
    region = RegionMetrics()
    put_metric_data(
        region, "App", [{"MetricName": "Latency", "Dimensions": API_DIMENSIONS, "Values": [1.0, 2.0], "Counts": [3, 1]}], START
    )
    window = region.window(KEY, START, START + 1)
    assert window is not None and window.ts.tolist() == [START, START] and window.count.tolist() == [3.0, 1.0]


# --- storage: order of appends, units, validation ---


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10_000), min_size=0, max_size=40), min_size=1, max_size=90))
def test_interleaved_out_of_order_appends_and_reads_equal_one_sorted_load(chunks: list[list[int]]) -> None:
    region, reference = RegionMetrics(), RegionMetrics()
    for i, chunk in enumerate(chunks):
        region.put_values(KEY, None, np.array(chunk, dtype=np.int64), np.array(chunk, dtype=float) * 0.5)
        if i % 3 == 0:  # a read between appends flushes the buffer into a run
            region.window(KEY, 2_000, 8_000)
    everything = sorted(t for chunk in chunks for t in chunk)
    reference.put_values(KEY, None, np.array(everything, dtype=np.int64), np.array(everything, dtype=float) * 0.5)
    for start, end in ((0, 10_001), (2_000, 8_000), (9_999, 10_000)):
        got, want = region.window(KEY, start, end), reference.window(KEY, start, end)
        assert got is not None and want is not None
        assert got.ts.tolist() == want.ts.tolist() and sorted(got.value.tolist()) == sorted(want.value.tolist())


def test_unit_filter_selects_datapoints_by_the_unit_they_were_put_with() -> None:
    region = RegionMetrics()
    region.put_values(KEY, "Milliseconds", [START], [1.0])
    region.put_values(KEY, None, [START + 1], [2.0])
    region.put_values(KEY, "Milliseconds", [START + 2], [3.0])
    assert region.window(KEY, START, START + 60, "Milliseconds").value.tolist() == [1.0, 3.0]  # type: ignore[union-attr]
    assert region.window(KEY, START, START + 60, "None").value.tolist() == [2.0]  # type: ignore[union-attr]
    assert region.window(KEY, START, START + 60, "Seconds").value.tolist() == []  # type: ignore[union-attr]
    assert region.window(KEY, START, START + 60).value.tolist() == [1.0, 2.0, 3.0]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "datum",
    [
        {"Value": float("nan")},
        {"Values": [1.0, 2.0], "Counts": [1.0]},
        {"Values": [1.0], "Counts": [-1.0]},
        {},
        {"StatisticValues": {"Sum": 1.0, "SampleCount": 1.0, "Minimum": 2.0}},
        {"Value": 1.0, "Timestamp": "yesterday"},
        {"Value": 1.0, "Dimensions": [{"Name": "EndpointName"}]},
    ],
)
def test_a_bad_datum_rejects_the_whole_request(datum: dict[str, object]) -> None:
    region = RegionMetrics()
    good = {"MetricName": "Latency", "Value": 1.0}
    with pytest.raises(ValueError, match=r"member\.2"):
        put_metric_data(region, "App", [good, {"MetricName": "Latency", **datum}], received_at=START)
    assert len(region) == 0


def test_put_series_is_put_metric_data_with_values_and_counts_per_account_and_region() -> None:
    store = MetricStore()
    ts = np.array([START, START, START + 30], dtype=np.int64)
    dims = {"VariantName": "AllTraffic", "EndpointName": "ep"}  # any order: the key sorts them
    store.put_series(
        "111111111111",
        "us-east-1",
        "App",
        "Latency",
        dims,
        "Milliseconds",
        ts,
        np.array([1.0, 2.0, 3.0]),
        np.array([1.0, 0.0, 2.0]),
    )
    same = store.region("111111111111", "us-east-1").window(KEY, START, START + 60)
    assert same is not None and same.value.tolist() == [1.0, 3.0]  # a zero count is no sample
    assert store.region("222222222222", "us-east-1").window(KEY, START, START + 60) is None
    assert store.region("111111111111", "eu-west-1").window(KEY, START, START + 60) is None
    with pytest.raises(ValueError, match="one length"):
        store.put_series("1", "us-east-1", "App", "X", {}, None, ts, np.array([1.0]))


@pytest.mark.parametrize("text", ["Average", "p50", "p99.9", "p99.99", "p100", "p0"])
def test_statistics_cloudwatch_accepts_parse(text: str) -> None:
    assert Statistic.parse(text).name == text


@pytest.mark.parametrize("text", ["avg", "p101", "p99.999", "tm99", "TC(1:2)", "P50"])
def test_other_statistics_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Statistic.parse(text)


# --- GetMetricData pages and ListMetrics pages (pure) ---


def _request(sizes: list[int], budget: int, descending: bool, token: str | None = None) -> MetricDataRequest:
    queries = tuple(MetricQuery(f"q{i}", f"q{i}", ("N", f"m{i}", ()), Statistic("Sum"), 60) for i in range(len(sizes)))
    return MetricDataRequest(queries, 0, 10**6, descending, budget, token)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=12), st.integers(1, 40), st.booleans())
def test_pages_return_every_point_once_and_mark_only_cut_results_partial(sizes: list[int], budget: int, descending: bool) -> None:
    def windows(key: tuple, start: int, end: int, unit: str | None) -> SeriesSlice:
        n = sizes[int(key[1][1:])]
        return SeriesSlice(
            np.arange(n, dtype=np.int64) * 60, np.arange(n, dtype=float), np.ones(n), np.zeros(0, dtype=np.int64), {}
        )

    collected: dict[str, list[int]] = {}
    token: str | None = None
    for _ in range(1000):
        page = get_metric_data(_request(sizes, budget, descending, token), windows)
        assert sum(len(r.values) for r in page.results) <= budget
        for result in page.results:
            collected.setdefault(result.id, []).extend(result.timestamps.tolist())
            unfinished = len(collected[result.id]) < sizes[int(result.id[1:])]
            assert result.status == ("PartialData" if unfinished else "Complete")
            assert not unfinished or (result is page.results[-1] and page.next_token is not None)
        token = page.next_token
        if token is None:
            break
    for i, n in enumerate(sizes):
        expected = [t * 60 for t in range(n)]
        assert collected[f"q{i}"] == (expected[::-1] if descending else expected)


def test_a_token_only_resumes_the_request_it_came_from() -> None:
    def windows(key: tuple, start: int, end: int, unit: str | None) -> SeriesSlice:
        return SeriesSlice(np.arange(5, dtype=np.int64) * 60, np.ones(5), np.ones(5), np.zeros(0, dtype=np.int64), {})

    token = get_metric_data(_request([5, 5], 3, True), windows).next_token
    assert token is not None
    with pytest.raises(MetricRequestError) as error:
        get_metric_data(_request([5, 5, 5], 3, True, token), windows)
    assert error.value.code == "InvalidNextToken"


def test_more_than_500_queries_are_a_validation_error() -> None:
    spec = {"MetricStat": {"Metric": {"Namespace": "N", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}
    params = {"MetricDataQueries": [{"Id": f"q{i}", **spec} for i in range(501)], "StartTime": 0, "EndTime": 60}
    with pytest.raises(MetricRequestError, match="less than or equal to 500") as error:
        parse_metric_data_request(params, int)
    assert error.value.code == "ValidationError"
    assert len(parse_metric_data_request({**params, "MetricDataQueries": params["MetricDataQueries"][:500]}, int).queries) == 500


def test_list_metrics_pages_filters_and_recency() -> None:
    catalog = sorted((series_key("N", f"m{i % 3}", {"EndpointName": f"ep{i}", "VariantName": "v"}), 100 + i) for i in range(1200))
    catalog += [(series_key("O", "m0", {"EndpointName": "ep0"}), 5000)]
    pages, token = [], None
    while True:
        keys, token = list_metrics(catalog, ListMetricsRequest(namespace="N", next_token=token))
        pages.append(keys)
        if token is None:
            break
    assert [len(p) for p in pages] == [LIST_PAGE_SIZE, LIST_PAGE_SIZE, 200]
    assert sorted(k for p in pages for k in p) == [k for k, _ in catalog if k[0] == "N"]
    only_ep7 = list_metrics(catalog, ListMetricsRequest(dimensions=(("EndpointName", "ep7"),)))[0]
    assert only_ep7 == [series_key("N", "m1", {"EndpointName": "ep7", "VariantName": "v"})]
    assert (
        len(list_metrics(catalog, ListMetricsRequest(namespace="N", metric_name="m2", active_since=1200))[0]) == 34
    )  # i in 1100..1199, i % 3 == 2
