"""Land one table source by source (account x region): one file each in the night's partition; a failed source is named, not fatal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.lake.staging import Stager
from pipelines.sources.landing import Landing, source_file_name
from pipelines.lake.schemas import TableSpec
from pipelines.logs import get_logger

log = get_logger(__name__)

# (the source's session, account id, region) -> that source's rows for the night, in the table's schema
SourceExtract = Callable[[Session, str, str], pa.Table]


def land_per_source(
    session: Session, config: Config, spec: TableSpec, source: str, night: date, run_id: str, extract: SourceExtract
) -> Landing:
    """Stage `extract`'s table for every configured account x region into partition dt=`night`.

    A source that fails (cannot assume its role, AccessDenied, ...) goes to `errors` and keeps
    what was published for it before (its file is carried over); the others land. With every
    source failed nothing is staged, so readers keep the previous partition.
    """
    dt = night.isoformat()
    stager = Stager(session, config.lake, spec, run_id)
    errors: list[str] = []
    failed: list[str] = []
    rows = 0
    sources = [(s.account_id, s.role_arn, region) for s in config.sources for region in s.regions]
    for account_id, role_arn, region in sources:
        name = source_file_name(account_id, region)
        try:
            source_session = session.assume(role_arn, region) if role_arn else session.in_region(region)
            table = extract(source_session, account_id, region)
        except (PipelineError, ClientError, BotoCoreError) as error:
            errors.append(f"{account_id}/{region}: {type(error).__name__}: {error}")
            failed.append(name)
            log.warning("source_failed", source=source, account_id=account_id, region=region, error=str(error))
            continue
        stager.add(dt, name, table)
        rows += table.num_rows
    counts = {"sources": len(sources), "sources_failed": len(failed), "rows": rows}
    if len(failed) == len(sources):
        return Landing(source, errors=errors, counts=counts)
    stager.carry_over(dt, failed)
    return Landing(source, stager.staged(), errors=errors, counts=counts)
