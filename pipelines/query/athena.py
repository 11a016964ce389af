"""Athena SQL on Athena itself (via awswrangler), returned as Arrow like the local DuckDB path."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import awswrangler as wr
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import RetriableError
from pipelines.query.engine import QueryReader
from pipelines.query.transpile import QueryError, parse_athena
from pipelines.query.view_sql import ViewError, view_ddl

# Athena's own DDL timeout is 600 minutes; a CREATE VIEW takes seconds, so one still running after this is stuck.
VIEW_DEADLINE_SECONDS = 600.0


@dataclass(frozen=True)
class AthenaEngine:
    """Athena itself, in the lake's database and workgroup: queries, and views as CREATE OR REPLACE VIEW."""

    session: Session
    lake: LakeConfig
    view_deadline_seconds: float = VIEW_DEADLINE_SECONDS

    def run(self, sql: str) -> pa.Table:
        return run_athena_query(self.session, self.lake, sql)

    def reading(self) -> AbstractContextManager[QueryReader]:
        return nullcontext(self)

    def create_views(self, views: Mapping[str, str], names: Sequence[str]) -> None:
        athena = self.session.client("athena")
        for name in names:
            ddl = view_ddl(name, views[name], self.lake.database)
            try:
                query_id = wr.athena.start_query_execution(
                    ddl, database=self.lake.database, workgroup=self.lake.athena_workgroup, wait=False, boto3_session=self.session
                )
                status = wait_for_query(athena, str(query_id), self.view_deadline_seconds)
            except ClientError as error:
                raise ViewError(f"view {name}: Athena refused it: {error}") from error
            if status["State"] != "SUCCEEDED":
                raise ViewError(f"view {name}: Athena {status['State'].lower()} it: {status.get('StateChangeReason', '')}")


def wait_for_query(athena: Any, query_id: str, deadline_seconds: float) -> dict[str, Any]:
    """The final Status of query `query_id`, polled with growing pauses; past the deadline it is stopped and
    RetriableError says so (the next night applies the view again)."""
    give_up = time.monotonic() + deadline_seconds
    pause = 0.2
    while True:
        status: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return status
        if time.monotonic() >= give_up:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise RetriableError(f"Athena query {query_id} still {status['State']} after {deadline_seconds:.0f} s: stopped it")
        time.sleep(min(pause, max(0.0, give_up - time.monotonic())))
        pause = min(pause * 2, 5.0)


def run_athena_query(session: Session, lake: LakeConfig, sql: str) -> pa.Table:
    """Run one read-only query in the lake's database and workgroup; DDL is refused before any call."""
    parse_athena(sql)  # same rules as locally: one query, no DDL or writes
    where = f"{lake.database} (workgroup {lake.athena_workgroup}, {lake.region})"
    try:
        frame = wr.athena.read_sql_query(
            sql,
            database=lake.database,
            workgroup=lake.athena_workgroup,
            s3_output=result_location(session, lake),
            ctas_approach=False,  # no temporary tables: a read-only role is enough
            dtype_backend="pyarrow",  # keeps Arrow types (maps, lists, timestamps) on the way back
            boto3_session=session,
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled) as error:
        raise QueryError(f"Athena query failed in {where}: {error}") from error
    except ClientError as error:
        raise QueryError(f"Athena refused the query in {where}: {error}") from error
    except BotoCoreError as error:
        raise RetriableError(f"cannot reach Athena for {where}: {error}") from error
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


def result_location(session: Session, lake: LakeConfig) -> str | None:
    """The workgroup's own result location if it has one (None), else a prefix in the lake bucket.

    Without this, awswrangler falls back to creating a bucket named after the account.
    """
    try:
        group = session.client("athena").get_work_group(WorkGroup=lake.athena_workgroup)["WorkGroup"]
    except ClientError as error:
        raise QueryError(f"Athena workgroup {lake.athena_workgroup!r} in {lake.region}: {error}") from error
    configured = group.get("Configuration", {}).get("ResultConfiguration", {}).get("OutputLocation")
    return None if configured else f"s3://{lake.bucket}/athena-results/"
