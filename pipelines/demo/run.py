"""`mlmon demo`: a local stack, a seeded fleet, N nights of the pipeline, and what they left."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.audit.docs import build_data_docs
from pipelines.aws import Session, lake_session
from pipelines.config import Config, parse_config
from pipelines.demo.buckets import create_bucket
from pipelines.demo.fleet import Fleet, fleet_for_nights
from pipelines.demo.fleet_stories import DUPLICATED_EXPORT, FULL_STORY_NIGHTS
from pipelines.demo.incidents import duplicate_export
from pipelines.demo.report import demo_alerts, demo_quicksight, deploy_alarms, deploy_report, render_report
from pipelines.demo.seed_business_kpis import seed_kpi_drops
from pipelines.demo.seed_cloudwatch_metrics import Seeded, seed_stack_day
from pipelines.demo.seed_endpoint_logs import seed_endpoint_logs
from pipelines.demo.seed_endpoint_models import apply_model_change, planned_model_change, seed_endpoint_models
from pipelines.demo.seed_model_monitor import seed_model_monitor
from pipelines.lake.catalog_views import stored_views
from pipelines.localstack.process import StackProcess
from pipelines.nightly import NightResult, run_night
from pipelines.publish.quicksight.refresh import STARTED
from pipelines.query.export import LakeFileEngine, copy_published_lake, write_duckdb_views
from pipelines.query.local import LocalLakeEngine
from pipelines.query.view_sql import order_views

DEMO_BUCKET = "mlmon-demo-lake"
DEMO_REGION = "us-east-1"


MONITOR_ACCOUNT = "111111111111"
MONITOR_BUCKET = f"sagemaker-us-east-1-{MONITOR_ACCOUNT}"  # where SageMaker writes account 111's reports
KPI_INBOX = f"s3://{DEMO_BUCKET}/inbox/kpis/"
LOOKBACK_DAYS = 1  # cloudwatch.lookback_days: the fleet's data starts this many days before the first night
NIGHTLY_HOUR = 2  # the nightly run starts at 02:00 UTC the morning after its night


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
            "cloudwatch": {
                "namespaces": ["AWS/SageMaker", "/aws/sagemaker/Endpoints"],
                "period_seconds": 300,
                "lookback_days": LOOKBACK_DAYS,
            },
            "endpoints": {
                e.name: {"business_unit": e.business_unit, "product": e.product, "owner": e.owner} for e in fleet.endpoints
            },
            "model_monitor": model_monitor or {},
            "business_kpis": {"inbox": KPI_INBOX},
            "quicksight": demo_quicksight(fleet, DEMO_REGION),
            "alerts": demo_alerts(DEMO_REGION),
            "endpoint_url": endpoint_url,
        },
        origin="demo",
    )


@dataclass(frozen=True)
class DemoSummary:
    """What a demo did: a function of (seed, days, end) alone, but for `seconds`."""

    seed: int
    end: str
    nights: list[str]
    nights_ok: int
    seeded_datapoints: int
    rows_per_table: dict[str, int]
    api_calls: dict[str, int]
    cloudwatch_cost_usd: float
    seconds: float
    out: str
    report: str = ""  # the dashboard preview (HTML)
    quicksight_assets: dict[str, int] = field(default_factory=dict)  # deploy action -> assets
    spice_ingestions: int = 0  # started by the nights after the deploy
    alarms: dict[str, int] = field(default_factory=dict)  # deploy action -> alarms, rules, dashboards
    quarantined: list[str] = field(default_factory=list)
    stories: list[dict[str, str | None]] = field(default_factory=list)  # kind, endpoint_name, start, end, description
    left_out: list[dict[str, str]] = field(default_factory=list)  # kind, reason

    @property
    def text(self) -> str:
        lines = [
            f"demo: {len(self.nights)} nights ({self.nights[0]} .. {self.nights[-1]}), {self.nights_ok} fully published",
            f"made from --seed {self.seed} --days {len(self.nights)} --end {self.end}: the same three give the same lake",
            f"seeded {self.seeded_datapoints:,} CloudWatch datapoints into the local stack",
            "rows per table: " + ", ".join(f"{k}={v:,}" for k, v in self.rows_per_table.items()),
            "API calls: " + ", ".join(f"{k}={v}" for k, v in self.api_calls.items()),
            f"estimated CloudWatch cost: ${self.cloudwatch_cost_usd:.4f} "
            f"(${self.cloudwatch_cost_usd / max(len(self.nights), 1):.4f} per night)",
            "quarantined by the audit (the other nights published):",
            *(f"  - {q}" for q in self.quarantined or ["nothing"]),
            "stories in the data:",
            *(
                f"  - {s['kind']}: {s['endpoint_name'] + ' ' if s['endpoint_name'] else ''}{s['start']}..{s['end']} - {s['description']}"
                for s in self.stories
            ),
            *([f"left out (every story fits from --days {FULL_STORY_NIGHTS} on):"] if self.left_out else []),
            *(f"  - {o['kind']}: {o['reason']}" for o in self.left_out),
            "QuickSight report deployed into the local stack: "
            + ", ".join(f"{n} {action}" for action, n in self.quicksight_assets.items())
            + f"; {self.spice_ingestions} SPICE refreshes started by the later nights",
            f"dashboard preview: {self.report} (open it in a browser)",
            "alarms, Model Monitor rules and the operations dashboard deployed: "
            + ", ".join(f"{n} {action}" for action, n in self.alarms.items()),
            f"took {self.seconds:.1f} s; lake under {self.out}/lake, query it with:",
            f'  mlmon query --duckdb {self.out}/lake.duckdb "select dt, count(*) from cloudwatch_metrics group by dt order by dt"',
        ]
        return "\n".join(lines)


def morning_after(night: date) -> datetime:
    """When the nightly run of `night` happens: the demo's stack clock stands there while it runs."""
    return datetime.combine(night, datetime.min.time(), tzinfo=UTC) + timedelta(days=1, hours=NIGHTLY_HOUR)


