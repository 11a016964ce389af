"""Fills moto's QuickSight gaps for datasets (reversibly): what CreateDataSet was sent is kept and DescribeDataSet,
UpdateDataSet, DeleteDataSet and ListDataSets answer from it (moto 5.2.5 keeps only the id and name, with no route
to describe, update or delete one)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import moto.quicksight.urls as quicksight_urls
from moto.core.exceptions import JsonRESTError
from moto.quicksight.models import QuickSightBackend
from moto.quicksight.responses import QuickSightResponse

from pipelines.localstack.moto_patch import MethodPatch

_STORE = "_mlmon_data_sets"
# Routes moto lacks; its server builds a service's URL map from url_paths when the first request for it comes.
_ROUTES = {r"{0}/accounts/(?P<account_id>[\d]+)/data-sets/(?P<datasetid>[^/.]+)$": QuickSightResponse.dispatch}
_READ_ONLY = ("AwsAccountId", "DataSetId", "Tags", "Permissions")


class ResourceExistsException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceExistsException", message)


class ResourceNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


def _data_sets(backend: QuickSightBackend) -> dict[str, dict[str, Any]]:
    return backend.__dict__.setdefault(_STORE, {})  # lives and is reset with moto's state


def _arn(backend: QuickSightBackend, data_set_id: str) -> str:
    return f"arn:aws:quicksight:{backend.region_name}:{backend.account_id}:dataset/{data_set_id}"


def _stored(self: QuickSightResponse) -> tuple[dict[str, Any], str]:
    data_set_id = self._get_param("DataSetId")
    found = _data_sets(self.quicksight_backend).get(data_set_id)
    if found is None:
        raise ResourceNotFoundException(f"Data set {data_set_id} not found")
    return found, data_set_id


def _create_data_set(self: QuickSightResponse) -> str:
    params = json.loads(self.body or b"{}")
    data_set_id = params["DataSetId"]
    backend = self.quicksight_backend
    if data_set_id in _data_sets(backend):
        raise ResourceExistsException(f"Data set {data_set_id} already exists")
    now = datetime.now(UTC).timestamp()
    arn = _arn(backend, data_set_id)
    kept = {k: v for k, v in params.items() if k not in ("AwsAccountId", "Tags")}
    _data_sets(backend)[data_set_id] = {**kept, "Arn": arn, "CreatedTime": now, "LastUpdatedTime": now}
    if params.get("Tags"):
        backend.tagger.tag_resource(arn, params["Tags"])
    return json.dumps({"Arn": arn, "DataSetId": data_set_id, "Status": 201, "RequestId": "local"})


def _describe_data_set(self: QuickSightResponse) -> str:
    found, _ = _stored(self)
    return json.dumps({"DataSet": {k: v for k, v in found.items() if k != "Permissions"}, "Status": 200, "RequestId": "local"})


def _update_data_set(self: QuickSightResponse) -> str:
    found, data_set_id = _stored(self)
    params = json.loads(self.body or b"{}")
    found.update({k: v for k, v in params.items() if k not in _READ_ONLY})
    found["LastUpdatedTime"] = datetime.now(UTC).timestamp()
    return json.dumps({"Arn": found["Arn"], "DataSetId": data_set_id, "Status": 200, "RequestId": "local"})


def _delete_data_set(self: QuickSightResponse) -> str:
    found, data_set_id = _stored(self)
    del _data_sets(self.quicksight_backend)[data_set_id]
    return json.dumps({"Arn": found["Arn"], "DataSetId": data_set_id, "Status": 200, "RequestId": "local"})


def _list_data_sets(self: QuickSightResponse) -> str:
    summaries = [
        {"Arn": d["Arn"], "DataSetId": i, "Name": d.get("Name"), "ImportMode": d.get("ImportMode")}
        for i, d in sorted(_data_sets(self.quicksight_backend).items())
    ]
    return json.dumps({"DataSetSummaries": summaries, "Status": 200, "RequestId": "local"})


class _QuickSightPatch:
    """The replaced methods and the added routes, installed while at least one stack holds them."""

    def __init__(self) -> None:
        self._methods = MethodPatch(
            (
                (QuickSightResponse, "create_data_set", _create_data_set),
                (QuickSightResponse, "describe_data_set", _describe_data_set),
                (QuickSightResponse, "update_data_set", _update_data_set),
                (QuickSightResponse, "delete_data_set", _delete_data_set),
                (QuickSightResponse, "list_data_sets", _list_data_sets),
            )
        )
        self._lock = threading.Lock()
        self._added: list[str] = []

    def acquire(self, port: int) -> None:
        with self._lock:
            self._methods.acquire(port)
            for pattern, handler in _ROUTES.items():
                if pattern not in quicksight_urls.url_paths:
                    quicksight_urls.url_paths[pattern] = handler
                    self._added.append(pattern)

    def release(self, port: int) -> None:
        with self._lock:
            self._methods.release(port)
            if not self._methods.installed:
                for pattern in self._added:
                    quicksight_urls.url_paths.pop(pattern, None)
                self._added.clear()

    @property
    def installed(self) -> bool:
        return self._methods.installed


# The one piece of module state: moto's classes and URL table are process-wide, so is the record of what was changed.
PATCH = _QuickSightPatch()
