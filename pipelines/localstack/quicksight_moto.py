"""Fills moto's QuickSight gaps (reversibly) so deploy, plan, export and nightly code runs against the stack: datasets,
analyses and versioned dashboards kept as sent, permissions, refresh schedules and ingestions (see docs/local-stack.md)."""

from __future__ import annotations

import threading

import moto.quicksight.urls as quicksight_urls
from moto.quicksight.responses import QuickSightResponse

from pipelines.localstack import quicksight_dashboards, quicksight_data
from pipelines.localstack.moto_patch import MethodPatch

_ACCOUNT = r"{0}/accounts/(?P<account_id>[^/]+)"
_ID = r"[^/]+"
# Routes moto lacks. They only need to reach QuickSightResponse.dispatch: moto then finds the operation from botocore's
# model by method and URI. Its server builds a service's URL map from url_paths when the first request for it comes.
_PATHS = (
    rf"/data-sets/(?P<datasetid>{_ID})$",
    rf"/data-sets/(?P<datasetid>{_ID})/permissions$",
    rf"/data-sets/(?P<datasetid>{_ID})/refresh-schedules$",
    rf"/data-sets/(?P<datasetid>{_ID})/refresh-schedules/(?P<scheduleid>{_ID})$",
    rf"/data-sets/(?P<datasetid>{_ID})/ingestions$",
    rf"/data-sets/(?P<datasetid>{_ID})/ingestions/(?P<ingestionid>{_ID})$",  # moto's refuses ids with dots
    rf"/data-sources/(?P<datasourceid>{_ID})/permissions$",
    r"/analyses$",
    rf"/analyses/(?P<analysisid>{_ID})$",
    rf"/analyses/(?P<analysisid>{_ID})/definition$",
    rf"/analyses/(?P<analysisid>{_ID})/permissions$",
    rf"/dashboards/(?P<dashboardid>{_ID})/definition$",
    rf"/dashboards/(?P<dashboardid>{_ID})/permissions$",
    rf"/dashboards/(?P<dashboardid>{_ID})/versions$",
    rf"/dashboards/(?P<dashboardid>{_ID})/versions/(?P<versionnumber>\d+)$",
)
_ROUTES = {_ACCOUNT + path: QuickSightResponse.dispatch for path in _PATHS}


class _QuickSightPatch:
    """The replaced methods and the added routes, installed while at least one stack holds them."""

    def __init__(self) -> None:
        handlers = (*quicksight_data.REPLACEMENTS, *quicksight_dashboards.REPLACEMENTS)
        self._methods = MethodPatch(tuple((QuickSightResponse, handler.__name__, handler) for handler in handlers))
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
