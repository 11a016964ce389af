"""Apply the `sql/` views: create, replace only when changed, in dependency order (describe -> diff -> act)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import Config, LakeConfig
from pipelines.errors import PipelineError
from pipelines.publish.views import ViewError, load_views, order_views, view_ddl

_PREFIX, _SUFFIX = "/* Presto View: ", " */"


@dataclass(frozen=True)
class ViewChange:
    name: str
    action: str  # created, updated, unchanged


def presto_view_text(sql: str, database: str, columns: list[dict[str, str]]) -> str:
    """The ViewOriginalText Athena writes for a view: base64 JSON with the original SQL."""
    document = {"originalSql": sql, "catalog": "awsdatacatalog", "schema": database,
                "columns": [{"name": c["Name"], "type": c["Type"]} for c in columns]}  # fmt: skip
    return _PREFIX + base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii") + _SUFFIX


def stored_views(session: Session, lake: LakeConfig) -> dict[str, str]:
    """The views in the Glue catalog as {name: original SQL}, in dependency order."""
    paginator = session.client("glue").get_paginator("get_tables")
    found: dict[str, str] = {}
    for page in paginator.paginate(DatabaseName=lake.database):
        for table in page["TableList"]:
            sql = _original_sql(table)
            if sql is not None:
                found[table["Name"]] = sql
    return order_views(found, tables=None) if found else {}


def _original_sql(table: dict[str, Any]) -> str | None:
    text = table.get("ViewOriginalText") or ""
    if table.get("TableType") != "VIRTUAL_VIEW" or not text.startswith(_PREFIX):
        return None
    try:
        return str(json.loads(base64.b64decode(text[len(_PREFIX) : -len(_SUFFIX)]))["originalSql"]).strip()
    except (ValueError, KeyError, TypeError):
        return None


def apply_views(session: Session, config: Config, views: dict[str, str] | None = None) -> list[ViewChange]:
    """Make the catalog's views equal the `sql/` files; a view that fails names itself and the engine's error."""
    views = load_views() if views is None else views
    current = stored_views(session, config.lake)
    changes = [ViewChange(n, "unchanged" if current.get(n) == sql.strip() else ("updated" if n in current else "created"))
               for n, sql in views.items()]  # fmt: skip
    if all(c.action == "unchanged" for c in changes):
        return changes
    if config.endpoint_url:
        _apply_locally(session, config, views, changes)
    else:
        _apply_on_athena(session, config, views, changes)
    return changes


def _apply_on_athena(session: Session, config: Config, views: dict[str, str], changes: list[ViewChange]) -> None:
    import awswrangler as wr

    for change in changes:
        if change.action == "unchanged":
            continue
        ddl = view_ddl(change.name, views[change.name], config.lake.database)
        try:
            wr.athena.start_query_execution(ddl, database=config.lake.database, workgroup=config.lake.athena_workgroup,
                                            wait=True, boto3_session=session)  # fmt: skip
        except (ClientError, wr.exceptions.QueryFailed) as error:
            raise ViewError(f"view {change.name}: Athena refused it: {error}") from None


def _apply_locally(session: Session, config: Config, views: dict[str, str], changes: list[ViewChange]) -> None:
    """No Athena here: DuckDB over the published lake checks every view, then Glue stores them as Athena would."""
    from pipelines.query.local import open_lake, register_views

    con = open_lake(session, config.lake, with_views=False)
    try:
        register_views(con, views)
    except PipelineError as error:
        raise ViewError(str(error)) from None
    glue = session.client("glue")
    for change in changes:
        if change.action == "unchanged":
            continue
        columns = [{"Name": str(name), "Type": _athena_type(str(kind))}
                   for name, kind, *_ in con.execute(f'DESCRIBE "{change.name}"').fetchall()]  # fmt: skip
        table_input = {
            "Name": change.name,
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "ViewOriginalText": presto_view_text(views[change.name].strip(), config.lake.database, columns),
            "ViewExpandedText": "/* Presto View */",
            "StorageDescriptor": {"Columns": columns, "SerdeInfo": {}},
        }
        if change.action == "created":
            glue.create_table(DatabaseName=config.lake.database, TableInput=table_input)
        else:
            glue.update_table(DatabaseName=config.lake.database, TableInput=table_input)


def _athena_type(duckdb_type: str) -> str:
    simple = {"VARCHAR": "varchar", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double", "BOOLEAN": "boolean",
              "DATE": "date", "TIMESTAMP": "timestamp", "FLOAT": "real", "HUGEINT": "bigint"}  # fmt: skip
    return simple.get(duckdb_type.upper(), "varchar")
