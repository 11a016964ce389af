"""glue_jobs/stack.yaml read back for tests: its resources, and a state machine's definition with parameter defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

GLUE_JOBS = Path(__file__).resolve().parents[2] / "glue_jobs"
STACK = GLUE_JOBS / "stack.yaml"


def load_template(path: str) -> Any:
    """A CloudFormation template as cfn-lint reads it (intrinsic tags kept). cfn-lint is imported here, by the tests
    that read a template: importing it takes ~0.7 s, in every test worker that collects the module."""
    from cfnlint.decode.cfn_yaml import load

    return load(path)


def resources(path: Path = STACK) -> dict[str, Any]:
    return dict(load_template(str(path))["Resources"])


def definition(name: str) -> dict[str, Any]:
    """A state machine's definition with the template's parameter defaults (and resource names) filled in."""
    template = load_template(str(STACK))
    text = resources()[name]["Properties"]["DefinitionString"]["Fn::Sub"]
    defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    return dict(json.loads(re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: defaults.get(m.group(1), m.group(1)), text)))
