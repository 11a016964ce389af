"""The `endpoint_log_patterns` source: error classes per endpoint and hour of the night, from the endpoints' log groups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.schemas import ENDPOINT_LOG_PATTERNS
from pipelines.logs import get_logger
from pipelines.sources.endpoint_log_patterns.extract import iter_endpoint_log_groups, iter_log_pattern_counts
from pipelines.sources.landing import Landing, SourceLander
from pipelines.sources.per_account import land_per_account
from pipelines.windows import night_window

log = get_logger(__name__)

SOURCE = ENDPOINT_LOG_PATTERNS.name


def endpoint_log_patterns_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows in the contract's schema, ordered by the table's key."""
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in ENDPOINT_LOG_PATTERNS.key))
    return pa.Table.from_pylist(ordered, schema=ENDPOINT_LOG_PATTERNS.schema)


def land_endpoint_log_patterns(session: Session, config: Config, night: date, run_id: str) -> Landing:
    """Count config.log_patterns' error classes per endpoint and hour of `night`; skipped when disabled."""
    settings = config.log_patterns
    if not settings.enabled:
        log.info("source_disabled", source=SOURCE)
        return Landing(SOURCE, counts={"accounts": 0, "accounts_failed": 0, "rows": 0})
    window = night_window(night, 0)

    def extract(source: Session, account_id: str, region: str) -> pa.Table:
        logs = source.client("logs", region_name=region)
        groups = list(iter_endpoint_log_groups(logs))
        counts = iter_log_pattern_counts(logs, groups, window, settings.error_patterns, settings.query_timeout_seconds)
        return endpoint_log_patterns_table({"account_id": account_id, "region": region, **row} for row in counts)

    return land_per_account(session, config, ENDPOINT_LOG_PATTERNS, night, run_id, extract)


LANDER = SourceLander(SOURCE, land_endpoint_log_patterns)
