"""Athena SQL on DuckDB over a write-audit-publish lake in the emulator: only published data, pruned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import awswrangler as wr
import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.aws import Session
from pipelines.compose import engine_for
from pipelines.config import LakeConfig, parse_config
from pipelines.errors import RetriableError
from pipelines.lake.schemas import CLOUDWATCH_METRICS, ENDPOINTS, PIPELINE_RUNS, TableSpec
from pipelines.lake.staging import parquet_bytes
from pipelines.query import ExportError, LakeFileEngine, LocalLakeEngine, QueryError, UnsupportedQueryError
from pipelines.query.athena import AthenaEngine, run_athena_query
from pipelines.query.export import copy_published_lake, export_duckdb, open_duckdb_file, write_duckdb_views
from pipelines.query.local import (
    LakeTable,
    Partition,
    PublishedFile,
    open_lake,
    read_catalog,
    register_views,
    run_query,
    s3_filesystem,
    table_dataset,
)

LAKE = LakeConfig(region="us-east-1", bucket="query-test-lake", prefix="lake/", database="ml_monitoring")
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
ENDPOINT_NAMES = ("ep-a", "ep-b")
INVOCATIONS_BY_DAY = "SELECT dt, sum(value) AS v FROM cloudwatch_metrics WHERE metric_name = 'Invocations' GROUP BY dt"


# ---------------------------------------------------------------- the lake, built as the writer does


def metrics(dt: str, value: float) -> pa.Table:
    """Two endpoints x two metrics x three hours; Invocations = value, latency = value * 1000."""
    start = datetime.fromisoformat(dt)
    rows: list[dict[str, Any]] = []
    for endpoint in ENDPOINT_NAMES:
        for metric, unit, scale in (("Invocations", "Count", 1.0), ("ModelLatency", "Microseconds", 1000.0)):
            for hour in range(3):
                rows.append(
                    {
                        "account_id": "111111111111",
                        "region": "us-east-1",
                        "namespace": "AWS/SageMaker",
                        "metric_name": metric,
                        "dimensions": [("EndpointName", endpoint), ("VariantName", "AllTraffic")],
                        "endpoint_name": endpoint,
                        "variant_name": "AllTraffic",
                        "stat": "Sum",
                        "period_seconds": 3600,
                        "ts": start + timedelta(hours=hour),
                        "value": value * scale + hour,
                        "unit": unit,
                    }
                )
    return pa.Table.from_pylist(rows, schema=CLOUDWATCH_METRICS.schema)


def endpoints(business_unit: str) -> pa.Table:
    rows = [{"endpoint_name": e, "business_unit": business_unit, "product": None, "owner": "ml"} for e in ENDPOINT_NAMES]
    return pa.Table.from_pylist(rows, schema=ENDPOINTS.schema)


def put_parquet(session: Session, uri: str, table: pa.Table) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=parquet_bytes(table))


def create_table(session: Session, spec: TableSpec) -> None:
    wr.catalog.create_parquet_table(
        database=LAKE.database,
        table=spec.name,
        path=LAKE.table_uri(spec.name),
        columns_types=spec.glue_columns(),
        partitions_types={"dt": "string"} if spec.partitioned else None,
        boto3_session=session,
    )


def publish(session: Session, table: str, dt: str, run: str) -> None:
    """Point partition dt at its run prefix: the Glue switch of write-audit-publish."""
    glue = session.client("glue")
    descriptor = glue.get_table(DatabaseName=LAKE.database, Name=table)["Table"]["StorageDescriptor"]
    location = f"{LAKE.table_uri(table)}dt={dt}/run={run}/"
    glue.create_partition(
        DatabaseName=LAKE.database,
        TableName=table,
        PartitionInput={"Values": [dt], "StorageDescriptor": {**descriptor, "Location": location}},
    )


@pytest.fixture()
def session(endpoint_url: str) -> Session:
    """A lake with published, superseded and staged data side by side, as after a few nights."""
    s = Session(endpoint_url=endpoint_url, region_name="us-east-1")
    s.client("s3").create_bucket(Bucket=LAKE.bucket)
    s.client("glue").create_database(DatabaseInput={"Name": LAKE.database})
    for spec in (CLOUDWATCH_METRICS, ENDPOINTS, PIPELINE_RUNS):
        create_table(s, spec)
    cw = LAKE.table_uri("cloudwatch_metrics")
    for i, dt in enumerate(DAYS[:2]):
        put_parquet(s, f"{cw}dt={dt}/run=1/part-0.parquet", metrics(dt, 10.0 * (i + 1)))
        publish(s, "cloudwatch_metrics", dt, "1")
    # A hidden file in a published prefix (Athena skips these), a superseded run that was not
    # yet deleted, a staged run whose name extends the published one, and a staged-only night.
    put_parquet(s, f"{cw}dt={DAYS[0]}/run=1/_tmp/part-9.parquet", metrics(DAYS[0], -1.0))
    put_parquet(s, f"{cw}dt={DAYS[0]}/run=0/part-0.parquet", metrics(DAYS[0], -1.0))
    put_parquet(s, f"{cw}dt={DAYS[1]}/run=10/part-0.parquet", metrics(DAYS[1], -1.0))
    put_parquet(s, f"{cw}dt={DAYS[2]}/run=1/part-0.parquet", metrics(DAYS[2], -1.0))
    # The unpartitioned table's location itself moves from run to run.
    ep = LAKE.table_uri("endpoints")
    put_parquet(s, f"{ep}run=1/part-0.parquet", endpoints("Old"))
    put_parquet(s, f"{ep}run=2/part-0.parquet", endpoints("Payments"))
    glue = s.client("glue")
    found = glue.get_table(DatabaseName=LAKE.database, Name="endpoints")["Table"]
    keep = ("Name", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
    table_input = {k: found[k] for k in keep if k in found}
    table_input["StorageDescriptor"] = {**found["StorageDescriptor"], "Location": f"{ep}run=2/"}
    glue.update_table(DatabaseName=LAKE.database, TableInput=table_input)
    return s


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


# ---------------------------------------------------------------- reading what is published


def test_only_published_partitions_are_read(session: Session) -> None:
    con = open_lake(session, LAKE)
    sql = "SELECT dt, count(*) AS n, min(value) AS low FROM cloudwatch_metrics GROUP BY dt ORDER BY dt"
    result = run_query(con, sql)
    assert rows(result) == [(DAYS[0], 12, 10.0), (DAYS[1], 12, 20.0)]


def test_a_reading_opens_the_lake_once_and_answers_as_single_queries(session: Session, tmp_path: Path) -> None:
    """A dashboard's many queries on one opened lake: the same answers, the catalog and listings read once."""
    engine = LocalLakeEngine(session, LAKE)
    queries = [
        INVOCATIONS_BY_DAY + " ORDER BY dt",
        "SELECT business_unit, count(*) AS n FROM endpoints GROUP BY 1 ORDER BY 1",
        "SELECT dt, count(*) AS n FROM ml_monitoring.cloudwatch_metrics GROUP BY dt ORDER BY dt",
    ]
    alone = [rows(engine.run(sql)) for sql in queries]

    def calls_of(times: int) -> tuple[dict[str, int], list[list[tuple[Any, ...]]]]:
        before = session.calls.snapshot()
        with engine.reading() as reader, ThreadPoolExecutor(4) as pool:  # as the preview runs them: side by side
            answers = [rows(table) for table in pool.map(reader.run, queries * times)]
        after = session.calls.snapshot()
        return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}, answers

    once, answers = calls_of(1)
    assert answers == alone
    thrice, answers = calls_of(3)
    assert answers == alone * 3
    assert thrice == once and once["S3.ListObjectsV2"] >= 2  # the listings of one opening, however many queries

    export_duckdb(open_lake(session, LAKE), tmp_path / "lake.duckdb")  # a lake file answers the same through its reading
    with LakeFileEngine(tmp_path / "lake.duckdb").reading() as reader, ThreadPoolExecutor(4) as pool:
        assert [rows(table) for table in pool.map(reader.run, queries[:2] * 4)] == alone[:2] * 4


