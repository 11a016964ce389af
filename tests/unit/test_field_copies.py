"""Pydantic v1's fields copied slot by slot are the copies deepcopy's generic route made, for every model GE defines."""

from __future__ import annotations

import copy
import copyreg
import types
import typing
from typing import Any

import pytest
from pydantic.v1 import BaseModel
from pydantic.v1.fields import FieldInfo, ModelField

from pipelines.audit import field_copies
from pipelines.audit.ge_import import great_expectations


def _generic(value: Any) -> Any:
    """deepcopy as it is without the copier: the object route for a field, through the same memo."""
    memo: dict[int, Any] = {}
    return copy._reconstruct(value, memo, *value.__reduce_ex__(4))  # type: ignore[attr-defined]


# typing's aliases are immutable and typing caches them: which copy of one a field holds does not matter.
_IMMUTABLE_TYPES = {"typing", "types", "typing_extensions"}
_UNORDERED = {typing.Union, types.UnionType, typing.Literal}


def _shape(value: Any, seen: dict[int, int]) -> Any:
    """What a copy must preserve: every slot's value, containers element by element, sharing of mutable parts
    within the copy (one met again is named by the order it was first met), leaves by equality or identity."""
    if id(value) in seen:
        return ("again", seen[id(value)])
    if isinstance(value, (ModelField, FieldInfo, dict, list, set)):  # mutable: sharing is part of the copy
        seen[id(value)] = len(seen)
    if isinstance(value, (ModelField, FieldInfo)):
        slots = [n for n in copyreg._slotnames(type(value)) if hasattr(value, n)]  # type: ignore[attr-defined]
        return (type(value), tuple((n, _shape(getattr(value, n), seen)) for n in slots))
    if isinstance(value, dict):
        return (dict, tuple((k, _shape(v, seen)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_shape(v, seen) for v in value))
    if isinstance(value, set):
        return (set, frozenset(value))
    kind = type(value)
    if copy._deepcopy_dispatch.get(kind) is copy._deepcopy_atomic or isinstance(value, type):  # type: ignore[attr-defined]
        return (kind, value)  # deepcopy shares these: the same object
    if typing.get_origin(value) in _UNORDERED:  # equal whatever their order, and typing's cache may hand back either
        return (typing.get_origin(value), tuple(sorted((_shape(a, dict(seen)) for a in typing.get_args(value)), key=repr)))
    reductor = copyreg.dispatch_table.get(kind)  # how deepcopy copies anything else (a Validator, typing's aliases)
    reduced = reductor(value) if reductor else value.__reduce_ex__(4)
    if isinstance(reduced, str):
        return (kind, value)  # a global by name: deepcopy shares it
    if kind.__module__ not in _IMMUTABLE_TYPES:
        seen[id(value)] = len(seen)
    return (kind, reduced[0], _shape(reduced[1], seen), _shape(reduced[2] if len(reduced) > 2 else None, seen))


def _mutables(value: Any, found: set[int] | None = None) -> set[int]:
    """ids of every field, field info and container reachable through fields and containers."""
    found = set() if found is None else found
    if id(value) in found or not isinstance(value, (ModelField, FieldInfo, dict, list, set)):
        return found
    found.add(id(value))
    if isinstance(value, (ModelField, FieldInfo)):
        children = [getattr(value, n) for n in copyreg._slotnames(type(value)) if hasattr(value, n)]  # type: ignore[attr-defined]
    else:
        children = list(value.values()) if isinstance(value, dict) else list(value)
    for child in children:
        _mutables(child, found)
    return found


def _models() -> list[type[BaseModel]]:
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def test_every_field_of_every_ge_model_copies_as_the_generic_route_does() -> None:
    great_expectations()  # installs the copier, then builds GE's ~320 models with it (unless GE was imported before)
    field_copies.install()
    assert field_copies.install() == []  # in: not installed twice
    assert "__deepcopy__" in ModelField.__dict__ and "__deepcopy__" in FieldInfo.__dict__
    every = [field for model in _models() for field in model.__fields__.values()]
    fields = list({repr(field): field for field in every}.values())  # most are inherited copies of the same few
    assert len(every) > 3_000 and len(fields) > 300
    for field in fields:
        fast, generic = copy.deepcopy(field), _generic(field)
        assert _shape(fast, {}) == _shape(generic, {}) == _shape(field, {}), field
        assert not (_mutables(fast) & _mutables(field)), f"{field}: the copy shares a mutable part with the original"
    # A field with private state of its own changes in the copy only.
    field = fields[0]
    copied = copy.deepcopy(field)
    copied.field_info.alias = "changed"
    copied.class_validators["added"] = None
    assert field.field_info.alias != "changed" and "added" not in field.class_validators


def test_copies_through_one_memo_share_what_the_originals_share() -> None:
    great_expectations()
    model = next(m for m in _models() if len(m.__fields__) > 3)
    fields = dict(model.__fields__)
    fields["twice"] = next(iter(fields.values()))  # the same field under two names
    fast = copy.deepcopy(fields)
    assert fast["twice"] is fast[next(iter(fields))]
    assert _shape(fast, {}) == _shape(fields, {})


class _Subclass(ModelField):
    """A subclass with a __dict__ of its own: the copier must not drop it."""


def test_a_subclass_and_a_class_with_its_own_protocol_take_the_generic_route() -> None:
    great_expectations()
    field = next(iter(_models()[0].__fields__.values()))
    sub = _Subclass.__new__(_Subclass)
    for name in copyreg._slotnames(ModelField):  # type: ignore[attr-defined]
        if hasattr(field, name):
            setattr(sub, name, getattr(field, name))
    sub.extra = ["state"]
    copied = copy.deepcopy(sub)
    assert type(copied) is _Subclass and copied.extra == ["state"] and copied.extra is not sub.extra
    assert _shape(copied, {}) == _shape(sub, {})

    class Stateful:
        __slots__ = ("a",)

        def __getstate__(self) -> Any:
            return None

    class Plain:
        pass

    assert not field_copies.generic_route(Stateful) and not field_copies.generic_route(Plain)


@pytest.mark.parametrize("cls", [ModelField, FieldInfo])
def test_the_fields_pydantic_defines_are_on_the_generic_route_before_the_copier(cls: type) -> None:
    """If pydantic gave these classes a copy protocol of their own, install() must leave them alone."""
    great_expectations()
    saved = cls.__dict__.get("__deepcopy__")
    assert saved is not None
    del cls.__deepcopy__  # type: ignore[attr-defined]
    try:
        assert field_copies.generic_route(cls)
    finally:
        cls.__deepcopy__ = saved  # type: ignore[attr-defined]
