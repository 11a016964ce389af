"""The `cloudwatch_metrics` source of a night: the night and its lookback days, every account x region, one file each per day."""

from __future__ import annotations

from datetime import date

from botocore.config import Config as BotoConfig

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.sources.cloudwatch_metrics.days import stream_days
from pipelines.sources.cloudwatch_metrics.decode import install_fast_decoder
from pipelines.sources.cloudwatch_metrics.discovery import iter_metric_series
from pipelines.sources.cloudwatch_metrics.fetch import iter_metric_data
from pipelines.sources.cloudwatch_metrics.monitoring import monitoring_reads
from pipelines.sources.cloudwatch_metrics.plan import plan_queries
from pipelines.sources.cloudwatch_metrics.table import QueryCatalog, write_parquet_bytes
from pipelines.sources.landing import Landing, SourceLander
from pipelines.sources.per_account import AccountFiles, land_per_account
from pipelines.windows import night_window

SOURCE = CLOUDWATCH_METRICS.name


def land_cloudwatch_metrics(session: Session, config: Config, night: date, run_id: str) -> Landing:
    """Stage partitions dt=`night` and its `cloudwatch.lookback_days` before it (CloudWatch data arrives late).

    An account x region that fails keeps its published files in every one of those partitions.
    Each account x region reports series, queries and datapoints. Sources with `cloudwatch_via:
    monitoring_account` are read together, once per region, through `cloudwatch.monitoring_account`,
    and still land one file per account x region.
    """
    window = night_window(night, config.cloudwatch.lookback_days)

    def extract(source: Session, account_id: str, region: str) -> AccountFiles:
        # Our own requests are well-formed by construction and CloudWatch validates them anyway: botocore's client-side
        # check of 500 queries per call cost more CPU than decoding the answer.
        cloudwatch = source.client("cloudwatch", region_name=region, config=BotoConfig(parameter_validation=False))
        install_fast_decoder(cloudwatch)
        series = list(iter_metric_series(cloudwatch, account_id, region, config.cloudwatch.namespaces))
        queries = plan_queries(series, config.cloudwatch)
        catalog = QueryCatalog({q.id: q for q in queries})
        days = stream_days(iter_metric_data(cloudwatch, queries, window), catalog, window.days)
        datapoints = sum(day.rows for day in days.values())
        return AccountFiles(days, {"series": len(series), "queries": len(queries), "datapoints": datapoints})

    return land_per_account(
        session,
        config,
        CLOUDWATCH_METRICS,
        night,
        run_id,
        extract,
        days=window.days,
        encode=write_parquet_bytes,
        read_elsewhere=monitoring_reads(session, config, window),
    )


LANDER = SourceLander(SOURCE, land_cloudwatch_metrics)
