"""Speeds moto's request dispatch (reversibly): which service a host names is looked up once per host, not per request.

moto 5.2.5's `DomainDispatcherApplication.get_backend_for_host` lists moto's package folder (a `stat` per
service, ~120 before `s3`) and then tries every service's URL patterns, for every request, under the lock
that serialises dispatch: about 1 ms a request, and the pipeline's threads queue behind it. The answer
depends on the host string alone, so it is remembered per host.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from pipelines.localstack.moto_patch import MethodPatch

_ORIGINAL = DomainDispatcherApplication.get_backend_for_host
_BACKENDS: dict[str | None, Any] = {}
_LOCK = threading.Lock()


def _backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    with _LOCK:
        if host not in _BACKENDS:
            _BACKENDS[host] = _ORIGINAL(self, host)
        return _BACKENDS[host]


PATCH = MethodPatch([(DomainDispatcherApplication, "get_backend_for_host", _backend_for_host)])
