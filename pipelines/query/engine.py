"""One interface for wherever the lake's Athena SQL runs; the composition root picks the engine, once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import pyarrow as pa


class QueryReader(Protocol):
    def run(self, sql: str) -> pa.Table:
        """One read-only Athena query over what readers see; DDL and writes are refused."""
        ...


class QueryEngine(QueryReader, Protocol):
    """Athena in AWS (`AthenaEngine`), DuckDB over a local stack's published lake (`LocalLakeEngine`),
    or DuckDB over a demo's lake file (`LakeFileEngine`)."""

    def reading(self) -> AbstractContextManager[QueryReader]:
        """One view of the lake for many queries (a dashboard's visuals): DuckDB opens the lake once for all of them
        instead of once per query (its catalog, listings and views: most of a small query's time); Athena reads
        the lake itself each time, so its reader is the engine."""
        ...

    def create_views(self, views: Mapping[str, str], names: Sequence[str]) -> None:
        """Create or replace the views `names` of `views` ({name: Athena SELECT}, in dependency order);
        a view the engine refuses raises ViewError naming it."""
        ...
