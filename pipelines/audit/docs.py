"""Great Expectations Data Docs for a night's validation reports: static HTML a person can open without a server."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from pipelines.audit.engine import ValidationReport
from pipelines.audit.ge_import import great_expectations
from pipelines.errors import FatalError

SITE = "lake"
# GE's file store refuses keys containing path separators; run ids and dates never should.
_UNSAFE = re.compile(r"[/\\]")


class DataDocsError(FatalError):
    """Data Docs could not be written (the folder is not writable, or GE failed to render)."""


def build_data_docs(reports: Sequence[ValidationReport], directory: Path) -> Path:
    """Render `reports` (and their tables' suites) as a Data Docs site in `directory`; returns index.html.

    A fresh ephemeral context whose only site is a file site at `directory`: nothing is read
    from or written to a GE project. Building needs no network; the pages load GE's styles
    from public CDNs when opened, and stay readable as plain HTML without them.
    Reports without a GE result (every expectation skipped) have nothing to render.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataDocsError(f"cannot create Data Docs folder {directory}: {error}") from error
    context = _context(directory)
    _store_results(context, [r for r in reports if r.ge_result is not None])
    try:
        context.build_data_docs(site_names=[SITE])
    except OSError as error:
        raise DataDocsError(f"cannot write Data Docs to {directory}: {error}") from error
    return directory / "index.html"


def _context(directory: Path) -> Any:
    gx = great_expectations()
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig

    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={SITE: site},
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _store_results(context: Any, reports: Sequence[ValidationReport]) -> None:
    """Each report's result under (table, run, time, dt); each table's suite once, from its results."""
    gx = great_expectations()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier, ValidationResultIdentifier

    suites: dict[str, list[Any]] = {}
    for report in reports:
        run = RunIdentifier(run_name=_safe(report.run_id or "adhoc"), run_time=report.evaluated_at.replace(tzinfo=UTC))
        batch = _safe(f"dt={report.dt}" if report.dt else report.table)
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(report.table), run, batch)
        result = copy.deepcopy(report.ge_result)  # the report keeps GE's result as it was
        # The page header reads the run and the data asset from meta; batch.validate leaves them unset.
        result.meta.update(run_id=run.to_json_dict(), batch_kwargs={"data_asset_name": f"{report.table} {batch}"})
        context.validation_results_store.set(key, result)
        if report.table not in suites:
            suites[report.table] = [r.expectation_config.to_domain_obj() for r in report.ge_result.results]
    for table, expectations in suites.items():
        context.suites.add(gx.ExpectationSuite(name=table, expectations=sorted(expectations, key=_index)))


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part)


def write_data_docs(session: Any, reports: Sequence[ValidationReport], target: str) -> str:
    """Build the site into a local folder, or into a temporary one uploaded under an s3:// prefix."""
    if not target.startswith("s3://"):
        return str(build_data_docs(reports, Path(target)))
    import tempfile

    import awswrangler as wr

    prefix = target.rstrip("/") + "/"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_data_docs(reports, root)
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            wr.s3.upload(local_file=str(file), path=prefix + file.relative_to(root).as_posix(), boto3_session=session)
    return prefix + "index.html"


def _index(expectation: Any) -> int:
    """Where an expectation stands in its suite (kept in its meta by the engine)."""
    return int(expectation.meta["index"])
