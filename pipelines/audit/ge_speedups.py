"""Great Expectations 1.24.1, minus its costliest repetition: each kwarg lookup rebuilt the whole configuration.

`Expectation.configuration` is a property that builds a new ExpectationConfiguration (a pydantic `dict()`
and a regex over the class name) on every read, and the kwarg helpers read it once per key: ~80 builds per
expectation per validation, 40 % of validating a small partition. The replacements below read it once per
helper call and memoise the class-name regex. Then every metric of every validation hashes its kwargs
(`IDDict.to_id`: JSON-normalise, dump, md5) though nine in ten are the same few dicts of plain values: those
ids are remembered, keyed by each value's exact type too (1, 1.0 and True name different ids). And each metric an
expectation needs rebuilt the expectation from its configuration and the configuration from it again
(`get_metric_kwargs`, ~100 round trips per validation): its runtime kwargs are remembered the same way (another
~15 % of a small validation); and each of those metrics filtered the batch by the expectation's row condition
again (`DataFrame.query`, ~10 ms each): the filtered rows are kept while that batch is validated (another ~15 %).
Each `configuration` read walked the expectation's fields with pydantic (`dict(exclude_defaults=True)`): those are
remembered per field values (a new configuration is still built per read); and ExpectColumnValuesToBeOfType resolves
the frame's column types itself, outside the validation graph, once per expectation: once per frame now (with the
metric ids' keys built by C loops, ~7 % fewer Python calls in a round of every suite on empty tables).
Everything else is GE's code, line for line. They are installed only on the pinned version (`PINNED`), and
tests/unit/test_ge_speedups.py compares their answers with GE's on every expectation of every suite.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from typing import Any

from great_expectations.core.id_dict import IDDict
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations import expectation as _module
from great_expectations.expectations import registry as _registry
from great_expectations.expectations.core import expect_column_values_to_be_in_type_list as _in_type_list
from great_expectations.expectations.core import expect_column_values_to_be_of_type as _of_type
from great_expectations.expectations.expectation import Expectation, parse_result_format
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.row_conditions import PassThroughCondition

PINNED = "1.24.1"
ORIGINALS = {
    name: getattr(Expectation, name)
    for name in ("_get_success_kwarg", "_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs")
}
_CAMEL_TO_SNAKE = _module.camel_to_snake
ORIGINAL_TO_ID = IDDict.to_id
_PLAIN = frozenset({str, int, float, bool, type(None)})
_KEYS = frozenset({str})
_IDS: dict[tuple[Any, ...], Any] = {}
_MAX_IDS = 10_000
ORIGINAL_GET_METRIC_KWARGS = _registry.get_metric_kwargs
_METRIC_KWARGS_USERS = (_registry, _module, _in_type_list, _of_type)  # modules that bound the name at import
_RUNTIME: dict[tuple[Any, ...], dict[str, Any]] = {}
_FIELDS: dict[tuple[Any, ...], dict[str, Any]] = {}
ORIGINAL_CONFIGURATION = Expectation.configuration
ORIGINAL_ROW_FILTER = PandasExecutionEngine._apply_row_condition_filter
ORIGINAL_RESOLVE_METRICS = PandasExecutionEngine.resolve_metrics


class _Filtered(threading.local):
    """Per thread (two threads validating at once never see each other's rows): the frame being validated, and
    (condition, parser) -> its rows that meet the condition; the frame whose column types were resolved, and
    metric id -> those types."""

    def __init__(self) -> None:
        self.frame: Any = None
        self.rows: dict[tuple[Any, ...], Any] = {}
        self.types_frame: Any = None
        self.types: dict[Any, dict[Any, Any]] = {}


_FILTERED = _Filtered()
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


def _success_kwargs(self: Expectation, kwargs: dict[str, Any]) -> dict[str, Any]:
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update({key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys})
    return success


def _get_success_kwargs(self: Expectation) -> dict[str, Any]:
    return _success_kwargs(self, self.configuration.kwargs)


def _get_runtime_kwargs(self: Expectation, runtime_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs  # one configuration built for both (GE's reads build one each)
    success = _success_kwargs(self, kwargs)
    runtime = {
        key: runtime_configuration.get(key, kwargs[key] if key in kwargs else _default(self, key)) for key in self.runtime_keys
    }
    runtime.update(success)
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


def _frozen(value: Any) -> Any:
    """A hashable key for plain JSON-like `value`, each leaf with its exact type (1, 1.0 and True differ); None if
    it holds anything else (a datetime, a NaN, a condition object: not remembered)."""
    kind = type(value)
    if kind in _PLAIN:
        return None if kind is float and value != value else (kind, value)
    if isinstance(value, enum.Enum):  # a member is itself and immutable (GE's result formats, severities)
        return (kind, value)
    if kind is dict:
        items = tuple((k, _frozen(v)) for k, v in value.items())
        return None if any(type(k) is not str or f is None for k, f in items) else (dict, tuple(sorted(items)))
    if kind is list or kind is tuple:
        items = tuple(_frozen(v) for v in value)
        return None if any(f is None for f in items) else (kind, items)
    return None


def _runtime_kwargs(configuration: ExpectationConfiguration, runtime_configuration: dict[str, Any] | None) -> dict[str, Any]:
    """`configuration.to_domain_obj()._get_runtime_kwargs(runtime_configuration)`, which GE computes once per metric
    an expectation needs (a pydantic model built from the configuration, then a configuration from the model):
    remembered per type, kwargs and runtime configuration when all are plain values, and handed out as copies."""
    kwargs, runtime = _frozen(configuration.kwargs), _frozen(runtime_configuration)
    if kwargs is None or runtime is None:
        return configuration.to_domain_obj()._get_runtime_kwargs(runtime_configuration=runtime_configuration)
    return _remembered(
        _RUNTIME,
        (configuration.type, kwargs, runtime),
        lambda: configuration.to_domain_obj()._get_runtime_kwargs(runtime_configuration=runtime_configuration),
    )


def _remembered(cache: dict[Any, Any], key: Any, compute: Any) -> Any:
    """`compute()`, kept under `key` when its leaves are immutable (else not kept), and handed out as a copy."""
    found = cache.get(key)
    if found is None:
        found = compute()
        if not _immutable_leaves(found):
            return found
        if len(cache) >= _MAX_IDS:
            cache.clear()
        cache[key] = found
    return _copy(found)


def _fields(expectation: Expectation) -> dict[str, Any]:
    """`expectation.dict(exclude_defaults=True)` (pydantic walking every field, ~3/4 of building a configuration),
    remembered per type and field values when they are plain, and handed out as copies."""
    state = _frozen(expectation.__dict__)
    if state is None:
        return expectation.dict(exclude_defaults=True)
    return _remembered(_FIELDS, (type(expectation), state), lambda: expectation.dict(exclude_defaults=True))


def _configuration(self: Expectation) -> ExpectationConfiguration:
    """GE's `Expectation.configuration` line for line, but for where the fields come from: a new configuration on
    every read, as GE's (a result's copy of it is changed when it is rendered)."""
    kwargs = _fields(self)
    meta = kwargs.pop("meta", None)
    notes = kwargs.pop("notes", None)
    description = kwargs.pop("description", None)
    severity = kwargs.pop("severity", _module.FailureSeverity.CRITICAL)
    id = kwargs.pop("id", None)
    rendered_content = kwargs.pop("rendered_content", None)
    return ExpectationConfiguration(
        type=_module.camel_to_snake(self.__class__.__name__),
        kwargs=kwargs,
        meta=meta,
        notes=notes,
        description=description,
        severity=severity,
        id=id,
        rendered_content=rendered_content,
    )


def _immutable_leaves(value: Any) -> bool:
    if type(value) in (dict, list, tuple):
        return all(_immutable_leaves(v) for v in (value.values() if type(value) is dict else value))
    return type(value) in _PLAIN or isinstance(value, enum.Enum)


def _copy(value: Any) -> Any:
    """A copy of `value`'s containers; its leaves (plain values, enum members) are immutable and shared."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind is tuple:
        return tuple(_copy(v) for v in value)
    return value


