"""`mlmon`: the composition root. Only this package (and the Glue shims) reads argv and the environment."""

from __future__ import annotations

import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pipelines.cli.publish import alarms_app, quicksight_app
from pipelines.cli.quarantine import quarantine_app
from pipelines.cli.support import (
    ConfigOption,
    _fail,
    _guard,
    _lake_session,
    _load,
    _query_engine,
    _stderr_console,
    _worker_command,
    _yesterday,
)
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.logs import configure_logging

app = typer.Typer(
    help="ML performance lake: SageMaker model health next to business KPIs, every night.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[str, typer.Option(help="json (one object per line) or console.")] = "json",
) -> None:
    configure_logging(log_level, json_lines=log_format == "json")
    _state["debug"] = log_level.upper() == "DEBUG"


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
        raise _fail(error) from error
    _print_night(result)


def _one_process_night(settings: Config, night: date, session: Any) -> Any:
    from rich.progress import Progress

    from pipelines.compose import engine_for
    from pipelines.nightly import default_landers, run_night

    console = _stderr_console()
    with Progress(transient=True, console=console, disable=not console.is_terminal) as progress:  # no bars in a log
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
        if outcome.switched:  # published without some objects
            typer.echo(f"\nHELD BACK from {outcome.staged.table} dt={outcome.staged.dt} run {outcome.staged.run_id}:")
            typer.echo(outcome.quarantined.summary)
            continue
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
        raise _fail(error) from error
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
        raise _fail(error) from error
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
            raise _fail(ValueError(f"{file}: {error.strerror}")) from error
    settings = _load(config) if config else None
    from pipelines.query.render import render

    try:
        table = _query_engine(settings, duckdb).run(str(sql))
    except PipelineError as error:
        raise _fail(error) from error
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


app.add_typer(quarantine_app, name="quarantine")
app.add_typer(quicksight_app, name="quicksight")
app.add_typer(alarms_app, name="alarms")


_state = {"debug": False}


def main() -> None:
    """The `mlmon` program: an error that ends a command is one line and an exit code (pipelines.faults); the
    traceback only with --log-level DEBUG."""
    from pipelines.faults import describe

    try:
        app()
    except Exception as error:
        if _state["debug"]:
            raise
        code, text = describe(error)
        typer.echo(f"error: {text}", err=True)
        sys.exit(code)
