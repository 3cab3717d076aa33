"""MemoryStore: the whole Store protocol in dicts, for tests and as the reference semantics.

Not durable; ``sync`` is a no-op. Thread-safe through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from runlane.entities import (
    LEVEL_RANK,
    Batch,
    Event,
    FieldAggregate,
    LineageRecord,
    LogRecord,
    ParamsDoc,
    ProjectSummary,
    RowsPage,
    RunGroup,
    RunInfo,
    RunSpec,
    StreamInfo,
)
from runlane.errors import NotFoundError
from runlane.query import evaluate, parse, parse_sort, sort_records
from runlane.store import documents as docs
from runlane.store.columns import (
    aggregates_from_columns,
    check_field_pairs,
    check_start,
    field_names,
    numeric_column,
    stats_of,
)
from runlane.store.grouping import MAX_IDS, check_max_ids, group_field, group_records
from runlane.timeutil import iso, now
from runlane.values import decode_value


@dataclass
class _Stream:
    rows: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    description: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None


@dataclass
class _Run:
    doc: dict[str, Any]
    heartbeat: float
    params: ParamsDoc = field(default_factory=lambda: ParamsDoc(0, {}, None))
    metadata: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    streams: dict[str, _Stream] = field(default_factory=dict)
    logs: list[LogRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    tracks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lineage: list[LineageRecord] = field(default_factory=list)


class MemoryStore:
    """In-process store; see :mod:`runlane.store.base` for the contracts it keeps."""

    def __init__(self, uri: str = "memory://") -> None:
        self._uri = uri
        self._runs: dict[str, _Run] = {}
        self._lock = threading.RLock()

    @property
    def uri(self) -> str:
        return self._uri

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id!r} not found in {self._uri}")
        return run

    def create_run(self, spec: RunSpec) -> tuple[RunInfo, bool]:
        with self._lock:
            for run in self._runs.values():
                d = run.doc
                same_project = d["owner"] == spec.owner and d["project"] == spec.project
                if spec.run_id is not None and d["id"] == spec.run_id:
                    return self.get_run(d["id"]), True
                if (
                    same_project
                    and spec.external_id is not None
                    and d.get("externalId") == spec.external_id
                ):
                    return self.get_run(d["id"]), True
                if (
                    same_project
                    and spec.resume
                    and spec.name
                    and d["name"] == spec.name
                    and d.get("folder") == spec.folder
                ):
                    return self.get_run(d["id"]), True
            run_id = spec.run_id or docs.new_run_id()
            taken = {
                r.doc["name"]
                for r in self._runs.values()
                if r.doc["owner"] == spec.owner
                and r.doc["project"] == spec.project
                and r.doc.get("folder") == spec.folder
            }
            name = docs.unique_name(spec.name or run_id, taken.__contains__)
            at = now()
            self._runs[run_id] = _Run(doc=docs.new_document(spec, name, run_id, at), heartbeat=at)
            return self.get_run(run_id), False

    def get_run(self, run_id: str) -> RunInfo:
        with self._lock:
            run = self._run(run_id)
            return docs.info_from_document(
                run.doc, heartbeat_at=run.heartbeat, path=None, now=now()
            )

    def resolve_run(self, ref: str) -> str:
        with self._lock:
            if ref in self._runs:
                return ref
            matches = [
                rid
                for rid, run in self._runs.items()
                if run.doc["prefix"] == ref or (len(ref) >= 6 and rid.startswith(ref))
            ]
            if len(matches) == 1:
                return matches[0]
            raise NotFoundError(f"no single run matches {ref!r} in {self._uri}")

    def list_runs(
        self,
        *,
        project: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        order = parse_sort(sort or "") or parse_sort("-created")  # blank sort: the default
        matching = self._matching(project, where)
        infos = {info.id: info for info, _ in matching}
        ordered = sort_records([record for _, record in matching], order)[offset:]
        picked = [infos[str(r["id"])] for r in ordered]
        return picked if limit is None else picked[:limit]

    def _matching(
        self, project: str | None, where: str | None
    ) -> list[tuple[RunInfo, dict[str, Any]]]:
        """``(info, filter-language record)`` of every run in ``project`` ``where`` selects."""
        expr = parse(where or "")
        out: list[tuple[RunInfo, dict[str, Any]]] = []
        with self._lock:
            for run_id, run in self._runs.items():
                info = self.get_run(run_id)
                if project:
                    owner, _, name = project.rpartition("/")
                    if info.project != name or (owner and info.owner != owner):
                        continue
                record = docs.run_record(info, run.params.data, self._summary(run))
                if evaluate(expr, record):
                    out.append((info, record))
        return out

    def count_runs(self, *, project: str | None = None, where: str | None = None) -> int:
        return len(self._matching(project, where))

    def group_runs(
        self,
        by: str,
        *,
        project: str | None = None,
        where: str | None = None,
        max_ids: int = MAX_IDS,
    ) -> list[RunGroup]:
        field = group_field(by)
        check_max_ids(max_ids)
        records = [record for _, record in self._matching(project, where)]
        return group_records(records, field, max_ids)

    def list_projects(self) -> list[ProjectSummary]:
        found: dict[tuple[str, str], tuple[int, float]] = {}
        with self._lock:
            for run in self._runs.values():
                info = docs.info_from_document(run.doc, heartbeat_at=None, path=None, now=now())
                count, last = found.get((info.owner, info.project), (0, info.created_at))
                found[(info.owner, info.project)] = (count + 1, max(last, info.created_at))
        return [ProjectSummary(o, p, n, last) for (o, p), (n, last) in sorted(found.items())]

    def _summary(self, run: _Run) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, stream in run.streams.items():
            rows = [r[1] for r in stream.rows]
            columns = {f: numeric_column(rows, f)[0] for f in field_names(rows)}
            for fld, stat in stats_of(columns, len(rows)).items():
                if not fld.startswith("_") and stat["last"] is not None:
                    out[fld if name == "default" else f"{name}.{fld}"] = stat["last"]
        return out

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            self._run(run_id)
            del self._runs[run_id]

    def heartbeat(self, run_id: str, at: float) -> None:
        with self._lock:
            self._run(run_id).heartbeat = at

    def write(self, run_id: str, batch: Batch) -> None:
        with self._lock:
            run = self._run(run_id)
            for update in batch.params:
                data = dict(update.data) if update.reset else {**run.params.data, **update.data}
                run.params = ParamsDoc(run.params.version + 1, data, update.at)
            for meta in batch.metadata:
                run.metadata[meta.key] = (meta.value, meta.at)
            created = iso()
            t = now()
            for info in batch.stream_info:
                stream = run.streams.get(info.stream)
                if stream is None:
                    stream = run.streams[info.stream] = _Stream(created_at=t, updated_at=t)
                if info.description is not None:
                    stream.description = info.description
                if info.tags is not None:
                    stream.tags = tuple(info.tags)
                if info.metadata is not None:
                    stream.metadata = dict(info.metadata)
            for name, rows in batch.rows.items():
                stream = run.streams.get(name)
                if stream is None:
                    stream = run.streams[name] = _Stream(created_at=t)
                base = len(stream.rows)
                stream.rows.extend((base + i, dict(row), created) for i, row in enumerate(rows))
                stream.updated_at = t
            for record in batch.logs:
                seq = len(run.logs)
                run.logs.append(
                    LogRecord(
                        record.level,
                        record.message,
                        record.timestamp,
                        record.metadata,
                        record.source,
                        seq,
                    )
                )
            run.events.extend(batch.events)
            for topic, entries in docs.merge_track_entries(batch.tracks).items():
                run.tracks.setdefault(topic, []).extend(entries)
            run.lineage.extend(batch.lineage)
            for patch in batch.patches:
                docs.apply_patch(run.doc, patch)

    def sync(self, run_id: str) -> None:
        with self._lock:
            self._run(run_id)

    def read_params(self, run_id: str) -> ParamsDoc:
        with self._lock:
            p = self._run(run_id).params
            return ParamsDoc(p.version, dict(p.data), p.updated_at)

    def read_metadata(self, run_id: str) -> dict[str, tuple[dict[str, Any], float]]:
        with self._lock:
            return dict(self._run(run_id).metadata)

    def list_streams(self, run_id: str) -> list[StreamInfo]:
        with self._lock:
            run = self._run(run_id)
            return [
                StreamInfo(
                    name,
                    len(s.rows),
                    s.created_at,
                    s.updated_at,
                    tuple(field_names(r[1] for r in s.rows)),
                    s.description,
                    s.tags,
                    None if s.metadata is None else dict(s.metadata),
                )
                for name, s in sorted(run.streams.items())
            ]

    def read_rows(self, run_id: str, stream: str, start: int = 0, limit: int = 1000) -> RowsPage:
        with self._lock:
            s = self._run(run_id).streams.get(stream)
            rows = s.rows if s else []
            if start < 0:
                start = max(0, len(rows) + start)
            page = [
                (i, {k: decode_value(v) for k, v in d.items()}, c)
                for i, d, c in rows[start : start + max(limit, 0)]
            ]
            return RowsPage(rows=page, start_index=start, total=len(rows))

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, np.ndarray[Any, Any]]:
        start = check_start(start)
        with self._lock:
            s = self._run(run_id).streams.get(stream)
            every = s.rows if s else []
            wanted = field_names(r[1] for r in every) if fields is None else list(fields)
            rows = [r[1] for r in every[start:]]
        out = {"_index": np.arange(start, start + len(rows), dtype=np.int64)}
        for fld in wanted:
            out[fld] = numeric_column(rows, fld)[0]
        return out

    def read_logs(
        self, run_id: str, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        min_rank = LEVEL_RANK.get(level, 0) if level else 0
        with self._lock:
            out = [
                r for r in self._run(run_id).logs[start:] if LEVEL_RANK.get(r.level, 1) >= min_rank
            ]
        return out if limit is None else out[:limit]

    def read_events(self, run_id: str, since: float | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self._run(run_id).events if since is None or e.wallclock >= since]

    def list_tracks(self, run_id: str) -> list[str]:
        with self._lock:
            return sorted(self._run(run_id).tracks)

    def read_track(
        self, run_id: str, topic: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            rows = list(self._run(run_id).tracks.get(topic, []))
        return docs.merge_track_rows(
            r
            for r in rows
            if (start is None or r["timestamp"] >= start) and (end is None or r["timestamp"] < end)
        )

    def read_lineage(self, run_id: str) -> list[LineageRecord]:
        with self._lock:
            return list(self._run(run_id).lineage)

    def read_lineage_many(self, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        with self._lock:
            return {
                run_id: list(self._runs[run_id].lineage)
                for run_id in run_ids
                if run_id in self._runs
            }

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        with self._lock:  # re-entrant: one consistent view of every run
            return {r: self.read_params(r) for r in run_ids if r in self._runs}

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        with self._lock:
            return {r: self.list_streams(r) for r in run_ids if r in self._runs}

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        """Each known run's columns, read under one lock: one consistent view."""
        pairs = check_field_pairs(fields)
        with self._lock:
            return {
                r: aggregates_from_columns(partial(self.read_columns, r), pairs)
                for r in run_ids
                if r in self._runs
            }

    def run_path(self, run_id: str) -> str | None:
        return None

    def close(self) -> None:
        return None
