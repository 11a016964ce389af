"""Model Monitor reports against the local stack: discovery by date prefix, lenient fetching, staging six tables."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from pipelines.audit.gate import audit
from pipelines.aws import Session
from pipelines.config import Config, parse_config
from pipelines.demo.fleet import build_fleet
from pipelines.demo.seed_model_monitor import seed_model_monitor
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.schemas import TABLES
from pipelines.lake.staging import read_table, switch
from pipelines.sources.model_monitor.landing import land_model_monitor
from pipelines.sources.model_monitor.reports import iter_executions
from pipelines.sources.model_monitor.tables import REPORT_TABLES
from tests.integration.lakehelpers import make_config, new_lake, published

FIXTURES = Path(__file__).parent.parent / "fixtures" / "model_monitor"
D = date(2025, 6, 2)
DT = D.isoformat()
ACCOUNT = "111111111111"
BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"
PREFIX = f"s3://{BUCKET}/monitoring/"
BASELINE = f"s3://{BUCKET}/baselines/ep-a/model-quality/constraints.json"

DQ = {
    "statistics.json": "data_quality_statistics_baseline.json",
    "constraints.json": "data_quality_constraints_baseline.json",
    "constraint_violations.json": "data_quality_violations_sdk_test.json",
}
MQ_VIOLATIONS = {
    "violations": [
        {
            "metric_name": "r2",
            "constraint_check_type": "LessThanThreshold",
            "description": "Metric r2 with -3.5 +/- 8.08E-4 was LessThanThreshold '-3.208758170289026'",
        }
    ]
}
# (endpoint or None for the batch layout, schedule, day offset from D, hour, files)
EXECUTIONS: list[tuple[str | None, str, int, int, dict[str, Any]]] = [
    ("ep-a", "dq-hourly", 0, 0, DQ),
    ("ep-a", "dq-hourly", 0, 13, DQ),
    ("ep-a", "dq-hourly", 0, 23, DQ),
    ("ep-a", "dq-hourly", -1, 23, DQ),  # the day before: not tonight's
    ("ep-a", "dq-hourly", 1, 0, DQ),  # analyses D's last hour but is scheduled on D+1
    (
        "ep-a",
        "mq-daily",
        0,
        2,
        {"statistics.json": "model_quality_regression_statistics.json", "constraint_violations.json": MQ_VIOLATIONS},
    ),
    (
        "ep-b",
        "dq-hourly",
        0,
        5,
        {"statistics.json": DQ["statistics.json"], "constraint_violations.json": b'{"violations" : [ {\n  "feature_name" : "x'},
    ),
    ("ep-b", "dq-hourly", 0, 6, {"statistics.json": DQ["statistics.json"]}),
    ("ep-b", "bias-daily", 0, 4, {"analysis.json": "bias_baseline_pre_post_analysis.json", "report.html": b"<html></html>"}),
    ("ep-b", "bias-daily", -1, 4, {"analysis.json": "bias_baseline_pre_post_analysis.json"}),
    (None, "batch-explain", 0, 7, {"analysis.json": "explainability_analysis.json"}),
    (None, "batch-explain", 1, 7, {"analysis.json": "explainability_analysis.json"}),
]
TONIGHT = sorted((e or "", s, h) for e, s, offset, h, _ in EXECUTIONS if offset == 0)
DECOYS = [
    f"monitoring/merge/ep-a/mq-daily/{D:%Y/%m/%d}/02/part-0.jsonl",
    "monitoring/bias-job-definition/0d4b7c9e-4f7a-4a57-9d1b-2c1f4f0e9a11/analysis_config.json",
    f"monitoring/ep-a/dq-hourly/{D:%Y/%m/%d}/13/analysis_config.json",
    f"monitoring/ep-a/mq-daily/{D:%Y/%m/%d}/02/merge/part-0.jsonl",
]


def body_of(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return (FIXTURES / content).read_bytes()
    return json.dumps(content).encode()


def monitor_config(endpoint_url: str, prefixes: list[str], **model_monitor: Any) -> Config:
    raw = make_config(endpoint_url).model_dump(mode="json")
    raw["model_monitor"] = {
        "report_prefixes": prefixes,
        "baselines": {"ep-a": {"model_quality_constraints": BASELINE}},
        **model_monitor,
    }
    return parse_config(raw)


def put_reports(session: Session, bucket: str = BUCKET, account: str = ACCOUNT) -> None:
    """The documented layout in the account's own SageMaker bucket (written with that account's role)."""
    s3 = session.assume(f"arn:aws:iam::{account}:role/MlLakeReader", "us-east-1").client("s3")
    s3.create_bucket(Bucket=bucket)
    for endpoint, schedule, offset, hour, files in EXECUTIONS:
        day = D + timedelta(days=offset)
        folder = f"monitoring/{endpoint + '/' if endpoint else ''}{schedule}/{day:%Y/%m/%d}/{hour:02d}/"
        for name, content in files.items():
            s3.put_object(Bucket=bucket, Key=folder + name, Body=body_of(content))
    for key in DECOYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"not": "a report"}')
    s3.put_object(Bucket=bucket, Key=BASELINE.split("/", 3)[3], Body=body_of("model_quality_regression_constraints.json"))


@pytest.fixture()
def lake(stack: Any) -> tuple[Config, Session]:
    config = monitor_config(stack.endpoint_url, [PREFIX])
    session = new_lake(config)
    put_reports(session)
    return config, session


def record(session: Session, operation: str, small_pages: bool = False) -> list[dict[str, Any]]:
    """Parameters of every `operation` call (from any session derived from `session`); optionally two keys per page."""
    seen: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        if small_pages:
            params["MaxKeys"] = 2
        seen.append(dict(params))

    session.register_hook(f"before-parameter-build.s3.{operation}", hook)
    return seen


def test_discovery_finds_exactly_the_nights_executions_listing_only_date_prefixes(lake: tuple[Config, Session]) -> None:
    _, session = lake
    listed = record(session, "ListObjectsV2", small_pages=True)  # two keys a page: every paginator turns pages
    s3 = session.assume(f"arn:aws:iam::{ACCOUNT}:role/MlLakeReader", "us-east-1").client("s3")
    executions = list(iter_executions(s3, BUCKET, "monitoring/", D, ACCOUNT, "us-east-1"))
    assert sorted((e.endpoint_name or "", e.schedule_name, e.scheduled_hour.hour) for e in executions) == TONIGHT
    assert {e.scheduled_hour.date() for e in executions} == {D}
    by_hour = {(e.schedule_name, e.scheduled_hour.hour): e for e in executions}
    assert by_hour[("dq-hourly", 13)].report_files == ["constraint_violations.json", "constraints.json", "statistics.json"]
    assert by_hour[("mq-daily", 2)].report_files == ["constraint_violations.json", "statistics.json"]
    assert by_hour[("batch-explain", 7)].uri == f"s3://{BUCKET}/monitoring/batch-explain/{D:%Y/%m/%d}/07/"
    assert by_hour[("bias-daily", 4)].report_files == ["analysis.json", "report.html"]
    assert [o.name for o in by_hour[("bias-daily", 4)].reports] == ["analysis.json"]

    day = f"{D:%Y/%m/%d}/"
    delimited = {p["Prefix"] for p in listed if p.get("Delimiter") == "/"}
    by_date = {p["Prefix"] for p in listed if "Delimiter" not in p}
    assert delimited == {
        "monitoring/",
        "monitoring/ep-a/",
        "monitoring/ep-b/",
        "monitoring/batch-explain/",
        "monitoring/bias-job-definition/",
    }
    assert by_date == {
        f"monitoring/ep-a/dq-hourly/{day}",
        f"monitoring/ep-a/mq-daily/{day}",
        f"monitoring/ep-b/dq-hourly/{day}",
        f"monitoring/ep-b/bias-daily/{day}",
        f"monitoring/batch-explain/{day}",
    }
    assert all(p["Bucket"] == BUCKET and p.get("Prefix") for p in listed), "never a listing of the whole bucket"
    assert len(listed) > len(delimited) + len(by_date), "two keys a page: some listings took several pages"


def test_night_lands_every_table_and_rejects_only_the_broken_report(lake: tuple[Config, Session]) -> None:
    config, session = lake
    fetched = record(session, "GetObject")
    progress: list[tuple[int, int]] = []
    landing = land_model_monitor(session, config, D, "run-1", progress=lambda done, total: progress.append((done, total)))

    assert landing.source == "model_monitor" and landing.errors == []
    [rejected] = landing.rejections
    assert rejected["source_uri"] == f"s3://{BUCKET}/monitoring/ep-b/dq-hourly/{D:%Y/%m/%d}/05/constraint_violations.json"
    assert rejected["reason"].startswith("not valid JSON") and (rejected["account_id"], rejected["region"]) == (
        ACCOUNT,
        "us-east-1",
    )
    assert rejected["size_bytes"] > 0
    assert not any(p["Key"].endswith(("analysis_config.json", ".jsonl", ".html")) for p in fetched), "decoys are never downloaded"
    assert progress[-1] == (len(progress), len(progress)) and [d for d, _ in progress] == list(range(1, len(progress) + 1))

    staged = {p.table: p for p in landing.staged}
    assert set(staged) == {spec.name for spec in REPORT_TABLES}
    assert {p.dt for p in landing.staged} == {DT} and {p.run_id for p in landing.staged} == {"run-1"}
    assert all(p.files == (f"{p.uri}part-{ACCOUNT}-us-east-1.parquet",) for p in landing.staged)
    tables = {name: read_table(session, list(p.files), TABLES[name].schema) for name, p in staged.items()}
    assert {name: t.num_rows for name, t in tables.items()} == {name: p.rows for name, p in staged.items()}

    executions = {
        (r["endpoint_name"] or "", r["schedule_name"], r["scheduled_hour"].hour): r
        for r in tables["monitor_executions"].to_pylist()
    }
    assert sorted(executions) == TONIGHT
    assert {k: r["monitoring_type"] for k, r in executions.items()} == {
        ("", "batch-explain", 7): "ModelExplainability",
        ("ep-a", "dq-hourly", 0): "DataQuality",
        ("ep-a", "dq-hourly", 13): "DataQuality",
        ("ep-a", "dq-hourly", 23): "DataQuality",
        ("ep-a", "mq-daily", 2): "ModelQuality",
        ("ep-b", "bias-daily", 4): "ModelBias",
        ("ep-b", "dq-hourly", 5): "DataQuality",
        ("ep-b", "dq-hourly", 6): "DataQuality",
    }
    assert {k: r["violation_count"] for k, r in executions.items() if r["violation_count"]} == {
        ("ep-a", "dq-hourly", 0): 7,
        ("ep-a", "dq-hourly", 13): 7,
        ("ep-a", "dq-hourly", 23): 7,
        ("ep-a", "mq-daily", 2): 1,
    }
    assert executions[("ep-b", "dq-hourly", 5)]["violation_count"] == 0  # its violations file was unreadable

    assert tables["monitor_violations"].num_rows == 3 * 7 + 1
    assert tables["monitor_feature_statistics"].num_rows == 5 * 6  # five data-quality executions x six features
    metrics = {r["metric_name"]: r for r in tables["model_quality_metrics"].to_pylist()}
    assert (metrics["r2"]["threshold"], metrics["r2"]["comparison_operator"]) == (-3.208758170289026, "LessThanThreshold")
    assert tables["bias_metrics"].num_rows == 21 and tables["feature_attributions"].num_rows == 45
    assert set(pc.unique(tables["feature_attributions"]["endpoint_name"]).to_pylist()) == {None}
    for table in tables.values():
        assert all(uri.startswith(f"s3://{BUCKET}/monitoring/") for uri in table["source_uri"].to_pylist())
    assert landing.counts["executions"] == len(TONIGHT) and landing.counts["objects"] == len(progress)


def test_staged_partitions_pass_their_audit(lake: tuple[Config, Session]) -> None:
    config, session = lake
    landing = land_model_monitor(session, config, D, "run-1")
    for partition in landing.staged:
        report = audit(session, config, partition)
        assert report.passed, (partition.table, report.summary())


def test_a_night_without_executions_stages_empty_partitions(lake: tuple[Config, Session]) -> None:
    config, session = lake
    landing = land_model_monitor(session, config, D + timedelta(days=30), "run-1")
    assert landing.errors == [] and landing.rejections == []
    assert sorted(p.table for p in landing.staged) == sorted(spec.name for spec in REPORT_TABLES)
    assert all(p.rows == 0 and len(p.files) == 1 for p in landing.staged)


def test_a_failing_prefix_is_named_and_the_others_land(lake: tuple[Config, Session]) -> None:
    config, session = lake
    missing = "s3://sagemaker-us-east-1-222222222222/monitoring/"
    config = monitor_config(config.endpoint_url or "", [missing, PREFIX])
    landing = land_model_monitor(session, config, D, "run-1")
    [error] = landing.errors
    assert missing in error and "NoSuchBucket" in error
    executions = next(p for p in landing.staged if p.table == "monitor_executions")
    assert executions.rows == len(TONIGHT) and len(executions.files) == 1


def test_a_failed_account_keeps_its_published_file(lake: tuple[Config, Session]) -> None:
    config, session = lake
    other = "sagemaker-us-east-1-222222222222"
    put_reports(session, other, "222222222222")
    config = monitor_config(config.endpoint_url or "", [PREFIX, f"s3://{other}/monitoring/"])
    ensure_lake(session, config.lake)
    for partition in land_model_monitor(session, config, D, "run-1").staged:
        switch(session, config.lake, partition)
    before = published(session, config, "monitor_executions", DT)
    assert set(before["account_id"].to_pylist()) == {ACCOUNT, "222222222222"}

    s3 = session.assume("arn:aws:iam::222222222222:role/MlLakeReader", "us-east-1").client("s3")  # the bucket's owner
    for item in s3.list_objects_v2(Bucket=other).get("Contents", []):
        s3.delete_object(Bucket=other, Key=item["Key"])
    s3.delete_bucket(Bucket=other)
    landing = land_model_monitor(session, config, D, "run-2")
    assert len(landing.errors) == 1 and other in landing.errors[0]
    executions = next(p for p in landing.staged if p.table == "monitor_executions")
    assert sorted(f.rsplit("/", 1)[1] for f in executions.files) == [
        f"part-{ACCOUNT}-us-east-1.parquet",
        "part-222222222222-us-east-1.parquet",
    ]
    assert executions.rows == before.num_rows, "the failed account's rows ride along from the published partition"


def test_objects_over_the_size_limit_are_rejected_unread(lake: tuple[Config, Session]) -> None:
    config, session = lake
    config = monitor_config(config.endpoint_url or "", [PREFIX], max_report_bytes=2048)
    fetched = record(session, "GetObject")
    landing = land_model_monitor(session, config, D, "run-1")
    too_big = [r for r in landing.rejections if "over max_report_bytes" in r["reason"]]
    assert {r["source_uri"].rsplit("/", 1)[1] for r in too_big} == {"statistics.json", "analysis.json"}
    assert not {f"s3://{BUCKET}/{p['Key']}" for p in fetched} & {r["source_uri"] for r in too_big}
    # Executions whose files all went unread, with no sibling of their schedule to tell their type, are
    # rejected as folders (the contract needs a monitoring type); the data-quality ones of ep-a still land.
    untyped = sorted(r["source_uri"].split("/monitoring/")[1] for r in landing.rejections if "monitoring type" in r["reason"])
    day = f"{D:%Y/%m/%d}"
    assert untyped == [
        f"batch-explain/{day}/07/",
        f"ep-b/bias-daily/{day}/04/",
        f"ep-b/dq-hourly/{day}/05/",
        f"ep-b/dq-hourly/{day}/06/",
    ]
    executions = next(p for p in landing.staged if p.table == "monitor_executions")
    assert executions.rows == len(TONIGHT) - len(untyped)


def test_a_bucket_not_named_after_its_account_is_read_as_the_lake(stack: Any) -> None:
    config = monitor_config(stack.endpoint_url, ["s3://team-monitoring-reports/monitoring"])
    session = new_lake(config)
    put_reports(session, "team-monitoring-reports")
    landing = land_model_monitor(session, config, D, "run-1")
    lake_account = session.client("sts").get_caller_identity()["Account"]
    executions = next(p for p in landing.staged if p.table == "monitor_executions")
    assert executions.files[0].endswith(f"part-{lake_account}-{config.lake.region}.parquet") and executions.rows == len(TONIGHT)


def test_scheduled_hours_are_naive_utc(lake: tuple[Config, Session]) -> None:
    config, session = lake
    landing = land_model_monitor(session, config, D, "run-1")
    executions = next(p for p in landing.staged if p.table == "monitor_executions")
    hours = read_table(session, list(executions.files), TABLES["monitor_executions"].schema)["scheduled_hour"].to_pylist()
    assert min(hours) == datetime(2025, 6, 2, 0) and max(hours) == datetime(2025, 6, 2, 23)


def test_demo_reports_land_with_their_stories_and_pass_the_audit(stack: Any) -> None:
    fleet = build_fleet(start=D, days=5)
    config = monitor_config(stack.endpoint_url, [])
    session = new_lake(config)
    # Written into the stack's S3 as SageMaker writes its reports (the demo does the same): 5 days, ~750 objects.
    owner = session.client("sts").get_caller_identity()["Account"]
    additions = seed_model_monitor(
        session, BUCKET, fleet, write=lambda bucket, objects: stack.put_objects(owner, bucket, objects)
    )
    raw = config.model_dump(mode="json")
    raw["model_monitor"].update(additions)
    config = parse_config(raw)
    [incident] = [s for s in fleet.stories if s.kind == "latency_incident"]
    broken_night = fleet.dates[len(fleet.dates) // 2]
    for night in sorted({incident.start.date(), broken_night, fleet.dates[-1]}):
        landing = land_model_monitor(session, config, night, f"run-{night}")
        assert landing.errors == []
        assert len(landing.rejections) == (night == broken_night), landing.rejections
        tables = {p.table: read_table(session, list(p.files), TABLES[p.table].schema) for p in landing.staged}
        checks = pc.value_counts(tables["monitor_violations"]["constraint_check_type"]).to_pylist()
        if night == incident.start.date():
            assert {"values": "baseline_drift_check", "counts": 2 * 8} in checks  # two features, 8 hours
        if night == fleet.dates[-1]:
            auc = (
                tables["model_quality_metrics"]
                .filter(pc.equal(tables["model_quality_metrics"]["metric_name"], "auc"))
                .to_pylist()
            )
            assert auc[0]["value"] < auc[0]["threshold"] == 0.85
            assert None not in tables["model_quality_metrics"]["threshold"].to_pylist()
        for partition in landing.staged:
            report = audit(session, config, partition)
            assert report.passed and not report.failed_warnings, (night, partition.table, report.summary())
