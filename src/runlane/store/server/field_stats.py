"""The last, smallest and largest finite value of metric fields of many runs on PostgreSQL
(:meth:`~runlane.store.base.Store.field_aggregates_many`), without reading their columns.

A stream's rows are hot rows in ``metric_rows`` and cold Parquet chunks (see
:mod:`runlane.store.server.streams`). One REPEATABLE READ snapshot (the caller's) answers, in
three queries whatever the number of runs:

1. the asked streams of the known runs (``runs`` joined with ``streams``);
2. the hot rows' part of every (stream, field): min, max and the finite value of the highest
   index, computed in SQL from the JSONB rows (a JSON number is finite, since non-finite floats
   are stored as tag documents; ``true``/``false`` count as 1 and 0, as in
   :func:`runlane.store.columns.numeric_column`);
3. the cold part, from each chunk's min/max summary (:mod:`runlane.store.server.summaries`):
   only the ``value_min`` and ``value_max`` arrays of the asked field are cut out of the
   summary bytes in SQL, a few hundred bytes per chunk.

A summary's per sub-bucket min and max are over every non-NaN value, ±inf included (charts
draw infinities). A chunk whose arrays hold no infinity therefore answers its finite min and
max exactly (a sub-bucket without a value holds NaN there); a chunk whose arrays hold one,
or that has no summary, or an underscore field (summaries leave those out), is read — the
correct answer first, the shortcut only where it is exact. A field missing from a chunk's
summary holds no number in that chunk.

``last`` comes from the hot rows, which hold at least one row of every non-empty stream
(compaction leaves between 1 and ``chunk_rows`` of them); only a field without a finite value
there reads chunks, newest first, skipping those whose summary shows no finite value, until
one has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from runlane.entities import FieldAggregate
from runlane.store.columns import FieldPair
from runlane.store.server.aggregates import storable_ids
from runlane.store.server.streams import ChunkReader
from runlane.store.server.summaries import MAGIC

Conn = psycopg.Connection[Any]
Array = np.ndarray[Any, Any]
StreamField = tuple[int, str]  # (stream id, field)

#: A JSONB field of ``m.data`` as float8: NULL unless a number or a boolean.
_VALUE = (
    "CASE jsonb_typeof(m.data -> {f}) WHEN 'number' THEN CAST(m.data ->> {f} AS float8) "
    "WHEN 'boolean' THEN CASE WHEN m.data ->> {f} = 'true' THEN 1.0 ELSE 0.0 END END"
)

_HOT = f"""
WITH w (sid, field) AS (SELECT * FROM unnest(CAST(%s AS bigint[]), CAST(%s AS text[]))),
v AS (
    SELECT w.sid, w.field, m.idx, {_VALUE.format(f="w.field")} AS x
    FROM w JOIN metric_rows AS m ON m.stream_id = w.sid
),
a AS (
    SELECT sid, field, min(x) AS lo, max(x) AS hi, max(idx) FILTER (WHERE x IS NOT NULL) AS li
    FROM v GROUP BY sid, field
)
SELECT a.sid, a.field, a.lo, a.hi, {_VALUE.format(f="a.field")}
FROM a LEFT JOIN metric_rows AS m ON m.stream_id = a.sid AND m.idx = a.li
"""

# Summary bytes: MAGIC (7 bytes), a JSON header line, then per field 8 arrays of ``subs``
# float64 (value_min is the 2nd, value_max the 6th). ``p`` is the header's newline position
# counted from byte 8 (1-based), so the arrays start at byte ``8 + p`` (1-based).
_COLD = """
WITH w (sid, field) AS (SELECT * FROM unnest(CAST(%s AS bigint[]), CAST(%s AS text[]))),
c AS (
    SELECT w.sid, w.field, c.first_idx, c.key, c.summary,
        CASE WHEN substring(c.summary FROM 1 FOR 7) = %s
        THEN position(CAST('\\x0a' AS bytea) IN substring(c.summary FROM 8)) END AS p
    FROM w JOIN metric_chunks AS c ON c.stream_id = w.sid
),
h AS (
    SELECT c.*, CASE WHEN c.p > 0
        THEN CAST(convert_from(substring(c.summary FROM 8 FOR c.p - 1), 'UTF8') AS jsonb)
        END AS head
    FROM c
),
s AS (
    SELECT h.*, ((h.head ->> 'count')::int + (h.head ->> 'sub')::int - 1)
        / (h.head ->> 'sub')::int AS subs,
        (SELECT CAST(t.ord - 1 AS int) FROM jsonb_array_elements_text(h.head -> 'fields')
            WITH ORDINALITY AS t (name, ord) WHERE t.name = h.field LIMIT 1) AS k
    FROM h
)
SELECT sid, field, first_idx, key, head IS NOT NULL, k IS NOT NULL,
    substring(summary FROM 8 + p + (k * 8 + 1) * subs * 8 FOR subs * 8),
    substring(summary FROM 8 + p + (k * 8 + 5) * subs * 8 FOR subs * 8)
