"""What Glue installs for the jobs: the project's wheel and every runtime dependency pinned to requirements.lock's version.

The wheel pins only its direct dependencies; Glue's pip would take the newest of everything
else on the day a job starts, so a release could change under a running deployment. The jobs
get the wheel plus the whole pinned closure, installed with --no-deps: nothing unpinned, and
nothing the jobs never import (the local AWS stack, the HTML preview and the CLI stay out).
"""

from __future__ import annotations

import importlib.metadata as metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Imported only by the local stack (moto, orjson, waitress), the preview (plotly) and the CLI (typer): never by a Glue job.
NOT_IN_GLUE = frozenset({"moto", "orjson", "plotly", "typer", "waitress"})
# Glue 5's runtime: Python 3.11 on Amazon Linux 2023, x86_64.
GLUE_ENVIRONMENT = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def locked_versions(lock: Path = ROOT / "requirements.lock") -> dict[str, str]:
    """requirements.lock as name -> version (names canonical)."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[canonicalize_name(name)] = version.strip()
    return pins


def runtime_closure(pyproject: Path = ROOT / "pyproject.toml", skip: frozenset[str] = NOT_IN_GLUE) -> set[str]:
    """Every distribution the project's runtime dependencies need on Glue (read from the installed metadata)."""
    with pyproject.open("rb") as file:
        direct = tomllib.load(file)["project"]["dependencies"]
    found: set[str] = set()
    todo = [(Requirement(text), "") for text in direct]
    while todo:
        requirement, extra = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in skip or name in found:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({**GLUE_ENVIRONMENT, "extra": extra}):
            continue
        found.add(name)
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            for wanted in ["", *sorted(requirement.extras)]:  # base requirements, then those of the extras asked for
                if needed.marker is None or needed.marker.evaluate({**GLUE_ENVIRONMENT, "extra": wanted}):
                    needed.marker = None
                    todo.append((needed, ""))
                    break
    return found


def glue_modules(lock: Path = ROOT / "requirements.lock") -> list[str]:
    """`name==version` for --additional-python-modules, beside the wheel; a dependency missing from the lock is an error."""
    versions = locked_versions(lock)
    closure = runtime_closure()
    missing = sorted(closure - set(versions))
    if missing:
        raise ValueError(f"{lock.name} does not pin {', '.join(missing)}: pin them there before deploying")
    return [f"{name}=={versions[name]}" for name in sorted(closure)]
