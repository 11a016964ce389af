"""The Athena views of `sql/`: one file per view, loaded and put in dependency order."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pipelines.query.view_sql import NAME, ViewError, order_views

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"  # pipelines/sql: a link to the repo's sql/, shipped in the wheel

__all__ = ["SQL_DIR", "ViewError", "load_views"]


def load_views(directory: str | Path = SQL_DIR, *, tables: Collection[str] | None = None) -> dict[str, str]:
    """Every `<name>.sql` of `directory` (not its subfolders) as {name: sql}, each after the views it uses.

    A reference to something that is neither another view nor a lake table (`tables`, default:
    the contract tables) is an error, as is a cycle; both name the view.
    """
    texts: dict[str, str] = {}
    paths = sorted(Path(directory).glob("*.sql"))
    if not paths:  # an install without its SQL must fail loudly, never publish no views
        raise ViewError(f"no view files (*.sql) in {directory}")
    for path in paths:
        name = path.stem
        if not NAME.match(name):
            raise ViewError(f"view file {path.name}: a view name must be lower-case letters, digits and _")
        texts[name] = path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()
    return order_views(texts, tables=tables)
