"""GE's kwarg helpers, reading the configuration once: the same answers as GE's own on every suite's expectations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pipelines.audit.ge_import import great_expectations

# GE as the pipeline imports it (its unused modules deferred, pydantic's field copier in), before this module's own
# imports of it: collecting this module is what first imports GE in every test worker.
gx = great_expectations()

from great_expectations.core.id_dict import IDDict  # noqa: E402
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine  # noqa: E402

from pipelines.audit import ge_speedups  # noqa: E402
from pipelines.audit.engine import RESULT_FORMAT, Validator  # noqa: E402
from pipelines.audit.suites import ge_expectation, load_suites  # noqa: E402

RUNTIMES = (None, {}, RESULT_FORMAT, {"catch_exceptions": False, "result_format": "COMPLETE"})


def test_every_helper_answers_as_ges_own_on_every_expectation_of_every_suite() -> None:
    original = ge_speedups.ORIGINALS
    checked = 0
    for table, suite in load_suites().items():
        for i, spec in enumerate(suite.expectations):
            where = f"{table} #{i} {spec.type}"
            e = ge_expectation(spec, i)
            assert ge_speedups._get_domain_kwargs(e) == original["_get_domain_kwargs"](e), where
            assert ge_speedups._get_success_kwargs(e) == original["_get_success_kwargs"](e), where
            for runtime in RUNTIMES:
                assert ge_speedups._get_runtime_kwargs(e, runtime) == original["_get_runtime_kwargs"](e, runtime), where
            for key in sorted({*e.domain_keys, *e.success_keys, *e.runtime_keys, "row_condition"}):
                assert ge_speedups._get_success_kwarg(e, key, "d") == original["_get_success_kwarg"](e, key, "d"), where
            checked += 1
    assert checked > 300


def test_installed_by_the_validator_on_the_pinned_version_only() -> None:
    Validator()
    assert gx.__version__ == ge_speedups.PINNED  # a new GE: read its helpers again before moving PINNED
    expectation = gx.expectations.ExpectColumnValuesToNotBeNull(column="a")
    assert type(expectation)._get_runtime_kwargs is ge_speedups._get_runtime_kwargs
    assert not ge_speedups.install("0.0.0")


class _Ignoring(IDDict):
    _id_ignore_keys = {"batch_id"}


ID_DICTS = [
    IDDict({}),
    IDDict({"column": "a"}),
    IDDict({"column": "a", "batch_id": "b", "row_condition": None}),
    IDDict({"n": 1, "m": "x"}),
    IDDict({"n": True, "m": "x"}),  # True == 1 == 1.0: each its own id, as GE gives
    IDDict({"n": 1.0, "m": "x"}),
    IDDict({"n": float("nan"), "m": "x"}),
    IDDict({"column": "a", "parse_strings_as_datetimes": False, "mostly": 0.95}),
    IDDict({"value_set": ["a", "b"], "column": "c"}),  # not plain: GE's own path
    IDDict({"bounds": {"min": 1, "max": 2}, "column": "c"}),
    _Ignoring({"column": "a", "batch_id": "b", "x": 1}),
    _Ignoring({"column": "a", "batch_id": "other", "x": 1}),
]


def test_metric_ids_are_ges_own_remembered_or_not() -> None:
    for d in ID_DICTS:
        for _ in range(2):  # computed, then remembered
            assert ge_speedups._to_id(d) == ge_speedups.ORIGINAL_TO_ID(d), d
        assert ge_speedups._to_id(d, id_ignore_keys={"column"}) == ge_speedups.ORIGINAL_TO_ID(d, None, {"column"}), d
    ids = [ge_speedups._to_id(d) for d in ID_DICTS[3:6]]
    assert len(set(ids)) == 3  # 1, True and 1.0 are not one key


METRICS = ("table.row_count", "table.columns", "column_values.nonnull.unexpected_count", "column_values.in_set.condition")


def test_metric_kwargs_are_ges_own_remembered_or_not() -> None:
    checked = 0
    for table, suite in load_suites().items():
        for i, spec in enumerate(suite.expectations):
            where = f"{table} #{i} {spec.type}"
            configuration = ge_expectation(spec, i).configuration
            for runtime in RUNTIMES:
                own = ge_speedups.ORIGINALS["_get_runtime_kwargs"](configuration.to_domain_obj(), runtime)
                for _ in range(2):  # computed, then remembered
                    answer = ge_speedups._runtime_kwargs(configuration, runtime)
                    assert answer == own, where
                    answer["result_format"]["mutated"] = answer.pop("column", None)  # a caller's change stays its own
                for metric in METRICS:
                    assert ge_speedups._get_metric_kwargs(metric, configuration, runtime) == (
                        ge_speedups.ORIGINAL_GET_METRIC_KWARGS(metric, configuration, runtime)
                    ), (where, metric)
            checked += 1
    assert checked > 300
    assert ge_speedups._get_metric_kwargs("table.row_count") == ge_speedups.ORIGINAL_GET_METRIC_KWARGS("table.row_count")


def test_values_that_are_not_plain_are_not_remembered() -> None:
    assert ge_speedups._frozen({"a": [1, 1.0, True, None, "x"]}) is not None
    assert ge_speedups._frozen({"a": 1}) != ge_speedups._frozen({"a": 1.0}) != ge_speedups._frozen({"a": True})
    assert ge_speedups._frozen({"a": float("nan")}) is None
    assert ge_speedups._frozen({"a": [datetime(2027, 1, 1, tzinfo=UTC)]}) is None
    assert ge_speedups._frozen({1: "a"}) is None


CONDITIONS = (
    ({"pass_through_filter": 'y in ["b", "c"]', "type": "pass_through"}, {"condition_parser": "pandas"}),  # as GE hands it
    ({"pass_through_filter": "x > 1", "type": "pass_through"}, {"condition_parser": "pandas"}),
    ("x > 1", {"condition_parser": "pandas"}),
)


def test_row_filters_are_ges_own_per_frame_and_condition() -> None:
    Validator()  # installs the speed-ups
    engine = PandasExecutionEngine()
    a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    b = pd.DataFrame({"x": [5, 1, 7], "y": ["c", "a", "b"]})
    for frame in (a, b, a):
        for condition, kwargs in CONDITIONS:
            own = ge_speedups.ORIGINAL_ROW_FILTER(engine, frame, condition, kwargs)
            first = ge_speedups._apply_row_condition_filter(engine, frame, condition, kwargs)
            assert first.equals(own), (condition, frame)
            first.loc[:, "x"] = -1  # the caller's copy: neither the frame nor the remembered rows change
            assert ge_speedups._apply_row_condition_filter(engine, frame, condition, kwargs).equals(own), condition
    assert a["x"].tolist() == [1, 2, 3]
    ge_speedups.release()
    assert ge_speedups._FILTERED.frame is None and not ge_speedups._FILTERED.rows


def test_row_filters_are_kept_per_thread() -> None:
    Validator()
    engine = PandasExecutionEngine()
    condition, kwargs = CONDITIONS[1]
    a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    b = pd.DataFrame({"x": [5, 1, 7], "y": ["c", "a", "b"]})
    ge_speedups._apply_row_condition_filter(engine, a, condition, kwargs)
    other = threading.Thread(target=ge_speedups._apply_row_condition_filter, args=(engine, b, condition, kwargs))
    other.start()
    other.join()
    assert ge_speedups._FILTERED.frame is a  # the other thread's frame is its own
    assert ge_speedups._apply_row_condition_filter(engine, a, condition, kwargs)["x"].tolist() == [2, 3]
    ge_speedups.release()


def test_configurations_are_ges_own_and_each_read_a_new_one() -> None:
    Validator()
    original = ge_speedups.ORIGINAL_CONFIGURATION.fget
    checked = 0
    for table, suite in load_suites().items():
        for i, spec in enumerate(suite.expectations):
            e = ge_expectation(spec, i)
            for _ in range(2):  # the second read is the remembered one
                ours = e.configuration
                assert ours.to_json_dict() == original(e).to_json_dict(), f"{table} #{i} {spec.type}"
                assert ours is not e.configuration
                ours.kwargs["column"] = "changed"  # a reader changing its copy (Data Docs set rendered_content)
                ours.meta = {"changed": True}
            checked += 1
    assert checked > 300
    e = gx.expectations.ExpectColumnValuesToNotBeNull(column="a", mostly=0.5)
    assert e.configuration.kwargs == {"column": "a", "mostly": 0.5}
    e.mostly = 0.9  # a field set again: its configuration follows
    assert e.configuration.kwargs == original(e).kwargs == {"column": "a", "mostly": 0.9}


def _column_types(engine: Any, batch_id: str, **domain: Any) -> Any:
    from great_expectations.validator.metric_configuration import MetricConfiguration

    config = MetricConfiguration("table.column_types", {"batch_id": batch_id, **domain}, {"include_nested": True})
    return config, engine.resolve_metrics([config])


def test_column_types_are_ges_own_per_frame_and_copies() -> None:
    from great_expectations.core.batch_spec import RuntimeDataBatchSpec

    Validator()
    engine = PandasExecutionEngine()
    a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    b = pd.DataFrame({"x": [0.5], "z": [True]})
    for frame in (a, b, a):
        engine.load_batch_data("batch", engine.get_batch_data(RuntimeDataBatchSpec(batch_data=frame)))
        config, ours = _column_types(engine, "batch")
        own = ge_speedups.ORIGINAL_RESOLVE_METRICS(engine, [config])
        assert ours == own and [c["name"] for c in ours[config.id]] == list(frame.columns)
        ours[config.id][0]["type"] = "changed"  # the caller's copy
        assert _column_types(engine, "batch")[1] == own
    assert ge_speedups._FILTERED.types_frame is a
    _, filtered = _column_types(engine, "batch", row_condition="x > 1", condition_parser="pandas")
    assert [c["name"] for c in next(iter(filtered.values()))] == ["x", "y"]  # GE's own path: not remembered
    assert len(ge_speedups._FILTERED.types) == 1
    ge_speedups.release()
    assert ge_speedups._FILTERED.types_frame is None and not ge_speedups._FILTERED.types
