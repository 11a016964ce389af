"""`mlmon demo`: a local stack, a seeded fleet, N nights of the pipeline, and what they left."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.aws import Session, lake_session
from pipelines.config import Config, parse_config
from pipelines.demo.fleet import Fleet, build_fleet
from pipelines.demo.incidents import duplicate_export
from pipelines.demo.seed import create_bucket, seed_metrics
from pipelines.demo.seed_kpis import seed_kpi_drops
from pipelines.demo.seed_lineage import apply_model_change, default_change_day, planned_model_change, seed_lineage
from pipelines.demo.seed_logs import seed_endpoint_logs
from pipelines.demo.seed_monitor import seed_model_monitor
from pipelines.localstack.server import LocalStack
from pipelines.nightly import NightResult, run_night
from pipelines.publish.apply_views import stored_views
from pipelines.validate.docs import build_data_docs
from pipelines.query.export import copy_published_lake, write_duckdb_views

DEMO_BUCKET = "mlmon-demo-lake"
DEMO_REGION = "us-east-1"


MONITOR_BUCKET = "sagemaker-us-east-1-111111111111"  # where SageMaker writes account 111's reports
KPI_INBOX = f"s3://{DEMO_BUCKET}/inbox/kpis/"


def demo_config(endpoint_url: str, fleet: Fleet, model_monitor: dict[str, Any] | None = None) -> Config:
    """The configuration a team would write for this fleet, pointed at the local stack."""
    accounts = sorted({e.account_id for e in fleet.endpoints})
    regions = sorted({e.region for e in fleet.endpoints})
    return parse_config(
        {
            "lake": {"region": DEMO_REGION, "bucket": DEMO_BUCKET, "prefix": "lake/", "database": "ml_monitoring"},
            "sources": [
                {"account_id": a, "role_arn": f"arn:aws:iam::{a}:role/MlLakeReader", "regions": regions} for a in accounts
            ],
            "cloudwatch": {"namespaces": ["AWS/SageMaker", "/aws/sagemaker/Endpoints"], "period_seconds": 300},
            "endpoints": {
                e.name: {"business_unit": e.business_unit, "product": e.product, "owner": e.owner} for e in fleet.endpoints
            },
            "model_monitor": model_monitor or {},
            "business_kpis": {"inbox": KPI_INBOX},
            "endpoint_url": endpoint_url,
        },
        origin="demo",
    )


@dataclass(frozen=True)
class DemoSummary:
    nights: list[str]
    nights_ok: int
    seeded_datapoints: int
    rows_per_table: dict[str, int]
    api_calls: dict[str, int]
    cloudwatch_cost_usd: float
    seconds: float
    out: str
    quarantined: list[str] = field(default_factory=list)
    model_change: str = ""
    stories: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        lines = [
            f"demo: {len(self.nights)} nights ({self.nights[0]} .. {self.nights[-1]}), {self.nights_ok} fully published",
            f"seeded {self.seeded_datapoints:,} CloudWatch datapoints into the local stack",
            "rows per table: " + ", ".join(f"{k}={v:,}" for k, v in self.rows_per_table.items()),
            "API calls: " + ", ".join(f"{k}={v}" for k, v in self.api_calls.items()),
            f"estimated CloudWatch cost: ${self.cloudwatch_cost_usd:.4f} "
            f"(${self.cloudwatch_cost_usd / max(len(self.nights), 1):.4f} per night)",
            "quarantined by the audit (the other nights published):",
            *(f"  - {q}" for q in self.quarantined or ["nothing"]),
            f"model change: {self.model_change}",
            "stories in the data:",
            *(f"  - {s}" for s in self.stories),
            f"took {self.seconds:.1f} s; lake under {self.out}/lake, query it with:",
            f"  mlmon query --duckdb {self.out}/lake.duckdb \"select dt, count(*) from cloudwatch_metrics group by dt order by dt\"",
        ]
        return "\n".join(lines)


def incident_night(nights: list[date]) -> date | None:
    """The night whose export is duplicated on purpose (the middle one; none in very short demos)."""
    return nights[len(nights) // 2] if len(nights) >= 3 else None


def run_demo(days: int = 14, out: Path = Path("out"), seed: int = 7, last_night: date | None = None) -> DemoSummary:
    """Run the whole product on a laptop; everything it leaves is under `out`."""
    started = time.monotonic()
    last_night = last_night or datetime.now(timezone.utc).date() - timedelta(days=1)
    nights = [last_night - timedelta(days=days - 1 - i) for i in range(days)]
    console = Console(stderr=True)
    with LocalStack() as stack:
        # One extra day before the first night: the lookback re-reads it.
        fleet = build_fleet(seed=seed, start=nights[0] - timedelta(days=1), days=days + 1)
        session = lake_session(DEMO_REGION, stack.endpoint_url)
        create_bucket(session, DEMO_BUCKET, DEMO_REGION)
        def source(account_id: str, region: str) -> Session:
            return session.assume(f"arn:aws:iam::{account_id}:role/MlLakeReader", region)

        config = demo_config(stack.endpoint_url, fleet, seed_model_monitor(source("111111111111", DEMO_REGION), MONITOR_BUCKET, fleet))
        change = planned_model_change(fleet, default_change_day(fleet))
        seed_lineage(source, fleet, change.day)
        seed_endpoint_logs(source, fleet)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding fleet", total=fleet.days)
            seeded = seed_metrics(stack.metric_store, fleet, on_day=lambda day, n: progress.advance(task))
            task = progress.add_task("nightly runs", total=len(nights))
            results: list[NightResult] = []
            incident = incident_night(nights)
            for night in nights:
                progress.update(task, description=f"night {night}")
                seed_kpi_drops(session, KPI_INBOX, fleet, [night])  # the business sends each day's KPIs that night
                if night == change.day:
                    apply_model_change(source(change.account_id, change.region))
                night_session = session
                if night == incident:
                    night_session = lake_session(config.lake.region, config.endpoint_url, calls=session.calls)
                    night_session.register_hook("after-call.cloudwatch.GetMetricData", duplicate_export)
                results.append(run_night(config, night, session=night_session))
                progress.advance(task)
        out.mkdir(parents=True, exist_ok=True)
        build_data_docs([o.report for r in results for o in r.outcomes], out / "data_docs")
        copy_published_lake(session, config.lake, out / "lake")
        rows = write_duckdb_views(out / "lake", out / "lake.duckdb", stored_views(session, config.lake))
    summary = DemoSummary(
        nights=[n.isoformat() for n in nights],
        nights_ok=sum(r.ok for r in results),
        seeded_datapoints=seeded.datapoints,
        rows_per_table=dict(sorted(rows.items())),
        api_calls=dict(sorted(Counter(session.calls.snapshot()).items())),
        cloudwatch_cost_usd=round(session.calls.cloudwatch_cost_usd(), 6),
        seconds=round(time.monotonic() - started, 1),
        out=str(out),
        quarantined=[f"night {r.night}: {o.staged.table} dt={o.staged.dt} ({', '.join(o.report.failed_names())})"
                     for r in results for o in r.quarantined],
        model_change=change.description,
        stories=[f"{s.kind}: {s.endpoint_name or 'all endpoints'} {s.start:%Y-%m-%d %H:%M}..{s.end:%Y-%m-%d %H:%M} - {s.description}" for s in fleet.stories],
    )
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(summary.text + "\n", encoding="utf-8")
    return summary
