"""`mlmon`: the composition root. Only this module (and the Glue shims) reads argv and the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from pipelines.config import Config, load_config
from pipelines.errors import PipelineError
from pipelines.logs import configure_logging

T = TypeVar("T")

app = typer.Typer(
    help="ML performance lake: SageMaker model health next to business KPIs, every night.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML configuration (see README).")]


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=2)


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except PipelineError as error:
        raise _fail(error) from None


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[str, typer.Option(help="json (one object per line) or console.")] = "json",
) -> None:
    configure_logging(log_level, json_lines=log_format == "json")


DateOption = Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The night (UTC).")]
RunIdOption = Annotated[str, typer.Option("--run-id", help="The night's run id, the same for every shard and the publish step.")]
ShardsOption = Annotated[int, typer.Option("--shards", min=1, help="How many shards the night is split into (account x region).")]


@app.command()
def nightly(
    config: ConfigOption,
    date_: Annotated[
        Optional[datetime], typer.Option("--date", formats=["%Y-%m-%d"], help="Night to land (UTC); default yesterday.")
    ] = None,
    shards: Annotated[
        int, typer.Option(min=1, help="Land in N concurrent worker processes by account x region, then publish once.")
    ] = 1,
) -> None:
    """Land one night for every source. Exit 0: all published; 1: a source failed or data was held back."""
    settings = _load(config)
    from pipelines.compose import session_for

    session = session_for(settings)
    night = date_.date() if date_ else _yesterday()
    try:
        if shards > 1:
            result = _sharded_night(config, settings, night, shards, session)
        else:
            result = _one_process_night(settings, night, session)
    except PipelineError as error:
        raise _fail(error) from None
    _print_night(result)


def _one_process_night(settings: Config, night: date, session: Any) -> Any:
    from rich.progress import Progress

    from pipelines.compose import engine_for
    from pipelines.nightly import default_landers, run_night

    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("Model Monitor reports", total=None)
        landers = default_landers(lambda done, total: progress.update(task, completed=done, total=total))
        return run_night(settings, night, session=session, engine=engine_for(settings, session), landers=landers)


def _sharded_night(config: Path, settings: Config, night: date, shards: int, session: Any) -> Any:
    """Each shard a worker process (`mlmon shard`), all at once, then the publish step here."""
    from pipelines.compose import engine_for
    from pipelines.fanout import publish_night, shard_plan
    from pipelines.nightly import new_run_id
    from pipelines.workers import run_workers

    run_id = new_run_id()
    common = ["--config", str(config), "--date", night.isoformat(), "--run-id", run_id, "--shards", str(shards)]
    plan = shard_plan(settings, shards)
    commands = {f"shard {s.index}": [*_worker_command(), "shard", *common, "--shard", str(s.index)] for s in plan}
    for run in run_workers(commands, parallel=len(commands)).values():
        if run.returncode not in (0, 1):  # 1: landed, with failed accounts the publish step reports
            typer.echo(f"{run.name} exited {run.returncode}; its accounts count as failed\n{run.output}", err=True)
    return publish_night(settings, night, run_id=run_id, shards=shards, session=session, engine=engine_for(settings, session))


@app.command()
def shard(
    config: ConfigOption,
    date_: DateOption,
    run_id: RunIdOption,
    shard_index: Annotated[int, typer.Option("--shard", min=0, help="Which shard to land, 0..N-1 (0 also lands the rest).")],
    shards: ShardsOption,
) -> None:
    """Land (stage) one shard of a night and write its manifest; nothing is published. Exit 1: an account or source failed."""
    settings = _load(config)
    from pipelines.compose import session_for
    from pipelines.fanout import land_shard

    manifest = _guard(
        lambda: land_shard(
            settings, date_.date(), shard_index=shard_index, shards=shards, run_id=run_id, session=session_for(settings)
        )
    )
    for one in manifest.landed:
        typer.echo(f"{one.landing.source}: {len(one.landing.staged)} partitions staged, {len(one.landing.errors)} errors")
    for error in manifest.errors:
        typer.echo(f"FAILED {error}")
    raise typer.Exit(code=1 if manifest.errors else 0)


@app.command("publish-night")
def publish_night_command(config: ConfigOption, date_: DateOption, run_id: RunIdOption, shards: ShardsOption) -> None:
    """Audit and publish a sharded night from its shards' manifests (a missing one fails its accounts); exit as nightly."""
    settings = _load(config)
    from pipelines.compose import engine_for, session_for
    from pipelines.fanout import publish_night

    session = session_for(settings)
    engine = engine_for(settings, session)
    _print_night(
        _guard(lambda: publish_night(settings, date_.date(), run_id=run_id, shards=shards, session=session, engine=engine))
    )


