"""Check an analysis or dashboard Definition against its datasets, beyond what botocore's model can say.

QuickSight refuses a definition whose visuals name a column their dataset does not have, two
fields with one FieldId, a layout element that is not a visual of its sheet, or a control whose
filter does not exist; with STRICT validation the whole create fails, without it the visual is
broken. Here those are found before any call, each named by its path in the definition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipelines.publish.quicksight.check import Problem

# What a dataset offers the analysis: its input columns plus the columns its transforms create.
DatasetColumns = Mapping[str, set[str]]  # dataset identifier of the definition -> column names


def dataset_columns(request: Mapping[str, Any]) -> set[str]:
    """The columns a CreateDataSet request gives an analysis: input columns, renamed and created ones."""
    names: set[str] = set()
    for table in request.get("PhysicalTableMap", {}).values():
        for kind in ("RelationalTable", "CustomSql", "S3Source"):
            names |= {c["Name"] for c in table.get(kind, {}).get("InputColumns", [])}
    for logical in request.get("LogicalTableMap", {}).values():
        for transform in logical.get("DataTransforms", []):
            if "RenameColumnOperation" in transform:
                rename = transform["RenameColumnOperation"]
                names = (names - {rename["ColumnName"]}) | {rename["NewColumnName"]}
            for created in transform.get("CreateColumnsOperation", {}).get("Columns", []):
                names.add(created["ColumnName"])
            if "ProjectOperation" in transform:
                names &= set(transform["ProjectOperation"]["ProjectedColumns"])
    return names


def check_definition(definition: Mapping[str, Any], columns: DatasetColumns, where: str = "Definition") -> list[Problem]:
    """Every problem of `definition` given what each of its datasets (by identifier) has; empty when none."""
    declared = {d["Identifier"] for d in definition.get("DataSetIdentifierDeclarations", [])}
    offered = {i: set(columns.get(i, set())) for i in declared}
    for field in definition.get("CalculatedFields", []):
        offered.setdefault(field["DataSetIdentifier"], set()).add(field["Name"])
    problems = [
        Problem(f"{where}.DataSetIdentifierDeclarations", f"no dataset for identifier {i!r}")
        for i in sorted(declared - set(columns))
    ]
    problems += list(_columns(definition, where, declared, offered))
    problems += list(_field_ids(definition, where))
    problems += list(_layouts_and_controls(definition, where))
    problems += list(_scopes(definition, where))
    return problems


def _walk(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping of a JSON document, with its path."""
    if isinstance(value, Mapping):
        yield path, value
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _columns(definition: Mapping[str, Any], where: str, declared: set[str], offered: Mapping[str, set[str]]) -> Iterator[Problem]:
    for part in ("Sheets", "FilterGroups", "ParameterDeclarations"):
        for path, node in _walk(definition.get(part, []), f"{where}.{part}"):
            column = node.get("Column")
            if not isinstance(column, Mapping) or "DataSetIdentifier" not in column:
                continue
            dataset, name = column["DataSetIdentifier"], column.get("ColumnName")
            if dataset not in declared:
                yield Problem(f"{path}.Column", f"dataset identifier {dataset!r} is not declared")
            elif name not in offered.get(dataset, set()):
                yield Problem(f"{path}.Column", f"dataset {dataset!r} has no column {name!r}")


def _field_ids(definition: Mapping[str, Any], where: str) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for path, node in _walk(definition.get("Sheets", []), f"{where}.Sheets"):
        field_id = node.get("FieldId")
        if isinstance(field_id, str) and "Column" in node:
            if field_id in seen:
                yield Problem(path, f"FieldId {field_id!r} is used twice (first at {seen[field_id]})")
            seen.setdefault(field_id, path)


def _layouts_and_controls(definition: Mapping[str, Any], where: str) -> Iterator[Problem]:
    filters = {
        f[kind]["FilterId"] for group in definition.get("FilterGroups", []) for f in group.get("Filters", []) for kind in f
    }
    visual_ids: set[str] = set()
    for index, sheet in enumerate(definition.get("Sheets", [])):
        path = f"{where}.Sheets[{index}]"
        visuals = [next(iter(v.values()))["VisualId"] for v in sheet.get("Visuals", []) if v]
        for visual in visuals:
            if visual in visual_ids:
                yield Problem(path, f"VisualId {visual!r} is used twice")
            visual_ids.add(visual)
        controls = [next(iter(c.values())) for c in sheet.get("FilterControls", []) if c]
        known = set(visuals) | {c["FilterControlId"] for c in controls}
        for layout_path, node in _walk(sheet.get("Layouts", []), f"{path}.Layouts"):
            if "ElementId" in node and node["ElementId"] not in known:
                yield Problem(
                    layout_path, f"layout element {node['ElementId']!r} is no visual or control of sheet {sheet.get('Name')!r}"
                )
        for control_index, control in enumerate(controls):
            if control.get("SourceFilterId") not in filters:
                yield Problem(
                    f"{path}.FilterControls[{control_index}]", f"control names no filter {control.get('SourceFilterId')!r}"
                )


def _scopes(definition: Mapping[str, Any], where: str) -> Iterator[Problem]:
    sheets = {
        sheet["SheetId"]: {next(iter(v.values()))["VisualId"] for v in sheet.get("Visuals", []) if v}
        for sheet in definition.get("Sheets", [])
    }
    for index, group in enumerate(definition.get("FilterGroups", [])):
        scoped = group.get("ScopeConfiguration", {}).get("SelectedSheets", {}).get("SheetVisualScopingConfigurations", [])
        for scope_index, scope in enumerate(scoped):
            path = (
                f"{where}.FilterGroups[{index}].ScopeConfiguration.SelectedSheets.SheetVisualScopingConfigurations[{scope_index}]"
            )
            if scope["SheetId"] not in sheets:
                yield Problem(path, f"no sheet {scope['SheetId']!r}")
                continue
            for visual in sorted(set(scope.get("VisualIds", [])) - sheets[scope["SheetId"]]):
                yield Problem(path, f"sheet {scope['SheetId']!r} has no visual {visual!r}")
