"""The witness and the key check of a large partition from the order its rows were written in, in one read.

The landing writes a series' points together, in time order: a night of 10 M CloudWatch points is ~7,000 runs of
rows that agree on every grouping column. So the groups of the witness (screen.py) need no hash table: a run starts
where a grouping column's value changes from the row before (dictionary indices compared, exact: one index, one
value; a new dictionary or row group starts a new run, which only splits a group), and each run keeps its rows at
the minimum, the maximum and a missing value of each bounded column. A group split into several runs keeps a few
more real rows than DuckDB's GROUP BY would, never fewer, so the witness decides the same.

And a unique key needs no distinct count: if within each run of rows that agree exactly on the key's other columns
the last column (ts) strictly rises, and no run's values come back in another run, no two rows share a key. Runs are
told apart by a 64-bit hash of their values (a map's by its entries, whatever their order); two different values
with one hash can only make the proof fail, never pass. A failed proof is DuckDB's exact count (screen.py), and a
partition whose rows are not in runs at all (another writer's order) DuckDB's witness: the shortcut only declines.

The DuckDB scans this replaces decoded the `dimensions` map of every row twice (~4 CPU-s a 10 M-row night, most of
the audit); here pyarrow reads each row group once with its strings as dictionaries and numpy does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Runs shorter than this on average are no order to speak of: DuckDB's GROUP BY makes the smaller witness.
MIN_MEAN_RUN = 16
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x5BD1E9955BD1E995)  # the hash of a missing value


@dataclass(frozen=True)
class Plan:
    """How a table is grouped: by value (`keys`), by null-ness (`null_keys`); `bounded` columns keep min/max/null rows."""

    keys: tuple[str, ...]
    null_keys: tuple[str, ...]
    bounded: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Scan:
    """The witness rows (contract schema), each run's size by its value keys, rows in all, and for each unique key
    list whether the order proved it unique (False: count it)."""

    rows: pa.Table
    groups: pa.Table
    total: int
    unique: dict[tuple[str, ...], bool]


@dataclass
class _KeyState:
    """A unique key's proof across row groups and files: the last row's hash and order value, each run's hash."""

    order: str
    others: tuple[str, ...]
    proven: bool = True
    last: tuple[int, int] | None = None
    run_hashes: list[np.ndarray] = field(default_factory=list)


def scan(paths: Sequence[Path], schema: pa.Schema, plan: Plan) -> Scan | None:
    """The witness and key proofs from the files' runs; None when the rows are not in runs (or a grouping column is
    a type this cannot compare), and DuckDB groups them instead."""
    if any(pa.types.is_nested(schema.field(k).type) for k in plan.keys):
        return None  # a map or list grouped by value: DuckDB compares those
    keys = [_key_state(columns, schema) for columns in plan.unique]
    picked: list[pa.Table] = []
    sizes: list[pa.Table] = []
    total = runs = 0
    for path in paths:
        parquet = pq.ParquetFile(path, read_dictionary=_string_leaves(path))
        for group in range(parquet.metadata.num_row_groups):
            table = _combined(parquet.read_row_group(group, columns=schema.names))
            if table.num_rows == 0:
                continue
            changes = _Changes(table)
            starts = _run_starts(changes, plan)
            total += table.num_rows
            runs += len(starts)
            if runs * MIN_MEAN_RUN > total + 64 * MIN_MEAN_RUN:
                return None
            run_id = np.cumsum(_flags(starts, table.num_rows)) - 1
            rows = np.unique(np.concatenate([_picks(table.column(b), starts, run_id) for b in plan.bounded]))
            picked.append(as_contract(table.take(rows), schema))
            lengths = np.diff(np.append(starts, table.num_rows))
            sized = as_contract(table.take(starts).select(list(plan.keys)), pa.schema([schema.field(k) for k in plan.keys]))
            sizes.append(sized.append_column("__rows", pa.array(lengths, pa.int64())))
            for state in keys:
                if state is not None and state.proven:
                    _prove(state, changes)
    proven = {
        columns: state is not None and state.proven and _runs_distinct(state)
        for columns, state in zip(plan.unique, keys, strict=True)
    }
    witness = pa.concat_tables(picked) if picked else schema.empty_table()
    no_groups = pa.schema([*(schema.field(k) for k in plan.keys), pa.field("__rows", pa.int64())]).empty_table()
    return Scan(witness, pa.concat_tables(sizes) if sizes else no_groups, total, proven)


def _string_leaves(path: Path) -> list[str]:
    """Every string leaf, maps' keys and values included, read as dictionary indices: compared and hashed as ints."""
    return [column.path for column in pq.ParquetFile(path).schema if column.physical_type == "BYTE_ARRAY"]


def _combined(table: pa.Table) -> pa.Table:
    return table if all(c.num_chunks <= 1 for c in table.columns) else table.combine_chunks()


def _flags(starts: np.ndarray, length: int) -> np.ndarray:
    flags = np.zeros(length, dtype=np.int64)
    flags[starts] = 1
    return flags


def _run_starts(changes: _Changes, plan: Plan) -> np.ndarray:
    """Rows where a value key or a null key's null-ness differs from the row before (and row 0)."""
    changed = np.zeros(changes.rows - 1, dtype=bool)
    for name in plan.keys:
        changed |= changes.of(name)  # plan keys are never nested (checked by scan)
    for name in plan.null_keys:
        missing = _missing(changes.table.column(name).chunk(0))
        changed |= missing[1:] != missing[:-1]
    return np.flatnonzero(np.concatenate(([True], changed)))


class _Changes:
    """For each column of one row group, whether each row's value differs from the row before: exact (dictionary
    indices, values, a map's entries in order), computed once for the witness's runs and the key's."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.rows = table.num_rows
        self._found: dict[str, np.ndarray | None] = {}

    def of(self, name: str) -> np.ndarray | None:
        """Rows 1.. against the row before; None for a type compared nowhere here (lists, structs)."""
        if name not in self._found:
            self._found[name] = _changes(self.table.column(name).chunk(0))
        return self._found[name]


def _changes(array: pa.Array) -> np.ndarray | None:
    if isinstance(array, pa.MapArray):
        return _map_changes(array)
    if pa.types.is_nested(array.type):
        return None
    codes, missing = _exact_codes(array)
    return (codes[1:] != codes[:-1]) | (missing[1:] != missing[:-1])


def _map_changes(array: pa.MapArray) -> np.ndarray | None:
    """A map differs from the row before unless it has the same entries in the same order (a reordered map only
    splits a run), or its null-ness differs."""
    offsets = array.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets -= offsets[0]
    lengths = np.diff(offsets)
    count = int(offsets[-1])
    keys, items = array.keys.slice(0, count), array.items.slice(0, count)
    if pa.types.is_nested(keys.type) or pa.types.is_nested(items.type):
        return None
    (key_codes, key_missing), (item_codes, item_missing) = _exact_codes(keys), _exact_codes(items)
    rows = len(array)
    missing = _missing(array)
    changed = (lengths[1:] != lengths[:-1]) | (missing[1:] != missing[:-1])
    if count == 0:
        return changed
    if (lengths == lengths[0]).all():  # the usual map: every row the same number of entries, a 2-D array
        width = int(lengths[0])
        for codes in (key_codes, key_missing, item_codes, item_missing):
            grid = codes.reshape(rows, width)
            for entry in range(width):  # column by column: numpy's any(axis=1) over a narrow axis is slow
                changed |= grid[1:, entry] != grid[:-1, entry]
        return changed
    row_of = np.repeat(np.arange(rows), lengths)
    before = np.arange(count) - np.repeat(lengths, lengths)  # the same entry of the row before, where lengths agree
    comparable = (row_of > 0) & ~np.append(False, changed)[row_of]
    differs = np.zeros(count, dtype=bool)
    for codes in (key_codes, key_missing, item_codes, item_missing):
        differs[comparable] |= codes[comparable] != codes[before[comparable]]
    row_differs = np.zeros(rows, dtype=bool)
    np.logical_or.at(row_differs, row_of, differs)
    return changed | row_differs[1:]


def _exact_codes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Integers equal between two rows only where their values are (a missing value's code aside), and the missing mask."""
    missing = _missing(array)
    if isinstance(array, pa.DictionaryArray):
        return array.indices.fill_null(0).to_numpy(zero_copy_only=False), missing
    kind = array.type
    if pa.types.is_floating(kind):
        filled = pc.fill_null(array, 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        return filled.view(np.int64), missing  # bit patterns: -0.0 and 0.0, or two NaNs, only split a run
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return _exact_codes(array.dictionary_encode())
    return _values(array), missing


def _values(array: pa.Array) -> np.ndarray:
    """An integer-like array's values as int64 (nulls as 0: callers keep the missing mask)."""
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind) or pa.types.is_duration(kind):
        array = array.view(pa.int64() if kind.bit_width == 64 else pa.int32())
    if pa.types.is_boolean(array.type):
        array = array.cast(pa.int8())
    if array.null_count:
        array = pc.fill_null(array, 0)
    return array.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _missing(array: pa.Array) -> np.ndarray:
    """Rows GE takes for missing: nulls, and NaN in a float column."""
    if array.null_count:
        missing = array.is_null().to_numpy(zero_copy_only=False)
    else:
        missing = np.zeros(len(array), dtype=bool)
    if pa.types.is_floating(array.type):
        missing |= np.isnan(array.to_numpy(zero_copy_only=False))
    return missing


def _picks(column: pa.ChunkedArray, starts: np.ndarray, run_id: np.ndarray) -> np.ndarray:
    """In each run, the first row at the minimum, at the maximum and at a missing value of a bounded column."""
    array = column.chunk(0)
    missing = _missing(array)
    if pa.types.is_floating(array.type):
        values = pc.fill_null(array, np.nan).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        low, high = np.inf, -np.inf
    else:
        values = _values(array)
        low, high = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    present = ~missing
    picks = [_first_in_run(missing, run_id)]
    for fill, reduce in ((low, np.minimum), (high, np.maximum)):  # a missing value filled so it is never picked
        filled = np.where(missing, fill, values)
        best = reduce.reduceat(filled, starts)
        picks.append(_first_in_run((filled == best[run_id]) & present, run_id))
    return np.concatenate(picks)


