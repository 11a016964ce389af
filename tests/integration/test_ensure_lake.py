"""Every night makes sure of the lake's catalog: one listing when nothing changed, and only what is missing or
changed is written."""

from __future__ import annotations

from typing import Any

from pipelines.lake.catalog import ensure_lake
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
    # The listing said each table is missing: one lookup each (awswrangler's, choosing create or update), not two
    assert sorted(c for c in calls if c.startswith("GetTable:")) == sorted(f"GetTable:{name}" for name in TABLES)
    made = _contract(glue, config.lake.database)
    assert set(made) == set(TABLES)
    for spec in TABLES.values():
        assert made[spec.name] == (spec.glue_columns(), ["dt"] if spec.partitioned else []), spec.name

    calls.clear()
    ensure_lake(session, config.lake)  # the usual night: nothing to do
    assert calls == ["GetTables"]

    # One table dropped, one whose columns drifted (an older contract), one extra table (a view, say): the first two
    # are mended, nothing else is written.
    gone, drifted = sorted(TABLES)[:2]
    glue.delete_table(DatabaseName=config.lake.database, Name=gone)
    table = glue.get_table(DatabaseName=config.lake.database, Name=drifted)["Table"]
    descriptor = {**table["StorageDescriptor"], "Columns": table["StorageDescriptor"]["Columns"][:-1]}
    glue.update_table(
        DatabaseName=config.lake.database,
        TableInput={"Name": drifted, "StorageDescriptor": descriptor, "PartitionKeys": table.get("PartitionKeys", [])},
    )
    glue.create_table(DatabaseName=config.lake.database, TableInput={"Name": "a_view", "TableType": "VIRTUAL_VIEW"})
    calls.clear()
    ensure_lake(session, config.lake)
    assert calls.count("GetTables") == 1
    assert calls.count(f"GetTable:{gone}") == calls.count(f"GetTable:{drifted}") == 1
    assert {c.split(":")[1] for c in calls if c != "GetTables"} == {gone, drifted}  # nothing else is looked at again
    assert {c.split(":")[0] for c in calls if not c.startswith("Get")} == {"CreateTable", "UpdateTable"}
    assert _contract(glue, config.lake.database) == {**made, "a_view": ({}, [])}
