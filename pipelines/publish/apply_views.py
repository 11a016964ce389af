"""Apply the `sql/` views: create, replace only when changed, in dependency order (describe -> diff -> act)."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake.catalog_views import stored_views
from pipelines.publish.views import load_views
from pipelines.query.engine import QueryEngine


@dataclass(frozen=True)
class ViewChange:
    name: str
    action: str  # created, updated, unchanged


def apply_views(session: Session, lake: LakeConfig, engine: QueryEngine, views: dict[str, str] | None = None) -> list[ViewChange]:
    """Make the catalog's views equal the `sql/` files through `engine`; a view it refuses raises ViewError naming it."""
    views = load_views() if views is None else views
    current = stored_views(session, lake)
    changes = [
        ViewChange(n, "unchanged" if current.get(n) == sql.strip() else ("updated" if n in current else "created"))
        for n, sql in views.items()
    ]
    changed = [c.name for c in changes if c.action != "unchanged"]
    if changed:
        engine.create_views(views, changed)
    return changes
