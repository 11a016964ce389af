"""`mlmon`: the composition root. Only this module (and the Glue shims) reads argv and the environment."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.config import Config, load_config
from pipelines.errors import PipelineError
from pipelines.logs import configure_logging

app = typer.Typer(
    help="ML performance lake: SageMaker model health next to business KPIs, every night.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML configuration (see README).")]


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


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


@app.command()
def nightly(
    config: ConfigOption,
    date_: Annotated[Optional[datetime], typer.Option("--date", formats=["%Y-%m-%d"], help="Night to land (UTC); default yesterday.")] = None,
) -> None:
    """Land one night for every source. Exit 0: all published; 1: a source failed or data was held back."""
    settings = _load(config)
    from pipelines.nightly import run_night

    try:
        result = run_night(settings, date_.date() if date_ else _yesterday())
    except PipelineError as error:
        raise _fail(error) from None
    for source in result.sources:
        state = f"FAILED: {source.error}" if source.error else f"{source.datapoints} datapoints"
        typer.echo(f"{source.account_id} {source.region}: {state}")
    raise typer.Exit(code=0 if result.ok else 1)


@app.command()
def backfill(
    config: ConfigOption,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First night (UTC).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last night (UTC), inclusive.")],
    force: Annotated[bool, typer.Option(help="Reload nights that are already published.")] = False,
) -> None:
    """Land nights START..END; rerun after an interruption to resume where it stopped."""
    settings = _load(config)
    from pipelines.backfill import run_backfill

    try:
        result = run_backfill(settings, start.date(), end.date(), force=force)
    except (PipelineError, ValueError) as error:
        raise _fail(error) from None
    typer.echo(f"landed {len(result.nights)} nights, skipped {len(result.skipped)} already published")
    raise typer.Exit(code=0 if result.ok else 1)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="Athena SQL.")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Pipeline configuration.")] = None,
    duckdb: Annotated[Optional[Path], typer.Option("--duckdb", help="Query a lake.duckdb file from `mlmon demo` instead.")] = None,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Run Athena SQL: on Athena in AWS, on DuckDB against a local stack or a lake.duckdb file."""
    if (config is None) == (duckdb is None):
        raise _fail(ValueError("give exactly one of --config or --duckdb"))
    settings = _load(config) if config else None
    from pipelines.query import query as run_query
    from pipelines.query.render import render

    try:
        table = run_query(sql, config=settings, duckdb_path=duckdb)
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
    days: Annotated[int, typer.Option(min=1, max=30, help="Nights to run.")] = 14,
    out: Annotated[Path, typer.Option(help="Where the lake copy, lake.duckdb and summary go.")] = Path("out"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic fleet.")] = 7,
) -> None:
    """Local stack + a seeded fleet + the pipeline for DAYS nights; results under OUT."""
    from pipelines.demo.run import run_demo

    summary = run_demo(days=days, out=out, seed=seed)
    typer.echo(summary.text)


def main() -> None:
    app()
