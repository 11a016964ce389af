"""Glue catalog: the lake's database, tables and partition switches (the publish step of WAP)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import FatalError
from pipelines.faults import error_code
from pipelines.lake.schemas import TABLES, TableSpec

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

PARTITION_KEYS = {"dt": "string"}


def ensure_lake(session: Session, lake: LakeConfig) -> None:
    """The database and every contract table exist with the contract's columns (idempotent).

    Every night asks: one listing of the database's tables (a page: the contract's tables and the views) answers it,
    where a lookup per table took ~15 calls; only a table missing or changed is looked at again and written."""
    try:
        current = _glue_tables(session, lake)
    except ClientError as error:
        if error_code(error) != "EntityNotFoundException":
            raise
        ensure_database(session, lake)
        current = {}
    for spec in TABLES.values():
        if current.get(spec.name) != (spec.glue_columns(), spec.partitioned):
            _ensure_listed(session, lake, spec, current.get(spec.name))


def ensure_database(session: Session, lake: LakeConfig) -> bool:
    """Create the Glue database if missing; True when it was created."""
    glue = session.client("glue")
    try:
        glue.get_database(Name=lake.database)
        return False
    except glue.exceptions.EntityNotFoundException:
        try:
            glue.create_database(DatabaseInput={"Name": lake.database, "Description": "ML performance lake"})
        except glue.exceptions.AlreadyExistsException:
            return False  # another run (a concurrent night of a backfill) made it between our two calls
        return True


def ensure_table(session: Session, lake: LakeConfig, spec: TableSpec) -> str:
    """Create the table, update it when its columns changed, else do nothing; says which."""
    return _ensure_listed(session, lake, spec, _glue_columns(session, lake, spec.name))


def _ensure_listed(session: Session, lake: LakeConfig, spec: TableSpec, found: tuple[dict[str, str], bool] | None) -> str:
    """`ensure_table` for a table a lookup or a listing has just shown as `found` (None: absent), looked up no more.

    Two runs may ensure the same new table at once (the nights of a parallel backfill): the one whose
    creation Glue refuses as already existing looks again and finds the other's table.
    """
    try:
        return _ensure_table(session, lake, spec, found)
    except ClientError as error:
        if error_code(error) != "AlreadyExistsException":
            raise
        return _ensure_table(session, lake, spec, _glue_columns(session, lake, spec.name))


def _ensure_table(session: Session, lake: LakeConfig, spec: TableSpec, current: tuple[dict[str, str], bool] | None) -> str:
    if current == (spec.glue_columns(), spec.partitioned):
        return "unchanged"
    glue = session.client("glue")
    if current is None:  # the listing or lookup just said it is absent: no lookup again (awswrangler's first call)
        glue.create_table(DatabaseName=lake.database, TableInput=_table_input(lake, spec))
        return "created"
    # The contract changed (a column added in a release): the table's columns change, its published partitions stay.
    # (awswrangler's create_parquet_table, mode="overwrite", deleted every partition first: a year of history gone
    # from readers until each night was published again.)
    glue.update_table(DatabaseName=lake.database, TableInput=_table_input(lake, spec))
    return "updated"


def _table_input(lake: LakeConfig, spec: TableSpec) -> dict[str, Any]:
    """The Glue table of `spec`: zstd Parquet under the table's prefix, partitioned by dt or not; field for field what
    awswrangler's `create_parquet_table` writes (tests/integration/test_ensure_lake.py compares the two)."""
    parameters = {"classification": "parquet", "compressionType": "zstd", "typeOfData": "file"}
    return {
        "Name": spec.name,
        "Description": spec.description,
        "PartitionKeys": [{"Name": name, "Type": kind} for name, kind in (PARTITION_KEYS if spec.partitioned else {}).items()],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {**parameters, "projection.enabled": "false"},
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind} for name, kind in spec.glue_columns().items()],
            "Location": lake.table_uri(spec.name),
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "Compressed": True,
            "NumberOfBuckets": -1,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "Parameters": {"serialization.format": "1"},
            },
            "BucketColumns": [],
            "StoredAsSubDirectories": False,
            "SortColumns": [],
            "Parameters": {"CrawlerSchemaDeserializerVersion": "1.0", **parameters},
        },
    }


