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


def config_from_s3(uri: str) -> Config:
    """The pipeline's YAML kept in S3, for the Glue jobs (their scripts travel alone; the package comes as a wheel)."""
    import boto3
    import yaml

    from pipelines.config import parse_config
    from pipelines.lake.paths import split_s3_uri

    bucket, key = split_s3_uri(uri)
    text = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return parse_config(yaml.safe_load(text), origin=uri)