def test_athena_names_map_lookups_and_sums(session: Session) -> None:
    con = open_lake(session, LAKE)
    sql = """
        SELECT dimensions['EndpointName'] AS endpoint, element_at(dimensions, 'VariantName') AS variant,
               sum(value) AS invocations, count(*) AS n
        FROM "awsdatacatalog"."ml_monitoring"."cloudwatch_metrics"
        WHERE metric_name = 'Invocations' GROUP BY 1, 2 ORDER BY 1
    """
    # Per endpoint: day 1 is 10+11+12, day 2 is 20+21+22.
    assert rows(run_query(con, sql)) == [("ep-a", "AllTraffic", 96.0, 6), ("ep-b", "AllTraffic", 96.0, 6)]
    two_part = run_query(con, "SELECT count(*) AS n FROM ml_monitoring.cloudwatch_metrics WHERE dt = '2026-11-02'")
    assert rows(two_part) == [(12,)]


def test_athena_functions_on_lake_columns(session: Session) -> None:
    con = open_lake(session, LAKE)
    sql = """
        SELECT format_datetime(min(ts), 'yyyy-MM-dd HH:mm') AS first,
               to_iso8601(max(ts)) AS last,
               approx_percentile(value, 0.5) AS p50,
               date_diff('hour', min(ts), max(ts)) AS hours,
               cardinality(arbitrary(dimensions)) AS dims,
               sum(period_seconds) / 7 AS int_div
        FROM cloudwatch_metrics WHERE metric_name = 'ModelLatency' AND dt = '2026-11-02'
    """
    # Latency on day 2: 20000, 20001, 20002 per endpoint; 6 rows x 3600 s / 7 = 3085 (integer division).
    assert rows(run_query(con, sql)) == [("2026-11-02 00:00", "2026-11-02T02:00:00.000", 20001.0, 2, 2, 3085)]


