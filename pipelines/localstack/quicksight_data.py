"""QuickSight's data side as the pipeline deploys and refreshes it: datasets kept whole, their and data sources' permissions,
refresh schedules and ingestions (moto 5.2.5 keeps a dataset's id and name only, and none of the rest)."""

from __future__ import annotations

import uuid
from typing import Any

from moto.quicksight.models import QuickSightBackend
from moto.quicksight.responses import QuickSightResponse

from pipelines.localstack.quicksight_http import Answer, answer, backend, body, int_query_param, now, path_param, query_param
from pipelines.localstack.quicksight_store import (
    DATA_SETS,
    DATA_SOURCE_PERMISSIONS,
    INGESTIONS,
    REFRESH_SCHEDULES,
    InvalidParameterValueException,
    Record,
    ResourceExistsException,
    ResourceNotFoundException,
    add,
    arn,
    find,
    kept,
    merged_permissions,
    page,
    tag,
)

_READ_ONLY = ("AwsAccountId", "DataSetId", "Tags", "Permissions")  # what UpdateDataSet cannot change


def _data_set(response: QuickSightResponse) -> tuple[Record, str]:
    data_set_id = path_param(response, "DataSetId")
    return find(backend(response), DATA_SETS, data_set_id, "Data set"), data_set_id


def _ingest(response: QuickSightResponse, data_set_id: str, ingestion_id: str, request_type: str) -> Record:
    """An ingestion that is COMPLETED as soon as it is asked for (the stack has no SPICE to fill)."""
    qs = backend(response)
    ingestions: list[Record] = kept(qs, INGESTIONS).setdefault(data_set_id, [])
    if any(i["IngestionId"] == ingestion_id for i in ingestions):
        raise ResourceExistsException(f"Ingestion {ingestion_id} already exists for data set {data_set_id}")
    ingestion = {
        "Arn": arn(qs, f"dataset/{data_set_id}/ingestion/{ingestion_id}"),
        "IngestionId": ingestion_id,
        "IngestionStatus": "COMPLETED",
        "CreatedTime": now(response),
        "IngestionTimeInSeconds": 0,
        "IngestionSizeInBytes": 0,
        "RowInfo": {"RowsIngested": 0, "RowsDropped": 0, "TotalRowsInDataset": 0},
        "RequestSource": "MANUAL",
        "RequestType": request_type,
    }
    ingestions.append(ingestion)
    return ingestion


def _spice_ingestion(response: QuickSightResponse, data_set_id: str, request_type: str) -> Record:
    """Creating or editing a SPICE dataset starts an ingestion, as in AWS; its ids are in the response."""
    if kept(backend(response), DATA_SETS)[data_set_id].get("ImportMode") != "SPICE":
        return {}
    ingestion = _ingest(response, data_set_id, str(uuid.uuid4()), request_type)
    return {"IngestionArn": ingestion["Arn"], "IngestionId": ingestion["IngestionId"]}


def create_data_set(self: QuickSightResponse) -> Answer:
    params = body(self)
    data_set_id = params["DataSetId"]
    qs, stamp = backend(self), now(self)
    data_set_arn = arn(qs, f"dataset/{data_set_id}")
    kept_params = {k: v for k, v in params.items() if k not in ("AwsAccountId", "Tags")}
    record = {**kept_params, "Arn": data_set_arn, "CreatedTime": stamp, "LastUpdatedTime": stamp}
    add(qs, DATA_SETS, data_set_id, record, "Data set")
    tag(qs, data_set_arn, params.get("Tags"))
    ingestion = _spice_ingestion(self, data_set_id, "INITIAL_INGESTION")
    return answer({"Arn": data_set_arn, "DataSetId": data_set_id, **ingestion}, 201)


def describe_data_set(self: QuickSightResponse) -> Answer:
    found, _ = _data_set(self)
    return answer({"DataSet": {k: v for k, v in found.items() if k != "Permissions"}})


def update_data_set(self: QuickSightResponse) -> Answer:
    found, data_set_id = _data_set(self)
    found.update({k: v for k, v in body(self).items() if k not in _READ_ONLY})
    found["LastUpdatedTime"] = now(self)
    ingestion = _spice_ingestion(self, data_set_id, "EDIT")
    return answer({"Arn": found["Arn"], "DataSetId": data_set_id, **ingestion})


