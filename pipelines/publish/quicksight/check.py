"""Check a QuickSight request before it is sent: botocore's service model, then what the service checks beyond it.

botocore's ParamValidator catches unknown keys, missing required members, wrong types and too
short values. QuickSight also refuses values outside an enum, longer than a maximum, not
matching a pattern, and "union type" structures with more than one member set (a Visual is one:
exactly one of TableVisual, BarChartVisual, ...). Those come back as a failed deploy, or worse,
an asset half created; here they are found first, each named by its path in the request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationNotFoundError, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from pipelines.errors import FatalError

_UNION_DOC = "this is a union type structure"


class RequestError(FatalError):
    """A request QuickSight would refuse; the message lists every problem with its path."""


@dataclass(frozen=True)
class Problem:
    """One thing QuickSight would refuse, and where: `Definition.Sheets[0].Visuals[2]`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def check_request(operation: str, params: Mapping[str, Any]) -> list[Problem]:
    """Every problem of `params` for QuickSight's `operation` (e.g. CreateAnalysis); empty when it would be accepted."""
    try:
        shape = quicksight_model().operation_model(operation).input_shape
    except OperationNotFoundError:
        raise RequestError(f"QuickSight has no operation {operation!r}") from None
    if shape is None:
        raise RequestError(f"QuickSight's {operation} takes no input")
    report = ParamValidator().validate(dict(params), shape)
    problems = [Problem("", line.strip()) for line in report.generate_report().splitlines() if line.strip()]
    return problems + list(_beyond_the_model(shape, params, ""))


def require_valid(operation: str, params: Mapping[str, Any]) -> None:
    """Raise RequestError naming every problem, before anything is sent."""
    problems = check_request(operation, params)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise RequestError(f"QuickSight would refuse {operation} ({len(problems)} problems):\n{listed}")


def is_union(shape: Shape) -> bool:
    """A structure only one member of which may be set (the model's flag, or its documentation says so)."""
    return bool(shape.metadata.get("union")) or _UNION_DOC in (shape.documentation or "").lower()


def _beyond_the_model(shape: Shape, value: Any, path: str) -> Iterator[Problem]:
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        present = [name for name in shape.members if value.get(name) is not None]
        if is_union(shape) and len(present) > 1:
            yield Problem(path, f"{shape.name} is a union type: set one of its members, not {', '.join(present)}")
        for name in present:
            yield from _beyond_the_model(shape.members[name], value[name], f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        yield from _bounds(shape, len(value), path, "items")
        for index, item in enumerate(value):
            yield from _beyond_the_model(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _beyond_the_model(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        enum = shape.enum  # type: ignore[attr-defined]  # StringShape
        if enum and value not in enum:
            yield Problem(path, f"{value!r} is not one of {', '.join(enum)}")
        yield from _bounds(shape, len(value), path, "characters")
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            yield Problem(path, f"{value!r} does not match {shape.metadata['pattern']}")
    elif shape.type_name in ("integer", "long", "double", "float") and isinstance(value, int | float):
        maximum = shape.metadata.get("max")
        if maximum is not None and value > maximum:
            yield Problem(path, f"{value} is more than {maximum}")


def _bounds(shape: Shape, size: int, path: str, what: str) -> Iterator[Problem]:
    maximum = shape.metadata.get("max")
    if maximum is not None and size > maximum:
        yield Problem(path, f"{size} {what}, at most {maximum} allowed")


@functools.cache
def _pattern(text: str | None) -> re.Pattern[str] | None:
    """The model's (Java) pattern as a Python regex; None when Python's re cannot express it (\\p{...} classes)."""
    if not text:
        return None
    try:
        return re.compile(text.replace(r"\z", r"\Z"))
    except re.error:
        return None


@functools.cache
def quicksight_model() -> ServiceModel:
    """QuickSight's botocore service model, loaded once (reading it costs a JSON parse of several MB)."""
    return botocore.session.get_session().get_service_model("quicksight")
