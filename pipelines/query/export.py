"""The published lake on local disk: its Parquet files and a DuckDB file that outlive the stack."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import duckdb
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError
from sqlglot import exp

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import FatalError
from pipelines.query.engine import QueryReader
from pipelines.query.local import (
    LakeTable,
    OpenedLake,
    PublishedFile,
    alias_view,
    connect,
    published_files,
    quote_identifier,
    read_catalog,
    register_views,
    run_query,
)
from pipelines.query.view_sql import ViewError

# Written by copy_published_lake beside the tables: what write_duckdb_views needs to know
# without the stack (database name, columns of tables that have no files yet, partition keys).
CATALOG_FILE = "_catalog.json"
COPY_THREADS = 8


class ExportError(FatalError):
    """The lake could not be written to local disk."""


def copy_published_lake(
    session: Session, lake: LakeConfig, dest_dir: str | Path, *, page_size: int | None = None
) -> dict[str, int]:
    """Download the published files of every table to dest_dir/<table>/dt=D/...; files per table.

    Each table's folder is replaced, so partitions republished since an earlier copy leave
    no stale files behind. Staged, quarantined and superseded run prefixes are not copied.
    """
    s3 = session.client("s3")
    counts: dict[str, int] = {}
    tables = read_catalog(session.client("glue"), lake.database, page_size=page_size)
    copies: list[tuple[PublishedFile, Path]] = []
    for table in tables:
        root = Path(dest_dir) / table.name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        files = published_files(s3, table, page_size=page_size)
        copies += [(file, root.joinpath(*_local_parts(table, file))) for file in files]
        counts[table.name] = len(files)

    def copy(file: PublishedFile, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            body = s3.get_object(Bucket=file.bucket, Key=file.key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise ExportError(f"cannot copy {file.uri} to {target}: {error}") from error
        target.write_bytes(body)

    # A lake is hundreds of small files (a 14-night demo: 500, 12 MB): one GET each, side by side. (download_file
    # made a transfer manager, its threads and a HEAD per file: ~10 s of that demo.)
    with ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="lake-copy") as pool:
        for done in [pool.submit(copy, file, target) for file, target in copies]:
            done.result()
    catalog = {
        "database": lake.database,
        "tables": {t.name: {"columns": t.columns, "partition_keys": t.partition_keys, "files": counts[t.name]} for t in tables},
    }
    (Path(dest_dir) / CATALOG_FILE).write_text(json.dumps(catalog, indent=1) + "\n", encoding="utf-8")
    return counts


def _local_parts(table: LakeTable, file: PublishedFile) -> list[str]:
    """Hive-style folders from the partition values (not the run prefix), then the file's own path."""
    values = zip(table.partition_keys, file.partition.values, strict=True)
    folders = [f"{name}={quote(value, safe='')}" for (name, _), value in values]
    return folders + list(PurePosixPath(file.relative).parts)


