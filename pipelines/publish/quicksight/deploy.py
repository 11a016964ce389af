"""Deploy QuickSight assets: describe -> diff -> create / update / leave alone, so a second deploy changes nothing.

Each asset carries a tag with the hash of the request that made it: an asset whose hash matches
is not touched (no new version, no SPICE re-import), one that differs is updated (its permissions
made exactly the wanted ones, a dashboard's new version published), a missing one created.
Asynchronous creation is waited for with a deadline and its Errors read; a create that fails is
deleted again, so no half-created asset is left for the next deploy to trip over. Requests are
checked offline before any call (check.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipelines.errors import FatalError
from pipelines.publish.diff import request_diff
from pipelines.publish.quicksight.check import quicksight_model, require_valid

HASH_TAG = "mlmon:content-hash"
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
_NOT_COMPARED = ("Tags", "Permissions", "AwsAccountId", "ValidationStrategy")
_FAILED = re.compile(r"_FAILED$")


class DeployError(FatalError):
    """An asset QuickSight could not create or update: its errors, or a deadline passed while it was in progress."""


@dataclass(frozen=True)
class AssetKind:
    """How one kind of asset is named in the API: CreateDataSet, DescribeDataSet's 'DataSet', DataSetId ..."""

    name: str  # data_source, data_set, analysis, dashboard
    noun: str  # DataSource, DataSet, Analysis, Dashboard

    @property
    def id_key(self) -> str:
        return f"{self.noun}Id"

    def call(self, quicksight: Any, verb: str, suffix: str = "") -> Any:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", self.noun).lower()
        return getattr(quicksight, f"{verb}_{snake}{suffix}")


DATA_SOURCE, DATA_SET = AssetKind("data_source", "DataSource"), AssetKind("data_set", "DataSet")
ANALYSIS, DASHBOARD = AssetKind("analysis", "Analysis"), AssetKind("dashboard", "Dashboard")


@dataclass(frozen=True)
class AssetChange:
    """What a deploy did (or, planned, would do) to one asset; `diff` says how an update differs from what is deployed."""

    kind: str  # data_source, data_set, analysis, dashboard
    asset_id: str
    action: str  # created, updated, unchanged
    diff: tuple[str, ...] = ()
    version: int | None = None  # a dashboard's published version after the deploy