def test_a_dt_filter_reads_one_partition(session: Session) -> None:
    opened: list[str] = []
    filesystem = pafs.PyFileSystem(RecordingHandler(s3_filesystem(session), opened))
    con = open_lake(session, LAKE, filesystem=filesystem)
    opened.clear()  # opening inspects one file's footer for the schema
    result = run_query(con, "SELECT count(*) AS n, sum(value) AS total FROM cloudwatch_metrics WHERE dt = '2026-11-02'")
    assert rows(result) == [(12, 2 * (20 + 21 + 22) + 2 * (20000 + 20001 + 20002.0))]
    assert opened and all(f"/dt={DAYS[1]}/run=1/" in path for path in opened)
    opened.clear()
    run_query(con, "SELECT count(*) FROM cloudwatch_metrics")
    assert {p.split("/dt=")[1][:10] for p in opened} == set(DAYS[:2])


def test_unpartitioned_table_reads_its_current_location(session: Session) -> None:
    con = open_lake(session, LAKE)
    assert rows(run_query(con, "SELECT endpoint_name, business_unit FROM endpoints ORDER BY 1")) == [
        ("ep-a", "Payments"),
        ("ep-b", "Payments"),
    ]


def test_a_table_without_partitions_is_empty_with_its_glue_schema(session: Session) -> None:
    con = open_lake(session, LAKE)
    result = run_query(con, "SELECT * FROM pipeline_runs")
    assert result.num_rows == 0
    assert result.schema.names == [*PIPELINE_RUNS.schema.names, "dt"]
    assert result.schema.field("failed_expectations").type == pa.list_(pa.string())
    assert result.schema.field("started_at").type == pa.timestamp("us")


def test_s3_listing_is_paginated(session: Session) -> None:
    con = open_lake(session, LAKE, page_size=1)
    assert rows(run_query(con, "SELECT count(*) FROM cloudwatch_metrics")) == [(24,)]


def test_glue_tables_and_partitions_are_paginated() -> None:
    """The emulator ignores MaxResults for Glue, so two pages of each are stubbed."""
    glue = Session(region_name="us-east-1").client("glue")
    columns = [{"Name": "value", "Type": "double"}]
    keys = [{"Name": "dt", "Type": "string"}]
    table = {"StorageDescriptor": {"Columns": columns, "Location": "s3://b/lake/t/"}, "PartitionKeys": keys}
    part = {"StorageDescriptor": {"Location": "s3://b/lake/t/dt=D/run=1/"}}
    tables_asked = {"DatabaseName": "db", "MaxResults": 1}
    parts_asked = {**tables_asked, "TableName": "t"}
    with Stubber(glue) as stub:
        stub.add_response("get_tables", {"TableList": [{"Name": "t", **table}], "NextToken": "p2"}, tables_asked)
        stub.add_response("get_partitions", {"Partitions": [{"Values": ["2"], **part}], "NextToken": "q2"}, parts_asked)
        last_page = {"Partitions": [{"Values": ["1"], **part}]}
        stub.add_response("get_partitions", last_page, {**parts_asked, "NextToken": "q2"})
        unpartitioned = {"Name": "u", **table, "PartitionKeys": []}
        stub.add_response("get_tables", {"TableList": [unpartitioned]}, {**tables_asked, "NextToken": "p2"})
        tables = read_catalog(glue, "db", page_size=1)
        stub.assert_no_pending_responses()
    assert [t.name for t in tables] == ["t", "u"]
    assert [p.values for p in tables[0].partitions] == [("1",), ("2",)]
    assert tables[1].published_locations() == [Partition((), "s3://b/lake/t/")]