def _get_metric_kwargs(
    metric_name: str, configuration: ExpectationConfiguration | None = None, runtime_configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GE's `registry.get_metric_kwargs` line for line, but for where the runtime kwargs come from."""
    if not configuration:
        return ORIGINAL_GET_METRIC_KWARGS(metric_name, configuration, runtime_configuration)
    try:
        metric_definition = _registry._registered_metrics.get(metric_name)
        if metric_definition is None:
            raise _registry.gx_exceptions.MetricProviderError(f"No definition found for {metric_name}")
        default_kwarg_values = metric_definition["default_kwarg_values"]
        metric_kwargs: dict[str, Any] = {
            "metric_domain_keys": metric_definition["metric_domain_keys"],
            "metric_value_keys": metric_definition["metric_value_keys"],
        }
        configuration_kwargs = _runtime_kwargs(configuration, runtime_configuration)
        if "batch_id" in metric_kwargs["metric_domain_keys"] and configuration_kwargs.get("batch_id") is None:
            configuration_kwargs["batch_id"] = configuration.kwargs.get("batch_id")
        if len(metric_kwargs["metric_domain_keys"]) > 0:
            metric_domain_kwargs = IDDict(
                {k: configuration_kwargs.get(k) or default_kwarg_values.get(k) for k in metric_kwargs["metric_domain_keys"]}
            )
        else:
            metric_domain_kwargs = IDDict()
        if len(metric_kwargs["metric_value_keys"]) > 0:
            metric_value_kwargs = IDDict(
                {
                    k: configuration_kwargs.get(k) if configuration_kwargs.get(k) is not None else default_kwarg_values.get(k)
                    for k in metric_kwargs["metric_value_keys"]
                }
            )
        else:
            metric_value_kwargs = IDDict()
        metric_kwargs["metric_domain_kwargs"] = metric_domain_kwargs
        metric_kwargs["metric_value_kwargs"] = metric_value_kwargs
        return metric_kwargs
    except KeyError as error:
        raise _registry.gx_exceptions.MetricProviderError(f"Incomplete definition found for {metric_name}") from error


def _apply_row_condition_filter(self: PandasExecutionEngine, data: Any, row_condition: Any, domain_kwargs: dict[str, Any]) -> Any:
    """GE's row-condition filter (`DataFrame.query`, ~10 ms to parse and evaluate), once per condition and batch:
    every metric of an expectation with a row condition filtered the same frame again. Frames are copy-on-write
    (pandas 3), so a caller changing what it gets changes its own copy, never the remembered rows."""
    if type(row_condition) is dict and (frozen := _frozen(row_condition)) is not None:
        key: tuple[Any, ...] = ("dict", frozen, domain_kwargs.get("condition_parser"))
    elif isinstance(row_condition, PassThroughCondition):
        key = ("pass_through", row_condition.pass_through_filter)
    elif isinstance(row_condition, str):
        key = ("string", row_condition, domain_kwargs.get("condition_parser"))
    else:
        return ORIGINAL_ROW_FILTER(self, data, row_condition, domain_kwargs)
    cache = _FILTERED
    if cache.frame is not data:
        cache.frame, cache.rows = data, {}
    if key not in cache.rows:
        cache.rows[key] = ORIGINAL_ROW_FILTER(self, data, row_condition, domain_kwargs)
    return cache.rows[key].copy(deep=False)


def _resolve_metrics(
    self: PandasExecutionEngine,
    metrics_to_resolve: Any,
    metrics: dict[Any, Any] | None = None,
    runtime_configuration: dict[str, Any] | None = None,
) -> dict[Any, Any]:
    """GE's `resolve_metrics`, but the frame's column types are resolved once per frame: ExpectColumnValuesToBeOfType
    resolves them itself, outside the validation graph that would share them, once per expectation (a `dtypes`
    and a list of every column's each time; a suite has one per column). Handed out as copies."""
    config = metrics_to_resolve[0] if type(metrics_to_resolve) is list and len(metrics_to_resolve) == 1 else None
    if (
        config is None
        or metrics
        or runtime_configuration
        or config.metric_name != "table.column_types"
        or any(v is not None for k, v in config.metric_domain_kwargs.items() if k != "batch_id")
    ):
        return ORIGINAL_RESOLVE_METRICS(self, metrics_to_resolve, metrics, runtime_configuration)
    batch_id = config.metric_domain_kwargs.get("batch_id")
    batches = self.batch_manager
    data = batches.batch_data_cache.get(batch_id) if batch_id is not None else batches.active_batch_data
    frame = getattr(data, "dataframe", None)
    if frame is None:
        return ORIGINAL_RESOLVE_METRICS(self, metrics_to_resolve, metrics, runtime_configuration)
    cache = _FILTERED
    if cache.types_frame is not frame:  # held, so its id is not another frame's while remembered
        cache.types_frame, cache.types = frame, {}
    if config.id not in cache.types:
        cache.types[config.id] = ORIGINAL_RESOLVE_METRICS(self, metrics_to_resolve)
    return {key: [dict(column) for column in value] for key, value in cache.types[config.id].items()}


def release() -> None:
    """Forget this thread's filtered rows and column types (and the frames they are of): a validation is over."""
    _FILTERED.frame, _FILTERED.rows = None, {}
    _FILTERED.types_frame, _FILTERED.types = None, {}


def _to_id(self: IDDict, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
    if id_keys is not None or id_ignore_keys is not None:
        return ORIGINAL_TO_ID(self, id_keys, id_ignore_keys)
    kinds = tuple(map(type, self.values()))
    if not _PLAIN.issuperset(kinds) or not _KEYS.issuperset(map(type, self)):
        return ORIGINAL_TO_ID(self, id_keys, id_ignore_keys)
    # In the dict's own order (the same dict in another order is another entry with the same id), each value with its
    # exact type (1, 1.0 and True are different ids): built with C loops, as the lookup is made for every metric.
    key = (type(self), tuple(self._id_ignore_keys), tuple(self.items()), kinds)
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
    Expectation._get_success_kwarg = _get_success_kwarg
    Expectation._get_domain_kwargs = _get_domain_kwargs
    Expectation._get_success_kwargs = _get_success_kwargs
    Expectation._get_runtime_kwargs = _get_runtime_kwargs
    Expectation.configuration = property(_configuration)
    _module.camel_to_snake = functools.lru_cache(maxsize=None)(_CAMEL_TO_SNAKE)
    IDDict.to_id = _to_id
    for module in _METRIC_KWARGS_USERS:
        module.get_metric_kwargs = _get_metric_kwargs
    PandasExecutionEngine._apply_row_condition_filter = _apply_row_condition_filter
    PandasExecutionEngine.resolve_metrics = _resolve_metrics
    return True
