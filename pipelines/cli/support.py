"""What every command shares: the config option, one-line failures, loading the config, sessions and engines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipelines.config import Config, load_config
from pipelines.errors import PipelineError

T = TypeVar("T")

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
        raise _fail(error) from error


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
        raise _fail(error) from error
