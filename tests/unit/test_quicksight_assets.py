"""The QuickSight assets of quicksight/ become checked requests: placeholders filled, input columns from the views."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import Config, parse_config
from pipelines.publish.quicksight import assets
from pipelines.publish.quicksight.assets import AssetError, data_source_request, dataset_requests, input_column_type
from tests.viewhelpers import catalog_columns

OWNER = "arn:aws:quicksight:eu-west-1:111111111111:group/default/mlops"
VIEWER = "arn:aws:quicksight:eu-west-1:111111111111:group/default/executives"


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(
        {
            "lake": {
                "region": "eu-west-1",
                "bucket": "acme-ml-lake",
                "database": "ml_monitoring",
                "athena_workgroup": "analytics",
            },
            "sources": [{"account_id": "111111111111", "regions": ["eu-west-1"]}],
            "quicksight": {"account_id": "111111111111", "owners": [OWNER], "viewers": [VIEWER, OWNER], "import_mode": "SPICE"},
        }
    )


@pytest.fixture(scope="module")
def columns() -> dict[str, list[tuple[str, str]]]:
    return catalog_columns()


def test_the_data_source_is_athena_in_the_lakes_workgroup_with_permissions(config: Config) -> None:
    request = data_source_request(config)
    assert request["Type"] == "ATHENA" and request["AwsAccountId"] == "111111111111"
    assert request["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "analytics"}}
    assert request["Name"] == "ML performance lake (Athena ml_monitoring)"
    principals = {p["Principal"]: p["Actions"] for p in request["Permissions"]}
    assert set(principals) == {OWNER, VIEWER}  # an owner listed as viewer too keeps the owner's actions
    assert "quicksight:UpdateDataSource" in principals[OWNER] and "quicksight:UpdateDataSource" not in principals[VIEWER]


def test_every_dataset_reads_a_view_with_its_columns_from_the_catalog(config: Config, columns: dict[str, Any]) -> None:
    requests = {r["DataSetId"]: r for r in dataset_requests(config, columns)}
    expected = {
        "ml_business_daily",
        "endpoint_daily",
        "model_quality_daily",
        "drift_daily",
        "bias_daily",
        "incident_impact",
        "endpoint_rightsizing",
        "endpoint_models",
        "feature_attributions",
    }
    assert set(requests) == {f"ml-lake-{v.replace('_', '-')}" for v in expected}
    for request in requests.values():
        [(table_id, table)] = request["PhysicalTableMap"].items()
        relational, view = table["RelationalTable"], table_id.replace("-", "_")
        assert relational["DataSourceArn"] == "arn:aws:quicksight:eu-west-1:111111111111:datasource/ml-performance-lake"
        assert (relational["Catalog"], relational["Schema"], relational["Name"]) == ("AwsDataCatalog", "ml_monitoring", view)
        assert [c["Name"] for c in relational["InputColumns"]] == [n for n, _ in columns[view]]
        # dt is a 'YYYY-MM-DD' string in the lake; the analysis filters and trends it as a date
        [(logical_id, logical)] = request["LogicalTableMap"].items()
        assert logical["Source"] == {"PhysicalTableId": table_id}
        assert {"CastColumnTypeOperation": {"ColumnName": "dt", "NewColumnType": "DATETIME", "Format": "yyyy-MM-dd"}} in logical[
            "DataTransforms"
        ]
        assert request["ImportMode"] == "SPICE"
    rightsizing = {
        c["Name"]: c["Type"]
        for c in requests["ml-lake-endpoint-rightsizing"]["PhysicalTableMap"]["endpoint-rightsizing"]["RelationalTable"][
            "InputColumns"
        ]
    }
    assert (rightsizing["vcpus"], rightsizing["cpu_utilization_p90"], rightsizing["recommendation"]) == (
        "INTEGER",
        "DECIMAL",
        "STRING",
    )


def test_athena_types_map_to_quicksight_input_types() -> None:
    got = {
        t: input_column_type(t)
        for t in (
            "varchar",
            "date",
            "timestamp",
            "bigint",
            "integer",
            "double",
            "decimal(10,2)",
            "boolean",
            "map<string,string>",
            "array<string>",
        )
    }
    assert got == {
        "varchar": "STRING",
        "date": "DATETIME",
        "timestamp": "DATETIME",
        "bigint": "INTEGER",
        "integer": "INTEGER",
        "double": "DECIMAL",
        "decimal(10,2)": "DECIMAL",
        "boolean": "BOOLEAN",
        "map<string,string>": "STRING",
        "array<string>": "STRING",
    }


def test_a_dataset_on_a_view_the_lake_lacks_is_an_error_naming_the_file(config: Config, columns: dict[str, Any]) -> None:
    missing = {k: v for k, v in columns.items() if k != "drift_daily"}
    with pytest.raises(AssetError, match=r"drift_daily.json: PhysicalTableMap.drift-daily reads 'drift_daily'"):
        dataset_requests(config, missing)


def test_bad_asset_files_are_errors_naming_file_and_path(config: Config, columns: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    source = json.loads((assets.QUICKSIGHT_DIR / "data_source.json").read_text())
    (tmp_path / "data_source.json").write_text(json.dumps(source))
    dataset = json.loads((assets.QUICKSIGHT_DIR / "datasets" / "endpoint_daily.json").read_text())
    typo = copy.deepcopy(dataset)
    typo["PhysicalTableMap"]["endpoint-daily"]["RelationalTable"]["Schema"] = "${databse}"
    (tmp_path / "datasets" / "endpoint_daily.json").write_text(json.dumps(typo))
    with pytest.raises(
        AssetError,
        match=r"endpoint_daily.json: PhysicalTableMap.endpoint-daily.RelationalTable.Schema: unknown placeholder \$\{databse\}",
    ):
        dataset_requests(config, columns, tmp_path)
    custom_sql = copy.deepcopy(dataset)
    custom_sql["PhysicalTableMap"]["endpoint-daily"] = {
        "CustomSql": {"DataSourceArn": "${data_source_arn}", "Name": "x", "SqlQuery": "select 1"}
    }
    (tmp_path / "datasets" / "endpoint_daily.json").write_text(json.dumps(custom_sql))
    with pytest.raises(AssetError, match="must be a RelationalTable on a view"):
        dataset_requests(config, columns, tmp_path)


def test_a_config_without_quicksight_cannot_build_assets(config: Config) -> None:
    with pytest.raises(AssetError, match="no quicksight: section"):
        data_source_request(config.model_copy(update={"quicksight": None}))


def test_the_package_ships_the_assets_it_builds() -> None:
    import pipelines

    shipped = Path(pipelines.__file__).resolve().parent / "quicksight"
    repo = Path(__file__).resolve().parents[2] / "quicksight"
    assert sorted(p.name for p in shipped.rglob("*.json")) == sorted(p.name for p in repo.rglob("*.json")) != []
    assert assets.QUICKSIGHT_DIR.resolve() == repo.resolve()
