"""Pydantic v1's field copies, made without the generic machinery: a quarter of Great Expectations' import.

GE 1.x builds ~320 pydantic v1 models when it is imported (60 expectation classes, checkpoint actions, fluent
datasources and their generated pandas assets), and pydantic v1 gives every subclass a deep copy of its bases'
fields (`smart_deepcopy(base.__fields__)`): ~3,800 `ModelField`s and as many `FieldInfo`s, each copied by
`copy.deepcopy`'s generic route for objects (`__reduce_ex__`, a state tuple of a slots dict, deep-copied, then set
back attribute by attribute). That took ~0.4 CPU-s of GE's ~1.2 s import, in every process that audits.

`__deepcopy__` below does what that route does for these two slotted classes, slot by slot (the same values,
deep-copied with the same memo, set in the same order with `setattr`), without building and copying the
intermediate state: ~0.1 s. It is installed only where the route it replaces is the one deepcopy would take (no
`__dict__`, no own `__getstate__`/`__setstate__`/`__reduce__`/`__deepcopy__`), and a subclass falls back to it.
tests/unit/test_field_copies.py compares both routes' copies of every field of every model GE defines.
"""

from __future__ import annotations

import copy
import copyreg
from collections.abc import Callable
from typing import Any

# What a class must not define (or inherit from anything but `object`) for deepcopy to take the generic route.
_OWN_COPY_PROTOCOL = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__deepcopy__", "__copy__")


def generic_route(cls: type) -> bool:
    """True when `copy.deepcopy` copies instances of `cls` through `object.__reduce_ex__` and its slots alone."""
    if "__dict__" in dir(cls) or not hasattr(cls, "__slots__"):
        return False
    return all(getattr(cls, name, None) is getattr(object, name, None) for name in _OWN_COPY_PROTOCOL)


def slot_copier(cls: Any) -> Callable[[Any, dict[int, Any]], Any]:
    """A `__deepcopy__` for `cls` equal to deepcopy's generic route (`copy._reconstruct` with a slots state)."""
    names = tuple(copyreg._slotnames(cls))  # type: ignore[attr-defined]  # what object.__getstate__ reads, in its order
    deepcopy = copy.deepcopy

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        if type(self) is not cls:  # a subclass may add state of its own: the generic route, as before
            return copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # type: ignore[attr-defined]
        new = copyreg.__newobj__(cls)  # type: ignore[attr-defined]  # as the generic route makes it
        memo[id(self)] = new  # before the values, as _reconstruct does: a value may refer back to this field
        for name in names:
            try:
                value = getattr(self, name)
            except AttributeError:  # an unset slot is left out of the state, and stays unset in the copy
                continue
            setattr(new, name, deepcopy(value, memo))
        return new

    return __deepcopy__


def install() -> list[str]:
    """Give pydantic v1's ModelField and FieldInfo the copier, where it is equal to the generic route; say which."""
    from pydantic.v1.fields import FieldInfo, ModelField

    installed = []
    classes: tuple[Any, ...] = (ModelField, FieldInfo)
    for cls in classes:
        if generic_route(cls):
            cls.__deepcopy__ = slot_copier(cls)
            installed.append(cls.__name__)
    return installed