def delete_data_set(self: QuickSightResponse) -> Answer:
    found, data_set_id = _data_set(self)
    qs = backend(self)
    for kind in (DATA_SETS, REFRESH_SCHEDULES, INGESTIONS):
        kept(qs, kind).pop(data_set_id, None)
    return answer({"Arn": found["Arn"], "DataSetId": data_set_id})


def list_data_sets(self: QuickSightResponse) -> Answer:
    summaries = [
        {k: d.get(k) for k in ("Arn", "DataSetId", "Name", "ImportMode", "CreatedTime", "LastUpdatedTime")}
        for _, d in sorted(kept(backend(self), DATA_SETS).items())
    ]
    listed, token = page(summaries, int_query_param(self, "max-results"), query_param(self, "next-token"))
    return answer({"DataSetSummaries": listed, **({"NextToken": token} if token else {})})


def describe_data_set_permissions(self: QuickSightResponse) -> Answer:
    found, data_set_id = _data_set(self)
    return answer({"DataSetArn": found["Arn"], "DataSetId": data_set_id, "Permissions": found.get("Permissions", [])})


def update_data_set_permissions(self: QuickSightResponse) -> Answer:
    found, data_set_id = _data_set(self)
    params = body(self)
    found["Permissions"] = merged_permissions(
        found.get("Permissions", []), params.get("GrantPermissions"), params.get("RevokePermissions")
    )
    return answer({"DataSetArn": found["Arn"], "DataSetId": data_set_id})


def create_data_source(self: QuickSightResponse) -> Answer:
    """moto's own data source, refused when the id exists (moto overwrote it), with its permissions kept beside it."""
    params = body(self)
    qs: QuickSightBackend = backend(self)
    data_source_id = params["DataSourceId"]
    if data_source_id in qs.data_sources:
        raise ResourceExistsException(f"Data source {data_source_id} already exists")
    source: Any = qs.create_data_source(
        aws_account_id=qs.account_id,
        data_source_id=data_source_id,
        name=params["Name"],
        data_source_type=params["Type"],
        data_source_parameters=params.get("DataSourceParameters"),
        ssl_properties=params.get("SslProperties"),
        vpc_connection_properties=params.get("VpcConnectionProperties"),
        tags=params.get("Tags"),
    )
    kept(qs, DATA_SOURCE_PERMISSIONS)[data_source_id] = params.get("Permissions", [])
    return answer({"Arn": source.arn, "DataSourceId": data_source_id, "CreationStatus": source.status})


def delete_data_source(self: QuickSightResponse) -> Answer:
    qs = backend(self)
    data_source_id = path_param(self, "DataSourceId")
    source: Any = qs.delete_data_source(aws_account_id=qs.account_id, data_source_id=data_source_id)
    kept(qs, DATA_SOURCE_PERMISSIONS).pop(data_source_id, None)
    return answer({"Arn": source.arn, "DataSourceId": data_source_id})


def _data_source_arn(response: QuickSightResponse) -> tuple[str, str]:
    data_source_id = path_param(response, "DataSourceId")
    source: Any = backend(response).data_sources.get(data_source_id)
    if source is None:
        raise ResourceNotFoundException(f"Data source {data_source_id} not found")
    return source.arn, data_source_id


def describe_data_source_permissions(self: QuickSightResponse) -> Answer:
    source_arn, data_source_id = _data_source_arn(self)
    permissions = kept(backend(self), DATA_SOURCE_PERMISSIONS).get(data_source_id, [])
    return answer({"DataSourceArn": source_arn, "DataSourceId": data_source_id, "Permissions": permissions})


def update_data_source_permissions(self: QuickSightResponse) -> Answer:
    source_arn, data_source_id = _data_source_arn(self)
    params, store = body(self), kept(backend(self), DATA_SOURCE_PERMISSIONS)
    store[data_source_id] = merged_permissions(
        store.get(data_source_id, []), params.get("GrantPermissions"), params.get("RevokePermissions")
    )
    return answer({"DataSourceArn": source_arn, "DataSourceId": data_source_id})


def _schedules(response: QuickSightResponse) -> tuple[dict[str, Record], str]:
    """The data set's schedules; a missing data set is ResourceNotFound, a DIRECT_QUERY one cannot be refreshed."""
    found, data_set_id = _data_set(response)
    if found.get("ImportMode") != "SPICE":
        raise InvalidParameterValueException(f"Data set {data_set_id} is not a SPICE data set: it has no refresh schedules")
    return kept(backend(response), REFRESH_SCHEDULES).setdefault(data_set_id, {}), data_set_id


