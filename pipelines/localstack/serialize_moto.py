"""Speeds moto's answering of a request (reversibly): what depends only on a class, a model shape and a member's name
is worked out once, not for every member of every response.

moto 5.x serialises a response member by member, and for each member asks six alias providers (each a new object)
which attribute names it may have on the Python object holding the answer: ~6 % of the emulator's time in a night's
tests (a Glue table or partition has dozens of members). The names depend on the picker, the object's class, the
member's shape (and the structure it sits in) and its key alone, so they are remembered per such key; the shapes are
those of moto's cached service models, so the memo is bounded by the models. Objects whose class answers attributes
dynamically (`__getattr__`) are asked every time, as before.

And `call_action` listed every function of the response class (`inspect.getmembers`, hundreds for S3) on every
request, only to ask whether the action names one of them (~5 %): the membership is asked directly instead.
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.core import responses
from moto.core.serialize import MISSING, AttributePicker, AttributePickerContext
from moto.core.utils import get_value

from pipelines.localstack.moto_patch import MethodPatch

_KEYS: dict[tuple[Any, ...], tuple[str, ...]] = {}  # threads may both compute a key's names: the same tuple


def possible_keys(picker: AttributePicker, context: AttributePickerContext) -> tuple[str, ...]:
    """`picker.get_possible_keys(context)`, remembered where its inputs are all static."""
    obj_type = type(context.obj)
    if getattr(obj_type, "__getattr__", None) is not None:
        return tuple(picker.get_possible_keys(context))
    shape = context.shape
    memo = (type(picker), tuple(picker.alias_providers), obj_type, shape, getattr(shape, "parent", None), context.key)
    keys = _KEYS.get(memo)
    if keys is None:
        keys = _KEYS[memo] = tuple(picker.get_possible_keys(context))
    return keys


def _pick(self: AttributePicker, context: AttributePickerContext) -> Any:
    """moto's `AttributePicker.__call__`, the possible keys remembered."""
    obj = context.obj
    for possible_key in possible_keys(self, context):
        value = get_value(obj, possible_key, MISSING)
        if value is not MISSING:
            break
    else:
        value = None
    key_path = f"{context.key_path}.{context.key}"
    for transform_path, transform in self.response_transformers.items():
        if key_path.endswith(transform_path):
            value = transform(value)
            break
    return value


class FunctionNames:
    """The names of a class's functions, as a container `in` asks (what `method_names_from_class` listed)."""

    def __init__(self, clazz: type) -> None:
        self._class = clazz

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._class, name, None))


PATCH = MethodPatch([(AttributePicker, "__call__", _pick), (responses, "method_names_from_class", FunctionNames)])
