"""The tree keeps its shape: no import circles, and imports point down the layers (sources never import the audit, ...)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "pipelines"

# Each layer and what it must never import (arrows point down: localstack, lake, sources/audit, query, publish, orchestration).
ORCHESTRATION = ["pipelines.nightly", "pipelines.backfill", "pipelines.cli", "pipelines.compose", "pipelines.demo"]
FORBIDDEN = {
    "pipelines.localstack": [
        "pipelines.lake",
        "pipelines.sources",
        "pipelines.audit",
        "pipelines.query",
        "pipelines.publish",
        *ORCHESTRATION,
    ],
    "pipelines.lake": ["pipelines.sources", "pipelines.audit", "pipelines.query", "pipelines.publish", *ORCHESTRATION],
    "pipelines.sources": ["pipelines.audit", "pipelines.query", "pipelines.publish", *ORCHESTRATION],
    "pipelines.audit": ["pipelines.sources", "pipelines.query", "pipelines.publish", *ORCHESTRATION],
    "pipelines.query": ["pipelines.sources", "pipelines.audit", "pipelines.publish", *ORCHESTRATION],
    "pipelines.publish": ["pipelines.sources", "pipelines.audit", *ORCHESTRATION],
    "pipelines.nightly": ["pipelines.cli", "pipelines.compose", "pipelines.demo", "pipelines.localstack"],
}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the pipelines modules it imports, anywhere in the file (function bodies too)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipelines"):
                submodules = [f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in known]
                targets = submodules or [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("pipelines")]
            else:
                continue
            graph[name].update(t for t in targets if t in known and t != name)
    return graph


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    circles = []
    for start in list(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    circles.append(" -> ".join([*path, start]))
                elif nxt not in path and len(path) < 8:
                    stack.append((nxt, [*path, nxt]))
    assert circles == []


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for layer, banned in FORBIDDEN.items()
        if _inside(module, layer)
        for target in targets
        if any(_inside(target, b) for b in banned)
    ]
    assert upward == []


def test_the_tree_has_one_package_per_source_named_after_its_table() -> None:
    from pipelines.lake.schemas import TABLES

    sources = sorted(p.name for p in (ROOT / "sources").iterdir() if (p / "__init__.py").exists())
    assert sources == [
        "business_kpis",
        "cloudwatch_metrics",
        "endpoint_log_patterns",
        "endpoint_models",
        "endpoints",
        "model_monitor",
    ]
    assert all(s in TABLES or s == "model_monitor" for s in sources)  # Model Monitor fills six report tables
    assert all((ROOT / "sources" / s / "landing.py").exists() for s in sources)
