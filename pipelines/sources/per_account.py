"""Land one table account x region by account x region: one file each per partition; a failed one is named, not fatal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.faults import unit_retries
from pipelines.lake.paths import account_region_file
from pipelines.lake.schemas import TableSpec
from pipelines.lake.staging import Encoder, Stager, parquet_bytes
from pipelines.logs import get_logger
from pipelines.sources.landing import AccountRegionResult, Landing

log = get_logger(__name__)


@dataclass(frozen=True)
class AccountRows:
    """What an extract read in one account x region: its rows, and counts worth reporting (series, calls, ...)."""

    table: pa.Table
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DayFile:
    """One day's rows of one account x region, as the Parquet body to stage."""

    body: bytes
    rows: int


@dataclass(frozen=True)
class AccountFiles:
    """What a streaming extract wrote for one account x region: each day's Parquet body (and rows), and counts.

    A large source (CloudWatch) writes its rows to Parquet as they arrive instead of holding them as a table."""

    days: Mapping[str, DayFile]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(day.rows for day in self.days.values())


# (the account x region's session, account id, region) -> its rows for the night, in the table's schema
AccountExtract = Callable[[Session, str, str], "pa.Table | AccountRows | AccountFiles"]
# An account x region read without a session of its own (e.g. from a monitoring account): its rows, or it raises.
AccountRead = Callable[[], "pa.Table | AccountRows"]


def account_regions(config: Config) -> list[tuple[str, str | None, str]]:
    """(account id, role to assume or None, region) for every configured account x region, in config order."""
    return [(s.account_id, s.role_arn, region) for s in config.sources for region in s.regions]


def land_per_account(
    session: Session,
    config: Config,
    spec: TableSpec,
    night: date,
    run_id: str,
    extract: AccountExtract,
    *,
    days: list[str] | None = None,
    encode: Encoder = parquet_bytes,
    read_elsewhere: Mapping[tuple[str, str], AccountRead] | None = None,
) -> Landing:
    """Stage `extract`'s rows for every configured account x region, one file each in partition dt=`night`,
    or, given `days`, in each of those partitions the rows whose `ts` falls on that day.

    An account x region that fails with a retriable error is tried again (`faults.unit_retries`) before it counts.
    An account x region that fails (cannot assume its role, AccessDenied, ...) goes to `errors`
    and keeps what was published for it before (its files are carried over); the others land.
    With every one failed nothing is staged, so readers keep the previous partitions.
    An (account id, region) in `read_elsewhere` takes its rows from there instead (no role is assumed for it).
    """
    split = days is not None
    days = days if days is not None else [night.isoformat()]
    stager = Stager(session, config.lake, spec, run_id, encode=encode)
    results: list[AccountRegionResult] = []
    external_ids = {s.account_id: s.external_id for s in config.sources}
    for account_id, role_arn, region in account_regions(config):
        elsewhere = (read_elsewhere or {}).get((account_id, region))
        try:
            for attempt in unit_retries(f"{spec.name} {account_id}/{region}", local=session.endpoint_url is not None):
                with attempt:
                    if elsewhere is not None:
                        extracted = elsewhere()
                    else:
                        source_session = (
                            session.assume(role_arn, region, external_id=external_ids.get(account_id))
                            if role_arn
                            else session.in_region(region)
                        )
                        extracted = extract(source_session, account_id, region)
        except (PipelineError, ClientError, BotoCoreError) as error:
            result = AccountRegionResult(account_id, region, error=f"{type(error).__name__}: {error}")
            log.warning("account_region_failed", source=spec.name, account_id=account_id, region=region, error=str(error))
            results.append(result)
            continue
        name = account_region_file(account_id, region)
        if isinstance(extracted, AccountFiles):
            for dt in days:
                day = extracted.days.get(dt)
                if day is None:
                    stager.add(dt, name, spec.schema.empty_table())
                else:
                    stager.add_parquet(dt, name, day.body, day.rows)
            counts = {**extracted.counts, "rows": extracted.rows}
        else:
            rows = extracted if isinstance(extracted, AccountRows) else AccountRows(extracted)
            for dt in days:
                stager.add(dt, name, rows_of_day(rows.table, dt) if split else rows.table)
            counts = {**rows.counts, "rows": rows.table.num_rows}
        results.append(AccountRegionResult(account_id, region, counts))
        log.info("account_region", source=spec.name, run_id=run_id, account_id=account_id, region=region, **results[-1].counts)
    failed = [account_region_file(r.account_id, r.region) for r in results if r.error]
    errors = [f"{r.account_id}/{r.region}: {r.error}" for r in results if r.error]
    counts = {"accounts": len(results), "accounts_failed": len(failed), "rows": sum(r.counts.get("rows", 0) for r in results)}
    if len(failed) == len(results):
        return Landing(spec.name, errors=errors, counts=counts, days=days, accounts=results)
    for dt in days:
        stager.carry_over(dt, failed)
    return Landing(spec.name, stager.staged(), errors=errors, counts=counts, days=days, accounts=results)


def rows_of_day(table: pa.Table, dt: str) -> pa.Table:
    """The rows whose `ts` falls on UTC day `dt`."""
    start = datetime.fromisoformat(dt)
    end = start + timedelta(days=1)
    ts = table.column("ts")
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
    return table.filter(mask)
