"""Great Expectations 1.24.1, minus its costliest repetition: each kwarg lookup rebuilt the whole configuration.

`Expectation.configuration` is a property that builds a new ExpectationConfiguration (a pydantic `dict()`
and a regex over the class name) on every read, and the kwarg helpers read it once per key: ~80 builds per
expectation per validation, 40 % of validating a small partition. The replacements below read it once per
helper call and memoise the class-name regex. Then every metric of every validation hashes its kwargs
(`IDDict.to_id`: JSON-normalise, dump, md5) though nine in ten are the same few dicts of plain values: those
ids are remembered, keyed by each value's exact type too (1, 1.0 and True name different ids). Everything
else is GE's code, line for line. They are installed only on the pinned version (`PINNED`), and
tests/unit/test_ge_speedups.py compares their answers with GE's on every expectation of every suite.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from great_expectations.core.id_dict import IDDict
from great_expectations.expectations import expectation as _module
from great_expectations.expectations.expectation import Expectation, parse_result_format

PINNED = "1.24.1"
ORIGINALS = {
    name: getattr(Expectation, name)
    for name in ("_get_success_kwarg", "_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs")
}
_CAMEL_TO_SNAKE = _module.camel_to_snake
ORIGINAL_TO_ID = IDDict.to_id
_PLAIN = frozenset({str, int, float, bool, type(None)})
_IDS: dict[tuple[Any, ...], Any] = {}
_MAX_IDS = 10_000
_log = logging.getLogger(_module.__name__)  # GE's own logger, for GE's own warning


def _default(self: Expectation, key: str, default: Any = None) -> Any:
    """`_get_success_kwarg`'s answer for a key the configuration does not hold."""
    field = self.__fields__.get(key)
    if field is not None:
        return field.default if not field.required else default
    _log.warning(f'_get_success_kwarg called with key "{key}", but it is not a known field of {type(self).__name__}')
    return default


def _get_success_kwarg(self: Expectation, key: str, default: Any = None) -> Any:
    kwargs = self.configuration.kwargs
    return kwargs[key] if key in kwargs else _default(self, key, default)


def _get_domain_kwargs(self: Expectation) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _get_success_kwargs(self: Expectation) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update({key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys})
    return success


def _get_runtime_kwargs(self: Expectation, runtime_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    success = _get_success_kwargs(self)
    runtime = {
        key: runtime_configuration.get(key, kwargs[key] if key in kwargs else _default(self, key)) for key in self.runtime_keys
    }
    runtime.update(success)
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


def _to_id(self: IDDict, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
    if (
        id_keys is not None
        or id_ignore_keys is not None
        or not all(type(k) is str and type(v) in _PLAIN for k, v in self.items())
    ):
        return ORIGINAL_TO_ID(self, id_keys, id_ignore_keys)
    key = (type(self), frozenset(self._id_ignore_keys), tuple(sorted((k, type(v).__name__, v) for k, v in self.items())))
    found = _IDS.get(key)
    if found is None:
        if len(_IDS) >= _MAX_IDS:
            _IDS.clear()
        found = _IDS[key] = ORIGINAL_TO_ID(self)
    return found


def install(version: str) -> bool:
    """Install the replacements if `version` is the one they were written against; say whether they are in."""
    if version != PINNED:
        _log.debug("ge_speedups: GE %s is not %s, left as it is", version, PINNED)
        return False
    Expectation._get_success_kwarg = _get_success_kwarg  # type: ignore[method-assign]
    Expectation._get_domain_kwargs = _get_domain_kwargs  # type: ignore[method-assign]
    Expectation._get_success_kwargs = _get_success_kwargs  # type: ignore[method-assign]
    Expectation._get_runtime_kwargs = _get_runtime_kwargs  # type: ignore[method-assign]
    _module.camel_to_snake = functools.lru_cache(maxsize=None)(_CAMEL_TO_SNAKE)
    IDDict.to_id = _to_id  # type: ignore[method-assign]
    return True
