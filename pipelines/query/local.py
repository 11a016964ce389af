"""The published lake in DuckDB: only what the Glue catalog points at, with partition pruning."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session, pagination
from pipelines.config import LakeConfig
from pipelines.errors import RetriableError
from pipelines.lake.catalog_views import store_view, stored_views
from pipelines.logs import get_logger
from pipelines.query.engine import QueryReader
from pipelines.query.transpile import DUCKDB_SETTINGS, QueryError, athena_to_duckdb
from pipelines.query.view_sql import ViewError, needed, order_views

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),  # the lake's convention: naive UTC, microseconds
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class Partition:
    """One published partition: its key values and the prefix its files live under."""

    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class LakeTable:
    """A Glue table as readers see it: columns, partition keys, published locations."""

    name: str
    location: str
    columns: tuple[tuple[str, str], ...]  # (name, Glue type) of the data columns
    partition_keys: tuple[tuple[str, str], ...] = ()
    partitions: tuple[Partition, ...] = ()

    @property
    def partitioned(self) -> bool:
        return bool(self.partition_keys)

    def arrow_schema(self) -> pa.Schema:
        """Data columns then partition keys, as Athena lists them."""
        return pa.schema([pa.field(n, glue_type_to_arrow(t)) for n, t in self.columns + self.partition_keys])

    def published_locations(self) -> list[Partition]:
        """Where readers look: every partition's location, or the table's own for an unpartitioned one."""
        return list(self.partitions) if self.partitioned else [Partition((), self.location)]


@dataclass(frozen=True)
class PublishedFile:
    """One data file readers see, and its path below its partition's location."""

    partition: Partition
    bucket: str
    key: str
    relative: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def glue_type_to_arrow(glue_type: str) -> pa.DataType:
    """The Arrow type of a Glue/Hive column type (map<string,string>, array<...>, struct<...>, ...)."""
    text = glue_type.strip().lower()
    if text.startswith("array<") and text.endswith(">"):
        return pa.list_(glue_type_to_arrow(text[6:-1]))
    if text.startswith("map<") and text.endswith(">"):
        key, value = _split_top_level(text[4:-1])
        return pa.map_(glue_type_to_arrow(key), glue_type_to_arrow(value))
    if text.startswith("struct<") and text.endswith(">"):
        fields = [part.split(":", 1) for part in _split_top_level(text[7:-1])]
        return pa.struct([pa.field(name.strip(), glue_type_to_arrow(inner)) for name, inner in fields])
    decimal = _DECIMAL.fullmatch(text)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    base = text.split("(", 1)[0]  # varchar(10), char(3)
    if base in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[base]
    raise QueryError(f"no Arrow type for the Glue type {glue_type!r}")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside <> and (): map<string,array<int>> -> [string, array<int>]."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def read_catalog(
    glue: GlueClient, database: str, *, page_size: int | None = None, only: Collection[str] | None = None
) -> list[LakeTable]:
    """Every Parquet table of `database` (or those named in `only`) with its published partitions (both listings
    paginated)."""
    log = get_logger(__name__)
    paging = pagination(page_size)
    tables: list[LakeTable] = []
    try:
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database, PaginationConfig=paging):
            for found in page["TableList"]:
                if found.get("TableType") == "VIRTUAL_VIEW":
                    continue  # views are read with their SQL (stored_views), not as data
                if only is not None and found["Name"].lower() not in only:
                    continue
                if not _is_parquet_table(found):
                    log.warning("query.table_skipped", table=found["Name"], reason="not a Parquet table")
                    continue
                tables.append(_lake_table(glue, database, found, paging))
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "EntityNotFoundException" and error.operation_name == "GetTables":
            raise QueryError(f"Glue database {database!r} not found: nothing has been published yet") from error
        raise QueryError(f"cannot read the Glue catalog {database!r}: {code}: {error}") from error
    except BotoCoreError as error:
        raise RetriableError(f"cannot reach the Glue catalog {database!r}: {error}") from error
    return sorted(tables, key=lambda t: t.name)


