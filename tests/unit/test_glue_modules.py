"""What Glue installs (--additional-python-modules with --no-deps): the lock's versions of the whole runtime closure,
nothing the jobs never import, and nothing the jobs import left out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glue_jobs.deploy_stack import stack_parameters
from glue_jobs.modules import NOT_IN_GLUE, glue_modules, locked_versions, runtime_closure
from pipelines.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
# Everything a Glue job can reach: the entry points and every module but the local stack, the demo, the CLI and the preview.
PROBE = """
import importlib, json, pathlib, sys
SKIP = ("pipelines.__main__", "pipelines.localstack", "pipelines.demo", "pipelines.cli", "pipelines.publish.quicksight.preview")
for name in ("glue_jobs.nightly", "glue_jobs.land_shard", "glue_jobs.publish_night"):
    importlib.import_module(name)
for path in sorted(pathlib.Path("pipelines").rglob("*.py")):
    name = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
    if not name.startswith(SKIP):
        importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""

# Imported here only because they happen to be installed (by the test tools or the local stack); each is optional.
OPTIONAL_HERE = {
    "pipelines": "this project (the wheel itself)",
    "_distutils_hack": "setuptools' import hook in the venv",
    "jsonpath_ng": "awswrangler's opensearch module imports it if present (import_optional_dependency)",
    "mypy_extensions": "sqlglot.helper imports it in a try/except ImportError",
    "jsonpointer": "jsonschema's format checkers import it if present (with suppress(ImportError))",
    "rfc3339_validator": "jsonschema's format checkers import it if present (with suppress(ImportError))",
}


def test_every_runtime_dependency_is_pinned_to_the_lock() -> None:
    modules = glue_modules()
    versions = locked_versions()
    pinned = dict(m.split("==") for m in modules)
    assert {"great-expectations", "awswrangler", "pyarrow", "pandas", "duckdb", "sqlglot", "pydantic", "jsonschema"} <= set(
        pinned
    )
    assert all(versions[name] == version for name, version in pinned.items())
    assert not (set(pinned) & (NOT_IN_GLUE | {"flask", "cfn-lint", "sympy"}))  # the local stack's server stays out


def test_the_jobs_import_nothing_left_out_and_nothing_unpinned() -> None:
    from importlib.metadata import packages_distributions

    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    imported = set(json.loads(probe.stdout.strip().splitlines()[-1]))
    assert not imported & {"moto", "orjson", "waitress", "plotly", "typer", "flask"}
    owners = packages_distributions()
    closure = runtime_closure()
    third_party = {top: owners[top] for top in imported if top in owners}
    outside = {
        top: dists for top, dists in third_party.items() if not {re.sub(r"[-_.]+", "-", d).lower() for d in dists} & closure
    }
    assert set(outside) - set(OPTIONAL_HERE) == set(), "a Glue job imports these, but --no-deps would not install them"


def test_a_dependency_missing_from_the_lock_is_named(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "\n".join(line for line in (ROOT / "requirements.lock").read_text().splitlines() if not line.startswith("sqlglot"))
    )
    with pytest.raises(ValueError, match="requirements.lock does not pin sqlglot"):
        glue_modules(lock)


def test_make_deploy_passes_the_pins_to_the_jobs() -> None:
    config = parse_config(
        {
            "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml"},
            "sources": [{"account_id": "111111111111", "regions": ["us-east-1"]}],
        }
    )
    params = stack_parameters(
        config, "mlmon/", "mlmon/wheels/x/ml_performance_lake-0.1.0-py3-none-any.whl", "mlmon/config/c.yaml"
    )
    assert params["PythonModules"] == "".join(f",{pin}" for pin in glue_modules())
    assert len(params["PythonModules"]) < 4096  # CloudFormation's limit for a parameter value
