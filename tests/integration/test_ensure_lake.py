"""Every night makes sure of the lake's catalog: one listing when nothing changed, and only what is missing or
changed is written; a changed table keeps its published partitions."""

from __future__ import annotations

from typing import Any

import awswrangler as wr
import pytest

from pipelines.lake.catalog import PARTITION_KEYS, ensure_lake
from pipelines.lake.schemas import TABLES
from tests.integration.lakehelpers import make_config, new_lake


def _glue_calls(session: Any) -> list[str]:
    """Glue operations as they are called, each named `Operation` or `Operation:table`."""
    calls: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        table = params.get("TableName") or params.get("TableInput", {}).get("Name")
        table = table or (params.get("Name") if "Table" in model.name else None)
        calls.append(f"{model.name}:{table}" if table and model.name != "GetTables" else model.name)

    session.register_hook("before-parameter-build.glue", record)
    return calls


def _contract(glue: Any, database: str) -> dict[str, tuple[dict[str, str], list[str]]]:
    pages = glue.get_paginator("get_tables").paginate(DatabaseName=database)
    return {
        t["Name"]: (
            {c["Name"]: c["Type"] for c in t.get("StorageDescriptor", {}).get("Columns", [])},
            [k["Name"] for k in t.get("PartitionKeys", [])],
        )
        for page in pages
        for t in page["TableList"]
    }


def test_a_lake_is_made_once_then_each_night_lists_it_and_mends_only_what_differs(endpoint_url: str) -> None:
    config = make_config(endpoint_url)
    session = new_lake(config)
    calls = _glue_calls(session)
    glue = session.client("glue")

    ensure_lake(session, config.lake)  # no database yet
    assert calls[:2] == ["GetTables", "GetDatabase"] and calls.count("CreateDatabase") == 1
    # The listing said each table is missing: each is created, none looked up again
    assert sorted(c for c in calls if c.startswith("CreateTable:")) == sorted(f"CreateTable:{name}" for name in TABLES)
    assert [c for c in calls if c.startswith("GetTable:")] == []
    made = _contract(glue, config.lake.database)
    assert set(made) == set(TABLES)
    for spec in TABLES.values():
        assert made[spec.name] == (spec.glue_columns(), ["dt"] if spec.partitioned else []), spec.name

    calls.clear()
    ensure_lake(session, config.lake)  # the usual night: nothing to do
    assert calls == ["GetTables"]

    # One table dropped, one whose columns drifted (an older contract) with a night published, one extra table (a
    # view, say): the first two are mended, nothing else is written, and the published night stays published.
    drifted = "cloudwatch_metrics"
    gone = next(name for name in sorted(TABLES) if name != drifted)
    glue.delete_table(DatabaseName=config.lake.database, Name=gone)
    table = glue.get_table(DatabaseName=config.lake.database, Name=drifted)["Table"]
    night = {"Values": ["2026-11-01"], "StorageDescriptor": {**table["StorageDescriptor"], "Location": "s3://b/run=1/"}}
    glue.create_partition(DatabaseName=config.lake.database, TableName=drifted, PartitionInput=night)
    descriptor = {**table["StorageDescriptor"], "Columns": table["StorageDescriptor"]["Columns"][:-1]}
    glue.update_table(
        DatabaseName=config.lake.database,
        TableInput={"Name": drifted, "StorageDescriptor": descriptor, "PartitionKeys": table.get("PartitionKeys", [])},
    )
    glue.create_table(DatabaseName=config.lake.database, TableInput={"Name": "a_view", "TableType": "VIRTUAL_VIEW"})
    calls.clear()
    ensure_lake(session, config.lake)
    assert calls[0] == "GetTables" and sorted(calls[1:]) == [f"CreateTable:{gone}", f"UpdateTable:{drifted}"]
    assert _contract(glue, config.lake.database) == {**made, "a_view": ({}, [])}
    partitions = glue.get_partitions(DatabaseName=config.lake.database, TableName=drifted)["Partitions"]
    assert [(p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions] == [(["2026-11-01"], "s3://b/run=1/")]


@pytest.mark.parametrize("name", ["cloudwatch_metrics", "endpoints"])
def test_a_table_is_made_as_awswrangler_makes_it(endpoint_url: str, name: str) -> None:
    """The table input is written out (one call, no lookup first): Glue holds what awswrangler's create_parquet_table
    made before, field for field, so Athena reads it as it did."""
    config = make_config(endpoint_url)
    session = new_lake(config)
    ensure_lake(session, config.lake)
    spec = TABLES[name]
    session.client("glue").create_database(DatabaseInput={"Name": "by_awswrangler"})
    wr.catalog.create_parquet_table(
        database="by_awswrangler",
        table=spec.name,
        path=config.lake.table_uri(spec.name),
        columns_types=spec.glue_columns(),
        partitions_types=PARTITION_KEYS if spec.partitioned else None,
        compression="zstd",
        description=spec.description,
        mode="overwrite",
        boto3_session=session,
    )

    def held(database: str) -> dict[str, Any]:
        found = session.client("glue").get_table(DatabaseName=database, Name=spec.name)["Table"]
        return {k: v for k, v in found.items() if k not in {"DatabaseName", "CreateTime", "UpdateTime", "VersionId"}}

    assert held(config.lake.database) == held("by_awswrangler")