def _is_parquet_table(table: Mapping[str, Any]) -> bool:
    descriptor = table.get("StorageDescriptor", {})
    formats = " ".join([descriptor.get("InputFormat", ""), descriptor.get("SerdeInfo", {}).get("SerializationLibrary", "")])
    # A table created without format details (as some tools do) is taken to be Parquet, the lake's format.
    return "parquet" in formats.lower() or not formats.strip()


def _lake_table(glue: GlueClient, database: str, found: Mapping[str, Any], paging: PaginatorConfigTypeDef) -> LakeTable:
    descriptor = found["StorageDescriptor"]
    keys = tuple((k["Name"], k["Type"]) for k in found.get("PartitionKeys", []))
    partitions: list[Partition] = []
    if keys:
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=found["Name"], PaginationConfig=paging
        )
        for page in pages:
            partitions += [Partition(tuple(p["Values"]), p["StorageDescriptor"]["Location"]) for p in page["Partitions"]]
    return LakeTable(
        name=found["Name"],
        location=descriptor.get("Location", ""),
        columns=tuple((c["Name"], c["Type"]) for c in descriptor.get("Columns", [])),
        partition_keys=keys,
        partitions=tuple(sorted(partitions, key=lambda p: p.values)),
    )


def published_files(s3: S3Client, table: LakeTable, *, page_size: int | None = None) -> list[PublishedFile]:
    """Every data file readers see, from the published locations only.

    Like Athena, a location is read recursively, skipping hidden files and folders (`_`, `.`)
    and folder markers; other run prefixes of the same `dt` are never listed.
    """
    files: list[PublishedFile] = []
    by_prefix = {_folder(p.location): p for p in table.published_locations()}
    root_bucket, root = _split_uri(_folder(table.location)) if table.location else ("", "")
    under_root = {f for f in by_prefix if table.location and f.startswith(f"s3://{root_bucket}/{root}")}
    # Many partitions under the table's own prefix: list it once (a call per 1,000 files) rather than once per
    # partition (a call per night: a year of nights made every query on the laptop 365 listings slower).
    if len(under_root) > 1:
        for key in _list_keys(s3, root_bucket, root, page_size):
            folder = _owning_folder(f"s3://{root_bucket}/", key, under_root)
            if folder is not None:
                files += _visible(by_prefix[folder], root_bucket, key, len(_split_uri(folder)[1]))
    for folder, partition in by_prefix.items():
        if folder in under_root and len(under_root) > 1:
            continue
        bucket, prefix = _split_uri(folder)
        for key in _list_keys(s3, bucket, prefix, page_size):
            files += _visible(partition, bucket, key, len(prefix))
    return files


def _folder(location: str) -> str:
    return location if not location or location.endswith("/") else location + "/"


def _owning_folder(base: str, key: str, folders: Collection[str]) -> str | None:
    """The published folder `key` lies in, if any (partition folders never nest within one another)."""
    end = key.find("/")
    while end != -1:
        candidate = base + key[: end + 1]
        if candidate in folders:
            return candidate
        end = key.find("/", end + 1)
    return None


def _visible(partition: Partition, bucket: str, key: str, prefix_length: int) -> list[PublishedFile]:
    """The file as readers see it, or nothing for a folder marker or a hidden file or folder (`_`, `.`)."""
    relative = PurePosixPath(key[prefix_length:])
    if key.endswith("/") or any(part.startswith(("_", ".")) for part in relative.parts):
        return []
    return [PublishedFile(partition, bucket, key, relative.as_posix())]


def _list_keys(s3: S3Client, bucket: str, prefix: str, page_size: int | None) -> Iterator[str]:
    paging = pagination(page_size)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, PaginationConfig=paging):
            for item in page.get("Contents", []):
                if item.get("Size", 1) > 0:
                    yield item["Key"]
    except ClientError as error:
        raise QueryError(f"cannot list s3://{bucket}/{prefix}: {error}") from error
    except BotoCoreError as error:
        raise RetriableError(f"cannot reach S3 listing s3://{bucket}/{prefix}: {error}") from error


