"""Row-level security by business unit: a rules dataset made from config, attached to every dataset with `business_unit`.

QuickSight shows a dataset with rules only to the users and groups the rules name, each the rows
of its business units; a row with an empty business unit means all of them (the executives). The
rules are configuration, not lake data: the rules dataset selects them from a VALUES list, so no
table has to be kept in step with the config (the one dataset that is not a view of sql/).
"""

from __future__ import annotations

from typing import Any

from pipelines.config import Config

RULES_DATA_SET_ID = "ml-lake-row-access"
RULES_COLUMN = "business_unit"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def rules(config: Config) -> list[tuple[str, str, str]]:
    """(UserName, GroupName, business_unit) rows of the config's row_access; '' stands for 'any'."""
    assert config.quicksight is not None
    rows = []
    for principal, units in sorted(config.quicksight.row_access.items()):
        kind, _namespace, name = principal.split(":", 5)[5].split("/", 2)
        user, group = (name, "") if kind == "user" else ("", name)
        rows += [(user, group, unit) for unit in sorted(set(units))] or [(user, group, "")]
    return rows


def rules_request(config: Config, data_source_arn: str) -> dict[str, Any] | None:
    """CreateDataSet of the rules (None when the config grants no row access: every dataset stays open to its viewers)."""
    assert config.quicksight is not None
    rows = rules(config)
    if not rows:
        return None
    values = ", ".join(f"({_quote(u)}, {_quote(g)}, {_quote(b)})" for u, g, b in rows)
    sql = f"SELECT * FROM (VALUES {values}) AS rules (UserName, GroupName, {RULES_COLUMN})"
    columns = [{"Name": name, "Type": "STRING"} for name in ("UserName", "GroupName", RULES_COLUMN)]
    return {
        "AwsAccountId": config.quicksight.account_id,
        "DataSetId": RULES_DATA_SET_ID,
        "Name": "ML lake row access by business unit",
        "PhysicalTableMap": {
            "rules": {"CustomSql": {"DataSourceArn": data_source_arn, "Name": "row_access", "SqlQuery": sql, "Columns": columns}}
        },
        "ImportMode": config.quicksight.import_mode,
    }


def attach_rules(config: Config, request: dict[str, Any], has_business_unit: bool) -> None:
    """Make `request` (a CreateDataSet) readable only as the rules allow, when it has the column they restrict."""
    assert config.quicksight is not None
    if not has_business_unit or not config.quicksight.row_access:
        return
    arn = f"arn:aws:quicksight:{config.lake.region}:{config.quicksight.account_id}:dataset/{RULES_DATA_SET_ID}"
    request["RowLevelPermissionDataSet"] = {
        "Namespace": config.quicksight.namespace,
        "Arn": arn,
        "PermissionPolicy": "GRANT_ACCESS",
        "FormatVersion": "VERSION_2",
        "Status": "ENABLED",
    }
