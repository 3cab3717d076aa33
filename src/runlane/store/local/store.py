"""LocalStore: runs as folders under a root, in ML-Dash 0.11's layout, plus a SQLite catalog.

Layout (see DESIGN.md)::

    <root>/<owner>/<project>/[<folder>/]<name>/
        experiment.json  parameters.json  metadata.json  lineage.jsonl  .heartbeat
        metrics/<stream>/data.jsonl + metadata.json + .columns/
        logs/logs.jsonl + .log_sequence     events/events.jsonl
        tracks/<topic with / → _>/data.jsonl + metadata.json
    <root>/.runlane/catalog.sqlite

Every file is either appended line by line under a lock (:class:`AppendLog`) or replaced
atomically; several processes may write one run. ``write`` returns once the data is in the
OS (safe against a crash of the process); ``sync`` fsyncs what this process wrote.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

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
    RunPatch,
    RunSpec,
    Status,
    StreamInfo,
)
from runlane.errors import NotFoundError, StoreError
from runlane.names import check_name, check_path
from runlane.store import documents as docs
from runlane.store.columns import check_field_pairs, check_start, stats_of
from runlane.store.grouping import MAX_IDS, check_max_ids, group_field
from runlane.store.local import aggregates, bulk, lineage_index
from runlane.store.local import metrics as streams
from runlane.store.local.catalog import Catalog
from runlane.store.local.files import (
    AppendLog,
    atomic_write,
    dumps_line,
    iter_jsonl,
    locked,
    read_json,
    write_json,
)
from runlane.store.local.listing import list_runs
from runlane.timeutil import iso, now, parse_iso
from runlane.values import decode_value


def topic_dir_name(topic: str) -> str:
    """ML-Dash stores topic ``robot/position`` in ``tracks/robot_position/``."""
    return topic.replace("/", "_")


class LocalStore:
    """The embedded default store. Thread-safe; fork-safe (the catalog reconnects)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.root)
        self._paths: dict[str, Path] = {}
        self._dirty: dict[str, set[Path]] = {}
        self._lock = threading.RLock()

    @property
    def uri(self) -> str:
        return str(self.root)

    # --- runs ---------------------------------------------------------------------------
    def create_run(self, spec: RunSpec) -> tuple[RunInfo, bool]:
        project_dir = self.root / spec.owner / spec.project
        parent = project_dir / spec.folder if spec.folder else project_dir
        with locked(self._project_lock(project_dir)):
            existing = self._find_existing(spec, parent)
            if existing is not None:
                return self.get_run(existing), True
            run_id = spec.run_id or docs.new_run_id()
            base = spec.name or run_id
            name = docs.unique_name(base, lambda n: (parent / n).exists())
            run_dir = parent / name
            at = now()
            doc = docs.new_document(spec, name, run_id, at)
            try:
                run_dir.mkdir(parents=True)
            except OSError as exc:
                raise StoreError(f"could not create run folder {run_dir}: {exc}") from exc
            write_json(run_dir / "experiment.json", doc)
            self._touch_heartbeat(run_dir, at)
            self._paths[run_id] = run_dir
            self._index(doc, run_dir)
        return self.get_run(run_id), False

    def _project_lock(self, project_dir: Path) -> Path:
        project_dir.mkdir(parents=True, exist_ok=True)
        return project_dir / ".project.lock"

    def _find_existing(self, spec: RunSpec, parent: Path) -> str | None:
        if spec.run_id is not None:
            try:
                self._dir(spec.run_id)
                return spec.run_id
            except NotFoundError:
                pass
        if spec.external_id is not None:
            rows = self.catalog.execute(
                "SELECT id FROM runs WHERE owner=? AND project=? AND external_id=? "
                "ORDER BY created LIMIT 1",
                (spec.owner, spec.project, spec.external_id),
            )
            if rows:
                return str(rows[0][0])
        if spec.resume and spec.name:
            doc = read_json(parent / spec.name / "experiment.json", None)
            if isinstance(doc, dict) and "id" in doc:
                self._paths[str(doc["id"])] = parent / spec.name
                return str(doc["id"])
            if isinstance(doc, dict):  # a folder written by ML-Dash itself: adopt it
                return self._adopt(parent / spec.name, spec)
        return None

    def _adopt(self, run_dir: Path, spec: RunSpec) -> str:
        run_id = spec.run_id or docs.new_run_id()
        foreign = read_json(run_dir / "experiment.json", {}) or {}
        doc = docs.new_document(spec, run_dir.name, run_id, now())
        doc.update(
            {
                k: v
                for k, v in foreign.items()
                if k in ("description", "tags", "metadata", "created_at", "bindrs")
            }
        )
        write_json(run_dir / "experiment.json", doc)
        self._paths[run_id] = run_dir
        self._index(doc, run_dir)
        return run_id

    def _dir(self, run_id: str) -> Path:
        path = self._paths.get(run_id)
        if path is not None:
            return path
        rows = self.catalog.execute("SELECT path FROM runs WHERE id=?", (run_id,))
        if rows:
            path = self.root / str(rows[0][0])
            if (path / "experiment.json").exists():
                self._paths[run_id] = path
                return path
        raise NotFoundError(f"run {run_id!r} not found in {self.root}")

    def _doc(self, run_dir: Path) -> dict[str, Any]:
        doc = read_json(run_dir / "experiment.json", None)
        if not isinstance(doc, dict):
            raise NotFoundError(f"no run in {run_dir}")
        return doc

    def get_run(self, run_id: str) -> RunInfo:
        run_dir = self._dir(run_id)
        return docs.info_from_document(
            self._doc(run_dir),
            heartbeat_at=self._heartbeat_at(run_dir),
            path=str(run_dir),
            now=now(),
        )

    def resolve_run(self, ref: str) -> str:
        candidate = self._run_folder(ref)
        if candidate is not None:
            doc = read_json(candidate / "experiment.json", {}) or {}
            if "id" in doc:
                self._paths[str(doc["id"])] = candidate
                return str(doc["id"])
        rows = self.catalog.execute("SELECT id FROM runs WHERE id=?", (ref,))
        if rows:
            return str(rows[0][0])
        rows = self.catalog.execute(
            "SELECT id FROM runs WHERE path=? OR (owner || '/' || project || '/' || "
            "COALESCE(folder || '/', '') || name)=?",
            (ref, ref),
        )
        if len(rows) == 1:
            return str(rows[0][0])
        if len(ref) >= 6:
            rows = self.catalog.execute(
                "SELECT id FROM runs WHERE substr(id, 1, ?)=? LIMIT 2", (len(ref), ref)
            )
            if len(rows) == 1:
                return str(rows[0][0])
            if len(rows) > 1:
                raise NotFoundError(f"run reference {ref!r} is ambiguous; give more characters")
        raise NotFoundError(
            f"no run {ref!r} in {self.root}: give a run id, an owner/project/name prefix or a "
            "run folder (run `runlane reindex` if the catalog is out of date)"
        )

    def _run_folder(self, ref: str) -> Path | None:
        """``ref`` as a run folder under this root, else None. A folder outside the root is
        not this store's (a reference sent to a server must not reach other files), and a
        name the OS refuses (too long, NUL) is simply not a folder."""
        try:
            candidate = Path(ref).expanduser().resolve()
            if not (candidate / "experiment.json").is_file():
                return None
        except (OSError, ValueError, RuntimeError):
            return None
        return candidate if candidate.is_relative_to(self.root) else None

    def list_runs(
        self,
        *,
        project: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        self._reconcile_liveness()
        rows = list_runs(
            self.catalog, project=project, where=where, sort=sort, limit=limit, offset=offset
        )
        return [self._info_from_row(r) for r in rows]

    def _info_from_row(self, row: dict[str, Any]) -> RunInfo:
        return RunInfo(
            id=row["id"],
            owner=row["owner"],
            project=row["project"],
            name=row["name"],
            folder=row["folder"],
            group=row["grp"],
            description=row["description"],
            tags=tuple(row["tags"]),
            status=row["status"],
            status_history=docs.status_history(row["history"]),
            framework=row["framework"],
            backend=row["backend"],
            external_id=row["external_id"],
            created_at=row["created"],
            updated_at=row["updated"],
            heartbeat_at=None,
            path=os.path.join(str(self.root), row["path"]),  # pathlib is slow at 10,000 rows
            extra=row["meta"],
        )

    def _reconcile_liveness(self) -> None:
        """Mark catalog rows of dead running runs ``crashed`` (and revive live ones)."""
        rows = self.catalog.execute(
            "SELECT id, path, status FROM runs WHERE status IN ('running', 'crashed')"
        )
        t = now()
        for run_id, rel, status in rows:
            run_dir = self.root / rel
            doc = read_json(run_dir / "experiment.json", None)
            if not isinstance(doc, dict):
                continue
            derived = docs.derive_status(doc, self._heartbeat_at(run_dir), t)
            if derived != status:
                self.catalog.update(run_id, status=derived)

    def count_runs(self, *, project: str | None = None, where: str | None = None) -> int:
        self._reconcile_liveness()
        return aggregates.count_runs(self.catalog, project, where)

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
        self._reconcile_liveness()
        return aggregates.group_runs(self.catalog, field, project, where, max_ids)

    def list_projects(self) -> list[ProjectSummary]:
        return aggregates.list_projects(self.catalog)

    def delete_run(self, run_id: str) -> None:
        run_dir = self._dir(run_id)
        try:
            shutil.rmtree(run_dir)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"could not delete {run_dir}: {exc}") from exc
        self.catalog.execute("DELETE FROM runs WHERE id=?", (run_id,))
        lineage_index.forget(self.catalog, run_id)
        self._paths.pop(run_id, None)

    def heartbeat(self, run_id: str, at: float) -> None:
        self._touch_heartbeat(self._dir(run_id), at)

    def _touch_heartbeat(self, run_dir: Path, at: float) -> None:
        path = run_dir / ".heartbeat"
        try:
            os.utime(path, (at, at))
        except FileNotFoundError:
            path.touch()
            os.utime(path, (at, at))

    def _heartbeat_at(self, run_dir: Path) -> float | None:
        try:
            return (run_dir / ".heartbeat").stat().st_mtime
        except OSError:
            return None

    # --- writes -------------------------------------------------------------------------
    def write(self, run_id: str, batch: Batch) -> None:
        """Apply ``batch`` part by part (params, metadata, each stream, logs, ...), each part
        all or nothing. When a part fails (a full disk), the parts already applied are
        removed from ``batch`` before the error is raised: the writer retries that same
        batch, and every record must land exactly once."""
        applied: list[str] = []
        try:
            self._write(run_id, batch, applied)
        except BaseException:
            for part in applied:
                if part.startswith("rows:"):
                    batch.rows.pop(part[len("rows:") :], None)
                else:
                    setattr(batch, part, [])
            raise

    def _write(self, run_id: str, batch: Batch, applied: list[str]) -> None:
        run_dir = self._dir(run_id)
        dirty = self._dirty.setdefault(run_id, set())
        if batch.params:
            self._write_params(run_id, run_dir, batch)
            dirty.add(run_dir / "parameters.json")
            applied.append("params")
        if batch.metadata:
            self._write_metadata(run_dir, batch)
            dirty.add(run_dir / "metadata.json")
            applied.append("metadata")
        for info in batch.stream_info:
            stream_dir = run_dir / "metrics" / check_name(info.stream, "stream name")
            streams.set_stream_info(
                stream_dir,
                info.stream,
                info.description,
                None if info.tags is None else list(info.tags),
                info.metadata,
            )
            dirty.add(stream_dir / "metadata.json")
        if batch.stream_info:
            applied.append("stream_info")
        for stream, rows in batch.rows.items():
            if not rows:  # a batch may name a stream with no rows (the wire allows it)
                continue
            stream_dir = run_dir / "metrics" / stream
            streams.append_rows(stream_dir, stream, rows, stream in batch.nonfinite)
            dirty.add(stream_dir / "data.jsonl")
            dirty.add(stream_dir / "metadata.json")
            applied.append(f"rows:{stream}")
        if batch.logs:
            self._write_logs(run_dir, batch.logs)
            dirty.add(run_dir / "logs" / "logs.jsonl")
            applied.append("logs")
        if batch.events:
            self._append_simple(
                run_dir / "events",
                "events.jsonl",
                [
                    {
                        "name": e.name,
                        "source": e.source,
                        "wallclock": e.wallclock,
                        "metadata": e.metadata,
                    }
                    for e in batch.events
                ],
            )
            dirty.add(run_dir / "events" / "events.jsonl")
            applied.append("events")
        if batch.tracks:
            self._write_tracks(run_dir, batch, dirty)
            applied.append("tracks")
        if batch.lineage:
            self._append_simple(
                run_dir, "lineage.jsonl", [docs.lineage_to_doc(r) for r in batch.lineage]
            )
            dirty.add(run_dir / "lineage.jsonl")
            applied.append("lineage")
            lineage_index.refresh(self.catalog, run_id, run_dir)
        if batch.patches:
            self._write_patches(run_id, run_dir, batch.patches)
            dirty.add(run_dir / "experiment.json")

    def _write_params(self, run_id: str, run_dir: Path, batch: Batch) -> None:
        path = run_dir / "parameters.json"
        with locked(run_dir / ".parameters.lock"):
            doc = read_json(path, None)
            if not isinstance(doc, dict):
                doc = {"version": 0, "data": {}}
            for update in batch.params:
                data = dict(update.data) if update.reset else {**doc.get("data", {}), **update.data}
                version = int(doc.get("version", 0)) + 1
                doc = {"version": version, "data": data, "updatedAt": iso(update.at)}
                if version == 1:
                    doc["createdAt"] = doc["updatedAt"]
            write_json(path, doc)
        self.catalog.update(run_id, params=doc["data"], updated=now())

    def _write_metadata(self, run_dir: Path, batch: Batch) -> None:
        path = run_dir / "metadata.json"
        with locked(run_dir / ".metadata.lock"):
            doc = read_json(path, None) or {}
            for update in batch.metadata:
                doc[update.key] = {"value": update.value, "updatedAt": update.at}
            write_json(path, doc)

    def _write_logs(self, run_dir: Path, records: list[LogRecord]) -> None:
        logs_dir = run_dir / "logs"
        log = AppendLog(logs_dir / "logs.jsonl", logs_dir / ".state.json", logs_dir / ".lock")

        def build(first: int) -> tuple[bytes, int]:
            lines = []
            for offset, rec in enumerate(records):
                line: dict[str, Any] = {
                    "sequenceNumber": first + offset,
                    "timestamp": iso(rec.timestamp),
                    "level": rec.level,
                    "message": rec.message,
                }
                if rec.metadata:
                    line["metadata"] = rec.metadata
                if rec.source is not None:
                    line["source"] = rec.source
                lines.append(dumps_line(line))
            return b"".join(lines), len(records)

        def update_state(state: dict[str, Any], first: int, count: int, recovered: bool) -> None:
            atomic_write(logs_dir / ".log_sequence", str(state["next"]).encode())

        log.append(build, update_state)

    def _append_simple(self, folder: Path, filename: str, docs_: list[dict[str, Any]]) -> None:
        log = AppendLog(
            folder / filename, folder / f".{filename}.state", folder / f".{filename}.lock"
        )
        log.append(lambda first: (b"".join(dumps_line(d) for d in docs_), len(docs_)))

    def _write_tracks(self, run_dir: Path, batch: Batch, dirty: set[Path]) -> None:
        for topic, entries in docs.merge_track_entries(batch.tracks).items():
            topic_dir = run_dir / "tracks" / topic_dir_name(topic)
            log = AppendLog(
                topic_dir / "data.jsonl",
                topic_dir / "metadata.json",
                topic_dir / ".lock",
                next_key="totalEntries",
                bytes_key="dataBytes",
            )

            def update_state(
                state: dict[str, Any],
                first: int,
                count: int,
                recovered: bool,
                topic: str = topic,
                entries: list[dict[str, Any]] = entries,
                topic_dir: Path = topic_dir,
            ) -> None:
                columns = set(state.get("columns", []))
                for entry in entries:
                    columns.update(k for k in entry if k != "timestamp")
                state.setdefault("trackId", f"local-track-{topic_dir.name}")
                state["topic"] = topic
                state["columns"] = sorted(columns)
                first_ts = entries[0]["timestamp"]
                last_ts = entries[-1]["timestamp"]
                prev_first = state.get("firstTimestamp")
                prev_last = state.get("lastTimestamp")
                state["firstTimestamp"] = (
                    first_ts if prev_first is None else min(prev_first, first_ts)
                )
                state["lastTimestamp"] = last_ts if prev_last is None else max(prev_last, last_ts)
                state.setdefault("createdAt", iso())

            payload = b"".join(dumps_line(e) for e in entries)
            log.append(_fixed(payload, len(entries)), update_state)
            dirty.add(topic_dir / "data.jsonl")

    def _write_patches(self, run_id: str, run_dir: Path, patches: list[RunPatch]) -> None:
        path = run_dir / "experiment.json"
        with locked(run_dir / ".experiment.lock"):
            doc = self._doc(run_dir)
            changed = False
            for patch in patches:
                changed = docs.apply_patch(doc, patch) or changed
            if changed:
                write_json(path, doc)
        if changed:
            terminal = Status(doc["status"]).terminal
            self._index(doc, run_dir, with_metrics=terminal)

    def _index(self, doc: dict[str, Any], run_dir: Path, *, with_metrics: bool = False) -> None:
        """Write the run's catalog row from its document (and params, metric summaries)."""
        params = (read_json(run_dir / "parameters.json", {}) or {}).get("data", {})
        row: dict[str, Any] = {
            "id": doc["id"],
            "path": str(run_dir.relative_to(self.root)),
            "owner": doc.get("owner", ""),
            "project": doc.get("project", ""),
            "name": doc.get("name", run_dir.name),
            "folder": doc.get("folder"),
            "grp": doc.get("group"),
            "description": doc.get("description"),
            "tags": doc.get("tags") or [],
            "status": doc.get("status", "created"),
            "created": docs._epoch(doc.get("created_at")),
            "updated": docs._epoch(doc.get("updated_at") or doc.get("created_at")),
            "framework": doc.get("framework"),
            "backend": doc.get("backend"),
            "external_id": doc.get("externalId"),
            "params": params,
            "metrics": self._summaries(run_dir) if with_metrics else self._old_metrics(doc["id"]),
            "meta": doc.get("extra") or {},
            "pid": doc.get("pid"),
            "host": doc.get("host"),
            "history": doc.get("statusHistory") or [],
        }
        self.catalog.upsert(row)

    def _old_metrics(self, run_id: str) -> dict[str, Any]:
        rows = self.catalog.execute("SELECT metrics FROM runs WHERE id=?", (run_id,))
        return dict(orjson.loads(rows[0][0] or "{}")) if rows else {}

    def _summaries(self, run_dir: Path) -> dict[str, Any]:
        """``{field: last}`` of the default stream and ``{stream.field: last}`` of the others."""
        out: dict[str, Any] = {}
        for stream_dir in streams.list_stream_dirs(run_dir / "metrics"):
            count = streams.stream_count(stream_dir)
            columns = streams.read_columns(stream_dir, None)
            for field, stat in stats_of(columns, count).items():
                if field.startswith("_") or stat["last"] is None:
                    continue
                key = field if stream_dir.name == "default" else f"{stream_dir.name}.{field}"
                out[key] = stat["last"]
        return out

    def sync(self, run_id: str) -> None:
        paths = self._dirty.pop(run_id, set())
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for folder in {p.parent for p in paths}:
            try:
                fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                continue

    # --- reads --------------------------------------------------------------------------
    def read_params(self, run_id: str) -> ParamsDoc:
        return bulk.params_of(self._dir(run_id))

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        """One catalog query for the folders, then each run's ``parameters.json`` (see
        :mod:`runlane.store.local.bulk`)."""
        found = bulk.folders(self.catalog, self.root, run_ids, self._paths)
        return {run_id: bulk.params_of(run_dir) for run_id, run_dir in found.items()}

    def read_metadata(self, run_id: str) -> dict[str, tuple[dict[str, Any], float]]:
        doc = read_json(self._dir(run_id) / "metadata.json", None) or {}
        return {k: (v["value"], float(v["updatedAt"])) for k, v in doc.items()}

    def list_streams(self, run_id: str) -> list[StreamInfo]:
        return bulk.streams_of(self._dir(run_id))

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        """One catalog query for the folders, then each run's stream files (see
        :mod:`runlane.store.local.bulk`)."""
        found = bulk.folders(self.catalog, self.root, run_ids, self._paths)
        return {run_id: bulk.streams_of(run_dir) for run_id, run_dir in found.items()}

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        """One catalog query for the folders, then each run's column cache, whole columns
        (a loop over local files, see :func:`runlane.store.local.bulk.aggregates_of`)."""
        pairs = check_field_pairs(fields)
        found = bulk.folders(self.catalog, self.root, run_ids, self._paths)
        return {run_id: bulk.aggregates_of(run_dir, pairs) for run_id, run_dir in found.items()}

    def _stream_dir(self, run_id: str, stream: str) -> Path:
        check_name(stream, "stream name")
        return self._dir(run_id) / "metrics" / stream

    def read_rows(self, run_id: str, stream: str, start: int = 0, limit: int = 1000) -> RowsPage:
        return streams.read_rows(self._stream_dir(run_id, stream), start, limit)

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, np.ndarray[Any, Any]]:
        start = check_start(start)
        return streams.read_columns(
            self._stream_dir(run_id, stream), None if fields is None else list(fields), start
        )

    def read_logs(
        self, run_id: str, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        min_rank = LEVEL_RANK.get(level, 0) if level else 0
        out: list[LogRecord] = []
        for line in iter_jsonl(self._dir(run_id) / "logs" / "logs.jsonl"):
            seq = int(line.get("sequenceNumber", -1))
            if seq < start or LEVEL_RANK.get(line.get("level", "info"), 1) < min_rank:
                continue
            out.append(
                LogRecord(
                    level=line.get("level", "info"),
                    message=line.get("message", ""),
                    timestamp=parse_iso(line["timestamp"]) if "timestamp" in line else 0.0,
                    metadata=line.get("metadata"),
                    source=line.get("source"),
                    seq=seq,
                )
            )
            if limit is not None and len(out) >= limit:
                break
        return out

    def read_events(self, run_id: str, since: float | None = None) -> list[Event]:
        out = []
        for line in iter_jsonl(self._dir(run_id) / "events" / "events.jsonl"):
            wallclock = float(line.get("wallclock", 0.0))
            if since is not None and wallclock < since:
                continue
            out.append(
                Event(
                    name=line["name"],
                    wallclock=wallclock,
                    source=line.get("source"),
                    metadata=line.get("metadata"),
                )
            )
        return out

    def list_tracks(self, run_id: str) -> list[str]:
        tracks_dir = self._dir(run_id) / "tracks"
        if not tracks_dir.is_dir():
            return []
        topics = []
        for entry in sorted(tracks_dir.iterdir()):
            meta = read_json(entry / "metadata.json", None)
            if isinstance(meta, dict):
                topics.append(str(meta.get("topic", entry.name)))
        return topics

    def read_track(
        self, run_id: str, topic: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        check_path(topic, "track topic")  # ".." would reach the run folder itself
        path = self._dir(run_id) / "tracks" / topic_dir_name(topic) / "data.jsonl"
        rows = [
            {k: decode_value(v) for k, v in row.items()}
            for row in iter_jsonl(path)
            if (start is None or row["timestamp"] >= start)
            and (end is None or row["timestamp"] < end)
        ]
        return docs.merge_track_rows(rows)

    def read_lineage(self, run_id: str) -> list[LineageRecord]:
        path = self._dir(run_id) / "lineage.jsonl"
        return [docs.lineage_from_doc(line) for line in iter_jsonl(path)]

    def read_lineage_many(self, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        """From the catalog's copy of the lineage files (see
        :mod:`runlane.store.local.lineage_index`), in one query."""
        return lineage_index.read_many(self.catalog, self.root, run_ids)

    def run_path(self, run_id: str) -> str | None:
        return str(self._dir(run_id))

    # --- maintenance --------------------------------------------------------------------
    def reindex(self) -> int:
        """Rebuild the catalog from the run folders; returns the number of runs found."""
        self.catalog.clear()
        self._paths.clear()
        found = 0
        for doc_path in self.root.rglob("experiment.json"):
            if ".runlane" in doc_path.parts:
                continue
            doc = read_json(doc_path, None)
            if not isinstance(doc, dict) or "id" not in doc:
                continue
            self._paths[str(doc["id"])] = doc_path.parent
            self._index(doc, doc_path.parent, with_metrics=True)
            found += 1
        lineage_index.fill(self.catalog, self.root)
        return found

    def close(self) -> None:
        self.catalog.close()


def _fixed(data: bytes, count: int) -> Callable[[int], tuple[bytes, int]]:
    """An AppendLog builder for content that does not depend on the first record number."""
    return lambda first: (data, count)
