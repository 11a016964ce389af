"""Helpers for integration tests: a config for the local stack, seeding, reading what readers see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.aws import Session, lake_session
from pipelines.config import Config, parse_config
from pipelines.demo.buckets import create_bucket
from pipelines.lake import catalog
from pipelines.lake.schemas import AUDITED, TABLES
from pipelines.lake.staging import read_table
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.clock import NIGHT  # just before the stack's clock: CloudWatch lists series with data in the last two weeks

BUCKET = "mlmon-test-lake"
ACCOUNTS = ("111111111111", "222222222222")
DT = NIGHT.isoformat()
PREV_DT = (NIGHT - timedelta(days=1)).isoformat()


def make_config(endpoint_url: str, **cloudwatch: object) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": BUCKET, "database": "ml_test"},
            "sources": [
                {"account_id": a, "role_arn": f"arn:aws:iam::{a}:role/MlLakeReader", "regions": ["us-east-1"]} for a in ACCOUNTS
            ],
            "cloudwatch": {"namespaces": ["AWS/SageMaker"], "period_seconds": 300, **cloudwatch},
            "endpoints": {"ep-a": {"business_unit": "Payments"}, "ep-b": {"business_unit": "Growth"}},
            "endpoint_url": endpoint_url,
        }
    )


def new_lake(config: Config) -> Session:
    session = lake_session(config.lake.region, config.endpoint_url)
    create_bucket(session, config.lake.bucket, config.lake.region)
    return session


def minutes(day: date, count: int = 1440, step: int = 60) -> np.ndarray:
    start = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp())
    return start + np.arange(count, dtype=np.int64) * step


def seed_invocations(
    store: object,
    account: str,
    endpoint: str,
    day: date,
    metric: str = "Invocations",
    region: str = "us-east-1",
    value: float = 10.0,
) -> None:
    """Per-minute counts for one endpoint and day, straight into the stack's store."""
    ts = minutes(day)
    store.put_series(
        account,
        region,
        "AWS/SageMaker",
        metric,  # type: ignore[attr-defined]
        {"EndpointName": endpoint, "VariantName": "AllTraffic"},
        "Count",
        ts,
        np.full(len(ts), value),
        None,
    )


def published(session: Session, config: Config, table: str, dt: str | None = None) -> pa.Table:
    """Exactly what a reader of the catalog sees for `table` (one partition or the table)."""
    location = (
        catalog.partition_location(session, config.lake, table, dt)
        if dt
        else session.client("glue").get_table(DatabaseName=config.lake.database, Name=table)["Table"]["StorageDescriptor"][
            "Location"
        ]
    )
    if location is None:
        return TABLES[table].schema.empty_table()
    import awswrangler as wr

    uris = wr.s3.list_objects(location, suffix=".parquet", boto3_session=session)
    return read_table(session, uris, TABLES[table].schema)


def day_after(day: date) -> date:
    return day + timedelta(days=1)


def readers_see(session: Session, config: Config) -> dict[str, list[tuple[Any, ...]]]:
    """Every audited table's published rows for the night (unpartitioned: the table), sorted, ingestion-free."""
    seen = {}
    for spec in AUDITED:
        table: pa.Table = published(session, config, spec.name, DT if spec.partitioned else None)
        rows = [tuple(str(v) for k, v in sorted(r.items()) if k not in ("landed_at", "ingested_at")) for r in table.to_pylist()]
        seen[spec.name] = sorted(rows)
    return seen


def published_night(stack: Any) -> tuple[Config, Session, dict[str, list[tuple[Any, ...]]]]:
    """Two accounts x two endpoints landed for NIGHT on a new lake by a calm run: its config, session and what readers see."""
    for account in ACCOUNTS:
        for endpoint in ("ep-a", "ep-b"):
            seed_invocations(stack.metric_store, account, endpoint, NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum", "Maximum"], lookback_days=0)
    session = new_lake(config)
    assert run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake)).ok
    return config, session, readers_see(session, config)
