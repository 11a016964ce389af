"""The `endpoint_models` source: each night, which model (and model package version) served each endpoint variant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.schemas import ENDPOINT_MODELS
from pipelines.sources.endpoint_models.extract import iter_endpoint_models
from pipelines.sources.landing import Landing, SourceLander
from pipelines.sources.per_account import land_per_account

SOURCE = ENDPOINT_MODELS.name


def endpoint_models_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows in the contract's schema, ordered by the table's key."""
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in ENDPOINT_MODELS.key))
    return pa.Table.from_pylist(ordered, schema=ENDPOINT_MODELS.schema)


def land_endpoint_models(session: Session, config: Config, night: date, run_id: str) -> Landing:
    """Describe every source's endpoints now and stage the lineage as partition dt=`night`.

    Lineage is a snapshot taken when the night runs: a rerun (or backfill) of an old night
    records what serves today, so history comes from nightly runs, not from reruns.
    """
    observed_at = datetime.now(UTC)

    def extract(source: Session, account_id: str, region: str) -> pa.Table:
        sagemaker = source.client("sagemaker", region_name=region)
        rows = iter_endpoint_models(sagemaker, account_id, region, extra_endpoints=config.endpoints, observed_at=observed_at)
        return endpoint_models_table(rows)

    return land_per_account(session, config, ENDPOINT_MODELS, night, run_id, extract)


LANDER = SourceLander(SOURCE, land_endpoint_models)
