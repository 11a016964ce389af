"""Structured logs: one JSON object per line on stderr, so a night can be searched and charted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Called once by the composition root (CLI, Glue shim); libraries only get loggers."""
    renderer: Any = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,  # run_id and night of the run in progress (run_context)
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # Looked up per logger, not bound once: a test runner may swap (and close) sys.stderr.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@contextmanager
def run_context(run_id: str, night: str) -> Iterator[None]:
    """Every line logged inside carries the run id and night, so one Logs Insights filter finds all a run did."""
    with structlog.contextvars.bound_contextvars(run_id=run_id, night=night):
        yield
