"""Run documents and the rules every store applies to them.

A run document is the dict a local store keeps as ``experiment.json``: ML-Dash's fields
(``name, project, description, tags, bindrs, prefix, metadata, created_at,
write_protected``) plus runlane's (``id, owner, folder, group, status, statusHistory,
framework, backend, externalId, pid, host, updated_at, extra``). Stores share these helpers
so that create-or-get, patches, sticky statuses and liveness mean the same everywhere.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from runlane import settings
from runlane.entities import (
    STATUS_ALIASES,
    LineageRecord,
    RunInfo,
    RunPatch,
    RunSpec,
    Status,
    StatusChange,
    TrackEntry,
)
from runlane.errors import InvalidArgumentError
from runlane.timeutil import iso, parse_iso

#: A run marked running whose heartbeat is older than this reads as crashed
#: (``RUNLANE_HEARTBEAT_STALE_AFTER``, default 30 s).
HEARTBEAT_STALE_AFTER = settings.seconds_from_env(
    "RUNLANE_HEARTBEAT_STALE_AFTER", 30.0, 1.0, 86_400.0
)
HOSTNAME = socket.gethostname()


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def normalize_status(value: str) -> Status:
    """Map a status or an alias (COMPLETED, cancelled, ...) to a :class:`Status`."""
    text = str(value).strip().lower()
    if text in STATUS_ALIASES:
        return STATUS_ALIASES[text]
    try:
        status = Status(text)
    except ValueError:
        allowed = ", ".join(s.value for s in Status if s is not Status.CRASHED)
        raise InvalidArgumentError(
            f"status {value!r} is not one of {allowed} (or an alias such as COMPLETED)"
        ) from None
    if status is Status.CRASHED:
        raise InvalidArgumentError("status 'crashed' is derived by readers and cannot be set")
    return status


def unique_name(base: str, taken: Callable[[str], bool]) -> str:
    """``base`` if free, else ``base-2``, ``base-3``, ..."""
    if not taken(base):
        return base
    n = 2
    while taken(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def new_document(spec: RunSpec, name: str, run_id: str, at: float) -> dict[str, Any]:
    """The initial run document for ``spec``: status ``created``, or ``running`` (after
    ``created``, at the same instant) when the spec asks for it."""
    parts = [spec.owner, spec.project, *(spec.folder.split("/") if spec.folder else []), name]
    stamp = iso(at)
    history = [{"status": Status.CREATED.value, "at": at, "message": None}]
    if spec.status == Status.RUNNING.value:
        history.append({"status": Status.RUNNING.value, "at": at, "message": None})
    return {
        "name": name,
        "project": spec.project,
        "description": spec.description,
        "tags": list(dict.fromkeys(spec.tags)),
        "bindrs": [],
        "prefix": "/".join(parts),
        "metadata": None,
        "created_at": stamp,
        "write_protected": False,
        "updated_at": stamp,
        "id": run_id,
        "owner": spec.owner,
        "folder": spec.folder,
        "group": spec.group,
        "status": history[-1]["status"],
        "statusHistory": history,
        "framework": spec.framework,
        "backend": spec.backend,
        "externalId": spec.external_id,
        "pid": os.getpid(),
        "host": HOSTNAME,
        "extra": dict(spec.extra),
    }


def apply_patch(doc: dict[str, Any], patch: RunPatch) -> bool:
    """Apply ``patch`` to ``doc`` in place; return whether anything changed.

    Terminal statuses are sticky: a status change on a terminal run is ignored. ``running``
    on a run already running records this process as the run's process when the recorded
    one is gone (a resumed run is alive again).
    """
    changed = False
    for attr, key in (
        ("name", "name"),
        ("description", "description"),
        ("framework", "framework"),
        ("backend", "backend"),
        ("group", "group"),
    ):
        value = getattr(patch, attr)
        if value is not None and doc.get(key) != value:
            doc[key] = value
            changed = True
    if patch.tags is not None:
        tags = (
            list(dict.fromkeys(patch.tags))
            if patch.reset_tags
            else list(dict.fromkeys([*doc.get("tags", []), *patch.tags]))
        )
        if tags != doc.get("tags"):
            doc["tags"] = tags
            changed = True
    if patch.extra:
        extra = doc.setdefault("extra", {})
        extra.update(patch.extra)
        changed = True
    if patch.status is not None:
        current = Status(doc.get("status", "created"))
        target = normalize_status(patch.status)
        if not current.terminal and target is not current:
            doc["status"] = target.value
            doc.setdefault("statusHistory", []).append(
                {"status": target.value, "at": patch.at, "message": patch.status_message}
            )
            if target is Status.RUNNING:
                doc["pid"] = os.getpid()
                doc["host"] = HOSTNAME
            changed = True
        elif target is Status.RUNNING and current is Status.RUNNING and _claimable(doc):
            doc["pid"] = os.getpid()  # a process resuming a crashed run takes over liveness
            doc["host"] = HOSTNAME
            changed = True
    if changed:
        doc["updated_at"] = iso(patch.at)
    return changed


def _claimable(doc: dict[str, Any]) -> bool:
    """Whether this process may record itself as a running run's process: the recorded one
    is on another host, or on this host and gone."""
    pid, host = doc.get("pid"), doc.get("host")
    if host != HOSTNAME or not isinstance(pid, int):
        return True
    return pid != os.getpid() and not _pid_alive(pid)


def derive_status(doc: dict[str, Any], heartbeat_at: float | None, now: float) -> str:
    """The status a reader should show: ``crashed`` for a running run whose process is gone
    (same host, pid not alive) or whose heartbeat is older than HEARTBEAT_STALE_AFTER."""
    status = str(doc.get("status", "created"))
    if status != Status.RUNNING.value:
        return status
    pid = doc.get("pid")
    if doc.get("host") == HOSTNAME and isinstance(pid, int) and not _pid_alive(pid):
        return Status.CRASHED.value
    if heartbeat_at is not None and now - heartbeat_at > HEARTBEAT_STALE_AFTER:
        return Status.CRASHED.value
    return status


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    # a zombie child of ours still answers kill(0); treat it as gone
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def status_history(entries: Iterable[dict[str, Any]]) -> tuple[StatusChange, ...]:
    """A document's ``statusHistory`` entries as :class:`StatusChange` values, oldest first."""
    return tuple(
        [StatusChange(str(h["status"]), float(h["at"]), h.get("message")) for h in entries]
    )


