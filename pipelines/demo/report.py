"""What the demo publishes beyond the lake, as a user would into AWS: the executive report (deployed into the local
stack and rendered offline) and the alarms, rules and operations dashboard."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.demo.fleet import Fleet
from pipelines.publish.alarms.deploy import deploy_for_lake, summary
from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
from pipelines.publish.quicksight.preview import render_preview
from pipelines.publish.quicksight.release import build_release, deploy_release, lake_columns
from pipelines.query.engine import QueryEngine

LAKE_ACCOUNT = "123456789012"  # the local stack's account for the lake's own (default) credentials


def demo_quicksight(fleet: Fleet, region: str) -> dict[str, Any]:
    """The quicksight: section a team would write: mlops owns, executives see all, each unit's leads their unit."""
    group = f"arn:aws:quicksight:{region}:{LAKE_ACCOUNT}:group/default/"
    units = sorted({e.business_unit for e in fleet.endpoints})
    leads = {group + re.sub(r"[^a-z0-9]+", "-", unit.lower()).strip("-") + "-leads": [unit] for unit in units}
    return {
        "account_id": LAKE_ACCOUNT,
        "owners": [group + "mlops"],
        "viewers": [group + "executives", *leads],
        "row_access": {group + "executives": [], **leads},
    }


def demo_alerts(region: str) -> dict[str, Any]:
    """The alerts: section: one topic in the lake account (created by the demo), the default thresholds."""
    return {"sns_topic_arn": f"arn:aws:sns:{region}:{LAKE_ACCOUNT}:mlmon-demo-alerts"}


def deploy_alarms(session: Session, config: Config, engine: QueryEngine) -> dict[str, int]:
    """`mlmon alarms deploy` on the demo's stack: its topic, then alarms, rules and the dashboard for the lake's fleet."""
    assert config.alerts.sns_topic_arn is not None
    session.client("sns").create_topic(Name=config.alerts.sns_topic_arn.rsplit(":", 1)[1])
    return summary(deploy_for_lake(session, config, engine))


def deploy_report(session: Session, config: Config) -> dict[str, int]:
    """`mlmon quicksight deploy` on the demo's stack; how many assets each action touched."""
    release = build_release(config, lake_columns(session, config))
    changes = deploy_release(session.client("quicksight"), release)
    return dict(sorted(Counter(c.action for c in changes).items()))


def render_report(engine: QueryEngine, out: Path, now: datetime) -> Path:
    """`mlmon quicksight preview` over the demo's lake, as seen on the morning after its last night."""
    analysis = json.loads((QUICKSIGHT_DIR / "analysis.json").read_text(encoding="utf-8"))
    return render_preview(analysis, QUICKSIGHT_DIR, engine, out, now=now)
