"""Counting and grouping runs, listing projects and reading many runs' lineage, params and
stream lists on PostgreSQL: one query each, whatever the number of runs.

The runs a filter selects come from :func:`runlane.store.server.runs.selected` (the filter
language compiled to bound parameters, ``status`` derived from the heartbeat as
``list_runs`` derives it). A JSON key's group value is the key's JSONB value with JSON null
read as missing, so the group of ``1`` holds ``1.0`` too (JSONB compares numbers by value).
A non-finite number is kept as its tag document (``{"$f": "NaN"}``, :mod:`runlane.store.tags`),
which no filter names: its group, like a list's, lists its run ids.
See :meth:`runlane.store.base.Store.group_runs` for the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from runlane.entities import LineageRecord, ParamsDoc, ProjectSummary, RunGroup, StreamInfo
from runlane.query import Field
from runlane.query.sql import COLUMNS as FIELD_COLUMNS
from runlane.store import documents as docs
from runlane.store.grouping import merge_groups, needs_ids
from runlane.store.server.runs import selected
from runlane.store.tags import FLOAT_TAG, loads, untag

Conn = psycopg.Connection[Any]

#: Values whose groups list their run ids (:func:`runlane.store.grouping.needs_ids`): lists,
#: objects, and integers beyond the signed 64-bit range.
_UNNAMEABLE = (
    "jsonb_typeof(v) IN ('array', 'object') OR (jsonb_typeof(v) = 'number' "
    "AND abs(CAST(v #>> '{}' AS numeric)) >= 9223372036854775808)"
)


def count(conn: Conn, project: str | None, where: str | None) -> int:
    source, params = selected(project, where)
    row = conn.execute(f"SELECT count(*) {source}".encode(), params).fetchone()
    return int(row[0]) if row is not None else 0


def projects(conn: Conn) -> list[ProjectSummary]:
    rows = conn.execute(
        "SELECT owner, project, count(*), max(created) FROM runs "
        "GROUP BY owner, project ORDER BY owner, project"
    ).fetchall()
    return [ProjectSummary(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]


def group(
    conn: Conn, field: Field, project: str | None, where: str | None, max_ids: int
) -> list[RunGroup]:
    """The groups of the runs ``where`` selects by ``field`` (already checked by
    :func:`runlane.store.grouping.group_field`)."""
    source, params = selected(project, where)
    if field.root == "tags":
        rows = conn.execute(
            "SELECT t.tag, count(*) FROM (SELECT tags "
            f"{source}) AS r LEFT JOIN LATERAL jsonb_array_elements_text(CASE WHEN "
            "jsonb_typeof(r.tags) = 'array' THEN r.tags ELSE CAST('[]' AS jsonb) END) "
            "AS t(tag) ON TRUE GROUP BY t.tag".encode(),
            params,
        ).fetchall()
        return [RunGroup(None if v is None else str(v), int(n)) for v, n in rows]
    column = FIELD_COLUMNS[field.root]
    if field.key is None:
        rows = conn.execute(
            f"SELECT {column}, count(*) {source} GROUP BY {column}".encode(), params
        ).fetchall()
        return [RunGroup(v, int(n)) for v, n in rows]
    rows = conn.execute(
        f"SELECT v, count(*), array_agg(id ORDER BY id) FILTER (WHERE {_UNNAMEABLE}) FROM "
        f"(SELECT id, NULLIF({column} -> CAST(%s AS text), CAST('null' AS jsonb)) AS v "
        f"{source}) AS r GROUP BY v".encode(),
        [field.key, *params],
    ).fetchall()
    groups = [
        RunGroup(v, int(n), tuple(ids[:max_ids]) if ids and needs_ids(v) else ())
        for v, n, ids in rows
    ]
    return merge_groups(groups, max_ids)


def lineage_many(conn: Conn, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
    """``{run id: records}`` of the known runs among ``run_ids``, in record order."""
    rows = conn.execute(
        "SELECT r.id, l.doc::text FROM runs AS r LEFT JOIN run_lineage AS l "
        "ON l.run_id = r.id WHERE r.id = ANY(%s) ORDER BY r.id, l.pos",
        (storable_ids(run_ids),),
    ).fetchall()
    out: dict[str, list[LineageRecord]] = {}
    for run_id, text in rows:
        records = out.setdefault(str(run_id), [])
        if text is not None:  # undo tags only where one may be (a walk per record costs)
            doc = loads(text) if FLOAT_TAG in text else orjson.loads(text)
            records.append(docs.lineage_from_doc(doc))
    return out


def params_many(conn: Conn, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
    """``{run id: params}`` of the known runs among ``run_ids``."""
    rows = conn.execute(
        "SELECT id, params_version, params, params_updated FROM runs WHERE id = ANY(%s)",
        (storable_ids(run_ids),),
    ).fetchall()
    return {str(r[0]): ParamsDoc(int(r[1]), untag(r[2]), r[3]) for r in rows}


def streams_many(conn: Conn, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
    """``{run id: streams by name}`` of the known runs among ``run_ids``: the streams
    ``list_streams`` lists, those holding rows or a description."""
    rows = conn.execute(
        "SELECT r.id, s.name, s.next_idx, s.created_at, s.updated_at, s.fields, s.info "
        "FROM runs AS r LEFT JOIN streams AS s ON s.run_id = r.id "
        "AND (s.next_idx > 0 OR s.info IS NOT NULL) "
        "WHERE r.id = ANY(%s) ORDER BY r.id, s.name",
        (storable_ids(run_ids),),
    ).fetchall()
    out: dict[str, list[StreamInfo]] = {}
    for run_id, name, count, created, updated, fields, info in rows:
        found = out.setdefault(str(run_id), [])
        if name is not None:
            found.append(
                stream_info(
                    str(name),
                    int(count),
                    float(created),
                    float(updated),
                    list(fields),
                    None if info is None else untag(info),
                )
            )
    return out


def stream_info(
    name: str,
    count: int,
    created: float,
    updated: float,
    fields: list[str],
    info: dict[str, Any] | None,
) -> StreamInfo:
    """A stream's row of ``streams`` as a :class:`StreamInfo` (``info`` already untagged)."""
    return StreamInfo(
        name,
        count,
        created,
        updated,
        tuple(fields),
        (info or {}).get("description"),
        tuple((info or {}).get("tags") or ()),
        (info or {}).get("metadata"),
    )


def storable_ids(run_ids: Sequence[str]) -> list[str]:
    """The ids PostgreSQL can hold as text (no NUL, valid Unicode); the others name no run."""
    out = []
    for run_id in run_ids:
        if isinstance(run_id, str) and "\x00" not in run_id:
            try:
                run_id.encode()
            except UnicodeEncodeError:
                continue
            out.append(run_id)
    return out
