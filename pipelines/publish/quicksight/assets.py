"""The QuickSight assets of `quicksight/` (API-shaped JSON with ${placeholders}) made into checked requests for one config.

A dataset's input columns are not written in its file: they come from its view (or table) as
the Glue catalog has it, so a column added to a view reaches the dataset on the next deploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.config import Config
from pipelines.errors import FatalError
from pipelines.publish.quicksight.check import RequestError, require_valid
from pipelines.publish.quicksight.definition import check_definition, dataset_columns
from pipelines.publish.quicksight.row_access import RULES_COLUMN, attach_rules, rules_request

QUICKSIGHT_DIR = Path(__file__).resolve().parents[2] / "quicksight"  # pipelines/quicksight: a link to the repo's quicksight/
_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")

# Athena column type -> QuickSight InputColumn type; complex types are read as text.
_INPUT_TYPES = {
    "varchar": "STRING",
    "string": "STRING",
    "char": "STRING",
    "date": "DATETIME",
    "timestamp": "DATETIME",
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "int": "INTEGER",
    "smallint": "INTEGER",
    "tinyint": "INTEGER",
    "double": "DECIMAL",
    "real": "DECIMAL",
    "float": "DECIMAL",
    "decimal": "DECIMAL",
    "boolean": "BOOLEAN",
}
DATA_SOURCE_OWNER = (
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
)
DATA_SOURCE_VIEWER = ("quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions", "quicksight:PassDataSource")
DATA_SET_VIEWER = (
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
)
DATA_SET_OWNER = (
    *DATA_SET_VIEWER,
    "quicksight:UpdateDataSet",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSetPermissions",
)

ANALYSIS_OWNER = (
    "quicksight:RestoreAnalysis",
    "quicksight:UpdateAnalysisPermissions",
    "quicksight:DeleteAnalysis",
    "quicksight:DescribeAnalysisPermissions",
    "quicksight:QueryAnalysis",
    "quicksight:DescribeAnalysis",
    "quicksight:UpdateAnalysis",
)
DASHBOARD_VIEWER = ("quicksight:DescribeDashboard", "quicksight:ListDashboardVersions", "quicksight:QueryDashboard")
DASHBOARD_OWNER = (
    *DASHBOARD_VIEWER,
    "quicksight:UpdateDashboard",
    "quicksight:DeleteDashboard",
    "quicksight:UpdateDashboardPermissions",
    "quicksight:DescribeDashboardPermissions",
    "quicksight:UpdateDashboardPublishedVersion",
)

Columns = Mapping[str, list[tuple[str, str]]]  # view or table -> (column, Athena type), as the catalog has them


class AssetError(FatalError):
    """An asset file that cannot become a request: unreadable JSON, an unknown placeholder, a view the lake lacks."""


def input_column_type(athena_type: str) -> str:
    """QuickSight's type for an Athena column type (decimal(10,2) -> DECIMAL, map<...> -> STRING)."""
    return _INPUT_TYPES.get(athena_type.strip().lower().split("(", 1)[0], "STRING")


def placeholders(config: Config, directory: Path = QUICKSIGHT_DIR) -> dict[str, str]:
    """What `${name}` stands for in the asset files, for this config."""
    if config.quicksight is None:
        raise AssetError("the configuration has no quicksight: section (account, owners, viewers)")
    account, region = config.quicksight.account_id, config.lake.region
    values = {
        "account_id": account,
        "region": region,
        "database": config.lake.database,
        "athena_workgroup": config.lake.athena_workgroup,
        "import_mode": config.quicksight.import_mode,
    }
    source = json.loads((directory / "data_source.json").read_text(encoding="utf-8"))["DataSourceId"]
    values["data_source_arn"] = f"arn:aws:quicksight:{region}:{account}:datasource/{source}"
    return values


def data_source_request(config: Config, directory: Path = QUICKSIGHT_DIR) -> dict[str, Any]:
    """CreateDataSource for the lake's Athena workgroup, with the owners' and viewers' permissions; checked."""
    request = _load(directory / "data_source.json", placeholders(config, directory))
    request.update(_permissions(config, DATA_SOURCE_OWNER, DATA_SOURCE_VIEWER))
    require_valid("CreateDataSource", request)
    return request


