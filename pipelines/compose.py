"""What only the entry points decide (the CLI and the Glue jobs): the lake's session and where its SQL runs."""

from __future__ import annotations

from pipelines.aws import Session, lake_session
from pipelines.config import Config
from pipelines.query.engine import QueryEngine


def session_for(config: Config) -> Session:
    """The lake's session: the local stack when the config names an endpoint, else AWS."""
    return lake_session(config.lake.region, config.endpoint_url)


def engine_for(config: Config, session: Session) -> QueryEngine:
    """The one place that says where Athena SQL runs: DuckDB over a local stack's lake, or Athena in AWS."""
    if config.endpoint_url:
        from pipelines.query.local import LocalLakeEngine

        return LocalLakeEngine(session, config.lake)
    from pipelines.query.athena import AthenaEngine  # awswrangler's Athena module is slow to import

    return AthenaEngine(session, config.lake)
