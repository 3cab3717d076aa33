"""Run rows: the run document plus the columns the filter language reads.

A run's truth is its document (``runs.doc``, the same dict a LocalStore keeps as
``experiment.json``, minus ``pid``/``host``: a server cannot see the training process, so
liveness comes from the heartbeat alone). The other columns are derived from it on every
change by :func:`columns_of`, so ``list_runs`` can filter and sort in SQL.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runlane.entities import RunInfo, Status
from runlane.errors import NotFoundError
from runlane.query import compile_order, compile_sql, parse, parse_sort
from runlane.store import documents as docs
from runlane.timeutil import now

Conn = psycopg.Connection[Any]

#: Columns written from the document (see :func:`columns_of`).
DOC_COLUMNS = (
    "owner",
    "project",
    "name",
    "folder",
    "grp",
    "description",
    "framework",
    "backend",
    "external_id",
    "status",
    "created",
    "updated",
    "tags",
    "meta",
)

#: What list_runs reads: every filter column, with ``status`` derived from the heartbeat.
_VIEW = (
    "SELECT id, owner, project, name, folder, grp, description, framework, backend, "
    "external_id, created, updated, tags, params, metrics, meta, heartbeat_at, doc, "
    "CASE WHEN status = %s AND heartbeat_at IS NOT NULL AND heartbeat_at < %s "
    "THEN %s ELSE status END AS status FROM runs"
)


def server_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop the fields that tie a run to the server's own process."""
    doc.pop("pid", None)
    doc.pop("host", None)
    return doc


def columns_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The derived columns of a run document."""
    return {
        "owner": doc.get("owner", ""),
        "project": doc.get("project", ""),
        "name": doc.get("name", ""),
        "folder": doc.get("folder"),
        "grp": doc.get("group"),
        "description": doc.get("description"),
        "framework": doc.get("framework"),
        "backend": doc.get("backend"),
        "external_id": doc.get("externalId"),
        "status": doc.get("status", Status.CREATED.value),
        "created": docs._epoch(doc.get("created_at")),
        "updated": docs._epoch(doc.get("updated_at") or doc.get("created_at")),
        "tags": Jsonb(list(doc.get("tags") or [])),
        "meta": Jsonb(dict(doc.get("extra") or {})),
    }


def insert(conn: Conn, doc: dict[str, Any], heartbeat_at: float) -> None:
    cols = columns_of(doc)
    names = ["id", *DOC_COLUMNS, "heartbeat_at", "doc"]
    values = [doc["id"], *(cols[c] for c in DOC_COLUMNS), heartbeat_at, Jsonb(doc)]
    conn.execute(
        f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
        values,
    )


def update_document(conn: Conn, run_id: str, doc: dict[str, Any]) -> None:
    cols = columns_of(doc)
    sets = ", ".join(f"{c} = %s" for c in DOC_COLUMNS)
    conn.execute(
        f"UPDATE runs SET {sets}, doc = %s WHERE id = %s",
        [*(cols[c] for c in DOC_COLUMNS), Jsonb(doc), run_id],
    )


def info(doc: dict[str, Any], heartbeat_at: float | None) -> RunInfo:
    return docs.info_from_document(doc, heartbeat_at=heartbeat_at, path=None, now=now())


def get(conn: Conn, run_id: str, label: str) -> RunInfo:
    row = conn.execute("SELECT doc, heartbeat_at FROM runs WHERE id = %s", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found in {label}")
    return info(row[0], row[1])


def selected(project: str | None, where: str | None) -> tuple[str, list[Any]]:
    """``FROM (<runs with derived status>) AS runs WHERE <condition>``: the runs of
    ``project`` that ``where`` selects, and the query's bound parameters."""
    clauses: list[str] = []
    params: list[Any] = [
        Status.RUNNING.value,
        now() - docs.HEARTBEAT_STALE_AFTER,
        Status.CRASHED.value,
    ]
    if project:
        owner, _, name = project.rpartition("/")
        clauses.append("project = %s")
        params.append(name)
        if owner:
            clauses.append("owner = %s")
            params.append(owner)
    condition, bound = compile_sql(parse(where or ""), "postgres")
    clauses.append(f"({condition})")
    params.extend(bound)
    return f"FROM ({_VIEW}) AS runs WHERE {' AND '.join(clauses)}", params


def search(
    conn: Conn,
    *,
    project: str | None,
    where: str | None,
    sort: str | None,
    limit: int | None,
    offset: int,
) -> list[RunInfo]:
    """Runs matching the filter language, compiled to bound SQL parameters."""
    source, params = selected(project, where)
    keys = parse_sort(sort or "") or parse_sort("-created")  # blank sort text: the default
    order, order_params = compile_order(keys, "postgres")
    query = f"SELECT doc, heartbeat_at {source}"
    query += f" ORDER BY {order}, id"
    params.extend(order_params)
    if limit is not None:
        query += " LIMIT %s"
        params.append(int(limit))
    if offset:
        query += " OFFSET %s"
        params.append(int(offset))
    return [info(row[0], row[1]) for row in conn.execute(query.encode(), params).fetchall()]


def resolve(conn: Conn, ref: str, label: str) -> str:
    """An id, an ``owner/project/[folder/]name`` prefix, or an id prefix of ≥ 6 characters."""
    row = conn.execute("SELECT id FROM runs WHERE id = %s", (ref,)).fetchone()
    if row is not None:
        return str(row[0])
    rows = conn.execute(
        "SELECT id FROM runs WHERE owner || '/' || project || '/' || "
        "COALESCE(folder || '/', '') || name = %s LIMIT 2",
        (ref,),
    ).fetchall()
    if len(rows) == 1:
        return str(rows[0][0])
    if len(ref) >= 6:
        escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            "SELECT id FROM runs WHERE id LIKE %s LIMIT 2", (escaped + "%",)
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if len(rows) > 1:
            raise NotFoundError(f"run reference {ref!r} is ambiguous; give more characters")
    raise NotFoundError(
        f"no run {ref!r} in {label}: give a run id, an id prefix of 6 or more characters, "
        "or owner/project/[folder/]name"
    )
