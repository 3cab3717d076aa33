"""The SQLite catalog of a local root: one row per run, for listing and search, and a copy of
each run's ``lineage.jsonl`` (:mod:`runlane.store.local.lineage_index`).

It is an index, not the source of truth: ``runlane reindex`` rebuilds it from the run folders.
WAL mode and a busy timeout let several processes update it at once. Connections are opened
lazily per process (a forked child opens its own).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson

from runlane.errors import InvalidArgumentError, StoreError

SCHEMA_VERSION = 2  # 2: runs.history (the status history, so listings carry it)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    owner TEXT NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    folder TEXT,
    grp TEXT,
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    framework TEXT,
    backend TEXT,
    external_id TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    meta TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,
    host TEXT,
    history TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS runs_project ON runs(owner, project, created);
CREATE INDEX IF NOT EXISTS runs_external ON runs(owner, project, external_id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS lineage (
    run_id TEXT PRIMARY KEY,
    lines BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

COLUMNS = (
    "id",
    "path",
    "owner",
    "project",
    "name",
    "folder",
    "grp",
    "description",
    "tags",
    "status",
    "created",
    "updated",
    "framework",
    "backend",
    "external_id",
    "params",
    "metrics",
    "meta",
    "pid",
    "host",
    "history",
)


class Catalog:
    """Thread-safe access to ``<root>/.runlane/catalog.sqlite``."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".runlane" / "catalog.sqlite"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            indexed = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lineage'"
            ).fetchone()
            conn.executescript(_SCHEMA)
            _add_history(conn, self.path.parent.parent)
            if indexed is None:  # runs indexed before the lineage table: filled on first use
                runs = conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone()
                conn.execute(
                    "INSERT OR IGNORE INTO state (key, value) VALUES ('lineage', ?)",
                    ("pending" if runs else "ready",),
                )
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StoreError(f"could not open the catalog {self.path}: {exc}") from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connect().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"catalog query failed: {exc}") from exc
            except UnicodeEncodeError as exc:  # a lone surrogate: no stored text can match it
                raise InvalidArgumentError(
                    f"{exc.object[:40]!r} is not valid Unicode text (it holds a lone "
                    f"surrogate at position {exc.start}); nothing stored can match it"
                ) from exc

    def upsert(self, row: dict[str, Any]) -> None:
        values = [_encode(row.get(c)) for c in COLUMNS]
        placeholders = ",".join("?" for _ in COLUMNS)
        updates = ",".join(f"{c}=excluded.{c}" for c in COLUMNS if c != "id")
        self.execute(
            f"INSERT INTO runs ({','.join(COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            values,
        )

    def update(self, run_id: str, **fields: Any) -> None:
        if not fields:
            return
        for key in fields:
            if key not in COLUMNS:
                raise ValueError(f"unknown catalog column {key!r}")
        assignments = ",".join(f"{k}=?" for k in fields)
        self.execute(
            f"UPDATE runs SET {assignments} WHERE id=?",
            [*(_encode(v) for v in fields.values()), run_id],
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE`` (the catalog's write lock, across
        processes), committed when the block ends, rolled back when it raises. SQLite
        errors become StoreError."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"catalog transaction failed to start: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"catalog transaction failed: {exc}") from exc
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise StoreError(f"catalog transaction failed to commit: {exc}") from exc

    def clear(self) -> None:
        self.execute("DELETE FROM runs")
        self.execute("DELETE FROM lineage")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _add_history(conn: sqlite3.Connection, root: Path) -> None:
    """Give a catalog made before schema 2 its ``history`` column, filled from each run's
    ``experiment.json`` (once; a run whose document cannot be read keeps ``[]`` until
    ``runlane reindex`` or its next write)."""
    names = {str(r[1]) for r in conn.execute("PRAGMA table_info(runs)").fetchall()}
    if "history" in names:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        names = {str(r[1]) for r in conn.execute("PRAGMA table_info(runs)").fetchall()}
        if "history" not in names:  # another process may have added it meanwhile
            conn.execute("ALTER TABLE runs ADD COLUMN history TEXT NOT NULL DEFAULT '[]'")
            for run_id, rel in conn.execute("SELECT id, path FROM runs").fetchall():
                try:
                    doc = orjson.loads((root / rel / "experiment.json").read_bytes())
                    history = orjson.dumps(doc.get("statusHistory") or []).decode()
                except (OSError, orjson.JSONDecodeError, AttributeError):
                    continue
                conn.execute("UPDATE runs SET history = ? WHERE id = ?", (history, run_id))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        try:
            return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        except TypeError:  # an int past 64 bits: the index keeps it as the nearest float
            return orjson.dumps(_index_safe(value), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return value


def _index_safe(value: Any) -> Any:
    """``value`` with ints past 64 bits as floats (None past the float range), for JSON1."""
    if isinstance(value, dict):
        return {k: _index_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_index_safe(v) for v in value]
    if type(value) is int and not -(2**63) <= value < 2**64:
        try:
            return float(value)
        except OverflowError:
            return None
    return value


def decode_row(row: tuple[Any, ...], columns: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    """A row of ``columns`` (all by default) as a dict, its JSON columns decoded."""
    out = dict(zip(columns, row, strict=True))
    for key in ("tags", "params", "metrics", "meta", "history"):
        if key not in out:
            continue
        empty = "[]" if key in ("tags", "history") else "{}"
        try:
            out[key] = orjson.loads(out[key] or empty)
        except orjson.JSONDecodeError:
            out[key] = [] if empty == "[]" else {}
    return out
