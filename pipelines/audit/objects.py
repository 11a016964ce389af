"""Hold back the smallest unit: when a partition fails its audit because of some of the objects it was read from,
find them, and let the rest of the night publish.

A monitoring product must not go blind because one report is odd: one bring-your-own container's
file failing a uniqueness check would otherwise hide every other monitor's findings. Every row of
a report table names its object (`source_uri`). When the partition fails, the objects are searched
by halves: a half that passes on its own is innocent, a failing half is split again, down to the
single objects that fail alone (about 2 k log n validations for k culprits among n objects). What
fails only in company (a duplicate across two objects), or when every object fails, or a row-count
band, concerns the partition as a whole: that stays a whole-partition quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.audit.engine import ValidationReport, validate_table
from pipelines.audit.suites import Suite
from pipelines.aws import Session
from pipelines.lake.schemas import SOURCE_URI
from pipelines.lake.staging import StagedPartition, read_table, upload_parquet

# Parameters of expectations about the partition as a whole (its row count): not judged per object.
PARTITION_WIDE = ("min_rows", "max_rows")


@dataclass(frozen=True)
class Split:
    """The objects held back, their rows, and the verdicts: the objects' own and the rest's (which passed)."""

    objects: tuple[str, ...]
    held: pa.Table
    kept: pa.Table
    held_report: ValidationReport
    kept_report: ValidationReport


def split_offenders(data: pa.Table, suite: Suite, parameters: Mapping[str, Any], *, dt: str | None, run_id: str) -> Split | None:
    """The objects whose rows alone fail the suite, if the rest then passes it as a whole; else None."""
    if SOURCE_URI.name not in data.column_names:
        return None
    objects = sorted(set(data[SOURCE_URI.name].to_pylist()))
    if len(objects) < 2:
        return None
    per_object = {**parameters, **dict.fromkeys(PARTITION_WIDE)}

    def rows_of(group: Sequence[str]) -> pa.Table:
        return data.filter(pc.is_in(data[SOURCE_URI.name], pa.array(list(group), pa.string())))

    def fails(group: Sequence[str]) -> bool:
        return not validate_table(rows_of(group), suite, per_object).passed

    def culprits(group: Sequence[str]) -> list[str] | None:
        """The single objects in `group` that fail alone; None when the failure needs several objects together."""
        if len(group) == 1:
            return list(group)
        half = len(group) // 2
        found = []
        for part in (group[:half], group[half:]):
            if fails(part):
                inner = culprits(part)
                if inner is None:
                    return None
                found += inner
        return found or None

    held = culprits(objects)
    if not held or len(held) == len(objects):
        return None
    kept = data.filter(pc.invert(pc.is_in(data[SOURCE_URI.name], pa.array(held, pa.string()))))
    kept_report = validate_table(kept, suite, parameters, dt=dt, run_id=run_id)
    if not kept_report.passed:
        return None
    held_rows = rows_of(held)
    held_report = validate_table(held_rows, suite, per_object, dt=dt, run_id=run_id)
    return Split(tuple(held), held_rows, kept, held_report, kept_report)


def restage_without(session: Session, staged: StagedPartition, objects: Sequence[str], schema: pa.Schema) -> StagedPartition:
    """The staged files rewritten in place without the rows of `objects` (a file left empty is kept empty, so its
    account x region still owns its file); what the switch then publishes."""
    unwanted = pa.array(list(objects), pa.string())
    rows = 0
    for uri in staged.files:
        table = read_table(session, [uri], schema)
        keep = table.filter(pc.invert(pc.is_in(table[SOURCE_URI.name], unwanted)))
        if keep.num_rows != table.num_rows:
            upload_parquet(session, keep, uri)
        rows += keep.num_rows
    return StagedPartition(staged.table, staged.dt, staged.run_id, staged.uri, staged.files, rows)
