"""Numeric columns of a metric stream, computed from rows.

Shared by every store: the memory store computes columns on demand, the local store keeps an
append-only cache of them on disk (see :mod:`runlane.store.local.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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