def _put_schedule(response: QuickSightResponse, creating: bool) -> Answer:
    schedules, data_set_id = _schedules(response)
    schedule = dict(body(response)["Schedule"])
    schedule_id = schedule["ScheduleId"]
    if creating and schedule_id in schedules:
        raise ResourceExistsException(f"Refresh schedule {schedule_id} already exists for data set {data_set_id}")
    if not creating and schedule_id not in schedules:
        raise ResourceNotFoundException(f"Refresh schedule {schedule_id} not found for data set {data_set_id}")
    schedule["Arn"] = arn(backend(response), f"dataset/{data_set_id}/refresh-schedule/{schedule_id}")
    schedules[schedule_id] = schedule
    return answer({"ScheduleId": schedule_id, "Arn": schedule["Arn"]})


def create_refresh_schedule(self: QuickSightResponse) -> Answer:
    return _put_schedule(self, creating=True)


def update_refresh_schedule(self: QuickSightResponse) -> Answer:
    return _put_schedule(self, creating=False)


def _schedule(response: QuickSightResponse) -> tuple[dict[str, Record], Record]:
    schedules, data_set_id = _schedules(response)
    schedule_id = path_param(response, "ScheduleId")
    if schedule_id not in schedules:
        raise ResourceNotFoundException(f"Refresh schedule {schedule_id} not found for data set {data_set_id}")
    return schedules, schedules[schedule_id]


def list_refresh_schedules(self: QuickSightResponse) -> Answer:
    schedules, _ = _schedules(self)
    return answer({"RefreshSchedules": [schedules[k] for k in sorted(schedules)]})


def describe_refresh_schedule(self: QuickSightResponse) -> Answer:
    _, schedule = _schedule(self)
    return answer({"RefreshSchedule": schedule, "Arn": schedule["Arn"]})


def delete_refresh_schedule(self: QuickSightResponse) -> Answer:
    schedules, schedule = _schedule(self)
    del schedules[schedule["ScheduleId"]]
    return answer({"ScheduleId": schedule["ScheduleId"], "Arn": schedule["Arn"]})


def create_ingestion(self: QuickSightResponse) -> Answer:
    """Answers INITIALIZED as AWS does; DescribeIngestion and ListIngestions report it COMPLETED straight away."""
    found, data_set_id = _data_set(self)
    if found.get("ImportMode") != "SPICE":
        raise InvalidParameterValueException(f"Data set {data_set_id} is not a SPICE data set: it cannot be ingested")
    request_type = body(self).get("IngestionType", "FULL_REFRESH")
    ingestion = _ingest(self, data_set_id, path_param(self, "IngestionId"), request_type)
    return answer({"Arn": ingestion["Arn"], "IngestionId": ingestion["IngestionId"], "IngestionStatus": "INITIALIZED"}, 201)


def describe_ingestion(self: QuickSightResponse) -> Answer:
    _, data_set_id = _data_set(self)
    ingestion_id = path_param(self, "IngestionId")
    for ingestion in kept(backend(self), INGESTIONS).get(data_set_id, []):
        if ingestion["IngestionId"] == ingestion_id:
            return answer({"Ingestion": ingestion})
    raise ResourceNotFoundException(f"Ingestion {ingestion_id} not found for data set {data_set_id}")


def list_ingestions(self: QuickSightResponse) -> Answer:
    """Newest first (AWS promises no order; the newest is what a caller checks)."""
    _, data_set_id = _data_set(self)
    newest_first = list(reversed(kept(backend(self), INGESTIONS).get(data_set_id, [])))
    listed, token = page(newest_first, int_query_param(self, "max-results"), query_param(self, "next-token"))
    return answer({"Ingestions": listed, **({"NextToken": token} if token else {})})


REPLACEMENTS = (
    create_data_set,
    describe_data_set,
    update_data_set,
    delete_data_set,
    list_data_sets,
    describe_data_set_permissions,
    update_data_set_permissions,
    create_data_source,
    delete_data_source,
    describe_data_source_permissions,
    update_data_source_permissions,
    create_refresh_schedule,
    update_refresh_schedule,
    list_refresh_schedules,
    describe_refresh_schedule,
    delete_refresh_schedule,
    create_ingestion,
    describe_ingestion,
    list_ingestions,
)