def dataset_requests(config: Config, columns: Columns, directory: Path = QUICKSIGHT_DIR) -> list[dict[str, Any]]:
    """CreateDataSet for the row-access rules (when configured) and every file of quicksight/datasets/, each checked.

    Input columns come from `columns`; the rules come first, as every dataset with business_unit names them.
    """
    values = placeholders(config, directory)
    rules = rules_request(config, values["data_source_arn"])
    requests = [] if rules is None else [rules]
    for path in sorted((directory / "datasets").glob("*.json")):
        request = _load(path, values)
        for table_id, table in request.get("PhysicalTableMap", {}).items():
            relational = table.get("RelationalTable")
            if relational is None:  # the SQL stays in sql/: datasets read views, never custom SQL
                raise AssetError(f"{path.name}: PhysicalTableMap.{table_id} must be a RelationalTable on a view")
            view = relational.get("Name")
            if view not in columns:
                raise AssetError(
                    f"{path.name}: PhysicalTableMap.{table_id} reads {view!r}, which the lake has no view or table of"
                )
            relational["InputColumns"] = [{"Name": name, "Type": input_column_type(kind)} for name, kind in columns[view]]
        attach_rules(config, request, RULES_COLUMN in dataset_columns(request))
        request.update(_permissions(config, DATA_SET_OWNER, DATA_SET_VIEWER))
        _require_valid(path, "CreateDataSet", request)
        requests.append(request)
    return requests


def analysis_request(config: Config, data_sets: Sequence[Mapping[str, Any]], directory: Path = QUICKSIGHT_DIR) -> dict[str, Any]:
    """CreateAnalysis of quicksight/analysis.json for the owners, its definition checked against `data_sets`' columns."""
    path = directory / "analysis.json"
    request = _load(path, placeholders(config, directory))
    definition = request.get("Definition", {})
    by_arn = {_data_set_arn(config, d["DataSetId"]): dataset_columns(d) for d in data_sets}
    columns = {
        d["Identifier"]: by_arn[d["DataSetArn"]]
        for d in definition.get("DataSetIdentifierDeclarations", [])
        if d.get("DataSetArn") in by_arn
    }
    problems = check_definition(definition, columns)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise RequestError(f"{path.name}: the definition does not fit its datasets ({len(problems)} problems):\n{listed}")
    request.update(_permissions(config, ANALYSIS_OWNER, ()))
    _require_valid(path, "CreateAnalysis", request)
    return request


def dashboard_request(config: Config, analysis: Mapping[str, Any], directory: Path = QUICKSIGHT_DIR) -> dict[str, Any]:
    """CreateDashboard of quicksight/dashboard.json with the analysis's definition, for owners and viewers; checked."""
    path = directory / "dashboard.json"
    request = _load(path, placeholders(config, directory))
    if "Definition" in request or "SourceEntity" in request:
        raise AssetError(f"{path.name}: the dashboard's definition is the analysis's (analysis.json); remove Definition")
    request["Definition"] = analysis["Definition"]
    request.update(_permissions(config, DASHBOARD_OWNER, DASHBOARD_VIEWER))
    _require_valid(path, "CreateDashboard", request)
    return request


def _data_set_arn(config: Config, data_set_id: str) -> str:
    assert config.quicksight is not None
    return f"arn:aws:quicksight:{config.lake.region}:{config.quicksight.account_id}:dataset/{data_set_id}"


def _require_valid(path: Path, operation: str, request: Mapping[str, Any]) -> None:
    """The request's problems, named by the asset file they come from."""
    try:
        require_valid(operation, request)
    except RequestError as error:
        raise RequestError(f"{path.name}: {error}") from error


def _load(path: Path, values: Mapping[str, str]) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AssetError(f"{path.name}: not readable JSON: {error}") from error
    return dict(_fill(document, values, path.name, ""))


def _fill(value: Any, values: Mapping[str, str], file: str, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values, file, f"{where}.{k}" if where else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values, file, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        unknown = sorted(set(_PLACEHOLDER.findall(value)) - set(values))
        if unknown:
            raise AssetError(f"{file}: {where}: unknown placeholder ${{{unknown[0]}}} (known: {', '.join(sorted(values))})")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    return value


def _permissions(config: Config, owner: tuple[str, ...], viewer: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """{"Permissions": [...]} for owners and viewers; nothing when none are configured (the deploying identity owns it)."""
    settings = config.quicksight
    assert settings is not None  # placeholders() refused a config without it
    permissions = [{"Principal": p, "Actions": list(owner)} for p in settings.owners] + [
        {"Principal": p, "Actions": list(viewer)} for p in settings.viewers if viewer and p not in settings.owners
    ]
    return {"Permissions": permissions} if permissions else {}