def _first_in_run(mask: np.ndarray, run_id: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return rows
    runs = run_id[rows]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = runs[1:] != runs[:-1]
    return rows[first]


def as_contract(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A few rows in the contract's column order and types: read with dictionary strings here, or DuckDB's result
    (its fields come back nullable)."""
    columns = [table.column(name).cast(f.type) for name, f in zip(schema.names, schema, strict=True)]
    return pa.Table.from_arrays(columns, schema=schema)


def _key_state(columns: tuple[str, ...], schema: pa.Schema) -> _KeyState | None:
    """The proof for a unique key list: its last integer-like column orders the runs of the others; None without one."""
    for name in reversed(columns):
        kind = schema.field(name).type
        if pa.types.is_integer(kind) or pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return _KeyState(name, tuple(c for c in columns if c != name))
    return None


def _prove(state: _KeyState, changes: _Changes) -> None:
    """Extend the proof over one row group: within each run of rows agreeing on the other columns the order column
    rises; each run's hash is kept (its first row's: every row of a run has the same values)."""
    order_array = changes.table.column(state.order).chunk(0)
    found = [changes.of(name) for name in state.others]
    if order_array.null_count or any(f is None for f in found):
        state.proven = False
        return
    changed = np.zeros(changes.rows - 1, dtype=bool)
    for f in found:
        changed |= f
    order = _values(order_array)
    if np.any(~changed & (order[1:] <= order[:-1])):
        state.proven = False
        return
    starts = np.flatnonzero(np.concatenate(([True], changed)))
    hashes = _row_hashes(changes.table.take(starts), state.others)
    if hashes is None:
        state.proven = False
        return
    if state.last is not None and int(hashes[0]) == state.last[0]:  # the run goes on from the last row group
        if int(order[0]) <= state.last[1]:
            state.proven = False
            return
        hashes = hashes[1:]
    state.run_hashes.append(hashes)
    state.last = (int(hashes[-1]) if len(hashes) else state.last[0], int(order[-1]))  # type: ignore[index]


def _runs_distinct(state: _KeyState) -> bool:
    hashes = np.concatenate(state.run_hashes) if state.run_hashes else np.zeros(0, np.uint64)
    return len(np.unique(hashes)) == len(hashes)


def _row_hashes(table: pa.Table, columns: tuple[str, ...]) -> np.ndarray | None:
    """A 64-bit hash of each row's values of `columns`; None when a column's type cannot be hashed here."""
    combined = np.zeros(table.num_rows, dtype=np.uint64)
    for position, name in enumerate(columns):
        hashed = _hashes(table.column(name).chunk(0))
        if hashed is None:
            return None
        combined = _mix(combined * _GOLDEN + hashed + np.uint64(position))
    return combined


def _hashes(array: pa.Array) -> np.ndarray | None:
    """Each value's hash, equal for equal values (strings through their dictionary: one Python hash per distinct)."""
    if isinstance(array, pa.DictionaryArray):
        table = np.fromiter(
            (hash(value) for value in array.dictionary.to_pylist()), dtype=np.int64, count=len(array.dictionary)
        ).view(np.uint64)
        hashed = np.append(table, _NULL)[array.indices.fill_null(len(table)).to_numpy(zero_copy_only=False)]
    elif isinstance(array, pa.MapArray):
        return _map_hashes(array)
    elif pa.types.is_nested(array.type) or pa.types.is_floating(array.type):
        return None
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_binary(array.type):
        return _hashes(array.dictionary_encode())
    else:
        hashed = _mix(_values(array).view(np.uint64))
    if array.null_count:
        hashed = np.where(array.is_null().to_numpy(zero_copy_only=False), _NULL, hashed)
    return hashed


def _map_hashes(array: pa.MapArray) -> np.ndarray | None:
    """A map's hash: the XOR of its entries' hashes, so entry order does not matter (as GE's sorted JSON)."""
    offsets = array.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = offsets - offsets[0]
    keys = _hashes(array.keys.slice(0, offsets[-1]) if len(array.keys) > offsets[-1] else array.keys)
    items = _hashes(array.items.slice(0, offsets[-1]) if len(array.items) > offsets[-1] else array.items)
    if keys is None or items is None:
        return None
    entries = _mix(keys * _GOLDEN + _mix(items + _GOLDEN))
    starts = offsets[:-1]
    if len(entries):
        hashed = np.bitwise_xor.reduceat(entries, np.minimum(starts, len(entries) - 1))
        hashed[offsets[1:] == starts] = 0  # an empty map: reduceat would hand the next entry's hash
    else:
        hashed = np.zeros(len(array), dtype=np.uint64)
    if array.null_count:
        hashed = np.where(array.is_null().to_numpy(zero_copy_only=False), _NULL, hashed)
    return hashed


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))