def info_from_document(
    doc: dict[str, Any], *, heartbeat_at: float | None, path: str | None, now: float
) -> RunInfo:
    """Build the :class:`RunInfo` readers see from a run document."""
    history = status_history(doc.get("statusHistory", []))
    return RunInfo(
        id=str(doc["id"]),
        owner=str(doc.get("owner", "")),
        project=str(doc.get("project", "")),
        name=str(doc.get("name", "")),
        folder=doc.get("folder"),
        group=doc.get("group"),
        description=doc.get("description"),
        tags=tuple(doc.get("tags") or ()),
        status=derive_status(doc, heartbeat_at, now),
        status_history=history,
        framework=doc.get("framework"),
        backend=doc.get("backend"),
        external_id=doc.get("externalId"),
        created_at=_epoch(doc.get("created_at")),
        updated_at=_epoch(doc.get("updated_at") or doc.get("created_at")),
        heartbeat_at=heartbeat_at,
        path=path,
        extra=dict(doc.get("extra") or {}),
    )


def _epoch(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        return parse_iso(value)
    return 0.0


def merge_track_entries(entries: Iterable[TrackEntry]) -> dict[str, list[dict[str, Any]]]:
    """Group entries by topic, merge those with the same timestamp (later fields win) and sort
    each topic by timestamp, as ML-Dash does at flush."""
    by_topic: dict[str, dict[float, dict[str, Any]]] = {}
    for entry in entries:
        slot = by_topic.setdefault(entry.topic, {}).setdefault(entry.timestamp, {})
        slot.update(entry.fields)
    return {
        topic: [{"timestamp": ts, **fields} for ts, fields in sorted(rows.items())]
        for topic, rows in by_topic.items()
    }


def merge_track_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort read entries ``{"timestamp": t, **fields}`` by timestamp and merge those at one
    timestamp, later fields winning: entries written in different batches at one timestamp
    read as one, as within a batch (:func:`merge_track_entries`) and on the server."""
    merged: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["timestamp"]):  # stable: write order kept
        if merged and merged[-1]["timestamp"] == row["timestamp"]:
            merged[-1].update(row)
        else:
            merged.append(dict(row))
    return merged


def run_record(info: RunInfo, params: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The flat record the filter language evaluates (see :mod:`runlane.query`)."""
    return {
        "id": info.id,
        "name": info.name,
        "project": info.project,
        "owner": info.owner,
        "status": info.status,
        "group": info.group,
        "description": info.description,
        "tags": list(info.tags),
        "created": info.created_at,
        "updated": info.updated_at,
        "framework": info.framework,
        "backend": info.backend,
        "external_id": info.external_id,
        "folder": info.folder,
        "params": params,
        "metrics": metrics,
        "meta": info.extra,
    }


def lineage_to_doc(record: LineageRecord) -> dict[str, Any]:
    """A lineage record as the JSON document every store keeps."""
    return {
        "name": record.name,
        "kind": record.kind,
        "path": record.path,
        "is_input": record.is_input,
        "hash": record.hash,
        "size": record.size,
        "summary": record.summary,
        "at": record.at,
    }


def lineage_from_doc(doc: dict[str, Any]) -> LineageRecord:
    """Inverse of :func:`lineage_to_doc`; missing fields take their defaults."""
    return LineageRecord(
        name=str(doc["name"]),
        kind=str(doc.get("kind", "artifact")),
        path=doc.get("path"),
        is_input=bool(doc.get("is_input", False)),
        hash=doc.get("hash"),
        size=doc.get("size"),
        summary=doc.get("summary"),
        at=float(doc.get("at", 0.0)),
    )
