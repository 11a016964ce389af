"""What the local QuickSight keeps (datasets, analyses, dashboard versions, permissions, schedules, ingestions) and its rules."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.quicksight.models import QuickSightBackend

Record = dict[str, Any]

# The kinds of kept things; each is a dict on moto's backend (one per account and region), so moto's reset wipes it.
DATA_SETS = "data_sets"  # data set id -> what CreateDataSet was sent, plus Arn and times
ANALYSES = "analyses"  # analysis id -> the request, plus Arn, Status and times
DASHBOARDS = "dashboards"  # dashboard id -> Name, Permissions, times, PublishedVersionNumber, Versions [record per version]
DATA_SOURCE_PERMISSIONS = "data_source_permissions"  # data source id -> permissions (moto's data source keeps none)
REFRESH_SCHEDULES = "refresh_schedules"  # data set id -> schedule id -> schedule
INGESTIONS = "ingestions"  # data set id -> ingestions, oldest first


class ResourceExistsException(JsonRESTError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceExistsException", message)


class ResourceNotFoundException(JsonRESTError):
    code = 404

    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class InvalidParameterValueException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


class InvalidNextTokenException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidNextTokenException", message)


def kept(backend: QuickSightBackend, kind: str) -> dict[str, Any]:
    """The backend's store of one kind (created on first use; lives and is reset with moto's state)."""
    store: dict[str, Any] = backend.__dict__.setdefault(f"_mlmon_{kind}", {})
    return store


def find(backend: QuickSightBackend, kind: str, resource_id: str, label: str) -> Record:
    found: Record | None = kept(backend, kind).get(resource_id)
    if found is None:
        raise ResourceNotFoundException(f"{label} {resource_id} not found")
    return found


def add(backend: QuickSightBackend, kind: str, resource_id: str, record: Record, label: str) -> Record:
    store = kept(backend, kind)
    if resource_id in store:
        raise ResourceExistsException(f"{label} {resource_id} already exists")
    store[resource_id] = record
    return record


def arn(backend: QuickSightBackend, resource: str) -> str:
    """`resource` as QuickSight names it, e.g. `dataset/d1`, `analysis/a1`, `dashboard/b1`."""
    return f"arn:aws:quicksight:{backend.region_name}:{backend.account_id}:{resource}"


def tag(backend: QuickSightBackend, resource_arn: str, tags: list[dict[str, str]] | None) -> None:
    if tags:
        backend.tagger.tag_resource(resource_arn, tags)


def merged_permissions(
    current: Sequence[Record], grant: Sequence[Record] | None, revoke: Sequence[Record] | None
) -> list[Record]:
    """Grants add actions to a principal; revokes remove them, and a principal left with none is dropped (as the API)."""
    actions: dict[str, list[str]] = {p["Principal"]: list(p["Actions"]) for p in current}
    for permission in grant or ():
        held = actions.setdefault(permission["Principal"], [])
        held.extend(a for a in permission["Actions"] if a not in held)
    for permission in revoke or ():
        held = actions.get(permission["Principal"], [])
        left = [a for a in held if a not in permission["Actions"]]
        if left:
            actions[permission["Principal"]] = left
        else:
            actions.pop(permission["Principal"], None)
    return [{"Principal": principal, "Actions": held} for principal, held in actions.items()]


def data_set_arns(definition: Record | None, source_entity: Record | None) -> list[str]:
    """The data sets an analysis or dashboard reads: its definition's declarations, else its template's references."""
    if definition:
        return [d["DataSetArn"] for d in definition.get("DataSetIdentifierDeclarations", [])]
    template = (source_entity or {}).get("SourceTemplate", {})
    return [r["DataSetArn"] for r in template.get("DataSetReferences", [])]


def sheets(definition: Record | None) -> list[Record]:
    return [{k: s[k] for k in ("SheetId", "Name") if k in s} for s in (definition or {}).get("Sheets", [])]


def source_entity_arn(source_entity: Record | None) -> str | None:
    template: Record = (source_entity or {}).get("SourceTemplate", {})
    return template.get("Arn")


def require_definition_or_source(params: Record) -> None:
    if not params.get("Definition") and not params.get("SourceEntity"):
        raise InvalidParameterValueException("Either Definition or SourceEntity must be provided")


def page(items: Sequence[Record], max_results: int | None, next_token: str | None) -> tuple[list[Record], str | None]:
    """One page of `items` (100 a page unless MaxResults says fewer) and the opaque token of the next, if any."""
    start = 0
    if next_token:
        try:
            start = int(base64.urlsafe_b64decode(next_token.encode()).decode().removeprefix("offset:"))
        except (ValueError, binascii.Error) as error:
            raise InvalidNextTokenException("The next token is not valid") from error
    end = start + min(max_results or 100, 100)
    token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return list(items[start:end]), token