def run_demo(end: date, days: int = 14, out: Path = Path("out"), seed: int = 7) -> DemoSummary:
    """Run the whole product on a laptop for the `days` nights ending with `end`; everything it leaves is under `out`.

    The lake depends on `seed`, `days` and `end` only, never on today's date: the stack's clock
    stands on the morning after each night while that night's logs arrive and the night runs.
    """
    started = time.monotonic()
    # Data from the lookback day before the first night too (that night re-reads it); stories lie on the nights.
    fleet = fleet_for_nights(seed, end, days, LOOKBACK_DAYS)
    nights = list(fleet.nights)
    console = Console(stderr=True)
    # The stack serves from a process of its own (the pipeline's requests used to hold its interpreter lock).
    with StackProcess(now=morning_after(nights[0])) as stack:
        # Its metrics are seeded there, beside what this process writes before the first night.
        seeding = [stack.submit(seed_stack_day, fleet, day) for day in fleet.dates]
        session = lake_session(DEMO_REGION, stack.endpoint_url)
        create_bucket(session, DEMO_BUCKET, DEMO_REGION)

        def source(account_id: str, region: str) -> Session:
            return session.assume(f"arn:aws:iam::{account_id}:role/MlLakeReader", region)

        # SageMaker writes the reports into its bucket: straight into the stack's S3, as the metrics into its store.
        monitor = seed_model_monitor(
            source(MONITOR_ACCOUNT, DEMO_REGION),
            MONITOR_BUCKET,
            fleet,
            write=lambda bucket, objects: stack.put_objects(MONITOR_ACCOUNT, bucket, objects),
        )
        config = demo_config(stack.endpoint_url, fleet, monitor)
        change = planned_model_change(fleet)
        seed_endpoint_models(source, fleet)
        bad_export = fleet.story(DUPLICATED_EXPORT)
        engine = LocalLakeEngine(session, config.lake)  # no Athena here: the views run on DuckDB over the lake
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding fleet", total=fleet.days)
            seeded = Seeded(0, 0)
            for day in seeding:
                seeded += day.result()
                progress.advance(task)
            task = progress.add_task("nightly runs", total=len(nights))
            results: list[NightResult] = []
            for night in nights:
                progress.update(task, description=f"night {night}")
                stack.clock.set(morning_after(night))
                seed_kpi_drops(session, KPI_INBOX, fleet, [night])  # the business sends each day's KPIs that night
                seed_endpoint_logs(source, fleet, [night], now=stack.clock.now())  # and the endpoints log as they serve
                if change is not None and night == change.day:
                    apply_model_change(source(change.account_id, change.region))
                night_session = session
                if bad_export is not None and night == bad_export.start.date():
                    night_session = lake_session(config.lake.region, config.endpoint_url, calls=session.calls)
                    night_session.register_hook("after-call.cloudwatch.GetMetricData", duplicate_export)
                results.append(run_night(config, night, session=night_session, engine=engine))
                if night == nights[0]:  # the views exist now: the report is deployed, later nights refresh it
                    report_assets = deploy_report(session, config)
                    alarms = deploy_alarms(session, config, engine)
                progress.advance(task)
        out.mkdir(parents=True, exist_ok=True)
        # GE renders the Data Docs (Python, ~5 s for 14 nights) beside the lake's copy and the report's DuckDB queries,
        # which spend much of their time outside the GIL.
        with ThreadPoolExecutor(1, thread_name_prefix="data-docs") as docs:
            built = docs.submit(build_data_docs, [o.report for r in results for o in r.outcomes], out / "data_docs")
            copy_published_lake(session, config.lake, out / "lake")
            views = order_views(stored_views(session, config.lake), tables=None)
            rows = write_duckdb_views(out / "lake", out / "lake.duckdb", views)
            report = render_report(LakeFileEngine(out / "lake.duckdb"), out, morning_after(nights[-1]))
            built.result()
    summary = DemoSummary(
        seed=seed,
        end=end.isoformat(),
        nights=[n.isoformat() for n in nights],
        nights_ok=sum(r.ok for r in results),
        seeded_datapoints=seeded.datapoints,
        rows_per_table=dict(sorted(rows.items())),
        api_calls=dict(sorted(Counter(session.calls.snapshot()).items())),
        cloudwatch_cost_usd=round(session.calls.cloudwatch_cost_usd(), 6),
        seconds=round(time.monotonic() - started, 1),
        out=str(out),
        report=str(report),
        quicksight_assets=report_assets,
        alarms=alarms,
        spice_ingestions=sum(i.outcome == STARTED for r in results for i in r.ingestions),
        quarantined=[
            f"night {r.night}: {o.staged.table} dt={o.staged.dt} ({', '.join(o.report.failed_names())})"
            for r in results
            for o in r.quarantined
        ],
        stories=[
            {
                "kind": s.kind,
                "endpoint_name": s.endpoint_name,
                "start": f"{s.start:%Y-%m-%d %H:%M}",
                "end": f"{s.end:%Y-%m-%d %H:%M}",
                "description": s.description,
            }
            for s in fleet.stories
        ],
        left_out=[{"kind": o.kind, "reason": o.reason} for o in fleet.left_out],
    )
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(summary.text + "\n", encoding="utf-8")
    return summary
