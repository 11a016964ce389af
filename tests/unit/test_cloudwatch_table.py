"""Decoded pages become the cloudwatch_metrics table, exactly typed, and survive Parquet unchanged."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.sources.cloudwatch_metrics.decode import DecodedPage
from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery, MetricSeries
from pipelines.sources.cloudwatch_metrics.table import (
    DICTIONARY_SCHEMA,
    UnknownQueryId,
    cloudwatch_metrics_table,
    iter_cloudwatch_metrics_tables,
    write_parquet,
    write_parquet_bytes,
)

SCHEMA = CLOUDWATCH_METRICS.schema
T0 = 1_780_000_000
ENDPOINT = (("EndpointName", "fraud-detector-prod"), ("VariantName", "AllTraffic"))
QUERIES = {
    "inv": MetricQuery(
        "inv", MetricSeries("111111111111", "us-east-1", "AWS/SageMaker", "Invocations", ENDPOINT), "Sum", 300, "None"
    ),
    "lat": MetricQuery(
        "lat", MetricSeries("111111111111", "us-east-1", "AWS/SageMaker", "ModelLatency", ENDPOINT), "p99", 300, "Microseconds"
    ),
    "cpu": MetricQuery(
        "cpu",
        MetricSeries("222222222222", "eu-west-1", "/aws/sagemaker/Endpoints", "CPUUtilization", (("Endpoint", "churn"),)),
        "Average",
        60,
    ),
    "job": MetricQuery("job", MetricSeries("111111111111", "us-east-1", "AWS/SageMaker", "JobCount", ()), "Sum", 3600),
}


def make_page(results: list[tuple[str, list[int], list[float]]], next_token: str | None = None) -> DecodedPage:
    counts = [len(ts) for _, ts, _ in results]
    offsets = np.zeros(len(results) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return DecodedPage(
        ids=[r[0] for r in results],
        labels=[None] * len(results),
        status_codes=["Complete"] * len(results),
        messages=[[] for _ in results],
        offsets=offsets,
        timestamps=np.array([t for _, ts, _ in results for t in ts], dtype=np.int64),
        values=np.array([v for _, _, vs in results for v in vs], dtype=np.float64),
        next_token=next_token,
        call_messages=[],
    )


def utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def test_rows_schema_values_and_nulls() -> None:
    page = make_page([("inv", [T0 + 300, T0], [12.0, 0.0]), ("lat", [T0], [math.nan]), ("cpu", [], [])])
    table = cloudwatch_metrics_table([page, make_page([("job", [T0], [1.5])])], QUERIES)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    assert [f.nullable for f in table.schema] == [f.nullable for f in SCHEMA]
    rows = table.to_pylist()
    assert len(rows) == 4
    assert rows[0] == {
        "account_id": "111111111111",
        "region": "us-east-1",
        "namespace": "AWS/SageMaker",
        "metric_name": "Invocations",
        "dimensions": list(ENDPOINT),
        "endpoint_name": "fraud-detector-prod",
        "variant_name": "AllTraffic",
        "stat": "Sum",
        "period_seconds": 300,
        "ts": utc(T0 + 300),
        "value": 12.0,
        "unit": "None",
    }
    assert rows[1]["ts"] == utc(T0) and rows[1]["value"] == 0.0  # a real zero stays a zero
    assert rows[2]["metric_name"] == "ModelLatency" and rows[2]["stat"] == "p99" and rows[2]["value"] is None  # NaN -> null
    assert rows[2]["unit"] == "Microseconds"
    assert rows[3]["dimensions"] == [] and rows[3]["endpoint_name"] is None and rows[3]["unit"] is None
    assert table.column("value").null_count == 1


def test_dimensions_map_per_row() -> None:
    page = make_page([("cpu", [T0, T0 + 60], [1.0, 2.0]), ("inv", [T0], [3.0]), ("cpu", [T0 + 120], [4.0])])
    table = cloudwatch_metrics_table([page], QUERIES)
    dims = table.column("dimensions").to_pylist()
    assert dims == [[("Endpoint", "churn")]] * 2 + [list(ENDPOINT)] + [[("Endpoint", "churn")]]
    assert table.column("endpoint_name").to_pylist() == ["churn", "churn", "fraud-detector-prod", "churn"]
    assert table.column("variant_name").to_pylist() == [None, None, "AllTraffic", None]
    assert table.column("account_id").to_pylist() == ["222222222222"] * 2 + ["111111111111", "222222222222"]
    assert table.column("period_seconds").type == pa.int32()


def test_unknown_id_is_an_error_naming_it() -> None:
    page = make_page([("inv", [T0], [1.0]), ("ghost_7", [T0], [2.0])])
    with pytest.raises(UnknownQueryId, match="'ghost_7'"):
        cloudwatch_metrics_table([page], QUERIES)


def test_empty_inputs() -> None:
    for pages in ([], [make_page([])], [make_page([("inv", [], [])])]):
        table = cloudwatch_metrics_table(pages, QUERIES)
        assert table.num_rows == 0 and table.schema.equals(SCHEMA, check_metadata=True)
    assert cloudwatch_metrics_table([], {}).schema.equals(SCHEMA)
    empty = pq.read_table(pa.BufferReader(write_parquet_bytes(SCHEMA.empty_table())))
    assert empty.num_rows == 0 and empty.schema.equals(SCHEMA)


def test_streaming_writer_groups_pages_into_row_groups() -> None:
    pages = [make_page([("inv", [T0 + 60 * i for i in range(10)], [float(i) for i in range(10)])]) for _ in range(7)]
    sink = pa.BufferOutputStream()
    assert write_parquet(iter_cloudwatch_metrics_tables(pages, QUERIES), sink, row_group_rows=25) == 70
    data = sink.getvalue()
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [30, 30, 10]
    assert pq.read_table(pa.BufferReader(data)).equals(cloudwatch_metrics_table(pages, QUERIES))


@pytest.mark.parametrize("empty", [False, True])
def test_pages_streamed_as_dictionaries_read_back_as_the_contract_says(empty: bool) -> None:
    """The night streams per-query strings as indices into the catalog; the file is the same table, of SCHEMA."""
    pages = [] if empty else [make_page([(q, [T0 + 60 * i for i in range(10)], [float(i) for i in range(10)])]) for q in QUERIES]
    tables = list(iter_cloudwatch_metrics_tables(pages, QUERIES, dictionary=True))
    assert all(t.schema.equals(DICTIONARY_SCHEMA) for t in tables)
    assert all(pa.types.is_dictionary(t.column("endpoint_name").type) for t in tables)
    sink = pa.BufferOutputStream()
    assert write_parquet(tables, sink, row_group_rows=25, dictionary=True) == 10 * len(pages)
    read = pq.read_table(pa.BufferReader(sink.getvalue()))
    assert read.schema.equals(SCHEMA) and read.equals(cloudwatch_metrics_table(pages, QUERIES))
    meta = pq.ParquetFile(pa.BufferReader(sink.getvalue())).metadata
    if not empty:
        column = meta.row_group(0).column(SCHEMA.names.index("endpoint_name"))
        assert "RLE_DICTIONARY" in column.encodings or "PLAIN_DICTIONARY" in column.encodings


def test_streaming_writer_passes_errors_on() -> None:
    page = make_page([("inv", [T0 + 60 * i for i in range(10)], [1.0] * 10)])

    def tables() -> Iterator[pa.Table]:
        yield from iter_cloudwatch_metrics_tables([page, page], QUERIES)  # the first row group is being written
        raise UnknownQueryId("'ghost'")

    with pytest.raises(UnknownQueryId, match="ghost"):
        write_parquet(tables(), pa.BufferOutputStream(), row_group_rows=10)


def test_parquet_is_zstd_with_dictionaries() -> None:
    table = cloudwatch_metrics_table(
        [make_page([("inv", [T0 + 60 * i for i in range(100)], [i / 3 for i in range(100)])])], QUERIES
    )
    meta = pq.ParquetFile(pa.BufferReader(write_parquet_bytes(table))).metadata
    columns = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i) for i in range(meta.num_columns)}
    assert all(c.compression == "ZSTD" for c in columns.values())
    for path in ("account_id", "metric_name", "stat", "ts", "dimensions.key_value.key"):
        assert "RLE_DICTIONARY" in columns[path].encodings, path
    assert "RLE_DICTIONARY" not in columns["value"].encodings


TEXT = st.text(min_size=1, max_size=12)
SERIES = st.builds(
    MetricSeries,
    account_id=st.from_regex(r"\d{12}", fullmatch=True),
    region=st.sampled_from(["us-east-1", "eu-west-1"]),
    namespace=TEXT,
    metric_name=TEXT,
    dimensions=st.dictionaries(TEXT, st.text(max_size=12), max_size=3).map(lambda d: tuple(sorted(d.items()))),
)


@st.composite
def pages_and_queries(draw: st.DrawFn) -> tuple[list[DecodedPage], dict[str, MetricQuery]]:
    n_queries = draw(st.integers(1, 5))
    queries = {
        f"q{i}": MetricQuery(
            f"q{i}",
            draw(SERIES),
            draw(st.sampled_from(["Average", "Sum", "p99"])),
            draw(st.sampled_from([60, 300])),
            draw(st.none() | TEXT),
        )
        for i in range(n_queries)
    }
    pages = []
    for _ in range(draw(st.integers(0, 3))):
        results = []
        for query_id in draw(st.lists(st.sampled_from(sorted(queries)), max_size=4)):
            n = draw(st.integers(0, 8))
            ts = draw(st.lists(st.integers(0, 4_000_000_000), min_size=n, max_size=n))
            values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
            results.append((query_id, ts, values))
        pages.append(make_page(results))
    return pages, queries


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pages_and_queries())
def test_rows_parquet_round_trip(case: tuple[list[DecodedPage], dict[str, MetricQuery]]) -> None:
    pages, queries = case
    table = cloudwatch_metrics_table(pages, queries)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    back = pq.read_table(pa.BufferReader(write_parquet_bytes(table)))
    assert back.schema.equals(SCHEMA) and back.equals(table)
    # Row by row against the inputs, built the slow obvious way.
    expected = []
    for page in pages:
        for i, query_id in enumerate(page.ids):
            query = queries[query_id]
            for t, v in zip(*page.result_points(i), strict=True):
                expected.append(
                    (
                        query.series.metric_name,
                        list(query.series.dimensions),
                        query.stat,
                        utc(int(t)),
                        None if math.isnan(v) else float(v),
                        query.unit,
                    )
                )
    got = [(r["metric_name"], r["dimensions"], r["stat"], r["ts"], r["value"], r["unit"]) for r in back.to_pylist()]
    assert got == expected


def test_pages_stream_into_one_parquet_body_per_day_with_exactly_its_rows() -> None:
    from pipelines.sources.cloudwatch_metrics.days import stream_days
    from pipelines.sources.cloudwatch_metrics.table import QueryCatalog
    from pipelines.sources.per_account import rows_of_day

    day0 = T0 - T0 % 86_400
    before, first, second, after = day0 - 60, day0 + 300, day0 + 86_400 + 60, day0 + 2 * 86_400
    pages = [
        make_page([("inv", [first, first + 300, second], [1.0, 2.0, 3.0]), ("lat", [first], [math.nan])], "t"),
        make_page([("inv", [second + 300], [4.0]), ("cpu", [before, first, after], [5.0, 6.0, 7.0])], "u"),
        make_page([("job", [second], [8.0])]),  # all on the second day: taken whole, not filtered
    ]
    days = [utc(day0).date().isoformat(), utc(day0 + 86_400).date().isoformat()]
    files = stream_days(pages, QueryCatalog(QUERIES), days)

    whole = cloudwatch_metrics_table(pages, QUERIES)
    for day in days:
        table = pq.read_table(pa.BufferReader(files[day].body))
        assert table.schema.equals(SCHEMA)
        assert table.equals(rows_of_day(whole, day))  # what the in-memory landing stages, row for row
        assert files[day].rows == table.num_rows
    assert [files[d].rows for d in days] == [4, 3]  # the points before and after the window are no day's