def _print_night(result: Any) -> None:
    """Each account x region's CloudWatch read, each partition's fate, what was held back; exit 0 only if all published."""
    for account in result.landing("cloudwatch_metrics").accounts:
        state = f"FAILED: {account.error}" if account.error else f"{account.counts['datapoints']} datapoints"
        typer.echo(f"{account.account_id} {account.region}: {state}")
    for outcome in result.outcomes:
        typer.echo(f"{outcome.staged.table} {outcome.staged.dt or '-'}: {outcome.status}")
    for outcome in result.quarantined:
        typer.echo(f"\nQUARANTINED {outcome.staged.table} dt={outcome.staged.dt} run {outcome.staged.run_id}:")
        typer.echo(outcome.report.summary())
    raise typer.Exit(code=0 if result.ok else 1)


@app.command()
def backfill(
    config: ConfigOption,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First night (UTC).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last night (UTC), inclusive.")],
    force: Annotated[bool, typer.Option(help="Reload nights that are already published.")] = False,
    parallel: Annotated[int, typer.Option(min=1, help="Land up to N nights at once, each in a worker process.")] = 1,
) -> None:
    """Land nights START..END; rerun after an interruption to resume where it stopped."""
    settings = _load(config)
    from pipelines.backfill import NightRun, run_backfill
    from pipelines.compose import engine_for, session_for
    from pipelines.workers import run_worker

    def elsewhere(night: date) -> NightRun:
        # The worker is a one-night backfill (own day only); this process already decided that the night is to land.
        day = night.isoformat()
        run = run_worker(
            f"night {day}", [*_worker_command(), "backfill", "--config", str(config), "--start", day, "--end", day, "--force"]
        )
        return NightRun(day, run.ok, run.output)

    session = session_for(settings)
    engine = engine_for(settings, session)
    try:
        result = run_backfill(
            settings, start.date(), end.date(), session=session, engine=engine, force=force, parallel=parallel, runner=elsewhere
        )
    except (PipelineError, ValueError) as error:
        raise _fail(error) from None
    typer.echo(f"landed {len(result.nights)} nights, skipped {len(result.skipped)} already published")
    for night in result.failed:
        typer.echo(f"night {night}: not all published")
    raise typer.Exit(code=0 if result.ok else 1)


