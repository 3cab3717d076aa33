"""The SQLite catalog of a local root: one row per run, for listing and search.

It is an index, not the source of truth: ``runlane reindex`` rebuilds it from the run folders.
WAL mode and a busy timeout let several processes update it at once. Connections are opened
lazily per process (a forked child opens its own).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson

from runlane.errors import StoreError

SCHEMA_VERSION = 1
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
    host TEXT
);
CREATE INDEX IF NOT EXISTS runs_project ON runs(owner, project, created);
CREATE INDEX IF NOT EXISTS runs_external ON runs(owner, project, external_id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
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
            conn.executescript(_SCHEMA)
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

    def clear(self) -> None:
        self.execute("DELETE FROM runs")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return value


def decode_row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    for key in ("tags", "params", "metrics", "meta"):
        try:
            out[key] = orjson.loads(out[key] or ("[]" if key == "tags" else "{}"))
        except orjson.JSONDecodeError:
            out[key] = [] if key == "tags" else {}
    return out