def write_duckdb_views(dest_dir: str | Path, duckdb_path: str | Path, views: Mapping[str, str] | None = None) -> dict[str, int]:
    """A DuckDB file with one view per table over the Parquet copied by copy_published_lake.

    Views name the Parquet by absolute path, so any DuckDB client in any folder can open the
    file; moving the Parquet means writing the views again. Each table is also
    `<database>.<table>`. Returns the rows per table.
    """
    dest_dir = Path(dest_dir).resolve()
    try:
        catalog = json.loads((dest_dir / CATALOG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ExportError(f"{dest_dir / CATALOG_FILE}: run copy_published_lake first ({error})") from error
    database = catalog["database"]
    rows: dict[str, int] = {}

    def build(out: duckdb.DuckDBPyConnection) -> None:
        if database != "main":
            out.execute(f"CREATE SCHEMA {quote_identifier(database)}")
        for name, table in sorted(catalog["tables"].items()):
            columns = [(c, t) for c, t in table["columns"]]
            keys = [(k, t) for k, t in table["partition_keys"]]
            body = _view_body((dest_dir / name).as_posix(), columns, keys, has_files=bool(table["files"]))
            out.execute(f"CREATE VIEW main.{quote_identifier(name)} AS {body}")
            if database != "main":
                alias_view(out, database, name)
            rows[name] = _count(out, name)
        # The Athena views (sql/), transpiled once, so the file answers the same questions.
        register_views(out, dict(views or {}), database=database)

    _write_atomically(Path(duckdb_path), build)
    return rows


def _view_body(folder: str, columns: list[tuple[str, str]], keys: list[tuple[str, str]], *, has_files: bool) -> str:
    """Glue's columns then partition keys, from the Parquet copy (or typed NULLs when empty)."""
    names = ", ".join(quote_identifier(name) for name, _ in columns + keys)
    if not has_files:
        nulls = [f"CAST(NULL AS {duckdb_type(kind)}) AS {quote_identifier(name)}" for name, kind in columns + keys]
        typed = ", ".join(nulls)
        return f"SELECT {typed} WHERE false"
    if not keys:
        return f"SELECT {names} FROM read_parquet({_literal(folder + '/**/*.parquet')}, union_by_name = true)"
    pattern = "/".join([folder, *(f"{name}=*" for name, _ in keys), "**", "*.parquet"])
    # Partition values keep their Glue types (dt stays a string, not a DATE guessed from its look).
    hive_types = ", ".join(f"{_literal(name)}: {_literal(duckdb_type(kind))}" for name, kind in keys)
    return (
        f"SELECT {names} FROM read_parquet({_literal(pattern)}, hive_partitioning = true, "
        f"hive_types = {{{hive_types}}}, union_by_name = true)"
    )


def duckdb_type(glue_type: str) -> str:
    return exp.DataType.build(glue_type, dialect="hive").sql("duckdb")


def _write_atomically(path: Path, build: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    """Build a DuckDB file beside `path`, then rename it over `path`: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    out = connect(str(partial))
    try:
        build(out)
        out.execute("CHECKPOINT")
    except duckdb.Error as error:
        raise ExportError(f"cannot write {path}: {error}") from error
    finally:
        out.close()
    os.replace(partial, path)


def _count(out: duckdb.DuckDBPyConnection, name: str) -> int:
    counted = out.execute(f"SELECT count(*) FROM main.{quote_identifier(name)}").fetchall()
    return int(counted[0][0])


def export_duckdb(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict[str, int]:
    """Write `con`'s lake (from open_lake, plus any registered views) to a self-contained DuckDB file.

    Unlike write_duckdb_views, lake tables are materialised as tables: the file alone answers
    queries, with no stack and no Parquet beside it. Views (the `<database>` schema, SQL views)
    are re-created as views. Returns the rows per lake table.
    """
    views = con.execute(
        "SELECT schema_name, view_name, temporary, sql FROM duckdb_views() WHERE NOT internal ORDER BY view_oid"
    ).fetchall()
    rows: dict[str, int] = {}

    def build(out: duckdb.DuckDBPyConnection) -> None:
        # open_lake registered the lake tables as temporary views over Arrow: materialise those.
        for _, name, temporary, _ in views:
            if temporary:
                rows[name] = _materialise(con, out, name)
        for schema, _, temporary, sql in views:
            if not temporary:
                out.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
                out.execute(sql)

    _write_atomically(Path(path), build)
    return dict(sorted(rows.items()))


def _materialise(con: duckdb.DuckDBPyConnection, out: duckdb.DuckDBPyConnection, name: str) -> int:
    reader = con.sql(f"SELECT * FROM {quote_identifier(name)}").to_arrow_reader()
    out.register("_lake_source", reader)
    try:
        out.execute(f"CREATE TABLE main.{quote_identifier(name)} AS SELECT * FROM _lake_source")
    finally:
        out.unregister("_lake_source")
    return _count(out, name)


def open_duckdb_file(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to an exported lake file, ready for run_query (Athena SQL)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such DuckDB file (`mlmon demo` writes one under out/)")
    try:
        return connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise ExportError(f"{path}: not a readable DuckDB file: {error}") from error


@dataclass(frozen=True)
class LakeFileEngine:
    """DuckDB over a lake file `mlmon demo` wrote: no stack, no AWS; its views were fixed when it was written."""

    path: Path

    def run(self, sql: str) -> pa.Table:
        con = open_duckdb_file(self.path)
        try:
            return run_query(con, sql)
        finally:
            con.close()

    def reading(self) -> AbstractContextManager[QueryReader]:
        return OpenedLake(open_duckdb_file(self.path), cursors=True)

    def create_views(self, views: Mapping[str, str], names: Sequence[str]) -> None:
        raise ViewError(f"{self.path}: a lake file's views are fixed when it is written; run the demo again to change them")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