FROM s ORDER BY sid, field, first_idx DESC
"""


@dataclass(slots=True)
class _ColdChunk:
    """One chunk of one (stream, field): its key and what its summary tells, if anything."""

    key: str
    lo: float | None = None  # finite min, when ``known``
    hi: float | None = None
    known: bool = False  # the summary answers min and max exactly
    none: bool = False  # the summary shows no finite value


@dataclass(slots=True)
class _Partial:
    """What is known of one (stream, field) so far."""

    last: float | None = None
    lo: float | None = None
    hi: float | None = None
    chunks: list[_ColdChunk] = field(default_factory=list)  # newest first

    def add(self, lo: float | None, hi: float | None) -> None:
        if lo is not None:
            self.lo = lo if self.lo is None else min(self.lo, lo)
        if hi is not None:
            self.hi = hi if self.hi is None else max(self.hi, hi)

    def result(self) -> FieldAggregate:
        return FieldAggregate(self.last, self.lo, self.hi)


def aggregates_many(
    conn: Conn, reader: ChunkReader, run_ids: Sequence[str], asked: Sequence[FieldPair]
) -> dict[str, dict[FieldPair, FieldAggregate]]:
    """See the module docstring; ``conn`` is in a REPEATABLE READ snapshot and ``asked``
    is checked (:func:`runlane.store.columns.check_field_pairs`)."""
    pairs = [p for p in asked if len(storable_ids(p)) == 2]  # others name nothing stored
    names = sorted({stream for stream, _ in pairs})
    rows = conn.execute(
        "SELECT r.id, s.name, s.id, s.hot_start FROM runs AS r LEFT JOIN streams AS s "
        "ON s.run_id = r.id AND s.name = ANY(%s) WHERE r.id = ANY(%s)",
        (names, storable_ids(run_ids)),
    ).fetchall()
    ids: dict[str, dict[str, int]] = {}
    cold: set[int] = set()
    for run_id, name, stream_id, hot_start in rows:
        found = ids.setdefault(str(run_id), {})
        if name is not None:
            found[str(name)] = int(stream_id)
            if int(hot_start) > 0:
                cold.add(int(stream_id))
    wanted: dict[StreamField, _Partial] = {}
    for streams in ids.values():
        for stream, name in pairs:
            if stream in streams:
                wanted[(streams[stream], name)] = _Partial()
    if wanted:
        _hot(conn, wanted)
        cold_wanted = {k: v for k, v in wanted.items() if k[0] in cold}
        if cold_wanted:
            _cold(conn, reader, cold_wanted)
    empty = FieldAggregate()
    out: dict[str, dict[FieldPair, FieldAggregate]] = {}
    for run_id, streams in ids.items():
        answer: dict[FieldPair, FieldAggregate] = {}
        for stream, name in asked:
            stream_id = streams.get(stream)
            partial = None if stream_id is None else wanted.get((stream_id, name))
            answer[(stream, name)] = empty if partial is None else partial.result()
        out[run_id] = answer
    return out


def _columns(wanted: dict[StreamField, Any]) -> tuple[list[int], list[str]]:
    keys = list(wanted)
    return [k[0] for k in keys], [k[1] for k in keys]


def _hot(conn: Conn, wanted: dict[StreamField, _Partial]) -> None:
    for sid, name, lo, hi, last in conn.execute(_HOT.encode(), _columns(wanted)).fetchall():
        partial = wanted[(int(sid), str(name))]
        partial.add(_float(lo), _float(hi))
        partial.last = _float(last)


def _cold(conn: Conn, reader: ChunkReader, wanted: dict[StreamField, _Partial]) -> None:
    sids, names = _columns(wanted)
    rows = conn.execute(_COLD.encode(), (sids, names, MAGIC)).fetchall()
    for sid, name, _first, key, summarized, listed, vmin, vmax in rows:
        wanted[(int(sid), str(name))].chunks.append(
            _summary_of(str(key), str(name), bool(summarized), bool(listed), vmin, vmax)
        )
    # min and max: chunks whose summary cannot answer are read (all at once)
    unknown = [
        (chunk, name)
        for (_sid, name), partial in wanted.items()
        for chunk in partial.chunks
        if not chunk.known
    ]
    loaded = reader.load([chunk.key for chunk, _ in unknown]) if unknown else []
    for (chunk, name), body in zip(unknown, loaded, strict=True):
        column = body.column(name)
        finite = column[np.isfinite(column)]
        chunk.known = True
        chunk.none = finite.size == 0
        if finite.size:
            chunk.lo, chunk.hi = float(finite.min()), float(finite.max())
    for partial in wanted.values():
        for chunk in partial.chunks:
            partial.add(chunk.lo, chunk.hi)
    # last: only fields without a finite value among the hot rows, from the newest chunk
    # holding one (each read is cached by the reader: chunks read above are not fetched again)
    todo = {k: [c for c in p.chunks if not c.none] for k, p in wanted.items() if p.last is None}
    while todo := {k: c for k, c in todo.items() if c}:
        heads = reader.load([c[0].key for c in todo.values()])
        for (key, candidates), body in zip(list(todo.items()), heads, strict=True):
            column = body.column(key[1])
            finite = column[np.isfinite(column)]
            if finite.size:
                wanted[key].last = float(finite[-1])
                candidates.clear()
            else:
                candidates.pop(0)


def _summary_of(
    key: str, name: str, summarized: bool, listed: bool, vmin: Any, vmax: Any
) -> _ColdChunk:
    """What a chunk's summary tells of one field (see the module docstring)."""
    if not summarized or (not listed and name.startswith("_")):
        return _ColdChunk(key)  # no summary, or one that leaves the field out: read it
    if not listed:
        return _ColdChunk(key, known=True, none=True)
    lows = np.frombuffer(bytes(vmin), dtype="<f8")
    highs = np.frombuffer(bytes(vmax), dtype="<f8")
    if np.isinf(lows).any() or np.isinf(highs).any():
        return _ColdChunk(key)
    present = ~np.isnan(lows)
    if not present.any():
        return _ColdChunk(key, known=True, none=True)
    return _ColdChunk(key, float(lows[present].min()), float(np.nanmax(highs)), known=True)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
