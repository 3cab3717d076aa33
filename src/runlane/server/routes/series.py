"""Metric streams: list, rows by index range, numeric columns, downsampled series, stats.

``/columns`` answers ``application/x-runlane-columns``: the line ``RLCOLS1``, a JSON header
line ``{"columns": [[name, dtype, nbytes], ...]}``, then each column's raw little-endian
bytes in header order (``_index`` int64, the rest float64 with NaN/±inf kept) — a million
points travel as 8 MB instead of a JSON array, and decode with one ``numpy.frombuffer``.
``/series`` answers JSON (NaN as null) of a min/max-preserving downsampling to ``buckets``.
Its x axis is ``step``, ``index``, ``time`` or ``field:<name>`` (any numeric field, e.g. a
custom step key: rows without it are left out, the rest sorted by it). ``start``/``end``
keep an x range (a zoomed chart refetches that range at the same bucket count) and ``since``
keeps rows from an index on (a live chart passes the previous answer's ``total`` and gets
only the new points): the store reads only those rows (``read_columns(..., start=since)``),
so a poll of a million-point stream costs what is new, not the whole stream. ``/columns``
takes the same cursor as ``start``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from runlane.errors import InvalidArgumentError
from runlane.server.context import MAX_INDEX, MAX_PAGE
from runlane.server.downsample import minmax, window
from runlane.server.responses import JSON
from runlane.server.routes.runs import ctx_of
from runlane.store.base import Store
from runlane.store.columns import stats_of, step_column
from runlane.store.wire import COLUMNS_TYPE, encode_columns, jsonable, stream_to_wire

router = APIRouter(tags=["metrics"])
X_AXES = ("step", "index", "time")
FIELD_X = "field:"
Array = np.ndarray[Any, Any]


def _fields(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [f for f in (part.strip() for part in text.split(",")) if f]


def _x_field(x: str) -> str | None:
    """The field named by ``field:<name>``; None for the built-in axes. Raises
    InvalidArgumentError for anything else."""
    if x in X_AXES:
        return None
    if x.startswith(FIELD_X) and len(x) > len(FIELD_X):
        return x[len(FIELD_X) :]
    raise InvalidArgumentError(f"x {x!r} is not one of {', '.join(X_AXES)} or field:<name>")


def _x_values(columns: dict[str, Array], count: int, x: str, x_field: str | None) -> Array:
    if x_field is not None:
        return columns.get(x_field, np.full(count, np.nan))
    if x == "step":
        return step_column(columns, count)
    if x == "time":
        return columns.get("_ts", np.full(count, np.nan))
    return columns["_index"].astype(np.float64)


@router.get("/runs/{run_id}/streams")
def list_streams(request: Request, run_id: str) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    return JSON({"streams": [stream_to_wire(s) for s in ctx.store.list_streams(run_id)]})


@router.get("/runs/{run_id}/streams/{stream}/rows")
def read_rows(
    request: Request,
    run_id: str,
    stream: str,
    start: int = Query(
        0, ge=-MAX_INDEX, le=MAX_INDEX, description="first index; negative counts from the end"
    ),
    limit: int = Query(1000, ge=0, le=MAX_PAGE),
) -> JSON:
    """ML-Dash's read() shape: data, startIndex, endIndex, total, hasMore (+ streamTotal)."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    page = ctx.store.read_rows(run_id, stream, start, limit)
    out = page.to_dict()
    for item in out["data"]:
        item["data"] = jsonable(item["data"])
    out["streamTotal"] = page.total
    return JSON(out)


@router.get("/runs/{run_id}/streams/{stream}/columns")
def read_columns(
    request: Request,
    run_id: str,
    stream: str,
    fields: str | None = Query(None, description="comma-separated; all fields when absent"),
    start: int = Query(0, ge=0, le=MAX_INDEX, description="keep rows with index >= start"),
) -> Response:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    columns = ctx.store.read_columns(run_id, stream, _fields(fields), start)
    return Response(encode_columns(columns), media_type=COLUMNS_TYPE)


@router.get("/runs/{run_id}/streams/{stream}/series")
def read_series(
    request: Request,
    run_id: str,
    stream: str,
    fields: str | None = Query(None, description="comma-separated; all fields when absent"),
    x: str = Query("step", description="x axis: step, index, time or field:<name>"),
    buckets: int = Query(1000, ge=1, le=100_000),
    start: float | None = Query(None, description="keep points with x >= start"),
    end: float | None = Query(None, description="keep points with x < end"),
    since: int | None = Query(
        None,
        ge=0,
        le=MAX_INDEX,
        description="keep rows with index >= since (live: the last answer's total)",
    ),
) -> JSON:
    """Each field min/max-downsampled to ``buckets`` (≤ 2 points a bucket), NaN as null.
    ``count`` is the number of rows kept, ``total`` the rows in the stream when read."""
    x_field = _x_field(x)
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    wanted = _fields(fields)
    summarized = getattr(ctx.store, "read_series", None)
    plain = start is None and end is None and since is None and x_field is None
    if plain and callable(summarized):
        names = wanted
        if names is None:
            known = {s.name: s.fields for s in ctx.store.list_streams(run_id)}
            names = [f for f in known.get(stream, ()) if not f.startswith("_")]
        found = summarized(run_id, stream, names, x, buckets)
        if found is not None:  # from the chunks' min/max summaries: no chunk is read
            total, series = found
            return JSON(
                {
                    "count": total,
                    "total": total,
                    "x": x,
                    "buckets": buckets,
                    "series": {n: {"x": px, "y": py} for n, (px, py) in series.items()},
                }
            )
    extra = {"step": ["_step", "step"], "time": ["_ts"], "index": []}.get(x, [x_field or ""])
    asked = None if wanted is None else [*wanted, *extra]
    columns = ctx.store.read_columns(run_id, stream, asked, since or 0)
    count = len(columns["_index"])
    total = _total(ctx.store, run_id, stream, since or 0, count)
    xs = _x_values(columns, count, x, x_field)
    mask = window(xs, start, end)
    if x_field is not None:
        mask &= ~np.isnan(xs)
    xs = xs[mask]
    order = np.argsort(xs, kind="stable") if x_field is not None else slice(None)
    names = wanted if wanted is not None else [n for n in columns if not n.startswith("_")]
    series = {}
    for name in names:
        col = columns.get(name, np.full(count, np.nan))
        px, py = minmax(xs[order], col[mask][order], buckets)
        series[name] = {"x": px, "y": py}
    return JSON(
        {"count": int(mask.sum()), "total": total, "x": x, "buckets": buckets, "series": series}
    )


def _total(store: Store, run_id: str, stream: str, since: int, count: int) -> int:
    """The stream's row count, given ``count`` rows read from index ``since`` on: contiguous
    indices make it ``since + count`` when any row was read; otherwise (``since`` at or past
    the end) one cheap count — :meth:`Store.read_rows` of no row reads no row."""
    if count or not since:
        return since + count
    return store.read_rows(run_id, stream, 0, 0).total


@router.get("/runs/{run_id}/streams/{stream}/stats")
def stream_stats(
    request: Request,
    run_id: str,
    stream: str,
    fields: str | None = Query(None, description="comma-separated; all fields when absent"),
) -> JSON:
    """Per field ``{count, min, max, mean, last}`` over the finite values."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    columns = ctx.store.read_columns(run_id, stream, _fields(fields))
    count = len(columns["_index"])
    return JSON({"count": count, "fields": jsonable(stats_of(columns, count))})
