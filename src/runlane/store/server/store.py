"""ServerStore: the Store protocol on PostgreSQL plus an object store for cold metric chunks.

Stateless: everything lives in the database and the object store, so any number of server
processes may share them. Contracts beyond :mod:`runlane.store.base`:

* ``write`` applies a batch in one transaction (all or nothing) and returns after the commit.
  :meth:`ServerStore.write_once` does the same but records a client batch id in that
  transaction and skips a batch whose id was applied before, so retries never duplicate.
* Metric streams keep at most ``chunk_rows`` rows hot; older rows are compacted into Parquet
  chunks (see :mod:`runlane.store.server.streams`) — inline after the write, or by a
  background thread (``background_compaction=True``), and readers merge hot and cold.
* ``sync`` is a no-op beyond ``write``: a commit is as durable as the database is configured.
* Driver errors raise :class:`~runlane.errors.StoreError` with the cause chained; data the
  database refuses (a NUL character in text, a number out of range) raises
  :class:`~runlane.errors.InvalidValueError`, which the server answers with a 400.
* Artifact records (run manifests, asset events, checkpoints, versioned artifacts, the model
  registry, the ModelBox id index) live in PostgreSQL (``artifact_docs``, see
  :mod:`runlane.store.server.mirror`). The artifact code works on them as files in a cache
  folder (:attr:`ServerStore.root`, where :mod:`runlane.artifacts.home` lays projects out):
  ``files_root`` (``runlane server --files``), else a private temporary folder. Server
  entry points pull and push through :attr:`ServerStore.mirror`; replicas on different
  hosts share nothing but the database and the object store. Artifact bytes go to the object
  store when one is given; without one, the files of run folders are kept in the mirror too
  (as content-addressed parts in the ``objects`` table past 8 MiB).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool

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
from runlane.errors import InvalidValueError, NotFoundError, RunlaneError, StoreError
from runlane.names import check_name
from runlane.store import documents as docs
from runlane.store.columns import check_field_pairs, check_start, field_names
from runlane.store.grouping import MAX_IDS, check_max_ids, group_field
from runlane.store.server import aggregates, field_stats, runs, streams
from runlane.store.server.chunks import ChunkCache
from runlane.store.server.compactor import Compactor
from runlane.store.server.mirror import ArtifactMirror, scope_of
from runlane.store.server.objects import DatabaseObjects, ObjectStore
from runlane.store.server.schema import migrate
from runlane.store.tags import dumps, loads, untag
from runlane.timeutil import now

DEFAULT_CHUNK_ROWS = 10_000
#: Advisory lock namespace for creating runs in one owner/project ("rlcr").
CREATE_LOCK = 0x726C6372

Conn = psycopg.Connection[Any]


def _configure(conn: Conn) -> None:
    set_json_loads(orjson.loads, conn)


class ServerStore:
    """See the module docstring. Thread-safe; one connection pool per instance."""

    def __init__(
        self,
        dsn: str,
        *,
        objects: ObjectStore | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        background_compaction: bool = False,
        pool_size: int = 8,
        cache_bytes: int = 256 * 1024 * 1024,
        files_root: str | Path | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be ≥ 1, not {chunk_rows}")
        self._dsn = dsn
        self._label = _redact(dsn)
        self.chunk_rows = chunk_rows
        try:
            with psycopg.connect(dsn, connect_timeout=10) as conn:  # fails fast when down
                migrate(conn)
            self._pool: ConnectionPool[Conn] = ConnectionPool(
                dsn,
                min_size=1,
                max_size=pool_size,
                configure=_configure,
                check=ConnectionPool.check_connection,
                open=True,
                timeout=30.0,
                name="runlane",
            )
            # held by artifact write blocks while they wait for and hold their advisory
            # locks; the work inside a block takes connections of the main pool, so the two
            # never wait on each other
            self._lock_pool: ConnectionPool[Conn] = ConnectionPool(
                dsn,
                min_size=0,
                max_size=max(2, pool_size // 2),
                configure=_configure,
                check=ConnectionPool.check_connection,
                open=True,
                timeout=60.0,
                name="runlane-locks",
            )
        except RunlaneError:
            raise
        except Exception as exc:
            self._close_pool()
            raise StoreError(f"could not open the PostgreSQL store {self._label}: {exc}") from exc
        self.objects: ObjectStore = objects or DatabaseObjects(self._connect, self._label)
        self._reader = streams.ChunkReader(self.objects, ChunkCache(cache_bytes))
        self._compactor = Compactor(self._compact_stream) if background_compaction else None
        #: The artifact records (see the module docstring).
        try:
            self.mirror = ArtifactMirror(
                self._connect,
                self._connect_locks,
                self.objects,
                Path(files_root) if files_root is not None else None,
                self._label,
            )
        except OSError as exc:
            self._close_pool()
            raise StoreError(f"could not use {files_root} as the artifact cache: {exc}") from exc
        #: The cache folder the artifact code works in (see the module docstring).
        self.root: Path = self.mirror.root

    # --- plumbing -----------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return self._dsn

    @contextmanager
    def _connect(self) -> Iterator[Conn]:
        """A pooled connection in a transaction (committed on success); driver errors become
        StoreError."""
        with self._use(self._pool) as conn:
            yield conn

    @contextmanager
    def _connect_locks(self) -> Iterator[Conn]:
        """As :meth:`_connect`, from the pool of artifact write blocks (see ``__init__``)."""
        with self._use(self._lock_pool) as conn:
            yield conn

    @contextmanager
    def _use(self, pool: ConnectionPool[Conn]) -> Iterator[Conn]:
        try:
            with pool.connection() as conn:
                yield conn
        except RunlaneError:
            raise
        except psycopg.DataError as exc:  # the request's data, not the store: retrying is futile
            raise InvalidValueError(
                f"PostgreSQL store {self._label} cannot hold a value of this request (it keeps "
                f"no NUL character in text, and numbers within its ranges): {exc}"
            ) from exc
        except (psycopg.Error, OSError) as exc:
            raise StoreError(f"PostgreSQL store {self._label} failed: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreError(f"PostgreSQL store {self._label} failed: {exc}") from exc
            raise

    def touch_artifacts(self, owner: str, project: str) -> None:
        """The hook of :func:`runlane.artifacts.home.project_dir`: bring the project's
        artifact records into :attr:`root` (see :meth:`ArtifactMirror.touch`)."""
        self.mirror.touch(owner, project)

    def connection(self) -> AbstractContextManager[Conn]:
        """A pooled connection in a transaction, for modules that keep their own tables
        (API tokens); committed when the block ends without an error."""
        return self._connect()

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        """A read-only REPEATABLE READ transaction: every query sees one snapshot."""
        with self._connect() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _require(self, conn: Conn, run_id: str, *, lock: bool = False) -> None:
        sql = "SELECT 1 FROM runs WHERE id = %s" + (" FOR NO KEY UPDATE" if lock else "")
        if conn.execute(sql.encode(), (run_id,)).fetchone() is None:
            raise NotFoundError(f"run {run_id!r} not found in {self._label}")

    # --- runs ---------------------------------------------------------------------------
    def create_run(self, spec: RunSpec) -> tuple[RunInfo, bool]:
        with self._connect() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                (CREATE_LOCK, f"{spec.owner}/{spec.project}"),
            )
            existing = self._find_existing(conn, spec)
            if existing is not None:
                return runs.get(conn, existing, self._label), True
            run_id = spec.run_id or docs.new_run_id()
            if spec.run_id is None:
                while conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone():
                    run_id = docs.new_run_id()  # pragma: no cover - 64 random bits
            taken = {
                str(r[0])
                for r in conn.execute(
                    "SELECT name FROM runs WHERE owner = %s AND project = %s "
                    "AND folder IS NOT DISTINCT FROM %s",
                    (spec.owner, spec.project, spec.folder),
                ).fetchall()
            }
            name = docs.unique_name(spec.name or run_id, taken.__contains__)
            at = now()
            doc = runs.server_document(docs.new_document(spec, name, run_id, at))
            runs.insert(conn, doc, at)
            return runs.info(doc, at), False

    def _find_existing(self, conn: Conn, spec: RunSpec) -> str | None:
        if spec.run_id is not None:
            row = conn.execute("SELECT id FROM runs WHERE id = %s", (spec.run_id,)).fetchone()
            if row is not None:
                return str(row[0])
        if spec.external_id is not None:
            row = conn.execute(
                "SELECT id FROM runs WHERE owner = %s AND project = %s AND external_id = %s "
                "ORDER BY created LIMIT 1",
                (spec.owner, spec.project, spec.external_id),
            ).fetchone()
            if row is not None:
                return str(row[0])
        if spec.resume and spec.name:
            row = conn.execute(
                "SELECT id FROM runs WHERE owner = %s AND project = %s AND name = %s "
                "AND folder IS NOT DISTINCT FROM %s ORDER BY created LIMIT 1",
                (spec.owner, spec.project, spec.name, spec.folder),
            ).fetchone()
            if row is not None:
                return str(row[0])
        return None

    def get_run(self, run_id: str) -> RunInfo:
        with self._connect() as conn:
            return runs.get(conn, run_id, self._label)

    def resolve_run(self, ref: str) -> str:
        with self._connect() as conn:
            return runs.resolve(conn, ref, self._label)

    def list_runs(
        self,
        *,
        project: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        with self._connect() as conn:
            return runs.search(
                conn, project=project, where=where, sort=sort, limit=limit, offset=offset
            )

    def count_runs(self, *, project: str | None = None, where: str | None = None) -> int:
        with self._connect() as conn:
            return aggregates.count(conn, project, where)

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
        with self._connect() as conn:
            return aggregates.group(conn, field, project, where, max_ids)

    def list_projects(self) -> list[ProjectSummary]:
        with self._connect() as conn:
            return aggregates.projects(conn)

    def delete_run(self, run_id: str) -> None:
        with self._connect() as conn:
            self._require(conn, run_id)
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM streams WHERE run_id = %s", (run_id,)
                ).fetchall()
            ]
            keys = [
                str(r[0])
                for r in conn.execute(
                    "SELECT key FROM metric_chunks WHERE stream_id = ANY(%s)", (ids,)
                ).fetchall()
            ]
            conn.execute("DELETE FROM metric_rows WHERE stream_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM metric_chunks WHERE stream_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM runs WHERE id = %s", (run_id,))
        if keys:
            self.objects.delete(keys)

    def heartbeat(self, run_id: str, at: float) -> None:
        with self._connect() as conn:
            cur = conn.execute("UPDATE runs SET heartbeat_at = %s WHERE id = %s", (at, run_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"run {run_id!r} not found in {self._label}")

    # --- writes -------------------------------------------------------------------------
    def write(self, run_id: str, batch: Batch) -> None:
        self.write_once(run_id, batch, None)

    def write_once(self, run_id: str, batch: Batch, batch_id: str | None) -> bool:
        """Apply ``batch`` unless ``batch_id`` was applied before; return whether it was
        applied now. The id is recorded in the batch's own transaction."""
        touched: list[streams.StreamState] = []
        with self._connect() as conn:
            if batch_id is not None:
                cur = conn.execute(
                    "INSERT INTO ingest_batches (batch_id, run_id, at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (batch_id) DO NOTHING",
                    (batch_id, run_id, now()),
                )
                if cur.rowcount == 0:
                    self._require(conn, run_id)
                    return False
            self._apply(conn, run_id, batch, touched)
        for st in touched:
            if streams.needs_compaction(st, self.chunk_rows):
                if self._compactor is not None:
                    self._compactor.submit(run_id, st.id)
                else:
                    self._compact_stream(run_id, st.id)
        return True

    def _apply(
        self, conn: Conn, run_id: str, batch: Batch, touched: list[streams.StreamState]
    ) -> None:
        # Lock order: the run's row first (the log counter update, or FOR NO KEY UPDATE),
        # then stream counters, then the run's row again (metrics, params, patches). Taking
        # the row lock first serializes a run's batches, so two of them never hold a stream
        # counter each while waiting for the row (a deadlock PostgreSQL would abort).
        if batch.logs:
            row = conn.execute(
                "UPDATE runs SET log_next = log_next + %s WHERE id = %s RETURNING log_next",
                (len(batch.logs), run_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id!r} not found in {self._label}")
            first_seq = int(row[0]) - len(batch.logs)
        else:
            self._require(conn, run_id, lock=True)
            first_seq = 0
        for update in batch.params:
            conn.execute(
                "UPDATE runs SET params = CASE WHEN %s THEN %s::jsonb ELSE params || %s::jsonb "
                "END, params_version = params_version + 1, params_updated = %s WHERE id = %s",
                (update.reset, dumps(update.data), dumps(update.data), update.at, run_id),
            )
        for meta in batch.metadata:
            conn.execute(
                "INSERT INTO run_metadata (run_id, key, value, updated_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_at = EXCLUDED.updated_at",
                (run_id, meta.key, dumps(meta.value), meta.at),
            )
        for info in batch.stream_info:
            streams.set_info(conn, run_id, info)
        if batch.rows:
            at = now()
            summary: dict[str, float] = {}
            for stream, rows in batch.rows.items():
                if not rows:
                    continue
                check_name(stream, "stream name")
                names = field_names(rows)
                nonfinite = stream in batch.nonfinite
                touched.append(streams.append(conn, run_id, stream, rows, names, nonfinite, at))
                summary.update(streams.summary(stream, rows, names))
            if summary:
                conn.execute(
                    "UPDATE runs SET metrics = metrics || %s WHERE id = %s",
                    (Jsonb(summary), run_id),
                )
        if batch.logs:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO run_logs (run_id, seq, level, rank, message, ts, metadata, "
                    "source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            run_id,
                            first_seq + i,
                            r.level,
                            LEVEL_RANK.get(r.level, 1),
                            r.message,
                            r.timestamp,
                            dumps(r.metadata) if r.metadata is not None else None,
                            r.source,
                        )
                        for i, r in enumerate(batch.logs)
                    ],
                )
        if batch.events:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO run_events (run_id, name, source, wallclock, metadata) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [
                        (
                            run_id,
                            e.name,
                            e.source,
                            e.wallclock,
                            dumps(e.metadata) if e.metadata is not None else None,
                        )
                        for e in batch.events
                    ],
                )
        if batch.tracks:
            merged = docs.merge_track_entries(batch.tracks)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO run_tracks (run_id, topic, ts, fields) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (run_id, topic, ts) DO UPDATE SET "
                    "fields = run_tracks.fields || EXCLUDED.fields",
                    [
                        (
                            run_id,
                            topic,
                            entry["timestamp"],
                            dumps({k: v for k, v in entry.items() if k != "timestamp"}),
                        )
                        for topic, entries in merged.items()
                        for entry in entries
                    ],
                )
        if batch.lineage:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO run_lineage (run_id, doc) VALUES (%s, %s)",
                    [(run_id, dumps(docs.lineage_to_doc(r))) for r in batch.lineage],
                )
        if batch.patches:
            row = conn.execute(
                "SELECT doc FROM runs WHERE id = %s FOR NO KEY UPDATE", (run_id,)
            ).fetchone()
            assert row is not None
            doc: dict[str, Any] = row[0]
            changed = False
            for patch in batch.patches:
                changed = docs.apply_patch(doc, patch) or changed
            if changed:
                runs.update_document(conn, run_id, runs.server_document(doc))

    def sync(self, run_id: str) -> None:
        """Also pushes artifact records written into :attr:`root` outside the server's
        write blocks (the SDK logging to this store in-process)."""
        with self._connect() as conn:
            self._require(conn, run_id)
        if self.mirror.dirty:
            info = self.get_run(run_id)
            self.mirror.flush(scope_of(info.owner, info.project))

    # --- compaction ---------------------------------------------------------------------
    def _compact_stream(self, run_id: str, stream_id: int) -> int:
        with self._connect() as conn:
            return streams.compact(conn, self.objects, run_id, stream_id, self.chunk_rows)

    def compact(self, run_id: str | None = None) -> int:
        """Compact every stream (of ``run_id``, or of all runs) now; return chunks written.
        Waits for the background compactor to go idle first."""
        if self._compactor is not None:
            self._compactor.wait_idle()
        with self._connect() as conn:
            sql = "SELECT run_id, id FROM streams WHERE next_idx - hot_start > %s"
            params: list[Any] = [self.chunk_rows]
            if run_id is not None:
                sql += " AND run_id = %s"
                params.append(run_id)
            todo = conn.execute(sql.encode(), params).fetchall()
        return sum(self._compact_stream(str(r), int(s)) for r, s in todo)

    # --- reads --------------------------------------------------------------------------
    def read_params(self, run_id: str) -> ParamsDoc:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT params_version, params, params_updated FROM runs WHERE id = %s",
                (run_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id!r} not found in {self._label}")
        return ParamsDoc(int(row[0]), untag(row[1]), row[2])

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        with self._connect() as conn:
            return aggregates.params_many(conn, run_ids)

    def read_metadata(self, run_id: str) -> dict[str, tuple[dict[str, Any], float]]:
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT key, value, updated_at FROM run_metadata WHERE run_id = %s ORDER BY key",
                (run_id,),
            ).fetchall()
        return {str(r[0]): (untag(r[1]), float(r[2])) for r in rows}

    def list_streams(self, run_id: str) -> list[StreamInfo]:
        with self._connect() as conn:
            self._require(conn, run_id)
            states = streams.list_states(conn, run_id)
        return [
            aggregates.stream_info(
                name, st.next_idx, st.created_at, st.updated_at, st.fields, st.info
            )
            for name, st in states
            if st.next_idx > 0 or st.info is not None
        ]

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        with self._connect() as conn:
            return aggregates.streams_many(conn, run_ids)

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        """Three queries in one snapshot, and chunk reads only where a chunk's summary
        cannot answer (see :mod:`runlane.store.server.field_stats`)."""
        pairs = check_field_pairs(fields)
        with self._snapshot() as conn:
            return field_stats.aggregates_many(conn, self._reader, run_ids, pairs)

    def read_rows(self, run_id: str, stream: str, start: int = 0, limit: int = 1000) -> RowsPage:
        with self._snapshot() as conn:
            self._require(conn, run_id)
            st = streams.state(conn, run_id, stream)
            return streams.read_rows(conn, self._reader, st, start, limit)

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, np.ndarray[Any, Any]]:
        start = check_start(start)
        with self._snapshot() as conn:
            self._require(conn, run_id)
            st = streams.state(conn, run_id, stream)
            return streams.read_columns(conn, self._reader, st, fields, start)

    def read_series(
        self, run_id: str, stream: str, fields: Sequence[str], x: str, buckets: int
    ) -> tuple[int, dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]] | None:
        """``(rows, {field: (x, y)})``: min/max downsampling of ``fields`` to ``buckets`` from
        chunk summaries (no chunk is read); None when the caller should downsample
        :meth:`read_columns` itself."""
        with self._snapshot() as conn:
            self._require(conn, run_id)
            st = streams.state(conn, run_id, stream)
            return streams.read_series(conn, st, fields, x, buckets)

    def read_logs(
        self, run_id: str, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        min_rank = LEVEL_RANK.get(level, 0) if level else 0
        sql = (
            "SELECT seq, level, message, ts, metadata::text, source FROM run_logs "
            "WHERE run_id = %s AND seq >= %s AND rank >= %s ORDER BY seq"
        )
        params: list[Any] = [run_id, start, min_rank]
        if limit is not None:
            sql += " LIMIT %s"
            params.append(max(0, int(limit)))
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(sql.encode(), params).fetchall()
        return [
            LogRecord(str(r[1]), str(r[2]), float(r[3]), loads(r[4]), r[5], int(r[0])) for r in rows
        ]

    def read_events(self, run_id: str, since: float | None = None) -> list[Event]:
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT name, wallclock, source, metadata::text FROM run_events "
                "WHERE run_id = %s AND wallclock >= %s ORDER BY pos",
                (run_id, float("-inf") if since is None else since),
            ).fetchall()
        return [Event(str(r[0]), float(r[1]), r[2], loads(r[3])) for r in rows]

    def list_tracks(self, run_id: str) -> list[str]:
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT DISTINCT topic FROM run_tracks WHERE run_id = %s ORDER BY topic",
                (run_id,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def read_track(
        self, run_id: str, topic: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT ts, fields::text FROM run_tracks WHERE run_id = %s AND topic = %s "
                "AND ts >= %s AND ts < %s ORDER BY ts",
                (
                    run_id,
                    topic,
                    float("-inf") if start is None else start,
                    float("inf") if end is None else end,
                ),
            ).fetchall()
        out = []
        for ts, text in rows:
            fields = loads(text)
            out.append({"timestamp": float(ts), **{k: _plain(v) for k, v in fields.items()}})
        return out

    def read_lineage(self, run_id: str) -> list[LineageRecord]:
        with self._connect() as conn:
            self._require(conn, run_id)
            rows = conn.execute(
                "SELECT doc::text FROM run_lineage WHERE run_id = %s ORDER BY pos", (run_id,)
            ).fetchall()
        return [docs.lineage_from_doc(loads(text)) for (text,) in rows]

    def read_lineage_many(self, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        with self._snapshot() as conn:
            return aggregates.lineage_many(conn, run_ids)

    def run_path(self, run_id: str) -> str | None:
        return None

    def close(self) -> None:
        if self._compactor is not None:
            self._compactor.stop()
        self._reader.close()
        try:
            self.mirror.close()
        finally:
            self._close_pool()

    def _close_pool(self) -> None:
        for name in ("_lock_pool", "_pool"):
            pool = getattr(self, name, None)
            if pool is not None:
                pool.close()


def _plain(value: Any) -> Any:
    from runlane.values import decode_value

    return decode_value(value)


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "postgresql://…"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn
