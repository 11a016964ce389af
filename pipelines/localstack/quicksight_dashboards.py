"""QuickSight analyses and versioned dashboards kept as sent, so deploy, plan and export code runs against the stack
(moto 5.2.5 has no analyses and keeps one dashboard version with no definition, permissions or publishing)."""

from __future__ import annotations

from typing import Any

from moto.quicksight.responses import QuickSightResponse

from pipelines.localstack.quicksight_http import Answer, answer, backend, body, int_query_param, now, path_param, query_param
from pipelines.localstack.quicksight_store import (
    ANALYSES,
    DASHBOARDS,
    InvalidParameterValueException,
    Record,
    ResourceNotFoundException,
    add,
    arn,
    data_set_arns,
    find,
    kept,
    merged_permissions,
    page,
    require_definition_or_source,
    sheets,
    source_entity_arn,
    tag,
)

_ANALYSIS_FIELDS = ("Name", "Definition", "Parameters", "SourceEntity", "ThemeArn", "ValidationStrategy")
_VERSION_FIELDS = ("Definition", "Parameters", "SourceEntity", "ThemeArn", "DashboardPublishOptions", "ValidationStrategy")
_RECOVERY_DAYS = 30  # DeleteAnalysis keeps an analysis this long unless told otherwise


def _picked(params: Record, fields: tuple[str, ...]) -> Record:
    return {k: params[k] for k in fields if k in params}


def _analysis(response: QuickSightResponse, *, live: bool = False) -> Record:
    """The analysis in the path; one past its recovery window is gone, one inside it only describable (`live`: refuse it)."""
    analysis_id = path_param(response, "AnalysisId")
    found = find(backend(response), ANALYSES, analysis_id, "Analysis")
    if found.get("DeletionTime", float("inf")) <= now(response):
        del kept(backend(response), ANALYSES)[analysis_id]
        raise ResourceNotFoundException(f"Analysis {analysis_id} not found")
    if live and found["Status"] == "DELETED":
        raise InvalidParameterValueException(f"Analysis {analysis_id} is scheduled for deletion")
    return found


def _drop_expired(response: QuickSightResponse) -> dict[str, Record]:
    """The analyses still kept: those past their recovery window are deleted for good first."""
    analyses, stamp = kept(backend(response), ANALYSES), now(response)
    for analysis_id in [i for i, a in analyses.items() if a.get("DeletionTime", float("inf")) <= stamp]:
        del analyses[analysis_id]
    return analyses


def create_analysis(self: QuickSightResponse) -> Answer:
    params, qs, stamp = body(self), backend(self), now(self)
    require_definition_or_source(params)
    _drop_expired(self)  # an id frees up when its recovery window ends
    analysis_id = path_param(self, "AnalysisId")
    analysis_arn = arn(qs, f"analysis/{analysis_id}")
    record = {
        **_picked(params, _ANALYSIS_FIELDS),
        "AnalysisId": analysis_id,
        "Arn": analysis_arn,
        "Permissions": params.get("Permissions", []),
        "FolderArns": params.get("FolderArns", []),
        "Status": "CREATION_SUCCESSFUL",
        "CreatedTime": stamp,
        "LastUpdatedTime": stamp,
    }
    add(qs, ANALYSES, analysis_id, record, "Analysis")
    tag(qs, analysis_arn, params.get("Tags"))
    return answer({"Arn": analysis_arn, "AnalysisId": analysis_id, "CreationStatus": "CREATION_IN_PROGRESS"}, 202)


def describe_analysis(self: QuickSightResponse) -> Answer:
    found = _analysis(self)
    analysis = {
        **{k: found[k] for k in ("Arn", "AnalysisId", "Name", "Status", "CreatedTime", "LastUpdatedTime")},
        **_picked(found, ("ThemeArn",)),
        "Errors": [],
        "DataSetArns": data_set_arns(found.get("Definition"), found.get("SourceEntity")),
        "Sheets": sheets(found.get("Definition")),
    }
    return answer({"Analysis": analysis})


def describe_analysis_definition(self: QuickSightResponse) -> Answer:
    found = _analysis(self)
    fields = {k: found[k] for k in ("AnalysisId", "Name")} | _picked(found, ("Definition", "ThemeArn"))
    return answer({**fields, "ResourceStatus": found["Status"], "Errors": []})


def update_analysis(self: QuickSightResponse) -> Answer:
    found = _analysis(self, live=True)
    params = body(self)
    require_definition_or_source(params)
    for field in _ANALYSIS_FIELDS:  # the request replaces the analysis: what it leaves out is gone
        found.pop(field, None)
    found.update(_picked(params, _ANALYSIS_FIELDS), Status="UPDATE_SUCCESSFUL", LastUpdatedTime=now(self))
    return answer({"Arn": found["Arn"], "AnalysisId": found["AnalysisId"], "UpdateStatus": "UPDATE_IN_PROGRESS"}, 202)


def delete_analysis(self: QuickSightResponse) -> Answer:
    """Gone at once with `force-delete-without-recovery`; else DELETED (still described and listed) for the recovery window."""
    found = _analysis(self)
    if query_param(self, "force-delete-without-recovery") == "true":
        del kept(backend(self), ANALYSES)[found["AnalysisId"]]
        deletion_time = now(self)
    else:
        days = int_query_param(self, "recovery-window-in-days") or _RECOVERY_DAYS
        deletion_time = now(self) + days * 86400
        found.update(Status="DELETED", DeletionTime=deletion_time)
    return answer({"Arn": found["Arn"], "AnalysisId": found["AnalysisId"], "DeletionTime": deletion_time})


def list_analyses(self: QuickSightResponse) -> Answer:
    analyses = _drop_expired(self)
    fields = ("Arn", "AnalysisId", "Name", "Status", "CreatedTime", "LastUpdatedTime")
    summaries = [{k: a[k] for k in fields} for _, a in sorted(analyses.items())]
    listed, token = page(summaries, int_query_param(self, "max-results"), query_param(self, "next-token"))
    return answer({"AnalysisSummaryList": listed, **({"NextToken": token} if token else {})})


def describe_analysis_permissions(self: QuickSightResponse) -> Answer:
    found = _analysis(self)
    return answer({"AnalysisId": found["AnalysisId"], "AnalysisArn": found["Arn"], "Permissions": found["Permissions"]})


def update_analysis_permissions(self: QuickSightResponse) -> Answer:
    found = _analysis(self, live=True)
    params = body(self)
    found["Permissions"] = merged_permissions(
        found["Permissions"], params.get("GrantPermissions"), params.get("RevokePermissions")
    )
    return answer({"AnalysisId": found["AnalysisId"], "AnalysisArn": found["Arn"], "Permissions": found["Permissions"]})


def _dashboard(response: QuickSightResponse) -> Record:
    return find(backend(response), DASHBOARDS, path_param(response, "DashboardId"), "Dashboard")


def _new_version(response: QuickSightResponse, dashboard: Record, params: Record) -> Record:
    number = max((v["VersionNumber"] for v in dashboard["Versions"]), default=0) + 1
    version = {
        **_picked(params, _VERSION_FIELDS),
        "VersionNumber": number,
        "Status": "CREATION_SUCCESSFUL" if number == 1 else "UPDATE_SUCCESSFUL",
        "CreatedTime": now(response),
        **({"Description": params["VersionDescription"]} if "VersionDescription" in params else {}),
    }
    dashboard["Versions"].append(version)
    return version


def _version(response: QuickSightResponse, dashboard: Record) -> Record:
    """The version asked for (`version-number`, or alias `$LATEST` / `$PUBLISHED`), else the published one."""
    number = int_query_param(response, "version-number")
    alias = query_param(response, "alias-name")
    if number is None:
        if alias not in (None, "$PUBLISHED", "$LATEST"):
            raise ResourceNotFoundException(f"Alias {alias} not found for dashboard {dashboard['DashboardId']}")
        number = dashboard["Versions"][-1]["VersionNumber"] if alias == "$LATEST" else dashboard["PublishedVersionNumber"]
    for version in dashboard["Versions"]:
        if version["VersionNumber"] == number:
            return version
    raise ResourceNotFoundException(f"Version {number} of dashboard {dashboard['DashboardId']} not found")


def _version_arn(dashboard: Record, version: Record) -> str:
    return f"{dashboard['Arn']}/version/{version['VersionNumber']}"


def create_dashboard(self: QuickSightResponse) -> Answer:
    """Version 1, published."""
    params, qs, stamp = body(self), backend(self), now(self)
    require_definition_or_source(params)
    dashboard_id = path_param(self, "DashboardId")
    dashboard_arn = arn(qs, f"dashboard/{dashboard_id}")
    dashboard: Record = {
        "DashboardId": dashboard_id,
        "Arn": dashboard_arn,
        "Name": params["Name"],
        "Permissions": params.get("Permissions", []),
        "LinkSharingConfiguration": params.get("LinkSharingConfiguration", {"Permissions": []}),
        **_picked(params, ("LinkEntities", "FolderArns")),
        "CreatedTime": stamp,
        "LastUpdatedTime": stamp,
        "LastPublishedTime": stamp,
        "PublishedVersionNumber": 1,
        "Versions": [],
    }
    add(qs, DASHBOARDS, dashboard_id, dashboard, "Dashboard")
    version = _new_version(self, dashboard, params)
    tag(qs, dashboard_arn, params.get("Tags"))
    fields = {"Arn": dashboard_arn, "VersionArn": _version_arn(dashboard, version), "DashboardId": dashboard_id}
    return answer({**fields, "CreationStatus": "CREATION_IN_PROGRESS"}, 202)


def update_dashboard(self: QuickSightResponse) -> Answer:
    """A new version, not published: the published one stays until UpdateDashboardPublishedVersion."""
    dashboard, params = _dashboard(self), body(self)
    require_definition_or_source(params)
    version = _new_version(self, dashboard, params)
    dashboard.update(Name=params["Name"], LastUpdatedTime=version["CreatedTime"])
    fields = {"Arn": dashboard["Arn"], "VersionArn": _version_arn(dashboard, version), "DashboardId": dashboard["DashboardId"]}
    return answer({**fields, "CreationStatus": "CREATION_IN_PROGRESS"}, 202)


def describe_dashboard(self: QuickSightResponse) -> Answer:
    dashboard = _dashboard(self)
    version = _version(self, dashboard)
    definition, source = version.get("Definition"), version.get("SourceEntity")
    version_view = {
        **{k: version[k] for k in ("VersionNumber", "Status", "CreatedTime")},
        **_picked(version, ("Description", "ThemeArn")),
        **({"SourceEntityArn": source_entity_arn(source)} if source_entity_arn(source) else {}),
        "Arn": _version_arn(dashboard, version),
        "DataSetArns": data_set_arns(definition, source),
        "Sheets": sheets(definition),
        "Errors": [],
    }
    fields = ("Arn", "DashboardId", "Name", "CreatedTime", "LastPublishedTime", "LastUpdatedTime")
    return answer(
        {"Dashboard": {**{k: dashboard[k] for k in fields}, **_picked(dashboard, ("LinkEntities",)), "Version": version_view}}
    )


def describe_dashboard_definition(self: QuickSightResponse) -> Answer:
    dashboard = _dashboard(self)
    version = _version(self, dashboard)
    fields = _picked(version, ("Definition", "ThemeArn", "DashboardPublishOptions"))
    return answer(
        {
            "DashboardId": dashboard["DashboardId"],
            "Name": dashboard["Name"],
            **fields,
            "ResourceStatus": version["Status"],
            "Errors": [],
        }
    )


def update_dashboard_published_version(self: QuickSightResponse) -> Answer:
    dashboard = _dashboard(self)
    number = int(path_param(self, "VersionNumber"))
    if all(v["VersionNumber"] != number for v in dashboard["Versions"]):
        raise ResourceNotFoundException(f"Version {number} of dashboard {dashboard['DashboardId']} not found")
    dashboard.update(PublishedVersionNumber=number, LastPublishedTime=now(self))
    return answer({"DashboardId": dashboard["DashboardId"], "DashboardArn": dashboard["Arn"]})


def list_dashboard_versions(self: QuickSightResponse) -> Answer:
    dashboard = _dashboard(self)
    summaries = [
        {
            **{k: v[k] for k in ("VersionNumber", "Status", "CreatedTime")},
            **_picked(v, ("Description",)),
            **({"SourceEntityArn": source_entity_arn(v.get("SourceEntity"))} if v.get("SourceEntity") else {}),
            "Arn": _version_arn(dashboard, v),
        }
        for v in dashboard["Versions"]
    ]
    listed, token = page(summaries, int_query_param(self, "max-results"), query_param(self, "next-token"))
    return answer({"DashboardVersionSummaryList": listed, **({"NextToken": token} if token else {})})


def list_dashboards(self: QuickSightResponse) -> Answer:
    fields = ("Arn", "DashboardId", "Name", "CreatedTime", "LastUpdatedTime", "PublishedVersionNumber", "LastPublishedTime")
    summaries = [{k: d[k] for k in fields} for _, d in sorted(kept(backend(self), DASHBOARDS).items())]
    listed, token = page(summaries, int_query_param(self, "max-results"), query_param(self, "next-token"))
    return answer({"DashboardSummaryList": listed, **({"NextToken": token} if token else {})})


def delete_dashboard(self: QuickSightResponse) -> Answer:
    """The whole dashboard (no recovery window), or with `version-number` that one unpublished version."""
    dashboard = _dashboard(self)
    number = int_query_param(self, "version-number")
    if number is None:
        del kept(backend(self), DASHBOARDS)[dashboard["DashboardId"]]
    elif number == dashboard["PublishedVersionNumber"]:
        raise InvalidParameterValueException(f"Version {number} of dashboard {dashboard['DashboardId']} is published")
    else:
        dashboard["Versions"].remove(_version(self, dashboard))
    return answer({"Arn": dashboard["Arn"], "DashboardId": dashboard["DashboardId"]})


def _dashboard_permissions(dashboard: Record) -> Record:
    return {k: dashboard[k] for k in ("DashboardId", "Permissions", "LinkSharingConfiguration")} | {
        "DashboardArn": dashboard["Arn"]
    }


def describe_dashboard_permissions(self: QuickSightResponse) -> Answer:
    return answer(_dashboard_permissions(_dashboard(self)))


def update_dashboard_permissions(self: QuickSightResponse) -> Answer:
    dashboard, params = _dashboard(self), body(self)
    dashboard["Permissions"] = merged_permissions(
        dashboard["Permissions"], params.get("GrantPermissions"), params.get("RevokePermissions")
    )
    link: Any = dashboard["LinkSharingConfiguration"]
    link["Permissions"] = merged_permissions(
        link.get("Permissions", []), params.get("GrantLinkPermissions"), params.get("RevokeLinkPermissions")
    )
    return answer(_dashboard_permissions(dashboard))


REPLACEMENTS = (
    create_analysis,
    describe_analysis,
    describe_analysis_definition,
    update_analysis,
    delete_analysis,
    list_analyses,
    describe_analysis_permissions,
    update_analysis_permissions,
    create_dashboard,
    update_dashboard,
    describe_dashboard,
    describe_dashboard_definition,
    update_dashboard_published_version,
    list_dashboard_versions,
    list_dashboards,
    delete_dashboard,
    describe_dashboard_permissions,
    update_dashboard_permissions,
)
