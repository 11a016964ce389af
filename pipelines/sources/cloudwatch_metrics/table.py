"""Decoded GetMetricData pages -> the cloudwatch_metrics table, column by column, and its Parquet bytes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import FatalError
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.sources.cloudwatch_metrics.decode import DecodedPage
from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery

SCHEMA = CLOUDWATCH_METRICS.schema
# Per-query columns, repeated over that query's points; the rest come from the page itself.
QUERY_COLUMNS = (
    "account_id",
    "region",
    "namespace",
    "metric_name",
    "dimensions",
    "endpoint_name",
    "variant_name",
    "stat",
    "period_seconds",
    "unit",
)
# About 1 M rows per row group: ~5-10 MB of zstd Parquet, large enough for Athena's readers,
# small enough that one buffered group stays far below the memory budget.
ROW_GROUP_ROWS = 1 << 20
# Rows the writer takes at a time. Its default (1,024) costs a night ~0.7 CPU-s: for each batch of a dictionary column
# it finds the referenced values (a new hash table) to update the statistics. Pages are still cut at their size.
WRITE_BATCH_ROWS = 1 << 17
# Columns whose values repeat (per query, per minute): dictionary-encode them. `value` is not:
# its dictionary would overflow and fall back to plain after costing time.
DICTIONARY_COLUMNS = [
    *(c for c in QUERY_COLUMNS if c != "dimensions"),
    "dimensions.key_value.key",
    "dimensions.key_value.value",
    "ts",
]
# Min/max statistics let engines skip row groups; on a map's entries no engine uses them, and
# they cost a fifth of the write time.
STATISTICS_COLUMNS = [name for name in SCHEMA.names if name != "dimensions"]
# What a streamed page is built as: the per-query strings as dictionary arrays over the catalog's distinct values (an
# index per point instead of a copied string: `take` of eight string columns was ~1.7 CPU-s of a 10 M-point night).
# The file says nothing of it: written without Arrow's schema, the Parquet is the same dictionary-encoded UTF-8
# column, and every reader (pyarrow, DuckDB, Athena) reads plain strings, the contract's SCHEMA.
# The dimensions map too: its keys and values index the catalog's entries (a `take` of the map copied two strings per
# point and was the costliest column to write: the writer hashed every one of them to build its dictionary).
_TEXT = pa.dictionary(pa.int32(), pa.string())
DICTIONARY_SCHEMA = pa.schema(
    [
        pa.field(f.name, _TEXT, f.nullable)
        if f.name in QUERY_COLUMNS and pa.types.is_string(f.type)
        else pa.field(f.name, pa.map_(pa.field("key", _TEXT, nullable=False), _TEXT), f.nullable)
        if f.name == "dimensions"
        else f
        for f in SCHEMA
    ]
)


class UnknownQueryId(FatalError):
    """A result came back for a query id the caller did not ask for."""


class QueryCatalog:
    """The per-query columns of a set of queries, built once, to `take` rows from per page."""

    def __init__(self, queries: Mapping[str, MetricQuery]) -> None:
        self._position = {query_id: i for i, query_id in enumerate(queries)}
        table = _query_table(list(queries.values()))
        self.columns = {name: table.column(name).combine_chunks() for name in QUERY_COLUMNS}
        # Each string column as (query -> code, codes -> value): a null stays a null code (Parquet's writer takes
        # no null inside a dictionary).
        self.encoded = {
            name: column.dictionary_encode() for name, column in self.columns.items() if pa.types.is_string(column.type)
        }
        # The codes as numpy (a null as code 0 under a mask): a page repeats each query's code over its points.
        self.codes = {
            name: (
                encoded.indices.fill_null(0).to_numpy(),
                encoded.indices.is_null().to_numpy(zero_copy_only=False) if encoded.null_count else None,
            )
            for name, encoded in self.encoded.items()
        }
        dimensions = self.columns["dimensions"]
        self.entry_starts = dimensions.offsets.to_numpy()[:-1].astype(np.int64)  # query -> its first map entry
        self.entry_counts = np.diff(dimensions.offsets.to_numpy()).astype(np.int64)
        keys, items = dimensions.keys.dictionary_encode(), dimensions.items.dictionary_encode()
        self.entry_keys = (keys.indices.to_numpy(), keys.dictionary)  # each entry's key code, and the codes' strings
        self.entry_items = (items.indices.to_numpy(), items.dictionary)

    def indices(self, ids: list[str]) -> np.ndarray:
        """Row of each id in the catalog; an id nobody asked for is an error that names it."""
        try:
            return np.fromiter((self._position[i] for i in ids), dtype=np.int64, count=len(ids))
        except KeyError as error:
            raise UnknownQueryId(
                f"GetMetricData returned result id {error.args[0]!r}, which is not among the {len(self._position)} queries sent"
            ) from error


def cloudwatch_metrics_table(pages: Iterable[DecodedPage], queries: Mapping[str, MetricQuery]) -> pa.Table:
    """All points of `pages` as one table of exactly the cloudwatch_metrics schema."""
    tables = list(iter_cloudwatch_metrics_tables(pages, queries))
    if not tables:
        return SCHEMA.empty_table()
    return pa.concat_tables(tables)


def iter_cloudwatch_metrics_tables(
    pages: Iterable[DecodedPage], queries: Mapping[str, MetricQuery] | QueryCatalog, *, dictionary: bool = False
) -> Iterator[pa.Table]:
    """One cloudwatch_metrics table per page, so a night can stream into Parquet page by page (`dictionary`: of
    DICTIONARY_SCHEMA, for a `ParquetStream(..., dictionary=True)`)."""
    catalog = queries if isinstance(queries, QueryCatalog) else QueryCatalog(queries)
    for page in pages:
        yield page_table(page, catalog, dictionary=dictionary)


def page_table(page: DecodedPage, catalog: QueryCatalog, *, dictionary: bool = False) -> pa.Table:
    """One page's points: query metadata broadcast over each result's points, then ts and value. Of SCHEMA, or
    with `dictionary` of DICTIONARY_SCHEMA (the same values; strings as indices into the catalog's distinct values)."""
    asked, points = catalog.indices(page.ids), np.diff(page.offsets)
    queries = np.repeat(asked, points)
    rows = pa.array(queries.astype(np.int32, copy=False))
    columns: dict[str, pa.Array] = {}
    for name, column in catalog.columns.items():
        if dictionary and name in catalog.encoded:
            # each result's code repeated over its points: a run per query, no gather per point (`take` was ~0.8
            # CPU-s of a 10 M-point night for the nine string columns)
            codes, nulls = catalog.codes[name]
            mask = None if nulls is None else np.repeat(nulls[asked], points)
            indices = pa.array(np.repeat(codes[asked], points), mask=mask)
            columns[name] = pa.DictionaryArray.from_arrays(indices, catalog.encoded[name].dictionary)
        elif dictionary and name == "dimensions":
            columns[name] = _dimensions(catalog, queries)
        else:
            columns[name] = column.take(rows)
    seconds = page.timestamps.astype(np.int64, copy=False)
    columns["ts"] = pa.array(seconds * 1_000_000, type=pa.timestamp("us"))
    values = page.values.astype(np.float64, copy=False)
    nan = np.isnan(values)
    columns["value"] = pa.array(values, type=pa.float64(), mask=nan if nan.any() else None)
    schema = DICTIONARY_SCHEMA if dictionary else SCHEMA
    return pa.table([columns[field.name] for field in schema], schema=schema)


def _dimensions(catalog: QueryCatalog, queries: np.ndarray) -> pa.MapArray:
    """Each row's map (the map of its query) as indices into the catalog's entries: row r holds entries
    entry_starts[q] .. + entry_counts[q] of its query q, gathered with numpy, no string copied."""
    counts = catalog.entry_counts[queries]
    offsets = np.zeros(len(queries) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    entries = np.repeat(catalog.entry_starts[queries] - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
    (key_codes, key_text), (item_codes, item_text) = catalog.entry_keys, catalog.entry_items
    return pa.MapArray.from_arrays(
        pa.array(offsets),
        pa.DictionaryArray.from_arrays(pa.array(key_codes[entries]), key_text),
        pa.DictionaryArray.from_arrays(pa.array(item_codes[entries]), item_text),
        type=DICTIONARY_SCHEMA.field("dimensions").type,
    )


def _query_table(queries: list[MetricQuery]) -> pa.Table:
    """One row per query with the per-query columns, typed as the contract says."""
    series = [q.series for q in queries]
    dimensions = pa.array([list(s.dimensions) for s in series], type=SCHEMA.field("dimensions").type)
    columns: dict[str, pa.Array] = {
        "account_id": pa.array([s.account_id for s in series], pa.string()),
        "region": pa.array([s.region for s in series], pa.string()),
        "namespace": pa.array([s.namespace for s in series], pa.string()),
        "metric_name": pa.array([s.metric_name for s in series], pa.string()),
        "dimensions": dimensions,
        "endpoint_name": pa.array([s.endpoint_name for s in series], pa.string()),
        "variant_name": pa.array([s.variant_name for s in series], pa.string()),
        "stat": pa.array([q.stat for q in queries], pa.string()),
        "period_seconds": pa.array([q.period_seconds for q in queries], pa.int32()),
        "unit": pa.array([q.unit for q in queries], pa.string()),
    }
    fields = [SCHEMA.field(name) for name in QUERY_COLUMNS]
    return pa.table([columns[name] for name in QUERY_COLUMNS], schema=pa.schema(fields))


def write_parquet(
    tables: Iterable[pa.Table],
    sink: str | IO[bytes] | pa.NativeFile,
    row_group_rows: int = ROW_GROUP_ROWS,
    *,
    dictionary: bool = False,
) -> int:
    """Stream tables of the cloudwatch_metrics schema (`dictionary`: of DICTIONARY_SCHEMA) into one zstd Parquet
    file; returns rows written."""
    with ParquetStream(sink, row_group_rows, dictionary=dictionary) as stream:
        for table in tables:
            stream.write(table)
    return stream.rows


class ParquetStream:
    """One zstd Parquet file that tables of the cloudwatch_metrics schema are pushed into, as they come.

    Tables are gathered into row groups of about `row_group_rows`; each row group is encoded on a
    worker thread (Arrow releases the GIL) while the next one is decoded and built, so at most
    two row groups are in memory at once. `rows` is what was written, once closed. With `dictionary`, the tables
    are of DICTIONARY_SCHEMA and the file of SCHEMA all the same.
    """

    def __init__(
        self, sink: str | IO[bytes] | pa.NativeFile, row_group_rows: int = ROW_GROUP_ROWS, *, dictionary: bool = False
    ) -> None:
        self._schema = DICTIONARY_SCHEMA if dictionary else SCHEMA
        self._writer = pq.ParquetWriter(
            sink,
            self._schema,
            compression="zstd",
            use_dictionary=DICTIONARY_COLUMNS,
            write_statistics=STATISTICS_COLUMNS,
            store_schema=not dictionary,  # with dictionaries, no Arrow schema: readers get SCHEMA's strings
            write_batch_size=WRITE_BATCH_ROWS,
        )
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet")
        self._row_group_rows = row_group_rows
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writing: Future[int] | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._row_group_rows:
            self.rows += self._writing.result() if self._writing else 0
            self._writing = self._pool.submit(_flush, self._writer, self._pending)
            self._pending, self._pending_rows = [], 0

    def close(self) -> int:
        """Write what is pending, end the file; returns the rows written."""
        try:
            self.rows += self._writing.result() if self._writing else 0
            self._writing = None
            if self._pending or self.rows == 0:
                self.rows += _flush(self._writer, self._pending or [self._schema.empty_table()])
            self._pending = []
        finally:
            self._writer.close()
            self._pool.shutdown()
        return self.rows

    def __enter__(self) -> ParquetStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.close()


def _flush(writer: pq.ParquetWriter, tables: list[pa.Table]) -> int:
    """Write what is pending as exactly one row group."""
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    writer.write_table(table, row_group_size=max(table.num_rows, 1))
    return table.num_rows


def write_parquet_bytes(table: pa.Table) -> bytes:
    """The table as zstd Parquet bytes, ready to upload."""
    # An Arrow buffer, not io.BytesIO: the writer then never calls back into Python.
    sink = pa.BufferOutputStream()
    write_parquet([table], sink)
    return sink.getvalue().to_pybytes()