def _split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith(("s3://", "s3a://", "s3n://")):
        raise QueryError(f"not an S3 location: {uri!r}")
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def s3_filesystem(session: Session) -> pafs.S3FileSystem:
    """pyarrow's S3 client with the session's credentials and region (and endpoint, if local)."""
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials else None
    options: dict[str, Any] = {"region": session.region_name} if session.region_name else {}
    if frozen:
        options.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    if session.endpoint_url:
        scheme, _, host = session.endpoint_url.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return pafs.S3FileSystem(**options)


def table_dataset(table: LakeTable, files: list[PublishedFile], filesystem: pafs.FileSystem) -> ds.Dataset:
    """One Arrow dataset over the published files; each fragment knows its partition values,
    so a filter on a partition key skips the other partitions' files unread."""
    schema = table.arrow_schema()
    if not files:
        return ds.dataset(schema.empty_table())
    parquet = ds.ParquetFileFormat()
    paths = [f"{f.bucket}/{f.key}" for f in files]
    # Physical types win over Glue's where both exist (e.g. a map's inner field names).
    physical = parquet.inspect(paths[0], filesystem=filesystem)
    fields = [physical.field(f.name) if f.name in physical.names else f for f in schema]
    schema = pa.schema(fields)
    key_types = {name: schema.field(name).type for name, _ in table.partition_keys}
    fragments = []
    for file, path in zip(files, paths, strict=True):
        expression = pc.scalar(True)
        for (name, _), value in zip(table.partition_keys, file.partition.values, strict=True):
            expression = expression & (pc.field(name) == pa.scalar(value).cast(key_types[name]))
        fragments.append(parquet.make_fragment(path, filesystem=filesystem, partition_expression=expression))
    return ds.FileSystemDataset(fragments, schema=schema, format=parquet, filesystem=filesystem)