def _glue_columns(session: Session, lake: LakeConfig, table: str) -> tuple[dict[str, str], bool] | None:
    try:
        found = session.client("glue").get_table(DatabaseName=lake.database, Name=table)["Table"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "EntityNotFoundException":
            return None
        raise
    return _columns(found)


def _glue_tables(session: Session, lake: LakeConfig) -> dict[str, tuple[dict[str, str], bool]]:
    """Each table's (columns, partitioned) in the lake's database (views too); EntityNotFoundException without it."""
    pages = session.client("glue").get_paginator("get_tables").paginate(DatabaseName=lake.database)
    return {table["Name"]: _columns(table) for page in pages for table in page["TableList"]}


def _columns(table: dict[str, Any]) -> tuple[dict[str, str], bool]:
    columns = {c["Name"]: c["Type"] for c in table.get("StorageDescriptor", {}).get("Columns", [])}
    return columns, bool(table.get("PartitionKeys"))


def partition_location(session: Session, lake: LakeConfig, table: str, dt: str) -> str | None:
    """Where readers currently find `table` for `dt` (None: not published)."""
    glue = session.client("glue")
    try:
        part = glue.get_partition(DatabaseName=lake.database, TableName=table, PartitionValues=[dt])
    except glue.exceptions.EntityNotFoundException:
        return None
    return str(part["Partition"]["StorageDescriptor"]["Location"])


def switch_partition(session: Session, lake: LakeConfig, table: str, dt: str, location: str) -> str | None:
    """Point partition `dt` at `location` in one catalog call; returns the previous location.

    Readers see the old files or the new ones, never a mix: the files under both prefixes
    are complete before this call, and the call is atomic in the Glue catalog.
    """
    glue = session.client("glue")
    descriptor = _storage_descriptor(glue, lake, table, location)
    partition_input: dict[str, Any] = {"Values": [dt], "StorageDescriptor": descriptor}
    previous = partition_location(session, lake, table, dt)
    if previous is None:
        glue.create_partition(DatabaseName=lake.database, TableName=table, PartitionInput=partition_input)
    else:
        glue.update_partition(
            DatabaseName=lake.database, TableName=table, PartitionValueList=[dt], PartitionInput=partition_input
        )
    return previous


def table_location(session: Session, lake: LakeConfig, table: str) -> str | None:
    """Where readers find an unpartitioned table (None: no such table)."""
    glue = session.client("glue")
    try:
        return str(glue.get_table(DatabaseName=lake.database, Name=table)["Table"]["StorageDescriptor"]["Location"])
    except glue.exceptions.EntityNotFoundException:
        return None


def switch_table_location(session: Session, lake: LakeConfig, table: str, location: str) -> str:
    """For an unpartitioned table: point the table itself at `location`; returns the old one."""
    glue = session.client("glue")
    found = glue.get_table(DatabaseName=lake.database, Name=table)["Table"]
    previous = str(found["StorageDescriptor"]["Location"])
    table_input = {k: v for k, v in found.items() if k in _TABLE_INPUT_KEYS}
    table_input["StorageDescriptor"] = {**found["StorageDescriptor"], "Location": location}
    glue.update_table(DatabaseName=lake.database, TableInput=table_input)
    return previous


_TABLE_INPUT_KEYS = {
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
}


def _storage_descriptor(glue: GlueClient, lake: LakeConfig, table: str, location: str) -> dict[str, Any]:
    try:
        found = glue.get_table(DatabaseName=lake.database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException as error:
        raise FatalError(f"table {lake.database}.{table} does not exist: create it before publishing") from error
    return {**found["StorageDescriptor"], "Location": location}


def list_partitions(session: Session, lake: LakeConfig, table: str) -> dict[str, str]:
    """Every published partition of `table`: dt -> location (paginated)."""
    paginator = session.client("glue").get_paginator("get_partitions")
    found: dict[str, str] = {}
    for page in paginator.paginate(DatabaseName=lake.database, TableName=table):
        for part in page["Partitions"]:
            found[part["Values"][0]] = part["StorageDescriptor"]["Location"]
    return dict(sorted(found.items()))


def table_columns(session: Session, lake: LakeConfig, name: str) -> list[tuple[str, str]] | None:
    """(name, Athena type) of every column of table or view `name`, partition keys last (None: no such table)."""
    try:
        found = session.client("glue").get_table(DatabaseName=lake.database, Name=name)["Table"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "EntityNotFoundException":
            return None
        raise
    columns = [*found.get("StorageDescriptor", {}).get("Columns", []), *found.get("PartitionKeys", [])]
    return [(str(c["Name"]), str(c["Type"])) for c in columns]
