"""Athena views as SQL: what a view reads, the order views must be created in, and the DDL that creates one."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from pipelines.errors import FatalError
from pipelines.lake.schemas import TABLES

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class ViewError(FatalError):
    """A view that cannot be applied: bad name, bad SQL, a cycle or an unknown reference."""


def order_views(texts: Mapping[str, str], *, tables: Collection[str] | None = None) -> dict[str, str]:
    """The views {name: sql} reordered so each comes after the views it uses (errors name the view)."""
    known_tables = set(TABLES) if tables is None else set(tables)
    depends: dict[str, set[str]] = {}
    for name, sql in texts.items():
        referenced = referenced_tables(name, sql)
        unknown = sorted(referenced - set(texts) - known_tables)
        if unknown:
            raise ViewError(f"view {name}: references unknown table or view {', '.join(unknown)}")
        depends[name] = referenced & set(texts)
    return {name: texts[name] for name in _topological(depends)}


def referenced_tables(name: str, sql: str) -> set[str]:
    """Names (lower-case, unqualified) of the tables and views one view's SELECT reads, CTEs excluded."""
    return set(_referenced_tables(name, sql))


@functools.lru_cache(maxsize=512)
def _referenced_tables(name: str, sql: str) -> frozenset[str]:
    """Remembered per text: each query on the laptop's lake orders and follows the catalog's views again."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena", error_level=ErrorLevel.RAISE) if s is not None]
    except (ParseError, TokenError) as error:
        raise ViewError(f"view {name}: not valid Athena SQL: {error}") from error
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ViewError(f"view {name}: the file must hold exactly one SELECT (the pipeline adds CREATE VIEW)")
    tree = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return frozenset(t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes)


def needed(sql: str, views: Mapping[str, str]) -> set[str] | None:
    """The tables and views `sql` reads, through the views it uses; None when the SQL does not parse (read all)."""
    try:
        wanted = referenced_tables("query", sql)
    except ViewError:
        return None
    found: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found.add(name)
        if name in views:
            try:
                wanted |= referenced_tables(name, views[name])
            except ViewError:
                return None
    return found


def _topological(depends: dict[str, set[str]]) -> list[str]:
    """Views before those that use them; ties alphabetical, so the order is stable."""
    order: list[str] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise ViewError(f"view {name}: dependency cycle {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dependency in sorted(depends[name]):
            visit(dependency, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in sorted(depends):
        visit(name, [])
    return order


def view_ddl(name: str, sql: str, database: str) -> str:
    """Athena DDL creating (or replacing) view `database.name` as `sql`."""
    for part in (name, database):
        if not NAME.match(part):
            raise ViewError(f"not a valid Athena name: {part!r}")
    body = sql.strip().rstrip(";").rstrip()
    return f'CREATE OR REPLACE VIEW "{database}"."{name}" AS\n{body}'
