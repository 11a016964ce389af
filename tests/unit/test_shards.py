"""The shard plan is balanced and deterministic, manifests survive JSON, workers run with bounded concurrency."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

from pipelines.config import Config, parse_config
from pipelines.errors import FatalError
from pipelines.lake.staging import StagedPartition
from pipelines.nightly import Landed
from pipelines.shards import ShardManifest, shard_config, shard_plan
from pipelines.sources.landing import AccountRegionResult, Landing
from pipelines.workers import run_workers


def _config(accounts: int, regions: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-south-1")) -> Config:
    return parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-lake", "database": "db"},
            "sources": [{"account_id": f"{i:012d}", "regions": list(regions)} for i in range(1, accounts + 1)],
        }
    )


@pytest.mark.parametrize(("accounts", "shards"), [(1, 1), (1, 8), (4, 3), (5, 4), (7, 7), (10, 16)])
def test_the_plan_covers_every_account_region_once_in_balanced_groups(accounts: int, shards: int) -> None:
    config = _config(accounts)
    plan = shard_plan(config, shards)
    pairs = [(s.account_id, r) for s in config.sources for r in s.regions]
    assert 1 <= len(plan) <= shards and all(s.pairs for s in plan)
    assert sorted(p for s in plan for p in s.pairs) == sorted(pairs)
    assert max(len(s.pairs) for s in plan) - min(len(s.pairs) for s in plan) <= 1
    assert [s.index for s in plan] == list(range(len(plan)))
    assert shard_plan(config, shards) == plan  # every process computes the same plan


def test_a_fleet_without_sources_still_has_shard_0_and_shards_must_be_positive() -> None:
    empty = _config(1).model_copy(update={"sources": []})  # a config needs sources; a copy may have none
    assert [s.pairs for s in shard_plan(empty, 4)] == [()]
    with pytest.raises(FatalError):
        shard_plan(_config(1), 0)


def test_a_shard_config_keeps_only_its_account_regions() -> None:
    config = _config(2, ("us-east-1", "eu-west-1"))
    mine = shard_config(config, (("000000000001", "eu-west-1"),))
    assert [(s.account_id, s.regions) for s in mine.sources] == [("000000000001", ["eu-west-1"])]
    assert config.sources[0].regions == ["us-east-1", "eu-west-1"]


def test_a_manifest_survives_json() -> None:
    staged = StagedPartition("cloudwatch_metrics", "2026-01-01", "r1", "s3://b/t/dt=2026-01-01/run=r1/", ("s3://b/x.parquet",), 7)
    rejection = {"source": "model_monitor", "account_id": "1", "region": "r", "source_uri": "s3://b/k", "reason": "empty"}
    landing = Landing(
        "cloudwatch_metrics",
        [staged],
        [{**rejection, "size_bytes": 0, "detected_at": datetime(2026, 1, 2, 3, 4, 5)}],
        ["1/r: AccessDenied"],
        {"rows": 7},
        ["2026-01-01"],
        [AccountRegionResult("1", "r", {"rows": 7}), AccountRegionResult("2", "r", error="AccessDenied")],
    )
    manifest = ShardManifest(
        "2026-01-01",
        "r1",
        1,
        3,
        (("1", "r"), ("2", "r")),
        [Landed(landing, 12, 0.5)],
        datetime(2026, 1, 2),
        datetime(2026, 1, 2, 1),
        {"s3.PutObject": 3},
        0.5,
    )
    assert ShardManifest.from_json(manifest.to_json()) == manifest
    assert manifest.errors == ["cloudwatch_metrics: 1/r: AccessDenied"]


def test_workers_run_every_command_at_most_n_at_once() -> None:
    commands = {f"w{i}": [sys.executable, "-c", f"print('hello {i}'); raise SystemExit({i % 2})"] for i in range(4)}
    seen: list[str] = []
    runs = run_workers(commands, parallel=2, on_done=lambda run: seen.append(run.name))
    assert list(runs) == list(commands) and sorted(seen) == sorted(commands)
    assert [(r.returncode, r.output.strip()) for r in runs.values()] == [(i % 2, f"hello {i}") for i in range(4)]
    stuck = run_workers({"slow": [sys.executable, "-c", "import time; time.sleep(30)"]}, parallel=1, deadline_seconds=0.5)
    assert stuck["slow"].returncode is None and not stuck["slow"].ok
