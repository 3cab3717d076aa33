"""Metric streams in PostgreSQL (hot rows) and the object store (cold Parquet chunks).

Writers take indices from the stream's counter row (``streams.next_idx``): the upsert that
advances it locks the row until the writing transaction commits, so concurrent writers —
threads, processes, server replicas — get contiguous, unique ranges, and a committed
``next_idx`` always covers committed rows only. Rows then go in with one ``COPY``.

Past ``chunk_rows`` hot rows, :func:`compact` moves the oldest full runs of ``chunk_rows``
rows into Parquet chunks: upload the object (a deterministic key, so a retry overwrites an
orphan of a failed attempt), record it, delete the rows and advance ``hot_start``, all in one
transaction under a per-stream advisory lock. Readers use one REPEATABLE READ snapshot for the
counter, the chunk list and the hot rows, so hot and cold always fit together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg.types.json import Jsonb

from runlane.entities import RowsPage, StreamInfoUpdate
from runlane.store.columns import numeric_column
from runlane.store.server import summaries
from runlane.store.server.chunks import Chunk, ChunkCache, encode_chunk
from runlane.store.server.objects import ObjectStore
from runlane.store.tags import dumps, tag_row, untag, untag_row
from runlane.timeutil import iso
from runlane.values import decode_value

#: First key of the two-int advisory locks taken while compacting a stream ("rlcp").
COMPACT_LOCK = 0x726C6370
_NUMERIC = (int, float, bool)

Conn = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class StreamState:
    """A stream's counters as of one snapshot."""

    id: int
    next_idx: int
    hot_start: int
    fields: list[str]
    created_at: float
    updated_at: float
    info: dict[str, Any] | None = None


def set_info(conn: Conn, run_id: str, update: StreamInfoUpdate) -> None:
    """Merge a stream's description/tags/metadata (fields given as None are kept),
    creating the stream when it has no row yet."""
    patch: dict[str, Any] = {}
    if update.description is not None:
        patch["description"] = update.description
    if update.tags is not None:
        patch["tags"] = list(update.tags)
    if update.metadata is not None:
        patch["metadata"] = update.metadata
    conn.execute(
        "INSERT INTO streams (run_id, name, created_at, updated_at, info) "
        "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (run_id, name) DO UPDATE SET "
        "info = coalesce(streams.info, '{}'::jsonb) || EXCLUDED.info",
        (run_id, update.stream, update.at, update.at, dumps(patch)),
    )


def append(
    conn: Conn,
    run_id: str,
    stream: str,
    rows: list[dict[str, Any]],
    names: list[str],
    nonfinite: bool,
    at: float,
) -> StreamState:
    """Take ``len(rows)`` indices and COPY the rows in; call inside the write transaction.
    ``names`` are the rows' field names in order of first appearance."""
    stream_id, next_idx, hot_start, fields, created_at = _take_indices(
        conn, run_id, stream, len(rows), names, at
    )
    first = next_idx - len(rows)
    new = [n for n in names if n not in fields]
    if new and fields:
        fields = [*fields, *new]
        conn.execute("UPDATE streams SET fields = %s WHERE id = %s", (Jsonb(fields), stream_id))
    dumps = orjson.dumps
    head = b"%d\t" % stream_id
    tail = b"\t%r\t" % at
    lines = []
    for offset, row in enumerate(rows):
        text = dumps(tag_row(row) if nonfinite else row)
        if b"\\" in text:
            text = text.replace(b"\\", b"\\\\")
        lines.append(b"%b%d%b%b\n" % (head, first + offset, tail, text))
    with (
        conn.cursor() as cur,
        cur.copy("COPY metric_rows (stream_id, idx, created, data) FROM STDIN") as copy,
    ):
        copy.write(b"".join(lines))
    return StreamState(stream_id, next_idx, hot_start, fields or names, created_at, at)


def _take_indices(
    conn: Conn, run_id: str, stream: str, count: int, names: list[str], at: float
) -> tuple[int, int, int, list[str], float]:
    row = conn.execute(
        "INSERT INTO streams (run_id, name, next_idx, created_at, updated_at, fields) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, name) DO UPDATE SET "
        "next_idx = streams.next_idx + EXCLUDED.next_idx, updated_at = EXCLUDED.updated_at "
        "RETURNING id, next_idx, hot_start, fields, created_at",
        (run_id, stream, count, at, at, Jsonb(names)),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), list(row[3]), float(row[4])


def summary(stream: str, rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, float]:
    """``{field: last finite number}`` of the rows (``stream.field`` outside ``default``),
    fields starting with ``_`` left out: what ``metrics.<key>`` filters compare with.
    ``names`` are the rows' field names (see :func:`field_names`)."""
    out: dict[str, float] = {}
    remaining = {n for n in names if not n.startswith("_")}
    prefix = "" if stream == "default" else f"{stream}."
    for row in reversed(rows):
        if not remaining:
            break
        for key, value in row.items():
            if key in remaining and type(value) in _NUMERIC and math.isfinite(value):
                out[prefix + key] = float(value)
                remaining.discard(key)
    return out


