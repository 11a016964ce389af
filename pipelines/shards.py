"""How a night splits across processes: the shard plan (account x region groups) and each shard's manifest in S3.

s3://<bucket>/<prefix>_staging/dt=D/run=<run_id>/shard-0001.json   what shard 1 staged, counted, rejected, failed
s3://<bucket>/<prefix>_staging/dt=D/run=<run_id>/publish.json       the publish step has begun: shards may no longer land
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import Config, LakeConfig
from pipelines.errors import FatalError
from pipelines.lake.paths import split_s3_uri, staging_prefix
from pipelines.lake.schemas import SOURCE_REJECTIONS
from pipelines.lake.staging import StagedPartition
from pipelines.nightly import Landed
from pipelines.sources.landing import AccountRegionResult, Landing
from pipelines.sources.per_account import account_regions

Pair = tuple[str, str]  # (account id, region)


@dataclass(frozen=True)
class Shard:
    """One process's share of a night: the account x regions it lands (shard 0 also lands the sources not per account)."""

    index: int
    pairs: tuple[Pair, ...]


def shard_plan(config: Config, shards: int) -> list[Shard]:
    """The config's account x regions dealt round-robin, in config order, into at most `shards` groups (never an empty one,
    but always at least shard 0, which also lands the sources that are not per account).

    Deterministic: every process that computes the plan from the same config gets the same shards; sizes differ by one at most.
    """
    if shards < 1:
        raise FatalError(f"shards must be at least 1, not {shards}")
    pairs = list(dict.fromkeys((account_id, region) for account_id, _, region in account_regions(config)))
    count = max(1, min(shards, len(pairs)))
    return [Shard(i, tuple(pairs[i::count])) for i in range(count)]


def shard_config(config: Config, pairs: tuple[Pair, ...]) -> Config:
    """The config a shard's per-account sources see: only its account x regions."""
    wanted = set(pairs)
    sources = [s.model_copy(update={"regions": [r for r in s.regions if (s.account_id, r) in wanted]}) for s in config.sources]
    return config.model_copy(update={"sources": [s for s in sources if s.regions]})


def manifest_uri(lake: LakeConfig, night: str, run_id: str, shard_index: int) -> str:
    return f"{staging_prefix(lake, night, run_id)}shard-{shard_index:04d}.json"


def publish_marker_uri(lake: LakeConfig, night: str, run_id: str) -> str:
    return f"{staging_prefix(lake, night, run_id)}publish.json"


@dataclass(frozen=True)
class ShardManifest:
    """What one shard landed for run `run_id` of night `night`: the sources' landings (staged, not switched in) and their cost."""

    night: str
    run_id: str
    shard_index: int
    shards: int
    pairs: tuple[Pair, ...]
    landed: list[Landed]
    started_at: datetime
    finished_at: datetime
    api_calls: dict[str, int] = field(default_factory=dict)
    cloudwatch_cost_usd: float = 0.0

    @property
    def errors(self) -> list[str]:
        """Every source's errors (an account x region, a prefix, a whole source)."""
        return [f"{one.landing.source}: {error}" for one in self.landed for error in one.landing.errors]

    @property
    def staged(self) -> list[StagedPartition]:
        return [staged for one in self.landed for staged in one.landing.staged]

    def to_json(self) -> str:
        document = {**asdict(self), "landed": [_landed_document(one) for one in self.landed]}
        return json.dumps(document, indent=1, default=_iso)

    @classmethod
    def from_json(cls, text: str) -> ShardManifest:
        doc = json.loads(text)
        return cls(
            doc["night"],
            doc["run_id"],
            int(doc["shard_index"]),
            int(doc["shards"]),
            tuple((a, r) for a, r in doc["pairs"]),
            [_landed_of(one) for one in doc["landed"]],
            datetime.fromisoformat(doc["started_at"]),
            datetime.fromisoformat(doc["finished_at"]),
            {k: int(v) for k, v in doc["api_calls"].items()},
            float(doc["cloudwatch_cost_usd"]),
        )


def write_manifest(session: Session, lake: LakeConfig, manifest: ShardManifest) -> str:
    uri = manifest_uri(lake, manifest.night, manifest.run_id, manifest.shard_index)
    put_text(session, uri, manifest.to_json())
    return uri


def read_manifest(session: Session, lake: LakeConfig, night: str, run_id: str, shard_index: int) -> ShardManifest | None:
    """Shard `shard_index`'s manifest, or None when it wrote none (it failed, or never ran)."""
    text = get_text(session, manifest_uri(lake, night, run_id, shard_index))
    return None if text is None else ShardManifest.from_json(text)


def put_text(session: Session, uri: str, text: str) -> None:
    bucket, key = split_s3_uri(uri)
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json")


def get_text(session: Session, uri: str) -> str | None:
    """The object's text, or None when there is no such object."""
    bucket, key = split_s3_uri(uri)
    try:
        body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return bytes(body).decode("utf-8")


def _landed_document(one: Landed) -> dict[str, Any]:
    return {"landing": asdict(one.landing), "api_calls": one.api_calls, "cost_usd": one.cost_usd}


def _landed_of(doc: dict[str, Any]) -> Landed:
    landing = doc["landing"]
    staged = [
        StagedPartition(s["table"], s["dt"], s["run_id"], s["uri"], tuple(s["files"]), int(s["rows"])) for s in landing["staged"]
    ]
    accounts = [AccountRegionResult(a["account_id"], a["region"], dict(a["counts"]), a["error"]) for a in landing["accounts"]]
    return Landed(
        Landing(
            landing["source"],
            staged,
            [_rejection_of(row) for row in landing["rejections"]],
            list(landing["errors"]),
            dict(landing["counts"]),
            list(landing["days"]),
            accounts,
        ),
        int(doc["api_calls"]),
        float(doc["cost_usd"]),
    )


def _rejection_of(row: dict[str, Any]) -> dict[str, Any]:
    """A source_rejections row back from JSON: its timestamps are datetimes again."""
    stamps = {f.name for f in SOURCE_REJECTIONS.schema if pa.types.is_timestamp(f.type)}
    return {k: datetime.fromisoformat(v) if k in stamps and isinstance(v, str) else v for k, v in row.items()}


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