def test_missing_database_is_a_clear_error(endpoint_url: str) -> None:
    with pytest.raises(QueryError, match="ml_monitoring.*not found"):
        open_lake(Session(endpoint_url=endpoint_url, region_name="us-east-1"), LAKE)


def test_views_are_transpiled_and_resolve_both_ways(session: Session) -> None:
    con = open_lake(session, LAKE)
    register_views(
        con,
        {
            "daily": "SELECT date(ts) AS day, dimensions['EndpointName'] AS endpoint, sum(value) AS v "
            "FROM cloudwatch_metrics WHERE metric_name = 'Invocations' GROUP BY 1, 2",
            "next_day": "SELECT date_add('day', 1, day) AS day, endpoint, v FROM daily",
        },
        database=LAKE.database,
    )
    result = run_query(con, "SELECT day, v FROM ml_monitoring.next_day WHERE endpoint = 'ep-a' ORDER BY day")
    assert rows(result) == [(datetime(2026, 11, 2).date(), 33.0), (datetime(2026, 11, 3).date(), 63.0)]


def test_query_errors_name_the_duckdb_sql(session: Session) -> None:
    con = open_lake(session, LAKE)
    with pytest.raises(QueryError, match="no_such_table"):
        run_query(con, "SELECT * FROM no_such_table")
    with pytest.raises(UnsupportedQueryError):
        run_query(con, "DROP TABLE cloudwatch_metrics")


# ---------------------------------------------------------------- exports and the single entry


def test_a_file_that_cannot_be_copied_is_named(session: Session, tmp_path: Path) -> None:
    def unreachable(params: dict[str, Any], **_: Any) -> None:
        if "dt=2026-11-02/" in params["Key"]:  # one file of the lake: the others are fetched beside it
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    session.register_hook("before-parameter-build.s3.GetObject", unreachable)
    with pytest.raises(ExportError, match=r"cannot copy s3://.*cloudwatch_metrics/.*dt=2026-11-02.*part-0\.parquet"):
        copy_published_lake(session, LAKE, tmp_path / "lake")


def test_export_works_once_the_stack_is_gone(
    session: Session, endpoint_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = open_lake(session, LAKE)
    register_views(con, {"invocations": INVOCATIONS_BY_DAY})
    counts = {"cloudwatch_metrics": 24, "endpoints": 2, "pipeline_runs": 0}
    assert export_duckdb(con, tmp_path / "full.duckdb") == counts
    files = {"cloudwatch_metrics": 2, "endpoints": 1, "pipeline_runs": 0}
    assert copy_published_lake(session, LAKE, tmp_path / "lake") == files
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "lake").rglob("*.parquet")) == [
        "lake/cloudwatch_metrics/dt=2026-11-01/part-0.parquet",
        "lake/cloudwatch_metrics/dt=2026-11-02/part-0.parquet",
        "lake/endpoints/part-0.parquet",
    ]
    assert write_duckdb_views(tmp_path / "lake", tmp_path / "lake.duckdb") == counts
    requests.post(f"{endpoint_url}/moto-api/reset", timeout=30).raise_for_status()  # the stack is gone

    sql = """SELECT dt, sum(value) AS v FROM "awsdatacatalog"."ml_monitoring"."cloudwatch_metrics"
             WHERE dt = '2026-11-01' AND metric_name = 'Invocations' GROUP BY dt"""
    for path in (tmp_path / "full.duckdb", tmp_path / "lake.duckdb"):
        file_con = open_duckdb_file(path)
        assert rows(run_query(file_con, sql)) == [("2026-11-01", 66.0)]
        assert rows(run_query(file_con, "SELECT count(*), min(dt) FROM pipeline_runs")) == [(0, None)]
        one = run_query(file_con, "SELECT * FROM cloudwatch_metrics LIMIT 1")
        assert one.schema.field("dimensions").type == pa.map_(pa.string(), pa.string())
        file_con.close()
    full = open_duckdb_file(tmp_path / "full.duckdb")
    assert rows(run_query(full, "SELECT v FROM invocations ORDER BY dt")) == [(66.0,), (126.0,)]
    # Plain DuckDB, from any folder, reads both files: no settings or stack needed.
    monkeypatch.chdir(tmp_path / "lake" / "endpoints")
    for name in ("full.duckdb", "lake.duckdb"):
        plain = duckdb.connect(str(tmp_path / name), read_only=True)
        assert plain.execute("SELECT count(*) FROM ml_monitoring.endpoints").fetchall() == [(2,)]
        assert plain.execute("SELECT count(*) FROM cloudwatch_metrics WHERE dt = '2026-11-02'").fetchall() == [(12,)]
        plain.close()
    # The views prune partitions by their folder names.
    plan = duckdb.connect(str(tmp_path / "lake.duckdb"), read_only=True).execute(
        "EXPLAIN ANALYZE SELECT count(*) FROM cloudwatch_metrics WHERE dt = '2026-11-02'"
    )
    assert "Scanning Files: 1/2" in plan.fetchall()[0][1]


