"""Min/max summaries of cold chunks, so charts of long streams never read the chunks.

When a chunk is compacted, each numeric field gets, per run of :data:`SUB` consecutive rows
(a *sub-bucket*): the index, value, step and time of its smallest and of its largest finite
value. They are kept in PostgreSQL beside the chunk (``metric_chunks.summary``, a few KB per
field). :func:`downsample` then cuts a whole stream into N buckets of whole sub-buckets and
keeps each bucket's min and max point: the same answer as
:func:`runlane.server.downsample.minmax` on the full series whenever a bucket is a whole
number of sub-buckets (e.g. 1,000,000 points into 1,000 buckets), and otherwise still every
spike and dip, with bucket edges moved by less than ``SUB`` rows. Hot rows are summarized on
the fly the same way.

Format: ``RLSUM1\\n`` + a JSON header line ``{"first", "count", "sub", "fields"}`` + for each
field eight float64 arrays (one value per sub-bucket): index_min, value_min, step_min,
time_min, index_max, value_max, step_max, time_max; index -1 marks a sub-bucket without a
value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

SUB = 100
MAGIC = b"RLSUM1\n"
Array = np.ndarray[Any, Any]
PARTS = ("imin", "vmin", "smin", "tmin", "imax", "vmax", "smax", "tmax")


@dataclass
class FieldSummary:
    """Per sub-bucket min and max points of one field (arrays of equal length)."""

    imin: Array
    vmin: Array
    smin: Array
    tmin: Array
    imax: Array
    vmax: Array
    smax: Array
    tmax: Array

    @classmethod
    def empty(cls, subs: int) -> FieldSummary:
        minus = np.full(subs, -1.0)
        nan = np.full(subs, np.nan)
        return cls(minus, nan, nan, nan, minus.copy(), nan, nan, nan)


def step_values(columns: dict[str, Array], first: int, count: int) -> Array:
    """The x of each row on the step axis (``_step``, else ``step``, else the index), with
    absolute indices — the rule of :func:`runlane.store.columns.step_column`."""
    x = np.arange(first, first + count, dtype=np.float64)
    for name in ("step", "_step"):
        col = columns.get(name)
        if col is not None and len(col) == count:
            x = np.where(np.isnan(col), x, col)
    return x


def summarize_field(values: Array, first: int, steps: Array, times: Array) -> FieldSummary:
    count = len(values)
    subs = -(-count // SUB)
    padded = np.full(subs * SUB, np.nan)
    padded[:count] = values
    grid = padded.reshape(subs, SUB)
    missing = np.isnan(grid)
    empty = missing.all(axis=1)
    lo = np.where(missing, np.inf, grid).argmin(axis=1) + np.arange(subs) * SUB
    hi = np.where(missing, -np.inf, grid).argmax(axis=1) + np.arange(subs) * SUB
    lo = np.minimum(lo, count - 1)
    hi = np.minimum(hi, count - 1)
    out = FieldSummary(
        imin=(lo + first).astype(np.float64),
        vmin=values[lo].astype(np.float64),
        smin=steps[lo],
        tmin=times[lo],
        imax=(hi + first).astype(np.float64),
        vmax=values[hi].astype(np.float64),
        smax=steps[hi],
        tmax=times[hi],
    )
    # a sub-bucket whose only "values" were NaN (argmin on all-inf): no point
    bad = empty | np.isnan(out.vmin)
    out.imin[bad] = -1.0
    out.imax[bad] = -1.0
    return out


def summarize(columns: dict[str, Array], first: int, count: int, fields: Sequence[str]) -> bytes:
    """The summary bytes of rows ``first .. first+count-1`` for ``fields``."""
    steps = step_values(columns, first, count)
    times = columns.get("_ts")
    if times is None or len(times) != count:
        times = np.full(count, np.nan)
    names = [f for f in fields if f in columns]
    header = {"first": first, "count": count, "sub": SUB, "fields": names}
    parts = [MAGIC, orjson.dumps(header), b"\n"]
    for name in names:
        summary = summarize_field(columns[name], first, steps, times)
        parts.extend(np.ascontiguousarray(getattr(summary, p), "<f8").tobytes() for p in PARTS)
    return b"".join(parts)


def load(body: bytes) -> tuple[int, int, dict[str, FieldSummary]]:
    """``(first, count, {field: summary})`` of summary bytes."""
    end = body.index(b"\n", len(MAGIC))
    header = orjson.loads(body[len(MAGIC) : end])
    count = int(header["count"])
    subs = -(-count // int(header["sub"]))
    out: dict[str, FieldSummary] = {}
    offset = end + 1
    size = subs * 8
    for name in header["fields"]:
        arrays = []
        for _ in PARTS:
            arrays.append(np.frombuffer(body, dtype="<f8", count=subs, offset=offset))
            offset += size
        out[str(name)] = FieldSummary(*arrays)
    return int(header["first"]), count, out


def downsample(
    pieces: Sequence[tuple[int, int, FieldSummary | None]], total: int, buckets: int, x: str
) -> tuple[Array, Array]:
    """Merge the sub-buckets of ``pieces`` (``(first, count, summary)`` in index order, one
    per chunk plus the hot tail) into ``buckets`` min/max points; ``x`` is ``index``,
    ``step`` or ``time``. Returns ``(x, y)`` in index order."""
    parts = [s if s is not None else FieldSummary.empty(-(-c // SUB)) for _, c, s in pieces]
    starts = (
        np.concatenate([np.arange(f, f + c, SUB, dtype=np.int64) for f, c, _ in pieces])
        if pieces
        else np.zeros(0, dtype=np.int64)
    )
    if not parts or total == 0:
        return np.zeros(0), np.zeros(0)
    cat = {p: np.concatenate([getattr(s, p) for s in parts]) for p in PARTS}
    group = (starts * buckets) // max(total, 1)
    valid = cat["imin"] >= 0
    group, starts = group[valid], starts[valid]
    for p in PARTS:
        cat[p] = cat[p][valid]
    if len(group) == 0:
        return np.zeros(0), np.zeros(0)
    # the first sub-bucket (in index order) holding each group's min, and its max
    order_min = np.lexsort((cat["imin"], cat["vmin"], group))
    order_max = np.lexsort((cat["imax"], -cat["vmax"], group))
    _, first_min = np.unique(group[order_min], return_index=True)
    _, first_max = np.unique(group[order_max], return_index=True)
    pick_min = order_min[first_min]
    pick_max = order_max[first_max]
    xs = {"index": ("imin", "imax"), "step": ("smin", "smax"), "time": ("tmin", "tmax")}[x]
    index = np.concatenate([cat["imin"][pick_min], cat["imax"][pick_max]])
    xv = np.concatenate([cat[xs[0]][pick_min], cat[xs[1]][pick_max]])
    yv = np.concatenate([cat["vmin"][pick_min], cat["vmax"][pick_max]])
    index, unique_at = np.unique(index, return_index=True)  # min == max: one point
    return xv[unique_at], yv[unique_at]