@app.command()
def validate(
    config: ConfigOption,
    date_: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Partition to re-validate (UTC).")],
) -> None:
    """Re-run the expectation suites on the published partitions of a night; exit 1 on a critical failure."""
    settings = _load(config)
    from pipelines.audit.gate import revalidate
    from pipelines.nightly import new_run_id

    session = _lake_session(settings)
    try:
        reports = revalidate(session, settings, date_.date().isoformat(), new_run_id())
    except PipelineError as error:
        raise _fail(error) from None
    for report in reports:
        typer.echo(report.summary())
    raise typer.Exit(code=0 if all(r.passed for r in reports) else 1)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def query(
    sql: Annotated[Optional[str], typer.Argument(help="Athena SQL (or --file).")] = None,
    file: Annotated[
        Optional[Path], typer.Option("--file", "-f", help="Read the Athena SQL from FILE, e.g. sql/queries/*.sql.")
    ] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Pipeline configuration.")] = None,
    duckdb: Annotated[
        Optional[Path], typer.Option("--duckdb", help="Query a lake.duckdb file from `mlmon demo` instead.")
    ] = None,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Run Athena SQL: on Athena in AWS, on DuckDB against a local stack or a lake.duckdb file."""
    if (config is None) == (duckdb is None):
        raise _fail(ValueError("give exactly one of --config or --duckdb"))
    if (sql is None) == (file is None):
        raise _fail(ValueError("give the SQL either as an argument or with --file"))
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8")
        except OSError as error:
            raise _fail(ValueError(f"{file}: {error.strerror}")) from None
    settings = _load(config) if config else None
    from pipelines.query.render import render

    try:
        table = _query_engine(settings, duckdb).run(str(sql))
    except PipelineError as error:
        raise _fail(error) from None
    text = render(table, format_.value)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command("local-stack")
def local_stack(port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0) -> None:
    """Serve the local AWS emulator (moto + our CloudWatch fixes) until interrupted."""
    from pipelines.localstack.server import serve

    serve(port)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=30, help="Nights to run (every story fits from 7 on).")] = 14,
    out: Annotated[Path, typer.Option(help="Where the lake copy, lake.duckdb and summary go.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic fleet.")] = 7,
    end: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="Last night (UTC); default yesterday.")] = None,
) -> None:
    """Local stack + a seeded fleet + the pipeline for DAYS nights ending with END; results under OUT.

    The lake is a function of --seed, --days and --end only: the same three give the same data on any day."""
    from pipelines.demo.run import run_demo

    summary = run_demo(end.date() if end else _yesterday(), days=days, out=out, seed=seed)
    typer.echo(summary.text)


quarantine_app = typer.Typer(help="What the audit held back and why; publish or delete it.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
TableOption = Annotated[str, typer.Option(help="Table name, e.g. cloudwatch_metrics.")]
DtOption = Annotated[Optional[str], typer.Option("--date", help="Partition (YYYY-MM-DD); omit for unpartitioned tables.")]
RunOption = Annotated[Optional[str], typer.Option("--run", help="Run id (default: the newest quarantined run).")]


@quarantine_app.command("list")
def quarantine_list(config: ConfigOption) -> None:
    """Every quarantined partition: table, date, run, rows, failed expectations."""
    from pipelines.audit.quarantine import list_quarantined

    settings = _load(config)
    items = list_quarantined(_lake_session(settings), settings.lake)
    for item in items:
        typer.echo(f"{item.table}\t{item.dt or '-'}\t{item.run_id}\t{item.rows} rows\t{', '.join(item.failed)}")
    if not items:
        typer.echo("nothing quarantined")


@quarantine_app.command("show")
def quarantine_show(config: ConfigOption, table: TableOption, date_: DtOption = None, run: RunOption = None) -> None:
    """Why a partition was held back: the summary and the full validation result (JSON)."""
    import json as _json

    from pipelines.audit.quarantine import find, verdict

    settings = _load(config)
    session = _lake_session(settings)
    item = _guard(lambda: find(session, settings.lake, table, date_, run))
    typer.echo(f"{item.ref}: {item.rows} rows at {item.uri}\n{item.summary}\n")
    typer.echo(_json.dumps(verdict(session, item), indent=1, default=str))


@quarantine_app.command("release")
def quarantine_release(
    config: ConfigOption,
    table: TableOption,
    reason: Annotated[str, typer.Option(help="Why the data is right after all (recorded).")],
    date_: DtOption = None,
    run: RunOption = None,
    by: Annotated[Optional[str], typer.Option(help="Who decided (default: $USER).")] = None,
    force: Annotated[bool, typer.Option(help="Replace a partition published by a newer run since.")] = False,
) -> None:
    """Publish a quarantined partition after a person decided; the decision goes to pipeline_runs."""
    from pipelines.audit.decisions import release_quarantined

    settings = _load(config)
    who = by or os.environ.get("USER") or "unknown"
    switched = _guard(lambda: release_quarantined(_lake_session(settings), settings, table, date_, run, who, reason, force))
    typer.echo(f"released {table} {date_ or '-'}: readers now see {switched.location}")


@quarantine_app.command("drop")
def quarantine_drop(
    config: ConfigOption,
    table: TableOption,
    reason: Annotated[str, typer.Option(help="Why the data is discarded (recorded).")],
    date_: DtOption = None,
    run: RunOption = None,
    by: Annotated[Optional[str], typer.Option(help="Who decided (default: $USER).")] = None,
) -> None:
    """Delete a quarantined partition for good; the decision goes to pipeline_runs."""
    from pipelines.audit.decisions import drop_quarantined

    settings = _load(config)
    who = by or os.environ.get("USER") or "unknown"
    item = _guard(lambda: drop_quarantined(_lake_session(settings), settings, table, date_, run, who, reason))
    typer.echo(f"dropped {item.ref}")


quicksight_app = typer.Typer(
    help="The executive report as code: QuickSight data source, datasets, analysis and dashboard.", no_args_is_help=True
)
app.add_typer(quicksight_app, name="quicksight")
AssetsOption = Annotated[Optional[Path], typer.Option("--assets", help="The assets folder (default: the installed quicksight/).")]


@quicksight_app.command("plan")
def quicksight_plan(config: ConfigOption, assets: AssetsOption = None) -> None:
    """What a deploy would create, update (with a diff against what is deployed) or leave alone; changes nothing."""
    _quicksight_release(config, assets, apply=False)


@quicksight_app.command("deploy")
def quicksight_deploy(config: ConfigOption, assets: AssetsOption = None) -> None:
    """Create or update every asset in dependency order and publish the dashboard; a second deploy changes nothing."""
    _quicksight_release(config, assets, apply=True)


@quicksight_app.command("export")
def quicksight_export(config: ConfigOption, assets: AssetsOption = None) -> None:
    """Write the deployed analysis (edited in the console) back into the assets folder, placeholders restored."""
    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
    from pipelines.publish.quicksight.release import export_release

    settings = _load(config)
    if settings.quicksight is None:
        raise _fail(ValueError(f"{config}: no quicksight: section (account_id, owners, viewers)"))
    client = _lake_session(settings).client("quicksight")
    for path in _guard(lambda: export_release(client, settings, assets or QUICKSIGHT_DIR)):
        typer.echo(f"wrote {path}")


@quicksight_app.command("preview")
def quicksight_preview(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Pipeline configuration.")] = None,
    duckdb: Annotated[Optional[Path], typer.Option("--duckdb", help="Render from a lake.duckdb file of `mlmon demo`.")] = None,
    out: Annotated[Path, typer.Option(help="Where dashboard.html goes.")] = Path("out"),
    assets: AssetsOption = None,
) -> None:
    """Render the dashboard's definition with the lake's data as one offline HTML page (no AWS account needed)."""
    import json

    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
    from pipelines.publish.quicksight.preview import render_preview

    if (config is None) == (duckdb is None):
        raise _fail(ValueError("give exactly one of --config or --duckdb"))
    directory = assets or QUICKSIGHT_DIR
    analysis = json.loads((directory / "analysis.json").read_text(encoding="utf-8"))
    engine = _query_engine(_load(config) if config else None, duckdb)
    page = _guard(lambda: render_preview(analysis, directory, engine, out, now=datetime.now(UTC)))
    typer.echo(f"wrote {page}")


alarms_app = typer.Typer(
    help="CloudWatch alarms, EventBridge rules and the operations dashboard for the fleet.", no_args_is_help=True
)
app.add_typer(alarms_app, name="alarms")


@alarms_app.command("plan")
def alarms_plan(config: ConfigOption) -> None:
    """What a deploy would create, update (with a diff), delete (ours, no longer wanted) or leave alone; changes nothing."""
    _alarms(config, apply=False)


@alarms_app.command("deploy")
def alarms_deploy(config: ConfigOption) -> None:
    """Alarms per endpoint and for the pipeline, Model Monitor rules, the dashboard; exit 1 if an account failed."""
    _alarms(config, apply=True)


def _alarms(config: Path, *, apply: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from pipelines.compose import engine_for, session_for
    from pipelines.publish.alarms.definitions import fleet_requests
    from pipelines.publish.alarms.deploy import FAILED, deploy_fleet
    from pipelines.publish.alarms.fleet import fleet_of_lake

    settings = _load(config)
    session = session_for(settings)
    try:
        placed = fleet_requests(settings, fleet_of_lake(engine_for(settings, session)))
        changes = deploy_fleet(session, settings, placed, apply=apply)
    except PipelineError as error:
        raise _fail(error) from None
    except (ClientError, BotoCoreError) as error:
        raise _fail(RuntimeError(f"CloudWatch/EventBridge: {error}")) from None
    for change in changes:
        verb = (
            change.action
            if apply
            else {"created": "would create", "updated": "would update", "deleted": "would delete"}.get(
                change.action, change.action
            )
        )
        typer.echo(
            f"{change.kind} {change.name} ({change.account} {change.region}): {verb}"
            + (f": {change.error}" if change.error else "")
        )
        for line in change.diff:
            typer.echo(f"    {line}")
    raise typer.Exit(code=1 if any(c.action == FAILED for c in changes) else 0)


def _quicksight_release(config: Path, assets: Path | None, *, apply: bool) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
    from pipelines.publish.quicksight.release import build_release, deploy_release, lake_columns

    settings = _load(config)
    if settings.quicksight is None:
        raise _fail(ValueError(f"{config}: no quicksight: section (account_id, owners, viewers)"))
    session = _lake_session(settings)
    directory = assets or QUICKSIGHT_DIR
    try:
        release = build_release(settings, lake_columns(session, settings, directory), directory)
        changes = deploy_release(session.client("quicksight"), release, apply=apply)
    except PipelineError as error:
        raise _fail(error) from None
    except (ClientError, BotoCoreError) as error:
        raise _fail(RuntimeError(f"QuickSight: {error}")) from None
    for change in changes:
        verb = (
            change.action if apply else {"created": "would create", "updated": "would update"}.get(change.action, change.action)
        )
        version = f" (version {change.version} published)" if apply and change.version else ""
        typer.echo(f"{change.kind} {change.asset_id}: {verb}{version}")
        for line in change.diff:
            typer.echo(f"    {line}")


def _query_engine(settings: Config | None, duckdb: Path | None) -> Any:
    """A lake file's engine, or the config's lake through the engine its place calls for."""
    from pipelines.compose import engine_for, session_for
    from pipelines.query.export import LakeFileEngine

    if settings is None:
        return LakeFileEngine(Path(str(duckdb)))
    return engine_for(settings, session_for(settings))


def _worker_command() -> list[str]:
    """This same program in a new process (the same interpreter and environment)."""
    return [sys.executable, "-m", "pipelines"]


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _lake_session(settings: Config) -> Any:
    from pipelines.compose import session_for

    return session_for(settings)


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except PipelineError as error:
        raise _fail(error) from None


def main() -> None:
    app()