def test_the_composition_root_chooses_the_engine_and_each_answers(session: Session, endpoint_url: str, tmp_path: Path) -> None:
    config = parse_config(
        {
            "lake": LAKE.model_dump(),
            "sources": [{"account_id": "111111111111", "regions": ["us-east-1"]}],
            "endpoint_url": endpoint_url,
        }
    )
    local = engine_for(config, session)
    assert isinstance(local, LocalLakeEngine)
    assert isinstance(engine_for(config.model_copy(update={"endpoint_url": None}), session), AthenaEngine)
    sql = "SELECT count(*) AS n FROM cloudwatch_metrics WHERE dt = '2026-11-01'"
    assert rows(local.run(sql)) == [(12,)]
    export_duckdb(open_lake(session, LAKE), tmp_path / "lake.duckdb")
    assert rows(LakeFileEngine(tmp_path / "lake.duckdb").run(sql)) == [(12,)]
    with pytest.raises(ExportError, match="no such DuckDB file"):
        LakeFileEngine(tmp_path / "missing.duckdb").run(sql)


def test_athena_refuses_ddl_before_calling_aws(session: Session) -> None:
    before = session.calls.snapshot()
    with pytest.raises(UnsupportedQueryError, match="DROP"):
        run_athena_query(session, LAKE, "DROP TABLE cloudwatch_metrics")
    assert session.calls.snapshot() == before


def test_athena_query_plumbing(session: Session, endpoint_url: str) -> None:
    """The emulator runs no SQL: we hand it the result Athena would write, and check what we sent."""
    columns = [("endpoint", "varchar"), ("n", "bigint"), ("v", "double")]
    common = {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Precision": 0,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": False,
    }
    info = [{"Name": n, "Label": n, "Type": t, **common} for n, t in columns]
    header = {"Data": [{"VarCharValue": n} for n, _ in columns]}
    row = {"Data": [{"VarCharValue": "ep-a"}, {"VarCharValue": "3"}, {"VarCharValue": "1.5"}]}
    requests.post(
        f"{endpoint_url}/moto-api/static/athena/query-results",
        json={"account_id": "123456789012", "region": "us-east-1", "results": [{"rows": [header, row], "column_info": info}]},
        timeout=30,
    ).raise_for_status()
    sent: dict[str, Any] = {}

    def write_result(parsed: dict[str, Any], **_: Any) -> None:
        key = f"athena-results/{parsed['QueryExecutionId']}.csv"
        session.client("s3").put_object(Bucket=LAKE.bucket, Key=key, Body=b'"endpoint","n","v"\n"ep-a","3","1.5"\n')

    session.events.register("provide-client-params.athena.StartQueryExecution", lambda params, **_: sent.update(params))
    session.events.register("after-call.athena.StartQueryExecution", write_result)
    buckets_created = session.calls.snapshot().get("S3.CreateBucket", 0)
    result = run_athena_query(session, LAKE, "SELECT endpoint, count(*) AS n, avg(v) AS v FROM t GROUP BY 1")
    assert result.to_pylist() == [{"endpoint": "ep-a", "n": 3, "v": 1.5}]
    assert (result.schema.field("n").type, result.schema.field("v").type) == (pa.int64(), pa.float64())
    assert sent["QueryExecutionContext"] == {"Database": LAKE.database}
    assert sent["WorkGroup"] == LAKE.athena_workgroup
    # The workgroup has no result location: results go to the lake bucket, no bucket is created.
    assert sent["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{LAKE.bucket}/athena-results")
    assert session.calls.snapshot().get("S3.CreateBucket", 0) == buckets_created


