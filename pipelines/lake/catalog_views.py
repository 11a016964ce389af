"""Views in the Glue catalog, in Athena's own format (VIRTUAL_VIEW, a base64 "Presto View" text): read and write them."""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import LakeConfig

_PREFIX, _SUFFIX = "/* Presto View: ", " */"


def presto_view_text(sql: str, database: str, columns: list[dict[str, str]]) -> str:
    """The ViewOriginalText Athena writes for a view: base64 JSON with the original SQL."""
    document = {
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": c["Name"], "type": c["Type"]} for c in columns],
    }
    return _PREFIX + base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii") + _SUFFIX


def stored_views(session: Session, lake: LakeConfig) -> dict[str, str]:
    """The views in the Glue catalog as {name: original SQL}, in the catalog's order (not by dependency)."""
    paginator = session.client("glue").get_paginator("get_tables")
    found: dict[str, str] = {}
    for page in paginator.paginate(DatabaseName=lake.database):
        for table in page["TableList"]:
            sql = _original_sql(table)
            if sql is not None:
                found[table["Name"]] = sql
    return found


def store_view(session: Session, lake: LakeConfig, name: str, sql: str, columns: list[dict[str, str]]) -> None:
    """Create or replace view `name` in the catalog as Athena would (columns: [{"Name", "Type"}] in Athena types)."""
    table_input = {
        "Name": name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": presto_view_text(sql.strip(), lake.database, columns),
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {"Columns": columns, "SerdeInfo": {}},
    }
    glue = session.client("glue")
    try:
        glue.create_table(DatabaseName=lake.database, TableInput=table_input)
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyExistsException":
            raise
        glue.update_table(DatabaseName=lake.database, TableInput=table_input)


def _original_sql(table: dict[str, Any]) -> str | None:
    text = table.get("ViewOriginalText") or ""
    if table.get("TableType") != "VIRTUAL_VIEW" or not text.startswith(_PREFIX):
        return None
    try:
        return str(json.loads(base64.b64decode(text[len(_PREFIX) : -len(_SUFFIX)]))["originalSql"]).strip()
    except (ValueError, KeyError, TypeError):
        return None
