"""Read the source accounts linked to an OAM monitoring account once per region, and hand each its own rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import CloudWatchConfig, Config
from pipelines.errors import PipelineError
from pipelines.logs import get_logger
from pipelines.sources.cloudwatch_metrics.decode import install_fast_decoder
from pipelines.sources.cloudwatch_metrics.discovery import iter_linked_metric_series
from pipelines.sources.cloudwatch_metrics.fetch import iter_metric_data
from pipelines.sources.cloudwatch_metrics.plan import plan_queries
from pipelines.sources.cloudwatch_metrics.table import SCHEMA, cloudwatch_metrics_table
from pipelines.sources.per_account import AccountRead, AccountRows
from pipelines.windows import Window

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

log = get_logger(__name__)


class MonitoringAccountError(PipelineError):
    """The monitoring account's read of a region failed: every account read through it there fails with it."""


def read_linked_accounts(
    cloudwatch: CloudWatchClient, region: str, accounts: Iterable[str], settings: CloudWatchConfig, window: Window
) -> dict[str, AccountRows]:
    """The rows of every account in `accounts`, read through one monitoring account's client in `region`.

    One ListMetrics pass per namespace (IncludeLinkedAccounts) and one set of GetMetricData calls
    (each query names its AccountId) for all of them; each account gets exactly the rows, in the
    order, that reading it with its own role gives. An account nothing was seen of gets no rows.
    """
    wanted = sorted(set(accounts))
    series = list(iter_linked_metric_series(cloudwatch, region, settings.namespaces, wanted))
    queries = plan_queries(series, settings, cross_account=True)
    table = cloudwatch_metrics_table(iter_metric_data(cloudwatch, queries, window), {q.id: q for q in queries})
    parts = split_by_account(table)
    rows: dict[str, AccountRows] = {}
    for account in wanted:
        part = parts.get(account, SCHEMA.empty_table())
        counts = {
            "series": sum(s.account_id == account for s in series),
            "queries": sum(q.series.account_id == account for q in queries),
            "datapoints": part.num_rows,
        }
        rows[account] = AccountRows(part, counts)
    return rows


def split_by_account(table: pa.Table) -> dict[str, pa.Table]:
    """The table's rows per `account_id`, each account's rows in their order in the table (one stable sort)."""
    if table.num_rows == 0:
        return {}
    encoded = pc.dictionary_encode(table.column("account_id")).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")  # rows come grouped by account already: a linear pass
    bounds = np.searchsorted(codes[order], np.arange(len(encoded.dictionary) + 1))
    ordered = table.take(pa.array(order, type=pa.int64()))
    return {
        str(account): ordered.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i]))
        for i, account in enumerate(encoded.dictionary.to_pylist())
    }


def monitoring_reads(session: Session, config: Config, window: Window) -> dict[tuple[str, str], AccountRead]:
    """For every source x region read via the monitoring account: where its rows come from.

    Each region is read once, on first need, for all of its accounts; when that read fails, each of
    them fails with an error naming the monitoring account (the sources read with roles are untouched).
    """
    monitoring = config.cloudwatch.monitoring_account
    by_region: dict[str, list[str]] = {}
    for source in config.sources:
        if source.cloudwatch_via == "monitoring_account":
            for region in source.regions:
                by_region.setdefault(region, []).append(source.account_id)
    if monitoring is None or not by_region:
        return {}
    done: dict[str, Mapping[str, AccountRows] | str] = {}

    def read_region(region: str) -> Mapping[str, AccountRows] | str:
        accounts = by_region[region]
        try:
            reader = (
                session.assume(monitoring.role_arn, region, external_id=monitoring.external_id)
                if monitoring.role_arn
                else session.in_region(region)
            )
            cloudwatch = reader.client("cloudwatch", region_name=region)
            install_fast_decoder(cloudwatch)
            rows = read_linked_accounts(cloudwatch, region, accounts, config.cloudwatch, window)
        except (PipelineError, ClientError, BotoCoreError) as error:
            log.warning(
                "monitoring_account_failed", account_id=monitoring.account_id, region=region, accounts=accounts, error=str(error)
            )
            return f"via monitoring account {monitoring.account_id} in {region}: {type(error).__name__}: {error}"
        log.info("monitoring_account", account_id=monitoring.account_id, region=region, accounts=len(accounts))
        unseen = [account for account in accounts if rows[account].counts["series"] == 0]
        if unseen:  # a linked account with no endpoints looks the same as one whose OAM link is missing
            log.warning("monitoring_account_sees_no_series", account_id=monitoring.account_id, region=region, accounts=unseen)
        return rows

    def reader(account: str, region: str) -> AccountRead:
        def read() -> AccountRows:
            if region not in done:
                done[region] = read_region(region)
            outcome = done[region]
            if isinstance(outcome, str):
                raise MonitoringAccountError(outcome)
            return outcome[account]

        return read

    return {(account, region): reader(account, region) for region, accounts in by_region.items() for account in accounts}