def connect(path: str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the settings transpiled Athena SQL relies on."""
    con = duckdb.connect(path, read_only=read_only)
    for statement in DUCKDB_SETTINGS:
        con.execute(statement)
    return con


def open_lake(
    session: Session,
    lake: LakeConfig,
    *,
    filesystem: pafs.FileSystem | None = None,
    page_size: int | None = None,
    with_views: bool = True,
    only: Collection[str] | None = None,
    views: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """DuckDB over the published lake: each table as `t` and as `<database>.t`, then the catalog's views;
    `only`: just these tables and views (a query's, `needed`), so a query reads no listing it does not use."""
    tables = read_catalog(session.client("glue"), lake.database, page_size=page_size, only=only)
    s3 = session.client("s3")
    filesystem = filesystem or s3_filesystem(session)
    con = connect()
    if lake.database != "main":
        con.execute(f"CREATE SCHEMA {quote_identifier(lake.database)}")
    for table in tables:
        dataset = table_dataset(table, published_files(s3, table, page_size=page_size), filesystem)
        # register() makes a temporary view: what export.py materialises as a table.
        con.register(table.name, dataset)
        if lake.database != "main":
            alias_view(con, lake.database, table.name)
    if with_views:
        views = stored_views(session, lake) if views is None else views
        if only is not None:
            views = {name: sql for name, sql in views.items() if name in only}
        register_views(con, order_views(views, tables=None) if views else {}, database=lake.database)
    return con


@dataclass(frozen=True)
class LocalLakeEngine:
    """DuckDB over a local stack's published lake: what readers see, the catalog's views included.

    There is no Athena on a laptop: a view is checked by running it on DuckDB over the lake,
    then stored in the Glue catalog in Athena's own format, so every reader sees it.
    """

    session: Session
    lake: LakeConfig

    def run(self, sql: str) -> pa.Table:
        views = stored_views(self.session, self.lake)
        con = open_lake(self.session, self.lake, only=needed(sql, views), views=views)
        try:
            return run_query(con, sql)
        finally:
            con.close()

    @contextmanager
    def reading(self) -> Iterator[QueryReader]:
        with OpenedLake(open_lake(self.session, self.lake)) as opened:
            yield opened

    def create_views(self, views: Mapping[str, str], names: Sequence[str]) -> None:
        con = open_lake(self.session, self.lake, with_views=False)
        try:
            try:
                register_views(con, views)
            except QueryError as error:
                raise ViewError(str(error)) from error
            for name in names:
                columns = [{"Name": column, "Type": kind} for column, kind in athena_columns(con, name)]
                store_view(self.session, self.lake, name, views[name], columns)
        finally:
            con.close()


class OpenedLake:
    """Queries on one opened lake, a context manager that closes it.

    A lake file's tables and views are the database's own: each query gets a cursor of its own, and a dashboard's
    run side by side (DuckDB works outside the GIL). A stack's lake is datasets registered on the connection, which
    a cursor would not see: its queries take turns on the connection, DuckDB running each on every core."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, cursors: bool = False) -> None:
        self._con = con
        self._cursors = cursors
        self._turn = threading.Lock()

    def run(self, sql: str) -> pa.Table:
        if self._cursors:
            with self._turn:  # a cursor is made on the shared connection: one thread at a time
                cursor = self._con.cursor()
            try:
                return run_query(cursor, sql)
            finally:
                cursor.close()
        with self._turn:
            return run_query(self._con, sql)

    def __enter__(self) -> OpenedLake:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def athena_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    """(column, Athena type) of table or view `name` on `con`: what the Glue catalog holds for it."""
    described = con.execute(f"DESCRIBE {quote_identifier(name)}").fetchall()
    return [(str(column), _athena_type(str(kind))) for column, kind, *_ in described]


def _athena_type(duckdb_type: str) -> str:
    simple = {
        "VARCHAR": "varchar",
        "BIGINT": "bigint",
        "INTEGER": "integer",
        "DOUBLE": "double",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "FLOAT": "real",
        "HUGEINT": "bigint",
    }
    return simple.get(duckdb_type.upper(), "varchar")


def register_views(con: duckdb.DuckDBPyConnection, sqls: Mapping[str, str], *, database: str | None = None) -> None:
    """Create (or replace) one view per Athena SQL text, in order, so later views may use earlier ones."""
    for name, sql in sqls.items():
        body = athena_to_duckdb(sql, date_columns=date_columns(con))
        try:
            con.execute(f"CREATE OR REPLACE VIEW {quote_identifier(name)} AS {body}")
            if database and database != "main":
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(database)}")
                alias_view(con, database, name)
        except duckdb.Error as error:
            raise QueryError(f"view {name}: {error}\n-- as DuckDB SQL:\n{body}") from error


def date_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the DATE columns visible on `con` (lets date_add/date_trunc keep DATE results)."""
    rows = con.execute("SELECT DISTINCT column_name FROM duckdb_columns() WHERE data_type = 'DATE'").fetchall()
    return {str(row[0]) for row in rows}


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run one Athena query on `con` (from open_lake or open_duckdb_file)."""
    duck = athena_to_duckdb(sql, date_columns=date_columns(con))
    try:
        return con.sql(duck).to_arrow_table()
    except duckdb.Error as error:
        raise QueryError(f"{type(error).__name__}: {error}\n-- as DuckDB SQL:\n{duck}") from error


def alias_view(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """`schema.name` for `name`, as Athena's `db.table`. The target is qualified: inside a view,
    DuckDB resolves bare names in the view's own schema first (a view would select itself)."""
    schema, name = quote_identifier(schema), quote_identifier(name)
    con.execute(f"CREATE OR REPLACE VIEW {schema}.{name} AS SELECT * FROM main.{name}")


def quote_identifier(identifier: str) -> str:
    """A DuckDB identifier, quoted (table names come from the catalog, not from us)."""
    return '"' + identifier.replace('"', '""') + '"'