@dataclass
class Waiting:
    """How long to wait for asynchronous work, and how (tests pass a clock that does not sleep)."""

    deadline_seconds: float = 600.0
    poll_seconds: float = 2.0
    conflict_retries: int = 5
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def content_hash(request: Mapping[str, Any]) -> str:
    """The hash of what an asset is made of (its request without tags), stable across key order."""
    body = {k: v for k, v in request.items() if k != "Tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def deploy_data_source(quicksight: Any, request: Mapping[str, Any], *, apply: bool = True) -> AssetChange:
    """Create, update or leave alone the data source of `request` (CreateDataSource shape)."""
    return deploy_asset(quicksight, DATA_SOURCE, request, apply=apply)


def deploy_data_sets(quicksight: Any, requests: Sequence[Mapping[str, Any]], *, apply: bool = True) -> list[AssetChange]:
    """Create, update or leave alone every dataset of `requests` (CreateDataSet shape), in order."""
    return [deploy_asset(quicksight, DATA_SET, request, apply=apply) for request in requests]


def deploy_asset(
    quicksight: Any, kind: AssetKind, request: Mapping[str, Any], *, apply: bool = True, waiting: Waiting | None = None
) -> AssetChange:
    """Converge one asset on `request` (its Create* shape); with apply=False only say what would change."""
    waiting = waiting or Waiting()
    require_valid(f"Create{kind.noun}", request)
    account, asset_id = request["AwsAccountId"], request[kind.id_key]
    ids = {"AwsAccountId": account, kind.id_key: asset_id}
    tag = {"Key": HASH_TAG, "Value": content_hash(request)}
    found = _describe(kind.call(quicksight, "describe"), kind.noun, **ids)
    if found is None:
        if not apply:
            return AssetChange(kind.name, asset_id, CREATED)
        try:
            _retrying(waiting, kind.call(quicksight, "create"), **{**request, "Tags": [*request.get("Tags", []), tag]})
        except ClientError as error:
            if _code(error) != "ResourceExistsException":  # made since we looked: converge it like any other
                raise
            found = _describe(kind.call(quicksight, "describe"), kind.noun, **ids) or {}
        else:
            _wait_or_remove(quicksight, kind, ids, waiting, version=1)
            return AssetChange(kind.name, asset_id, CREATED, version=1 if kind is DASHBOARD else None)
    tags = quicksight.list_tags_for_resource(ResourceArn=found["Arn"]).get("Tags", [])
    if tag in tags:
        return AssetChange(kind.name, asset_id, UNCHANGED)
    diff = tuple(request_diff(_deployed(quicksight, kind, ids, found), request, _NOT_COMPARED))
    if not apply:
        return AssetChange(kind.name, asset_id, UPDATED, diff)
    updated = _retrying(waiting, kind.call(quicksight, "update"), **_update_params(kind, request))
    version = _version(updated.get("VersionArn")) if kind is DASHBOARD else None
    _wait(quicksight, kind, ids, waiting, version)
    if version is not None:
        _retrying(waiting, quicksight.update_dashboard_published_version, **ids, VersionNumber=version)
    if "Permissions" in request:
        _sync_permissions(quicksight, kind, ids, request["Permissions"], waiting)
    quicksight.tag_resource(ResourceArn=found["Arn"], Tags=[tag])
    return AssetChange(kind.name, asset_id, UPDATED, diff, version)


def _update_params(kind: AssetKind, request: Mapping[str, Any]) -> dict[str, Any]:
    """The request cut to what Update* takes (tags and permissions have calls of their own)."""
    shape = quicksight_model().operation_model(f"Update{kind.noun}").input_shape
    members = shape.members if shape is not None else {}
    return {k: v for k, v in request.items() if k in members}


def _sync_permissions(
    quicksight: Any, kind: AssetKind, ids: Mapping[str, str], wanted: list[dict[str, Any]], waiting: Waiting
) -> None:
    """Grant what is missing, revoke what is no longer wanted: the asset's permissions become exactly `wanted`."""
    current = kind.call(quicksight, "describe", "_permissions")(**ids).get("Permissions", [])
    have = {p["Principal"]: set(p["Actions"]) for p in current}
    want = {p["Principal"]: set(p["Actions"]) for p in wanted}
    grant = [{"Principal": p, "Actions": sorted(a - have.get(p, set()))} for p, a in want.items() if a - have.get(p, set())]
    revoke = [{"Principal": p, "Actions": sorted(a - want.get(p, set()))} for p, a in have.items() if a - want.get(p, set())]
    if grant or revoke:
        params = {**ids, **({"GrantPermissions": grant} if grant else {}), **({"RevokePermissions": revoke} if revoke else {})}
        _retrying(waiting, kind.call(quicksight, "update", "_permissions"), **params)


def _status(quicksight: Any, kind: AssetKind, ids: Mapping[str, str], version: int | None) -> tuple[str | None, list[Any]]:
    if kind is DASHBOARD:
        described = quicksight.describe_dashboard(**ids, **({"VersionNumber": version} if version else {}))["Dashboard"]
        return described.get("Version", {}).get("Status"), described.get("Version", {}).get("Errors", [])
    described = kind.call(quicksight, "describe")(**ids)[kind.noun]
    return described.get("Status"), described.get("Errors", []) or (
        [described["ErrorInfo"]] if described.get("ErrorInfo") else []
    )


def _wait(quicksight: Any, kind: AssetKind, ids: Mapping[str, str], waiting: Waiting, version: int | None = None) -> None:
    """Until the asset (a dashboard's version) is no longer *_IN_PROGRESS; *_FAILED raises with QuickSight's errors."""
    if kind is DATA_SET:
        return  # a dataset is made synchronously; its SPICE import is an ingestion of its own
    until = waiting.monotonic() + waiting.deadline_seconds
    while True:
        status, errors = _status(quicksight, kind, ids, version)
        if status and _FAILED.search(status):
            found = "; ".join(f"{e.get('Type', '')}: {e.get('Message', '')}" for e in errors) or "no errors given"
            raise DeployError(f"QuickSight {kind.name} {ids[kind.id_key]}: {status}: {found}")
        if not status or not status.endswith("_IN_PROGRESS"):
            return
        if waiting.monotonic() >= until:
            raise DeployError(f"QuickSight {kind.name} {ids[kind.id_key]}: still {status} after {waiting.deadline_seconds:.0f} s")
        waiting.sleep(waiting.poll_seconds)


def _wait_or_remove(quicksight: Any, kind: AssetKind, ids: Mapping[str, str], waiting: Waiting, version: int) -> None:
    """Wait for a create; one that failed is deleted, so the next deploy creates it afresh instead of updating a wreck."""
    try:
        _wait(quicksight, kind, ids, waiting, version if kind is DASHBOARD else None)
    except DeployError:
        # an analysis deleted with a recovery window keeps its id taken: the retry must be able to create it again
        kind.call(quicksight, "delete")(**ids, **({"ForceDeleteWithoutRecovery": True} if kind is ANALYSIS else {}))
        raise


def _retrying(waiting: Waiting, call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """QuickSight answers ConflictException while an asset is busy with an earlier change: wait and try again."""
    for attempt in range(waiting.conflict_retries + 1):
        try:
            return dict(call(**params))
        except ClientError as error:
            if _code(error) != "ConflictException" or attempt == waiting.conflict_retries:
                raise
            waiting.sleep(min(2.0**attempt, 30.0))
    raise AssertionError("unreachable")


def _deployed(quicksight: Any, kind: AssetKind, ids: Mapping[str, str], found: Mapping[str, Any]) -> dict[str, Any]:
    """What is deployed, in the request's shape (analyses and dashboards keep their definition apart)."""
    if kind in (ANALYSIS, DASHBOARD):
        return dict(kind.call(quicksight, "describe", "_definition")(**ids))
    return dict(found)


def _version(version_arn: str | None) -> int | None:
    return int(version_arn.rsplit("/", 1)[1]) if version_arn else None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(call: Any, key: str, **params: str) -> dict[str, Any] | None:
    """The asset as the service describes it, or None when it does not exist."""
    try:
        return dict(call(**params)[key])
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise
