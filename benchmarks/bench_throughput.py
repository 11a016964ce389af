"""How fast a night of GetMetricData pages lands: raw response bodies -> Parquet, fast path against botocore's."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import boto3
import botocore.session
import cbor2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.model import Shape
from botocore.parsers import create_parser

from benchmarks import Result, at_least, at_most, info, measured_child
from pipelines.sources.cloudwatch_metrics.decode import CBOR, JSON, decode_get_metric_data, decoded_page, install_fast_decoder
from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery, MetricSeries
from pipelines.sources.cloudwatch_metrics.table import SCHEMA, QueryCatalog, iter_cloudwatch_metrics_tables, write_parquet

T = TypeVar("T")

POINTS_PER_RESULT = 1440  # one day at a 60 s period
RESULTS_PER_PAGE = 70  # 10 endpoints x 7 metrics: 100,800 points, GetMetricData's page limit
POINTS_PER_PAGE = POINTS_PER_RESULT * RESULTS_PER_PAGE
NIGHT_PAGES = math.ceil(10_000_000 / POINTS_PER_PAGE)  # 100 pages, 10.08 M points
TIMED_PAGES = 20  # in-process throughput: 2 M points
BASELINE_PAGES = 2  # botocore's parser does ~0.07 M points/s: 200 k points are plenty
TARGET_M_POINTS_PER_S = 1.0
TARGET_RATIO = 10.0
TARGET_PEAK_MIB = 1536.0  # 1.5 GiB
DAY = dt.datetime(2026, 5, 28, tzinfo=dt.UTC)
# Descending, as GetMetricData returns them by default; the same minutes for every query.
TIMESTAMPS = [int(DAY.timestamp()) + 60 * (POINTS_PER_RESULT - 1 - i) for i in range(POINTS_PER_RESULT)]
METRICS = (  # namespace, metric, statistic, unit
    ("AWS/SageMaker", "Invocations", "Sum", "None"),
    ("AWS/SageMaker", "Invocation4XXErrors", "Sum", "None"),
    ("AWS/SageMaker", "Invocation5XXErrors", "Sum", "None"),
    ("AWS/SageMaker", "ModelLatency", "Average", "Microseconds"),
    ("AWS/SageMaker", "ModelLatency", "p99", "Microseconds"),
    ("/aws/sagemaker/Endpoints", "CPUUtilization", "Average", "Percent"),
    ("/aws/sagemaker/Endpoints", "MemoryUtilization", "Maximum", "Percent"),
)
OUTPUT_SHAPE = cast(
    "Shape", botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData").output_shape
)


def night_queries(pages: int) -> list[dict[str, MetricQuery]]:
    """The queries of each page of a fleet's night: 10 endpoints x 7 metric statistics per page."""
    night = []
    for page in range(pages):
        queries = {}
        for e in range(RESULTS_PER_PAGE // len(METRICS)):
            dims = (("EndpointName", f"model-{page:03d}-{e}-prod"), ("VariantName", "AllTraffic"))
            for m, (namespace, metric, stat, unit) in enumerate(METRICS):
                series = MetricSeries(f"{111111111111 + page % 3}", "us-east-1", namespace, metric, dims)
                query_id = f"q{page}_{e}_{m}"
                queries[query_id] = MetricQuery(query_id, series, stat, 60, unit)
        night.append(queries)
    return night


def page_doc(queries: Mapping[str, MetricQuery], page: int, last: bool) -> dict[str, Any]:
    """One page as the API returns it; one result per page is PartialData with a message and a NaN."""
    rng = np.random.default_rng(page)
    results = []
    for i, (query_id, query) in enumerate(queries.items()):
        values = np.round(rng.gamma(2.0, 40.0, POINTS_PER_RESULT), 3)
        result = {
            "Id": query_id,
            "Label": f"{query.series.metric_name} {query.stat}",
            "Timestamps": TIMESTAMPS,
            "StatusCode": "Complete",
        }
        if i == 5:
            values[100] = np.nan
            result["StatusCode"] = "PartialData"
            result["Messages"] = [{"Code": "ArithmeticError", "Value": "one period had no samples"}]
        result["Values"] = values.tolist()
        results.append(result)
    doc: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if not last:
        doc["NextToken"] = f"page-{page + 1}"
    return doc


def encode(doc: dict[str, Any], protocol: str, tags: list[cbor2.CBORTag], canonical: bool = False) -> bytes:
    """The body on the wire: CBOR with tag-1 epoch-second timestamps, or awsJson1_0 ("NaN" as a string)."""
    if protocol == CBOR:
        results = [{**r, "Timestamps": tags} for r in doc["MetricDataResults"]]
        return cbor2.dumps({**doc, "MetricDataResults": results}, canonical=canonical)
    results = [{**r, "Values": [v if v == v else "NaN" for v in r["Values"]]} for r in doc["MetricDataResults"]]
    return json.dumps({**doc, "MetricDataResults": results}).encode()


def night_bodies(night: list[dict[str, MetricQuery]], protocol: str) -> Iterator[bytes]:
    """The night's bodies one at a time, as the API would hand them over."""
    tags = [cbor2.CBORTag(1, t) for t in TIMESTAMPS]
    for page, queries in enumerate(night):
        yield encode(page_doc(queries, page, page == len(night) - 1), protocol, tags)


def land_fast(bodies: Iterable[bytes], protocol: str, catalog: QueryCatalog) -> tuple[int, pa.Buffer]:
    """The fast path, streaming, as a night lands: each body -> DecodedPage -> Arrow table (per-query strings as
    dictionary indices) -> a Parquet row group."""
    sink = pa.BufferOutputStream()
    pages = (decode_get_metric_data(body, protocol) for body in bodies)
    rows = write_parquet(iter_cloudwatch_metrics_tables(pages, catalog, dictionary=True), sink, dictionary=True)
    return rows, sink.getvalue()


def land_naive(bodies: Iterable[bytes], protocol: str, queries: Mapping[str, MetricQuery]) -> tuple[int, pa.Buffer]:
    """The obvious path: botocore's parser -> one dict per point -> pandas -> Parquet."""
    parser = create_parser(protocol)
    rows = []
    for body in bodies:
        parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, OUTPUT_SHAPE)
        for result in parsed["MetricDataResults"]:
            query = queries[result["Id"]]
            series = query.series
            for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                rows.append(
                    {
                        "account_id": series.account_id,
                        "region": series.region,
                        "namespace": series.namespace,
                        "metric_name": series.metric_name,
                        "dimensions": list(series.dimensions),
                        "endpoint_name": series.endpoint_name,
                        "variant_name": series.variant_name,
                        "stat": query.stat,
                        "period_seconds": query.period_seconds,
                        "ts": ts.astimezone(dt.UTC).replace(tzinfo=None),
                        "value": float(value),
                        "unit": query.unit,
                    }
                )
    table = pa.Table.from_pandas(pd.DataFrame(rows), schema=SCHEMA, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return table.num_rows, sink.getvalue()


def _best(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `runs` runs (a 2-core machine is noisy) and the last result."""
    best, result = math.inf, None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result  # type: ignore[return-value]


def _read(buffer: pa.Buffer) -> pa.Table:
    return pq.read_table(pa.BufferReader(buffer))  # not io.BytesIO: pyarrow 25 can abort at exit


def _throughput(protocol: str, label: str) -> list[Result]:
    night = night_queries(TIMED_PAGES)
    bodies = list(night_bodies(night, protocol))
    queries = {k: q for page in night for k, q in page.items()}
    catalog = QueryCatalog(queries)
    land_fast(bodies[:1], protocol, catalog)  # warm-up: imports, allocator, thread pool
    decode_s, _ = _best(3, lambda: [decode_get_metric_data(b, protocol) for b in bodies])
    fast_s, (rows, parquet) = _best(3, lambda: land_fast(bodies, protocol, catalog))
    assert rows == TIMED_PAGES * POINTS_PER_PAGE, rows
    subset = bodies[:BASELINE_PAGES]
    naive_s, (naive_rows, naive_parquet) = _best(2, lambda: land_naive(subset, protocol, queries))
    # Both paths must land the same rows, or the comparison means nothing (and botocore must accept the bodies).
    fast_subset = _read(land_fast(subset, protocol, catalog)[1])
    if not _read(naive_parquet).equals(fast_subset):
        raise AssertionError(f"{label}: the fast path and botocore's path land different rows")
    fast_rate = rows / fast_s / 1e6
    naive_rate = naive_rows / naive_s / 1e6
    mb_per_page = sum(map(len, bodies)) / len(bodies) / 1e6
    return [
        info(f"{label}: body size per page (100,800 points)", mb_per_page, "MB"),
        info(f"{label}: decode only, body -> DecodedPage", rows / decode_s / 1e6, "M points/s"),
        at_least(
            f"{label}: fast path, body -> Parquet ({rows / 1e6:.2f} M points)", fast_rate, "M points/s", TARGET_M_POINTS_PER_S
        ),
        info(
            f"{label}: baseline, botocore -> dicts -> pandas -> Parquet ({naive_rows / 1e3:.0f} k points)",
            naive_rate,
            "M points/s",
        ),
        at_least(f"{label}: fast / baseline", fast_rate / naive_rate, "x", TARGET_RATIO),
        info(f"{label}: Parquet size per M points", parquet.size / rows, "MB"),
    ]


def throughput() -> list[Result]:
    """(a) fast path and (b) botocore baseline, on CBOR (the brief's wire format) and JSON (what botocore 1.44 sends)."""
    return _throughput(CBOR, "cbor") + _throughput(JSON, "json")


def _points_of_cbor2(doc: Any, timestamps: Callable[[list[Any]], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    results = doc["MetricDataResults"]
    stamps = timestamps(list(itertools.chain.from_iterable(r["Timestamps"] for r in results)))
    return stamps, np.array(list(itertools.chain.from_iterable(r["Values"] for r in results)), dtype=np.float64)


def timestamp_decoding() -> list[Result]:
    """Ways to get one page's tag-1 timestamps into int64 (decode only): why the reader is shaped as it is."""
    night = night_queries(1)
    doc = page_doc(night[0], 0, True)
    body = encode(doc, CBOR, [cbor2.CBORTag(1, t) for t in TIMESTAMPS])
    # Smallest-width floats, timestamps as floats: item widths vary, so every array takes cbor2's path.
    mixed = encode(doc, CBOR, [cbor2.CBORTag(1, float(t)) for t in TIMESTAMPS], canonical=True)
    to_seconds = lambda stamps: pd.to_datetime(stamps, utc=True).asi8 // 10**9  # noqa: E731
    ways: dict[str, Callable[[], object]] = {
        "botocore's CBOR parser (datetimes)": lambda: create_parser(CBOR).parse(
            {"body": body, "headers": {}, "status_code": 200}, OUTPUT_SHAPE
        ),
        "cbor2.loads (datetimes) + pandas.to_datetime": lambda: _points_of_cbor2(cbor2.loads(body), to_seconds),
        "cbor2.loads, semantic_decoders={1: keep number}": lambda: _points_of_cbor2(
            cbor2.loads(body, semantic_decoders={1: lambda v, _: v}), np.asarray
        ),
        "decode_get_metric_data, uniform arrays (strided numpy)": lambda: decode_get_metric_data(body, CBOR),
        "decode_get_metric_data, mixed-width arrays (cbor2 fallback)": lambda: decode_get_metric_data(mixed, CBOR),
    }
    rows = []
    for name, work in ways.items():
        seconds, _ = _best(1 if name.startswith("botocore") else 5, work)
        rows.append(info(f"cbor decode: {name}", POINTS_PER_PAGE / seconds / 1e6, "M points/s"))
    return rows


class _Raw:
    """The raw stream of a canned HTTP response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _stubbed_client(body: bytes, fast: bool) -> Any:
    """A real CloudWatch client (signing, retries, parsing: all boto3's) whose HTTP layer replays `body`."""
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    reply = AWSResponse("https://monitoring.us-east-1.amazonaws.com/", 200, headers, _Raw(body))
    # A before-send handler that returns a response short-circuits the HTTP call (the stubs say it returns None).
    client.meta.events.register("before-send.cloudwatch.GetMetricData", lambda **_: reply)  # type: ignore[arg-type]
    if fast:
        install_fast_decoder(client)
    return client


def client_calls() -> list[Result]:
    """get_metric_data through a boto3 client, HTTP replayed: the fast decoder installed against none."""
    night = night_queries(1)
    body = next(night_bodies(night, JSON))
    request = {
        "MetricDataQueries": [q.to_api() for q in night[0].values()],
        "StartTime": DAY,
        "EndTime": DAY + dt.timedelta(days=1),
    }
    fast_client, plain_client = _stubbed_client(body, True), _stubbed_client(body, False)
    fast_s, fast = _best(5, lambda: fast_client.get_metric_data(**request))
    plain_s, plain = _best(1, lambda: plain_client.get_metric_data(**request))
    if not np.array_equal(decoded_page(fast).values, decoded_page(plain).values, equal_nan=True):
        raise AssertionError("the fast decoder changed the values of a boto3 call")
    return [
        info("boto3 get_metric_data, json, fast decoder installed", POINTS_PER_PAGE / fast_s / 1e6, "M points/s"),
        info("boto3 get_metric_data, json, botocore's parser", POINTS_PER_PAGE / plain_s / 1e6, "M points/s"),
    ]


def _night(protocol: str) -> dict[str, float]:
    """Run in a child process: land a whole night, streaming, one body at a time.

    The bodies are generated to files first, so the timing covers landing only (a writer thread
    would otherwise keep working while the clock is stopped for generation), and no more than
    one body is in memory at a time, as when they come off the network.
    """
    night = night_queries(NIGHT_PAGES)
    catalog = QueryCatalog({k: q for page in night for k, q in page.items()})
    with tempfile.TemporaryDirectory(prefix="bench-night-") as folder:
        paths = []
        for page, body in enumerate(night_bodies(night, protocol)):
            paths.append(Path(folder) / f"{page:04d}.body")
            paths[-1].write_bytes(body)
        start = time.perf_counter()
        rows, parquet = land_fast((path.read_bytes() for path in paths), protocol, catalog)
        seconds = time.perf_counter() - start
    return {"points": rows, "seconds": seconds, "parquet_bytes": parquet.size, "vm_hwm_kib": _vm_hwm_kib()}


def _vm_hwm_kib() -> int:
    """This process image's own peak RSS (Linux); 0 where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def peak_memory() -> list[Result]:
    """(c) peak RSS of a whole 10 M-point night on the fast path, in a fresh child process."""
    results = []
    for protocol, label in ((CBOR, "cbor"), (JSON, "json")):
        child = measured_child("benchmarks.bench_throughput", "--night", protocol)
        peak_mib = child["children_maxrss_kib"] / 1024
        points = child["points"]
        results += [
            at_most(f"{label}: night of {points / 1e6:.2f} M points, peak RSS (child process)", peak_mib, "MiB", TARGET_PEAK_MIB),
            at_least(
                f"{label}: night of {points / 1e6:.2f} M points, fast path, streaming",
                points / child["seconds"] / 1e6,
                "M points/s",
                TARGET_M_POINTS_PER_S,
            ),
            info(f"{label}: night of {points / 1e6:.2f} M points, Parquet size", child["parquet_bytes"] / 1e6, "MB"),
        ]
    return results


BENCHMARKS = (throughput, timestamp_decoding, client_calls, peak_memory)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="child process of the peak-memory benchmark")
    parser.add_argument("--night", choices=(CBOR, JSON), required=True)
    print(json.dumps(_night(parser.parse_args(argv).night)))


if __name__ == "__main__":
    main()
