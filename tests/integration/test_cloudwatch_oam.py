"""Reading CloudWatch once through an OAM monitoring account lands exactly what reading each account with its role lands."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import Config, parse_config
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.lake.staging import read_table
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from pipelines.sources.cloudwatch_metrics.landing import land_cloudwatch_metrics
from tests.integration.lakehelpers import (
    ACCOUNTS,
    DT,
    NIGHT,
    PREV_DT,
    make_config,
    minutes,
    new_lake,
    published,
    seed_invocations,
)

MONITORING = "999999999999"
MONITORING_ROLE = f"arn:aws:iam::{MONITORING}:role/MlLakeMonitoringReader"
UNLINKED = "333333333333"
REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture()
def linked_fleet(stack: Any) -> Any:
    """Both source accounts in two regions (one series key shared by both accounts), linked to the monitoring
    account, which has metrics of its own; an unlinked account has some too."""
    rng = np.random.default_rng(7)
    for day in (NIGHT - timedelta(days=1), NIGHT):
        for region in REGIONS:
            for account, endpoints in ((ACCOUNTS[0], ("ep-a", "ep-b")), (ACCOUNTS[1], ("ep-a", "ep-c"))):
                for endpoint in endpoints:
                    seed_invocations(stack.metric_store, account, endpoint, day, region=region)
                    ts = minutes(day)
                    latency = rng.lognormal(10, 0.5, len(ts)).round()
                    dims = {"EndpointName": endpoint, "VariantName": "AllTraffic"}
                    stack.metric_store.put_series(
                        account, region, "AWS/SageMaker", "ModelLatency", dims, "Microseconds", ts, latency
                    )
            seed_invocations(stack.metric_store, MONITORING, "ep-monitoring", day, region=region)
            seed_invocations(stack.metric_store, UNLINKED, "ep-unlinked", day, region=region)
    stack.metric_store.link_accounts(MONITORING, ACCOUNTS, REGIONS)
    return stack


def oam_config(endpoint_url: str, via: tuple[str, ...] = ACCOUNTS) -> Config:
    """make_config's sources in both regions; those in `via` read through the monitoring account."""
    data = make_config(endpoint_url).model_dump(mode="json")
    for source in data["sources"]:
        source["regions"] = list(REGIONS)
        source["cloudwatch_via"] = "monitoring_account" if source["account_id"] in via else "role"
    data["cloudwatch"]["monitoring_account"] = {"account_id": MONITORING, "role_arn": MONITORING_ROLE}
    return parse_config(data)


def land(session: Session, config: Config, run_id: str) -> tuple[Any, dict[str, Any], Counter[str]]:
    """Land the source; its staged files by (dt, file name), and the AWS calls it made."""
    before = Counter(session.calls.snapshot())
    landing = land_cloudwatch_metrics(session, config, NIGHT, run_id)
    calls = Counter(session.calls.snapshot()) - before
    files = {
        (part.dt, uri.rsplit("/", 1)[-1]): read_table(session, [uri], CLOUDWATCH_METRICS.schema)
        for part in landing.staged
        for uri in part.files
    }
    return landing, files, calls


@pytest.mark.parametrize("via", [ACCOUNTS, ACCOUNTS[:1]], ids=["all-via-monitoring", "mixed"])
def test_monitoring_account_lands_the_same_rows_as_roles(linked_fleet: Any, via: tuple[str, ...]) -> None:
    by_role = make_config(linked_fleet.endpoint_url).model_dump(mode="json")
    for source in by_role["sources"]:
        source["regions"] = list(REGIONS)
    role_config = parse_config(by_role)
    session = new_lake(role_config)
    role_landing, role_files, role_calls = land(session, role_config, "run-role")
    oam_landing, oam_files, oam_calls = land(session, oam_config(linked_fleet.endpoint_url, via), "run-oam")

    assert not role_landing.errors and not oam_landing.errors
    # One file per account x region and day, as before: reruns and carry-over are unchanged.
    expected = {(dt, f"part-{a}-{r}.parquet") for dt in (PREV_DT, DT) for a in ACCOUNTS for r in REGIONS}
    assert set(role_files) == set(oam_files) == expected
    for key, table in role_files.items():
        assert table.num_rows > 0
        assert oam_files[key].equals(table), key  # row for row, in the same order
        assert set(oam_files[key]["account_id"].to_pylist()) == {key[1].split("-")[1]}  # the owner, not the monitoring account
    assert [(a.account_id, a.region, a.counts) for a in oam_landing.accounts] == [
        (a.account_id, a.region, a.counts) for a in role_landing.accounts
    ]
    # Accounts via the monitoring account cost one ListMetrics and one GetMetricData pass per region, not per account.
    role_read = len(ACCOUNTS) - len(via)
    assert role_calls["CloudWatch.ListMetrics"] == role_calls["CloudWatch.GetMetricData"] == len(ACCOUNTS) * len(REGIONS)
    assert oam_calls["CloudWatch.ListMetrics"] == oam_calls["CloudWatch.GetMetricData"] == (role_read + 1) * len(REGIONS)
    # The session keeps assumed roles while their credentials last: the role-read accounts' sessions of the first
    # landing serve the second, which assumes only the monitoring role, once per region.
    assert role_calls["STS.AssumeRole"] == len(ACCOUNTS) * len(REGIONS)
    assert oam_calls["STS.AssumeRole"] == len(REGIONS)


def test_an_account_the_monitoring_account_cannot_read_fails_alone(linked_fleet: Any) -> None:
    config = oam_config(linked_fleet.endpoint_url, via=ACCOUNTS[:1])
    session = new_lake(config)
    first = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    assert first.ok, first
    before = published(session, config, "cloudwatch_metrics", DT)

    def deny_monitoring_role(params: dict[str, Any], **_: Any) -> None:
        if params.get("RoleArn") == MONITORING_ROLE:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    session.register_hook("before-parameter-build.sts.AssumeRole", deny_monitoring_role)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    errors = {(a.account_id, a.region): a.error for a in result.landing("cloudwatch_metrics").accounts}
    for region in REGIONS:
        assert errors[(ACCOUNTS[1], region)] is None
        assert f"via monitoring account {MONITORING} in {region}" in str(errors[(ACCOUNTS[0], region)])
        assert "AccessDenied" in str(errors[(ACCOUNTS[0], region)])
    after = published(session, config, "cloudwatch_metrics", DT)
    # The account read via the monitoring account kept what was published for it; the other landed anew.
    sort = [("account_id", "ascending"), ("region", "ascending"), ("endpoint_name", "ascending"), ("stat", "ascending")]
    assert after.sort_by([*sort, ("ts", "ascending")]).equals(before.sort_by([*sort, ("ts", "ascending")]))


def test_an_account_not_linked_in_a_region_lands_no_rows_there(stack: Any) -> None:
    for region in REGIONS:
        seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT, region=region)
    stack.metric_store.link_accounts(MONITORING, ACCOUNTS[:1], REGIONS[:1])  # no link in eu-west-1
    config = oam_config(stack.endpoint_url, via=ACCOUNTS[:1])
    session = new_lake(config)
    landing, files, _ = land(session, config, "run-oam")
    counts = {(a.account_id, a.region): a.counts.get("series") for a in landing.accounts}
    assert counts[(ACCOUNTS[0], "us-east-1")] == 1 and counts[(ACCOUNTS[0], "eu-west-1")] == 0
    assert files[(DT, f"part-{ACCOUNTS[0]}-eu-west-1.parquet")].num_rows == 0
