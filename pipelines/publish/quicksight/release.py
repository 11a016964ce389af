"""The whole report as one release: every request built and checked first, then deployed in dependency order.

Order: data source -> row-access rules -> datasets -> refresh schedules -> analysis -> dashboard
(whose new version is published). Nothing is sent until every request of the release is checked,
so a broken visual never leaves the datasets half updated. `export` is the way back: what was
edited in the console becomes the files of quicksight/ again, placeholders restored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.catalog import table_columns
from pipelines.publish.quicksight.assets import (
    QUICKSIGHT_DIR,
    Columns,
    analysis_request,
    dashboard_request,
    data_source_request,
    dataset_requests,
)
from pipelines.publish.quicksight.deploy import (
    ANALYSIS,
    DASHBOARD,
    AssetChange,
    Waiting,
    deploy_asset,
    deploy_data_sets,
    deploy_data_source,
)
from pipelines.publish.quicksight.refresh import dataset_views, deploy_refresh_schedules, schedule_requests


@dataclass(frozen=True)
class Release:
    """Every request of the report for one config, checked."""

    data_source: dict[str, Any]
    data_sets: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    analysis: dict[str, Any]
    dashboard: dict[str, Any]


def lake_columns(session: Session, config: Config, directory: Path = QUICKSIGHT_DIR) -> Columns:
    """The catalog's columns of every view the datasets read (a view the catalog lacks is left out: the dataset says so)."""
    found = {view: table_columns(session, config.lake, view) for view in set(dataset_views(directory).values())}
    return {view: columns for view, columns in found.items() if columns is not None}


def build_release(config: Config, columns: Columns, directory: Path = QUICKSIGHT_DIR) -> Release:
    """Every request, checked offline (each error names its file and path) before anything is sent."""
    data_sets = dataset_requests(config, columns, directory)
    analysis = analysis_request(config, data_sets, directory)
    return Release(
        data_source_request(config, directory),
        data_sets,
        schedule_requests(config, data_sets),
        analysis,
        dashboard_request(config, analysis, directory),
    )


def deploy_release(quicksight: Any, release: Release, *, apply: bool = True, waiting: Waiting | None = None) -> list[AssetChange]:
    """Converge every asset in dependency order; apply=False is the plan (describes only, changes nothing)."""
    changes = [deploy_data_source(quicksight, release.data_source, apply=apply)]
    changes += deploy_data_sets(quicksight, release.data_sets, apply=apply)
    changes += deploy_refresh_schedules(quicksight, release.schedules, apply=apply)
    changes.append(deploy_asset(quicksight, ANALYSIS, release.analysis, apply=apply, waiting=waiting))
    changes.append(deploy_asset(quicksight, DASHBOARD, release.dashboard, apply=apply, waiting=waiting))
    return changes


def export_release(quicksight: Any, config: Config, directory: Path = QUICKSIGHT_DIR) -> list[Path]:
    """Write the deployed analysis's definition and the dashboard's options back into `directory`, placeholders restored."""
    assert config.quicksight is not None
    account, region = config.quicksight.account_id, config.lake.region
    written = []
    analysis_path = directory / "analysis.json"
    analysis = json.loads(analysis_path.read_text(encoding="utf-8"))
    deployed = quicksight.describe_analysis_definition(AwsAccountId=account, AnalysisId=analysis["AnalysisId"])
    analysis.update(Name=deployed["Name"], Definition=deployed["Definition"])
    written.append(_write(analysis_path, _restored(analysis, account, region)))
    dashboard_path = directory / "dashboard.json"
    dashboard = json.loads(dashboard_path.read_text(encoding="utf-8"))
    published = quicksight.describe_dashboard_definition(AwsAccountId=account, DashboardId=dashboard["DashboardId"])
    dashboard["Name"] = published["Name"]
    if published.get("DashboardPublishOptions"):
        dashboard["DashboardPublishOptions"] = published["DashboardPublishOptions"]
    written.append(_write(dashboard_path, _restored(dashboard, account, region)))
    return written


def _restored(value: Any, account: str, region: str) -> Any:
    """Placeholders back in: the account id and the ARNs' region and account, nothing that merely looks alike."""
    if isinstance(value, dict):
        return {k: "${account_id}" if k == "AwsAccountId" else _restored(v, account, region) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v, account, region) for v in value]
    if isinstance(value, str) and value.startswith("arn:"):
        return value.replace(f":{region}:{account}:", ":${region}:${account_id}:")
    return value


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
