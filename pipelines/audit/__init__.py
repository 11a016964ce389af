"""The audit of write-audit-publish: table suites kept as YAML, run with Great Expectations, reported per expectation."""

# Importing this package is cheap: Great Expectations (4-5 s to import) loads on first use.

from __future__ import annotations

from pipelines.audit.docs import build_data_docs
from pipelines.audit.engine import (
    VALIDATION_RESULTS_SCHEMA,
    ExpectationOutcome,
    ParameterError,
    ValidationReport,
    Validator,
    to_validation_frame,
    validate_table,
    validation_rows,
)
from pipelines.audit.suites import SUITES_DIR, ExpectationSpec, Suite, SuiteError, load_suite, load_suites

__all__ = [
    "SUITES_DIR",
    "VALIDATION_RESULTS_SCHEMA",
    "ExpectationOutcome",
    "ExpectationSpec",
    "ParameterError",
    "Suite",
    "SuiteError",
    "ValidationReport",
    "Validator",
    "build_data_docs",
    "load_suite",
    "load_suites",
    "to_validation_frame",
    "validate_table",
    "validation_rows",
]
