"""Numeric columns of a metric stream, computed from rows.

Shared by every store: the memory store computes columns on demand, the local store keeps an
append-only cache of them on disk (see :mod:`runlane.store.local.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from runlane.entities import FieldAggregate
from runlane.errors import InvalidArgumentError

NAN = float("nan")
_NUMERIC = (int, float, bool)


def numeric_column(rows: Sequence[dict[str, Any]], field: str) -> tuple[np.ndarray[Any, Any], bool]:
    """``(float64 array, all_numeric)``: NaN where a row lacks ``field`` or holds a non-number.

    ``all_numeric`` is False when any row held a non-numeric value (str, bytes, None, ...).
    """
    values = [row.get(field, NAN) for row in rows]
    clean = True
    for i, value in enumerate(values):
        if type(value) not in _NUMERIC:
            values[i] = NAN
            clean = False
    return np.asarray(values, dtype=np.float64), clean


def field_names(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every field name in ``rows``, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in seen:
                seen[key] = None
    return list(seen)


def check_start(start: int) -> int:
    """``start`` of :meth:`~runlane.store.base.Store.read_columns`, checked: an integer
    ``>= 0``. Raises InvalidArgumentError naming the value otherwise."""
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise InvalidArgumentError(
            f"read_columns start {start!r} must be an integer >= 0 (the first row index kept)"
        )
    return int(start)


def step_column(columns: dict[str, np.ndarray[Any, Any]], count: int) -> np.ndarray[Any, Any]:
    """The x value of each row: ``_step`` where logged, else a ``step`` field, else the
    row's index — ``columns["_index"]`` when present (columns read from a ``start`` on carry
    their absolute indices there), else ``0 .. count-1``."""
    given = columns.get("_index")
    if given is not None and len(given) == count:
        index = given.astype(np.float64)
    else:
        index = np.arange(count, dtype=np.float64)
    for name in ("step", "_step"):
        col = columns.get(name)
        if col is not None and len(col) == count:
            index = np.where(np.isnan(col), index, col)
    return index


def stats_of(columns: dict[str, np.ndarray[Any, Any]], count: int) -> dict[str, dict[str, Any]]:
    """Per field ``{count, min, max, mean, last}`` over the non-NaN values of each column."""
    out: dict[str, dict[str, Any]] = {}
    for name, col in columns.items():
        if name in ("_index",) or len(col) != count:
            continue
        finite = col[~np.isnan(col)]
        if finite.size == 0:
            out[name] = {"count": 0, "min": None, "max": None, "mean": None, "last": None}
            continue
        with np.errstate(all="ignore"):
            out[name] = {
                "count": int(finite.size),
                "min": float(finite.min()),
                "max": float(finite.max()),
                "mean": float(finite.mean()),
                "last": float(finite[-1]),
            }
    return out


# --- field aggregates (Store.field_aggregates_many) --------------------------------------------
FieldPair = tuple[str, str]


def field_aggregate(column: np.ndarray[Any, Any]) -> FieldAggregate:
    """The :class:`FieldAggregate` of a float64 column (NaN where a row holds no number)."""
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return FieldAggregate()
    return FieldAggregate(float(finite[-1]), float(finite.min()), float(finite.max()))


def check_field_pairs(fields: Iterable[Any]) -> list[FieldPair]:
    """The ``(stream, field)`` pairs of :meth:`~runlane.store.base.Store.field_aggregates_many`,
    checked (each a pair of strings; raises InvalidArgumentError naming the first that is
    not) and without repeats, in their first order."""
    out: dict[FieldPair, None] = {}
    for pair in fields:
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise InvalidArgumentError(
                f"field {pair!r} is not a (stream name, field name) pair of strings"
            )
        out[(pair[0], pair[1])] = None
    return list(out)


def aggregates_from_columns(
    read: Callable[[str, list[str]], dict[str, np.ndarray[Any, Any]]], pairs: Sequence[FieldPair]
) -> dict[FieldPair, FieldAggregate]:
    """``{pair: aggregate}`` of one run, from ``read(stream, fields)`` (the run's
    ``read_columns``) called once per stream of ``pairs``: what the stores without a
    cheaper way (memory, local folder) answer with."""
    by_stream: dict[str, list[str]] = {}
    for stream, field in pairs:
        by_stream.setdefault(stream, []).append(field)
    found: dict[FieldPair, FieldAggregate] = {}
    for stream, names in by_stream.items():
        columns = read(stream, names)
        for name in names:
            found[(stream, name)] = field_aggregate(columns[name])
    return {pair: found[pair] for pair in pairs}
