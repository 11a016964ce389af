"""`mlmon quarantine`: what the audit held back and why; publish or delete it."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from pipelines.cli.support import ConfigOption, _guard, _lake_session, _load

quarantine_app = typer.Typer(help="What the audit held back and why; publish or delete it.", no_args_is_help=True)
TableOption = Annotated[str, typer.Option(help="Table name, e.g. cloudwatch_metrics.")]
DtOption = Annotated[Optional[str], typer.Option("--date", help="Partition (YYYY-MM-DD); omit for unpartitioned tables.")]
RunOption = Annotated[Optional[str], typer.Option("--run", help="Run id (default: the newest quarantined run).")]


@quarantine_app.command("list")
def quarantine_list(config: ConfigOption) -> None:
    """Everything held back: table, date, run, rows, the whole partition or which objects, failed expectations."""
    from pipelines.audit.quarantine import list_quarantined

    settings = _load(config)
    items = list_quarantined(_lake_session(settings), settings.lake)
    for item in items:
        what = f"{len(item.objects)} object(s) held back: {', '.join(item.objects)}" if item.objects else "whole partition"
        typer.echo(f"{item.table}\t{item.dt or '-'}\t{item.run_id}\t{item.rows} rows\t{what}\t{', '.join(item.failed)}")
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
