"""Where a night's summary lives: what the workflow's Summary step reads, beside the run's other working files.

Written last by every night (single-process or sharded) to the run's working area, and logged as
the `run_summary` event; the state machine reads it to tell a night that published with something
held back (it ran to the end: report it) from one that crashed (no summary: alert).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake.paths import split_s3_uri, staging_prefix


def summary_uri(lake: LakeConfig, night: str, run_id: str) -> str:
    return f"{staging_prefix(lake, night, run_id)}summary.json"


def write_summary(session: Session, lake: LakeConfig, summary: dict[str, Any]) -> str:
    """`summary` (pipelines.nightly.NightResult.summary) to the run's working area; returns where."""
    uri = summary_uri(lake, summary["night"], summary["run_id"])
    bucket, key = split_s3_uri(uri)
    body = json.dumps(summary, sort_keys=True).encode("utf-8")
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return uri
