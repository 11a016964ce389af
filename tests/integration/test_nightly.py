"""A night end to end against the local stack: extract, stage, publish, rerun, late data, failures."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pyarrow.compute as pc
import pytest
from botocore.exceptions import ClientError

from pipelines.config import QuickSightConfig
from pipelines.lake import catalog
from pipelines.lake.paths import run_of, run_prefix, split_s3_uri
from pipelines.lake.trash import GRACE, empty_trash
from pipelines.nightly import new_run_id, run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import (
    ACCOUNTS,
    DT,
    NIGHT,
    PREV_DT,
    day_after,
    make_config,
    new_lake,
    published,
    seed_invocations,
)

STATS = 5


@pytest.fixture()
def fleet(stack: Any) -> Any:
    """Two endpoints per account, data for the night and the day before it (the lookback)."""
    for account in ACCOUNTS:
        for endpoint in ("ep-a", "ep-b"):
            for day in (NIGHT - timedelta(days=1), NIGHT):
                seed_invocations(stack.metric_store, account, endpoint, day)
    return stack


def test_night_lands_every_source_in_its_partitions(fleet: Any) -> None:
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert result.ok, result
    for dt in (PREV_DT, DT):
        rows = published(session, config, "cloudwatch_metrics", dt)
        # 2 accounts x 2 endpoints x 5 statistics x 288 five-minute periods
        assert rows.num_rows == 2 * 2 * STATS * 288
        sums = rows.filter(pc.equal(rows["stat"], "Sum"))
        assert set(sums["value"].to_pylist()) == {50.0}  # five minutes of 10 per minute
        assert set(rows["account_id"].to_pylist()) == set(ACCOUNTS)
        assert set(rows["endpoint_name"].to_pylist()) == {"ep-a", "ep-b"}
        assert rows["ts"].to_pylist()[0].date().isoformat() == dt
    endpoints = published(session, config, "endpoints")
    assert sorted(endpoints["endpoint_name"].to_pylist()) == ["ep-a", "ep-b"]
    runs = {r["table_name"]: r["status"] for r in published(session, config, "pipeline_runs", DT).to_pylist()}
    assert runs["cloudwatch_metrics"] == runs["endpoints"] == "published"
    # The other sources ran too: lineage and log patterns publish (empty) partitions for the night.
    assert runs["endpoint_models"] == runs["endpoint_log_patterns"] == "published"


def test_rerun_replaces_the_partition_without_duplicates(fleet: Any) -> None:
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)
    first = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    before = published(session, config, "cloudwatch_metrics", DT).sort_by([("account_id", "ascending"), ("ts", "ascending")])
    old_location = catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT)
    second = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    after = published(session, config, "cloudwatch_metrics", DT).sort_by([("account_id", "ascending"), ("ts", "ascending")])
    assert first.run_id != second.run_id
    assert after.num_rows == before.num_rows
    assert after.equals(before)
    new_location = catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT)
    assert new_location != old_location and second.run_id in new_location
    bucket, prefix = old_location.removeprefix("s3://").split("/", 1)
    # The superseded prefix waits out its grace in the trash (queries planned before the switch read it), then goes.
    assert session.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) > 0
    empty_trash(session, config.lake, now=datetime.now(UTC) + GRACE + timedelta(minutes=1))
    assert session.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) == 0


def test_a_run_that_staged_but_never_published_is_swept_by_the_next_switch(fleet: Any) -> None:
    """A crash between staging and switching leaves a run prefix beside the published one, where no lifecycle rule can
    tell it apart; the next switch of that partition deletes it, but not a run that may still be going, nor a prefix
    whose name is not one of ours."""
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)
    s3 = session.client("s3")
    now = datetime.now(UTC)
    crashed, going, odd = "20200101T000000Z-dead01", new_run_id(now - timedelta(hours=1)), "hand-made"
    for run in (crashed, going, odd):
        bucket, key = split_s3_uri(run_prefix(config.lake, "cloudwatch_metrics", DT, run))
        s3.put_object(Bucket=bucket, Key=f"{key}part-0.parquet", Body=b"PAR1")
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    left = {
        run_of(p["Prefix"])
        for p in s3.list_objects_v2(Bucket=bucket, Prefix=key.split("run=")[0], Delimiter="/").get("CommonPrefixes", [])
    }
    assert left == {result.run_id, going, odd}


def test_late_datapoint_appears_after_next_night(fleet: Any) -> None:
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)
    seed_invocations(fleet.metric_store, ACCOUNTS[0], "ep-a", day_after(NIGHT))
    run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    late_ts = datetime.combine(NIGHT, time(23, 57), tzinfo=UTC)
    source = session.assume(f"arn:aws:iam::{ACCOUNTS[0]}:role/MlLakeReader", "us-east-1")
    source.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Timestamp": late_ts,
                "Value": 1000.0,
                "Unit": "Count",
                "Dimensions": [{"Name": "EndpointName", "Value": "ep-a"}, {"Name": "VariantName", "Value": "AllTraffic"}],
            }
        ],
    )

    def last_period_max() -> float:
        rows = published(session, config, "cloudwatch_metrics", DT)
        mask = pc.and_(
            pc.and_(pc.equal(rows["account_id"], ACCOUNTS[0]), pc.equal(rows["endpoint_name"], "ep-a")),
            pc.equal(rows["stat"], "Maximum"),
        )
        picked = rows.filter(mask).sort_by("ts")
        return picked["value"].to_pylist()[-1]

    assert last_period_max() == 10.0
    run_night(config, day_after(NIGHT), session=session, engine=LocalLakeEngine(session, config.lake))
    assert last_period_max() == 1000.0


def _deny_role(account: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in params.get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    return handler


def test_role_that_cannot_be_assumed_fails_its_account_only(fleet: Any) -> None:
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)
    run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    published_before = published(session, config, "cloudwatch_metrics", DT)

    session.register_hook("before-parameter-build.sts.AssumeRole", _deny_role(ACCOUNTS[1]))
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert not result.ok
    failed = {s.account_id: s.error for s in result.landing("cloudwatch_metrics").accounts}
    assert failed[ACCOUNTS[0]] is None and "AccessDenied" in failed[ACCOUNTS[1]]
    after = published(session, config, "cloudwatch_metrics", DT)
    # The healthy account landed anew; the failed one kept what was published for it before.
    assert after.num_rows == published_before.num_rows
    assert set(after["account_id"].to_pylist()) == set(ACCOUNTS)
    runs = published(session, config, "pipeline_runs", DT).to_pylist()
    latest = [r for r in runs if r["run_id"] == result.run_id and r["table_name"] == "cloudwatch_metrics"]
    assert latest[0]["status"] == "failed" and ACCOUNTS[1] in latest[0]["message"]
    # the alarms hear of it: two nights reported (MLLake/NightsFailed in the lake account), one of them failed
    assert _night_signals(session, "NightsFailed") == {"SampleCount": 2.0, "Sum": 1.0}


def _night_signals(session: Any, metric: str) -> dict[str, float]:
    """How many datapoints the nights emitted for `metric`, and their sum (the stack's clock stands still)."""
    found = {}
    for stat in ("SampleCount", "Sum"):
        query = {
            "Id": "m",
            "MetricStat": {"Metric": {"Namespace": "MLLake", "MetricName": metric}, "Period": 86400, "Stat": stat},
        }
        result = session.client("cloudwatch").get_metric_data(
            MetricDataQueries=[query], StartTime=datetime(2000, 1, 1, tzinfo=UTC), EndTime=datetime(2100, 1, 1, tzinfo=UTC)
        )
        found[stat] = sum(result["MetricDataResults"][0]["Values"])
    return found


def test_incomplete_results_fail_the_source_instead_of_vanishing(fleet: Any) -> None:
    config = make_config(fleet.endpoint_url)
    session = new_lake(config)

    def corrupt(parsed: dict[str, Any], **_: Any) -> None:
        page = parsed.get("DecodedPage")
        if page is not None:
            statuses = ["InternalError"] + list(page.status_codes[1:])
            parsed["DecodedPage"] = dataclasses.replace(page, status_codes=statuses)

    # Fault injection at the AWS boundary: the first result of every page comes back broken.
    session.register_hook("after-call.cloudwatch.GetMetricData", corrupt)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert all(s.error and "incomplete" in s.error for s in result.landing("cloudwatch_metrics").accounts)
    assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None


def test_get_metric_data_calls_are_ceil_of_queries_over_500(stack: Any) -> None:
    for i in range(130):  # 130 series x 5 statistics = 650 queries -> 2 calls
        seed_invocations(stack.metric_store, ACCOUNTS[0], f"ep-{i:03d}", NIGHT)
    config = make_config(stack.endpoint_url, lookback_days=0, period_seconds=3600)
    config = config.model_copy(update={"sources": config.sources[:1]})
    session = new_lake(config)
    before = session.calls.snapshot().get("CloudWatch.GetMetricData", 0)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert result.ok
    calls = session.calls.snapshot()["CloudWatch.GetMetricData"] - before
    assert calls == math.ceil(130 * STATS / 500) == 2
    assert published(session, config, "cloudwatch_metrics", DT).num_rows == 130 * STATS * 24


def test_pages_past_100800_points_follow_next_token(stack: Any) -> None:
    for i in range(80):  # 80 series x 1 statistic x 1,440 minutes = 115,200 points -> 2 pages
        seed_invocations(stack.metric_store, ACCOUNTS[0], f"ep-{i:03d}", NIGHT)
    config = make_config(stack.endpoint_url, lookback_days=0, period_seconds=60, statistics=["Sum"])
    config = config.model_copy(update={"sources": config.sources[:1]})
    session = new_lake(config)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert result.ok
    assert session.calls.snapshot()["CloudWatch.GetMetricData"] == 2
    rows = published(session, config, "cloudwatch_metrics", DT)
    assert rows.num_rows == 80 * 1440
    assert rows.group_by(["endpoint_name"]).aggregate([("ts", "count_distinct")])["ts_count_distinct"].to_pylist() == [1440] * 80


def test_a_night_refreshes_each_changed_dataset_once_and_a_rerun_starts_none(fleet: Any) -> None:
    from pipelines.publish.quicksight.refresh import ALREADY_STARTED, NOT_DEPLOYED, STARTED
    from pipelines.publish.quicksight.release import build_release, deploy_release, lake_columns

    account = "123456789012"
    base = make_config(fleet.endpoint_url)
    config = base.model_copy(update={"quicksight": QuickSightConfig(account_id=account)})
    session = new_lake(config)
    engine = LocalLakeEngine(session, config.lake)
    before_deploy = run_night(config, NIGHT, session=session, engine=engine).ingestions
    assert {i.outcome for i in before_deploy} == {NOT_DEPLOYED}  # said in the log, the night stands
    quicksight = session.client("quicksight")
    deploy_release(quicksight, build_release(config, lake_columns(session, config)))

    night = run_night(config, NIGHT, session=session, engine=engine)
    started = {i.data_set_id: i.outcome for i in night.ingestions}
    # the datasets whose views read a table switched in tonight (CloudWatch, lineage, ...), each once
    assert set(started.values()) == {STARTED} and set(started) == {i.data_set_id for i in before_deploy}
    assert {"ml-lake-endpoint-daily", "ml-lake-endpoint-rightsizing", "ml-lake-endpoint-models"} <= set(started)
    assert "ml-lake-feature-attributions" not in started  # no Model Monitor report landed tonight
    rerun = run_night(config, NIGHT, session=session, engine=engine)
    assert {i.outcome for i in rerun.ingestions} == {ALREADY_STARTED}
    for data_set_id in started:
        summaries = quicksight.list_ingestions(AwsAccountId=account, DataSetId=data_set_id)["Ingestions"]
        refreshes = [s for s in summaries if s.get("RequestType") in ("FULL_REFRESH", "INCREMENTAL_REFRESH")]
        assert len(refreshes) == 1, (data_set_id, summaries)
