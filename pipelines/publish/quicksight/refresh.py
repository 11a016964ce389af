"""SPICE refresh: a daily schedule after the nightly run, and the night's own ingestion of what it changed.

QuickSight allows 32 manual ingestions per dataset and day; the nightly run starts at most one per
dataset and night (its id names the night, so a rerun finds it and starts none), and only for
datasets whose view reads a table a partition of which was switched in that night.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from pipelines.config import Config
from pipelines.publish.quicksight.check import require_valid
from pipelines.publish.quicksight.deploy import CREATED, UNCHANGED, UPDATED, AssetChange
from pipelines.query.view_sql import referenced_tables

SCHEDULE_ID = "mlmon-daily"
STARTED, ALREADY_STARTED, NOT_DEPLOYED = "started", "already started", "not deployed"


@dataclass(frozen=True)
class Ingestion:
    """One dataset's SPICE import for one night: started now, or found started by an earlier run of the night."""

    data_set_id: str
    ingestion_id: str
    outcome: str


def schedule_requests(config: Config, data_sets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """CreateRefreshSchedule for every SPICE dataset: a full refresh daily at `quicksight.refresh_at` (UTC); checked."""
    assert config.quicksight is not None
    requests = []
    for data_set in data_sets:
        if data_set.get("ImportMode") != "SPICE":
            continue  # DIRECT_QUERY reads Athena on every view: nothing to refresh
        schedule = {
            "ScheduleId": SCHEDULE_ID,
            "ScheduleFrequency": {"Interval": "DAILY", "TimeOfTheDay": config.quicksight.refresh_at, "Timezone": "UTC"},
            "RefreshType": "FULL_REFRESH",
        }
        request = {"AwsAccountId": data_set["AwsAccountId"], "DataSetId": data_set["DataSetId"], "Schedule": schedule}
        require_valid("CreateRefreshSchedule", request)
        requests.append(request)
    return requests


def deploy_refresh_schedules(quicksight: Any, requests: Sequence[Mapping[str, Any]], *, apply: bool = True) -> list[AssetChange]:
    """Create, update or leave alone each dataset's daily schedule (compared field by field with what is deployed)."""
    changes = []
    for request in requests:
        ids = {"AwsAccountId": request["AwsAccountId"], "DataSetId": request["DataSetId"]}
        wanted = request["Schedule"]
        found = {s["ScheduleId"]: s for s in _schedules(quicksight, ids)}
        current = found.get(wanted["ScheduleId"])
        if current is not None and all(current.get(k) == v for k, v in wanted.items()):
            action = UNCHANGED
        else:
            action = CREATED if current is None else UPDATED
            if apply:
                (quicksight.create_refresh_schedule if current is None else quicksight.update_refresh_schedule)(**request)
        changes.append(AssetChange("refresh_schedule", f"{request['DataSetId']}/{wanted['ScheduleId']}", action))
    return changes


def _schedules(quicksight: Any, ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The dataset's schedules; none while the dataset itself is yet to be made (a plan before the first deploy)."""
    try:
        return list(quicksight.list_refresh_schedules(**ids).get("RefreshSchedules", []))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise


def dataset_views(directory: Path) -> dict[str, str]:
    """DataSetId -> the view (or table) it reads, from the dataset files of quicksight/."""
    views = {}
    for path in sorted((directory / "datasets").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for table in document.get("PhysicalTableMap", {}).values():
            if "RelationalTable" in table:
                views[document["DataSetId"]] = table["RelationalTable"]["Name"]
    return views


def reads(name: str, views: Mapping[str, str]) -> set[str]:
    """The lake tables view (or table) `name` reads, through the views it uses."""
    if name not in views:
        return {name}
    return set().union(*(reads(used, views) for used in referenced_tables(name, views[name])))


def start_ingestions(
    quicksight: Any,
    account_id: str,
    night: date,
    changed_tables: Collection[str],
    data_set_views: Mapping[str, str],
    views: Mapping[str, str],
) -> list[Ingestion]:
    """Start one SPICE ingestion per dataset whose view reads a changed table; none twice for one night."""
    started = []
    for data_set_id, view in sorted(data_set_views.items()):
        if not reads(view, views) & set(changed_tables):
            continue
        ingestion_id = f"mlmon-{night.isoformat()}"
        try:
            quicksight.create_ingestion(
                AwsAccountId=account_id, DataSetId=data_set_id, IngestionId=ingestion_id, IngestionType="FULL_REFRESH"
            )
            started.append(Ingestion(data_set_id, ingestion_id, STARTED))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in ("ResourceExistsException", "ResourceNotFoundException"):
                raise
            started.append(
                Ingestion(data_set_id, ingestion_id, ALREADY_STARTED if code == "ResourceExistsException" else NOT_DEPLOYED)
            )
    return started
