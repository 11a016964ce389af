"""A local AWS emulator (moto's server) whose CloudWatch metrics are correct, paginated and fast enough for a fleet."""

from __future__ import annotations

from pipelines.localstack.cloudwatch_store import MetricStore, RegionMetrics
from pipelines.localstack.server import LocalStack, serve
from pipelines.localstack.settings import StackClock, StackSettings

__all__ = ["LocalStack", "MetricStore", "RegionMetrics", "StackClock", "StackSettings", "serve"]