# --- reads ------------------------------------------------------------------------------------
def state(conn: Conn, run_id: str, stream: str) -> StreamState | None:
    row = conn.execute(
        "SELECT id, next_idx, hot_start, fields, created_at, updated_at FROM streams "
        "WHERE run_id = %s AND name = %s",
        (run_id, stream),
    ).fetchone()
    if row is None:
        return None
    return StreamState(
        int(row[0]), int(row[1]), int(row[2]), list(row[3]), float(row[4]), float(row[5])
    )


def list_states(conn: Conn, run_id: str) -> list[tuple[str, StreamState]]:
    rows = conn.execute(
        "SELECT name, id, next_idx, hot_start, fields, created_at, updated_at, info "
        "FROM streams WHERE run_id = %s ORDER BY name",
        (run_id,),
    ).fetchall()
    return [
        (
            str(r[0]),
            StreamState(
                int(r[1]),
                int(r[2]),
                int(r[3]),
                list(r[4]),
                float(r[5]),
                float(r[6]),
                None if r[7] is None else untag(r[7]),
            ),
        )
        for r in rows
    ]


def chunk_keys(conn: Conn, stream_id: int, start: int, end: int) -> list[tuple[int, int, str]]:
    """``(first_idx, count, key)`` of the chunks overlapping ``[start, end)``, in order."""
    rows = conn.execute(
        "SELECT first_idx, count, key FROM metric_chunks WHERE stream_id = %s "
        "AND first_idx < %s AND first_idx + count > %s ORDER BY first_idx",
        (stream_id, end, start),
    ).fetchall()
    return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def hot_rows(conn: Conn, stream_id: int, start: int, end: int) -> list[tuple[int, float, str]]:
    """``(idx, created, data JSON)`` of the hot rows in ``[start, end)``, in order."""
    rows = conn.execute(
        "SELECT idx, created, data::text FROM metric_rows WHERE stream_id = %s "
        "AND idx >= %s AND idx < %s ORDER BY idx",
        (stream_id, start, end),
    ).fetchall()
    return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]


class ChunkReader:
    """Fetches chunks from the object store (in parallel) through a shared cache."""

    def __init__(self, objects: ObjectStore, cache: ChunkCache, workers: int = 8) -> None:
        self.objects = objects
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runlane-chunks")

    def load(self, keys: Sequence[str]) -> list[Chunk]:
        found: dict[str, Chunk] = {}
        missing = []
        for key in keys:
            chunk = self.cache.get(key)
            if chunk is None:
                missing.append(key)
            else:
                found[key] = chunk
        if len(missing) == 1:
            found[missing[0]] = self._fetch(missing[0])
        elif missing:
            for key, chunk in zip(missing, self._pool.map(self._fetch, missing), strict=True):
                found[key] = chunk
        return [found[key] for key in keys]

    def _fetch(self, key: str) -> Chunk:
        chunk = Chunk(self.objects.get(key))
        self.cache.put(key, chunk)
        return chunk

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _decode(data: str) -> dict[str, Any]:
    row, _ = untag_row(orjson.loads(data))
    return {k: decode_value(v) for k, v in row.items()}


def read_rows(
    conn: Conn, reader: ChunkReader, st: StreamState | None, start: int, limit: int
) -> RowsPage:
    """Rows ``start .. start+limit-1`` (negative ``start`` counts from the end)."""
    total = st.next_idx if st else 0
    if start < 0:
        start = max(0, total + start)
    end = min(total, start + max(limit, 0))
    if st is None or start >= end:
        return RowsPage(rows=[], start_index=start, total=total)
    out: list[tuple[int, dict[str, Any], str]] = []
    if start < st.hot_start:
        spans = chunk_keys(conn, st.id, start, min(end, st.hot_start))
        for (first, _count, _key), chunk in zip(
            spans, reader.load([s[2] for s in spans]), strict=True
        ):
            lo = max(start, first) - first
            hi = min(end, first + len(chunk)) - first
            for i in range(lo, hi):
                out.append((int(chunk.index[i]), _decode(chunk.data[i]), iso(chunk.created[i])))
    if end > st.hot_start:
        for idx, created, data in hot_rows(conn, st.id, max(start, st.hot_start), end):
            out.append((idx, _decode(data), iso(created)))
    return RowsPage(rows=out, start_index=start, total=total)


