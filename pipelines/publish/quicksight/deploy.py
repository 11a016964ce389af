"""Deploy the data source and datasets: describe -> diff -> create / update / leave alone, so a second deploy changes nothing.

Each asset carries a tag with the hash of the request that made it: an asset whose hash matches
is not touched (no new version, no SPICE re-import), one that differs is updated, a missing one
created. Requests are checked offline before any call (pipelines/publish/quicksight/check.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipelines.publish.quicksight.check import require_valid

HASH_TAG = "mlmon:content-hash"
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
_NOT_IN_UPDATES = ("Tags", "Permissions")  # Update* take neither: tags and permissions have their own calls


@dataclass(frozen=True)
class AssetChange:
    """What a deploy did (or, planned, would do) to one asset."""

    kind: str  # data_source, data_set
    asset_id: str
    action: str  # created, updated, unchanged


def content_hash(request: Mapping[str, Any]) -> str:
    """The hash of what an asset is made of (its request without tags), stable across key order."""
    body = {k: v for k, v in request.items() if k != "Tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def deploy_data_source(quicksight: Any, request: Mapping[str, Any], *, apply: bool = True) -> AssetChange:
    """Create, update or leave alone the data source of `request` (CreateDataSource shape)."""
    require_valid("CreateDataSource", request)
    account, source_id = request["AwsAccountId"], request["DataSourceId"]
    found = _describe(quicksight.describe_data_source, "DataSource", AwsAccountId=account, DataSourceId=source_id)
    return _converge(
        quicksight,
        "data_source",
        source_id,
        request,
        found,
        apply,
        create=quicksight.create_data_source,
        update=quicksight.update_data_source,
    )


def deploy_data_sets(quicksight: Any, requests: Sequence[Mapping[str, Any]], *, apply: bool = True) -> list[AssetChange]:
    """Create, update or leave alone every dataset of `requests` (CreateDataSet shape), in order."""
    changes = []
    for request in requests:
        require_valid("CreateDataSet", request)
        account, data_set_id = request["AwsAccountId"], request["DataSetId"]
        found = _describe(quicksight.describe_data_set, "DataSet", AwsAccountId=account, DataSetId=data_set_id)
        changes.append(
            _converge(
                quicksight,
                "data_set",
                data_set_id,
                request,
                found,
                apply,
                create=quicksight.create_data_set,
                update=quicksight.update_data_set,
            )
        )
    return changes


def _converge(
    quicksight: Any,
    kind: str,
    asset_id: str,
    request: Mapping[str, Any],
    found: Mapping[str, Any] | None,
    apply: bool,
    *,
    create: Any,
    update: Any,
) -> AssetChange:
    wanted = content_hash(request)
    tag = {"Key": HASH_TAG, "Value": wanted}
    if found is None:
        if apply:
            create(**{**request, "Tags": [*request.get("Tags", []), tag]})
        return AssetChange(kind, asset_id, CREATED)
    tags = quicksight.list_tags_for_resource(ResourceArn=found["Arn"]).get("Tags", [])
    if any(t["Key"] == HASH_TAG and t["Value"] == wanted for t in tags):
        return AssetChange(kind, asset_id, UNCHANGED)
    if apply:
        update(**{k: v for k, v in request.items() if k not in _NOT_IN_UPDATES})
        quicksight.tag_resource(ResourceArn=found["Arn"], Tags=[tag])
    return AssetChange(kind, asset_id, UPDATED)


def _describe(call: Any, key: str, **params: str) -> dict[str, Any] | None:
    """The asset as the service describes it, or None when it does not exist."""
    try:
        return dict(call(**params)[key])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