# ---------------------------------------------------------------- round trip through Arrow and DuckDB


ROW = st.fixed_dictionaries(
    {
        "account_id": st.just("111111111111"),
        "region": st.sampled_from(["us-east-1", "eu-west-1"]),
        "namespace": st.text(max_size=20),
        "metric_name": st.text(min_size=1, max_size=20),
        "dimensions": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3).map(lambda d: [*d.items()]),
        "endpoint_name": st.none() | st.text(max_size=10),
        "variant_name": st.none() | st.text(max_size=10),
        "stat": st.sampled_from(["Sum", "p99"]),
        "period_seconds": st.sampled_from([60, 300]),
        "ts": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        "value": st.none() | st.floats(allow_nan=False),
        "unit": st.none() | st.text(max_size=5),
    }
)


@settings(max_examples=25, deadline=None)
@given(by_day=st.lists(st.lists(ROW, max_size=5), min_size=1, max_size=3))
def test_rows_round_trip_through_the_lake_reader(
    tmp_path_factory: pytest.TempPathFactory, by_day: list[list[dict[str, Any]]]
) -> None:
    folder = tmp_path_factory.mktemp("lake")
    spec = CLOUDWATCH_METRICS
    table = LakeTable("t", str(folder), tuple(spec.glue_columns().items()), (("dt", "string"),))
    files, expected = [], []
    for day, day_rows in enumerate(by_day):
        dt = f"2026-01-0{day + 1}"
        path = folder / f"dt={dt}" / "run=1" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(day_rows, schema=spec.schema), path)
        files.append(PublishedFile(Partition((dt,), str(path.parent)), "", str(path).lstrip("/"), "part-0.parquet"))
        expected += [{**r, "dimensions": sorted(r["dimensions"]), "dt": dt} for r in day_rows]
    dataset = table_dataset(table, files, pafs.LocalFileSystem())
    con = duckdb.connect()
    con.register("t", dataset)
    got = con.sql("SELECT * FROM t").to_arrow_table().to_pylist()
    got = [{**r, "dimensions": sorted(r["dimensions"])} for r in got]

    def key(row: dict[str, Any]) -> str:
        return repr(sorted(row.items()))

    assert sorted(got, key=key) == sorted(expected, key=key)


class RecordingHandler(pafs.FileSystemHandler):
    """Delegates to a real filesystem and records every file opened for reading."""

    def __init__(self, inner: pafs.FileSystem, opened: list[str]) -> None:
        self.inner, self.opened = inner, opened

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def get_type_name(self) -> str:
        return "recording"

    def normalize_path(self, path: str) -> str:
        return self.inner.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(selector)

    def open_input_file(self, path: str) -> Any:
        self.opened.append(path)
        return self.inner.open_input_file(path)

    def open_input_stream(self, path: str) -> Any:
        self.opened.append(path)
        return self.inner.open_input_stream(path)

    def _read_only(self, *args: object) -> None:
        raise NotImplementedError("read-only test filesystem")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = _read_only
    move = copy_file = open_output_stream = open_append_stream = _read_only


def test_a_view_athena_never_finishes_is_stopped_at_the_deadline(session: Session) -> None:
    """Athena's DDL timeout is 600 minutes: our own deadline stops a CREATE VIEW that hangs (fault injected at the
    boundary: every GetQueryExecution answers RUNNING)."""
    athena = session.client("athena")
    stopped: list[str] = []

    def still_running(parsed: dict[str, Any], **_: Any) -> None:
        parsed["QueryExecution"]["Status"]["State"] = "RUNNING"

    def stop(params: dict[str, Any], **_: Any) -> None:
        stopped.append(params["QueryExecutionId"])

    athena.meta.events.register("after-call.athena.GetQueryExecution", still_running)
    athena.meta.events.register("before-parameter-build.athena.StopQueryExecution", stop)
    try:
        with pytest.raises(RetriableError, match=r"still RUNNING after 1 s: stopped it"):
            AthenaEngine(session, LAKE, view_deadline_seconds=1.0).create_views({"v": "SELECT 1 AS x"}, ["v"])
    finally:
        athena.meta.events.unregister("after-call.athena.GetQueryExecution", still_running)
        athena.meta.events.unregister("before-parameter-build.athena.StopQueryExecution", stop)
    assert len(stopped) == 1
    AthenaEngine(session, LAKE, view_deadline_seconds=1.0).create_views({"v": "SELECT 1 AS x"}, ["v"])  # answered: done
