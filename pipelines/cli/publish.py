"""`mlmon quicksight` and `mlmon alarms`: what readers and operators get on top of the lake, deployed from code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.cli.support import ConfigOption, _fail, _guard, _lake_session, _load, _query_engine
from pipelines.errors import PipelineError

quicksight_app = typer.Typer(
    help="The executive report as code: QuickSight data source, datasets, analysis and dashboard.", no_args_is_help=True
)
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
    from pipelines.publish.alarms.deploy import FAILED, deploy_for_lake

    settings = _load(config)
    session = session_for(settings)
    try:
        changes = deploy_for_lake(session, settings, engine_for(settings, session), apply=apply)
    except PipelineError as error:
        raise _fail(error) from error
    except (ClientError, BotoCoreError) as error:
        raise _fail(RuntimeError(f"CloudWatch/EventBridge: {error}")) from error
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
        raise _fail(error) from error
    except (ClientError, BotoCoreError) as error:
        raise _fail(RuntimeError(f"QuickSight: {error}")) from error
    for change in changes:
        verb = (
            change.action if apply else {"created": "would create", "updated": "would update"}.get(change.action, change.action)
        )
        version = f" (version {change.version} published)" if apply and change.version else ""
        typer.echo(f"{change.kind} {change.asset_id}: {verb}{version}")
        for line in change.diff:
            typer.echo(f"    {line}")
