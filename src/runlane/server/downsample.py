"""Min/max-preserving downsampling of a series to N buckets, for charts.

The points are cut into ``buckets`` runs of equal length (by position); each bucket keeps its
smallest and its largest finite value, in x order (one point when they coincide). A chart of
the result shows every spike and every dip of the full series with at most ``2 * buckets``
points. NaN values are skipped; ±inf are values like any other; a bucket without a value
yields nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


def minmax(x: Array, y: Array, buckets: int) -> tuple[Array, Array]:
    """``(x, y)`` of the kept points, in the original order. ``buckets`` ≥ 1."""
    if buckets < 1:
        raise ValueError(f"buckets must be ≥ 1, not {buckets}")
    n = len(y)
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if n <= 2 * buckets:
        keep = ~np.isnan(y)
        return x[keep], y[keep]
    size = -(-n // buckets)  # ceil
    rows = -(-n // size)
    padded = np.full(rows * size, np.nan)
    padded[:n] = y
    grid = padded.reshape(rows, size)
    empty = np.isnan(grid).all(axis=1)
    low = np.where(np.isnan(grid), np.inf, grid)
    high = np.where(np.isnan(grid), -np.inf, grid)
    # argmin/argmax on ±inf-filled rows; a row of real infinities still picks a real point
    lo = low.argmin(axis=1)
    hi = high.argmax(axis=1)
    base = np.arange(rows) * size
    first = np.minimum(lo, hi) + base
    second = np.maximum(lo, hi) + base
    pairs = np.stack([first, second], axis=1)
    pairs = pairs[~empty]
    index = pairs.reshape(-1)
    # one point where min and max are the same position
    keep = np.ones(len(index), dtype=bool)
    keep[1::2] = pairs[:, 0] != pairs[:, 1]
    index = index[keep]
    index = index[~np.isnan(y[index])]
    return x[index], y[index]


def window(x: Array, start: float | None, end: float | None) -> Array:
    """Boolean mask of the points with ``start <= x < end`` (either bound optional)."""
    mask = np.ones(len(x), dtype=bool)
    if start is not None:
        mask &= x >= start
    if end is not None:
        mask &= x < end
    return mask
