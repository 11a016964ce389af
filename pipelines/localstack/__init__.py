"""A local AWS emulator (moto's server) whose CloudWatch metrics are correct, paginated and fast enough for a fleet.

Its names load on first use: a process that only drives a stack in another (`process.StackProcess`) never imports moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.localstack.cloudwatch_store import MetricStore, RegionMetrics
    from pipelines.localstack.server import LocalStack, serve
    from pipelines.localstack.settings import StackClock, StackSettings

_HOMES = {
    "LocalStack": "server",
    "serve": "server",
    "MetricStore": "cloudwatch_store",
    "RegionMetrics": "cloudwatch_store",
    "StackClock": "settings",
    "StackSettings": "settings",
}
__all__ = ["LocalStack", "MetricStore", "RegionMetrics", "StackClock", "StackSettings", "serve"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