def read_columns(
    conn: Conn,
    reader: ChunkReader,
    st: StreamState | None,
    fields: Sequence[str] | None,
    start: int = 0,
) -> dict[str, np.ndarray[Any, Any]]:
    """``_index`` plus each field as float64 over the rows with index ``>= start``
    (``start >= 0``, checked by the caller), cold chunks first: only the chunks overlapping
    ``[start, hot_start)`` are loaded (the first one sliced) and only the hot rows from
    ``max(start, hot_start)`` are read."""
    if st is None:
        wanted = [] if fields is None else list(fields)
        out: dict[str, np.ndarray[Any, Any]] = {"_index": np.zeros(0, dtype=np.int64)}
        for name in wanted:
            out[name] = np.zeros(0, dtype=np.float64)
        return out
    wanted = list(st.fields) if fields is None else list(fields)
    first_kept = min(start, st.next_idx)
    parts: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name in wanted}
    if first_kept < st.hot_start:
        spans = chunk_keys(conn, st.id, first_kept, st.hot_start)
        for (first, _count, _key), chunk in zip(
            spans, reader.load([s[2] for s in spans]), strict=True
        ):
            skip = max(first_kept - first, 0)
            for name in wanted:
                parts[name].append(chunk.column(name)[skip:])
    hot_from = max(first_kept, st.hot_start)
    hot = hot_rows(conn, st.id, hot_from, st.next_idx) if hot_from < st.next_idx else []
    if hot:
        rows = [untag_row(orjson.loads(data))[0] for _, _, data in hot]
        for name in wanted:
            parts[name].append(numeric_column(rows, name)[0])
    out = {"_index": np.arange(first_kept, st.next_idx, dtype=np.int64)}
    for name in wanted:
        pieces = parts[name]
        out[name] = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float64)
    return out


# --- compaction -------------------------------------------------------------------------------
def needs_compaction(st: StreamState, chunk_rows: int) -> bool:
    return st.next_idx - st.hot_start > chunk_rows


def compact(conn: Conn, objects: ObjectStore, run_id: str, stream_id: int, chunk_rows: int) -> int:
    """Move full chunks of the oldest hot rows to the object store; return how many.

    Returns 0 without waiting when another process is compacting the stream.
    """
    moved = 0
    with conn.transaction():
        got = conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", (COMPACT_LOCK, stream_id % 2**31)
        ).fetchone()
        if not got or not got[0]:
            return 0
        row = conn.execute(
            "SELECT next_idx, hot_start FROM streams WHERE id = %s", (stream_id,)
        ).fetchone()
        if row is None:
            return 0
        next_idx, hot_start = int(row[0]), int(row[1])
        while next_idx - hot_start > chunk_rows:
            end = hot_start + chunk_rows
            rows = hot_rows(conn, stream_id, hot_start, end)
            if len(rows) != chunk_rows:  # pragma: no cover - would mean a torn counter
                break
            key = f"metrics/{run_id}/{stream_id}/{hot_start:012d}.parquet"
            body, summary = encode_chunk(rows)
            objects.put(key, body)
            conn.execute(
                "INSERT INTO metric_chunks (stream_id, first_idx, count, key, size, summary) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (stream_id, first_idx) DO NOTHING",
                (stream_id, hot_start, chunk_rows, key, len(body), summary),
            )
            conn.execute(
                "DELETE FROM metric_rows WHERE stream_id = %s AND idx >= %s AND idx < %s",
                (stream_id, hot_start, end),
            )
            hot_start = end
            moved += 1
        if moved:
            conn.execute("UPDATE streams SET hot_start = %s WHERE id = %s", (hot_start, stream_id))
    return moved


# --- charts -----------------------------------------------------------------------------------
def read_series(
    conn: Conn, st: StreamState | None, fields: Sequence[str], x: str, buckets: int
) -> tuple[int, dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]] | None:
    """``(rows in the stream, {field: (x, y)})``: each field min/max-downsampled to
    ``buckets`` from the chunks' summaries and the hot rows, without reading a chunk. None
    when the stream is too short for the summaries to give every bucket its own min and max
    (fewer than ``SUB`` rows a bucket), or a chunk has no summary: the caller then
    downsamples the full columns."""
    if st is None or st.hot_start == 0 or st.next_idx < summaries.SUB * buckets:
        return None
    rows = conn.execute(
        "SELECT first_idx, count, summary FROM metric_chunks WHERE stream_id = %s "
        "ORDER BY first_idx",
        (st.id,),
    ).fetchall()
    if any(r[2] is None for r in rows):
        return None
    loaded = [summaries.load(bytes(r[2])) for r in rows]
    hot = hot_rows(conn, st.id, st.hot_start, st.next_idx)
    tail: tuple[int, int, dict[str, summaries.FieldSummary]] | None = None
    if hot:
        parsed = [untag_row(orjson.loads(data))[0] for _, _, data in hot]
        names = {*fields, "_step", "step", "_ts"}
        columns = {name: numeric_column(parsed, name)[0] for name in names}
        tail = summaries.load(summaries.summarize(columns, st.hot_start, len(hot), fields))
    out = {}
    for name in fields:
        pieces = [(first, count, found.get(name)) for first, count, found in loaded]
        if tail is not None:
            pieces.append((tail[0], tail[1], tail[2].get(name)))
        out[name] = summaries.downsample(pieces, st.next_idx, buckets, x)
    return st.next_idx, out
