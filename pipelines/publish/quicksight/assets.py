"""The QuickSight assets of `quicksight/` (API-shaped JSON with ${placeholders}) made into checked requests for one config.

A dataset's input columns are not written in its file: they come from its view (or table) as
the Glue catalog has it, so a column added to a view reaches the dataset on the next deploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.config import Config
from pipelines.errors import FatalError
from pipelines.publish.quicksight.check import require_valid

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
    request["Permissions"] = _permissions(config, DATA_SOURCE_OWNER, DATA_SOURCE_VIEWER)
    require_valid("CreateDataSource", request)
    return request


def dataset_requests(config: Config, columns: Columns, directory: Path = QUICKSIGHT_DIR) -> list[dict[str, Any]]:
    """CreateDataSet for every file of quicksight/datasets/, its input columns from `columns`; each checked."""
    values = placeholders(config, directory)
    requests = []
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
        request["Permissions"] = _permissions(config, DATA_SET_OWNER, DATA_SET_VIEWER)
        require_valid("CreateDataSet", request)
        requests.append(request)
    return requests


def _load(path: Path, values: Mapping[str, str]) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AssetError(f"{path.name}: not readable JSON: {error}") from None
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


def _permissions(config: Config, owner: tuple[str, ...], viewer: tuple[str, ...]) -> list[dict[str, Any]]:
    settings = config.quicksight
    assert settings is not None  # placeholders() refused a config without it
    return [{"Principal": p, "Actions": list(owner)} for p in settings.owners] + [
        {"Principal": p, "Actions": list(viewer)} for p in settings.viewers if p not in settings.owners
    ]
