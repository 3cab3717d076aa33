"""Artifact records in PostgreSQL, worked on as files: what lets server replicas on different
hosts share one PostgreSQL and one object store and nothing else.

The artifact code (:mod:`runlane.artifacts`, :mod:`runlane.compat.modelbox`) keeps its records
as small files under a data root: ``<owner>/<project>/`` (run folders ``.runs/<run id>/``,
versioned artifacts ``.artifacts/``, the model registry ``.models/``) and ``.modelbox/`` (the
ModelBox id index and file catalogs). For a ServerStore that root is only this process's
*cache*; the truth is the table ``artifact_docs``: one row per file (``path`` relative to the
root, its ``scope``, the bytes, a ``seq`` from one sequence, a ``deleted`` mark), and
``artifact_scopes``: each scope's latest ``seq``. A scope is ``owner/project`` (everything
under ``<root>/<owner>/<project>/``) or :data:`MODELBOX`.

Contracts:

* ``with mirror.write(*scopes):`` opens a transaction (on a connection of its own pool),
  takes a transaction-level advisory lock per scope (in one global order, so writers never
  deadlock), pulls the scopes, runs the block on the local folder, pushes every file created,
  changed or deleted since this process last saw the scope (each row gets a new ``seq``; a
  deleted file stays as a ``deleted`` row), commits, and so releases the locks. A writer on
  any replica therefore starts from every commit before it, and version numbers, alias moves
  and appends never collide. The push runs also when the block raises (what the block wrote
  stays, as on a plain folder); if the push fails, the scope is reconciled on its next use.
  A block that names the folders it may change (``within``) lists only them.
* :meth:`ArtifactMirror.pull` brings scopes up to date without a lock: one query selects the
  rows whose ``seq`` is above what this process applied; they are written atomically
  (temporary file + rename) under a per-scope lock of this process. Writers of a scope are
  serialized, so a query sees a prefix of the scope's history and no change is skipped.
  Readers pay one indexed query when nothing changed.
* The first use of a scope in a process reconciles the cache with the table: files that
  differ are rewritten, files the table does not hold are removed. A scope the table has never
  seen is imported from the cache instead (records a ``--files`` folder kept before the
  mirror existed).
* Files up to :data:`~.mirror_files.INLINE` bytes live in their row; larger ones (artifact
  bytes kept in run folders when no S3 object store is configured) are content-addressed
  parts in the store's object store (see :mod:`.mirror_files`). A block stores parts only
  while holding :data:`PARTS_LOCK` shared (until it commits the rows naming them); garbage
  collection (:mod:`.gc`) deletes parts no row names only while holding it exclusively.
* The cache folder belongs to one process (an ``flock`` on ``<folder>/.mirror.lock``); a
  process given a folder another one holds works in a private temporary folder.
* :meth:`touch` is the hook of :func:`runlane.artifacts.home.project_dir`: code that reaches a
  project's folder outside a write block (the SDK writing to a ServerStore in-process) gets it
  pulled; what it writes there is pushed by :meth:`flush` (``ServerStore.sync`` and ``close``)
  or by the scope's next write block.

Driver and object store errors raise :class:`~runlane.errors.StoreError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runlane.errors import StoreError
from runlane.store.server.mirror_files import (
    INLINE,
    Sig,
    get_parts,
    put_parts,
    remove_file,
    same_content,
    signature,
    walk,
    write_file,
)
from runlane.store.server.objects import ObjectStore

Conn = psycopg.Connection[Any]
Connect = Callable[[], AbstractContextManager[Conn]]
MODELBOX = ".modelbox"
#: Advisory lock space of scope locks ("rlmr"); the key is a hash of the scope.
LOCK_SPACE = 0x726C6D72
#: Advisory lock ``(space "rlgc", key 0)`` over stored parts: taken shared by a write block
#: before it stores a part (held to its commit), exclusively by garbage collection.
PARTS_LOCK = (0x726C6763, 0)
_ROW = "d.scope, d.path, d.body, d.blob, d.size, d.deleted, d.seq"


def scope_of(owner: str, project: str) -> str:
    return f"{owner}/{project}"


def lock_key(scope: str) -> int:
    """The advisory lock key of a scope (a signed 32-bit hash)."""
    return int.from_bytes(hashlib.sha1(scope.encode()).digest()[:4], "big", signed=True)


def _project(scope: str) -> str | None:
    return scope.partition("/")[2] or None


class ArtifactMirror:
    """See the module docstring. Thread-safe; one per ServerStore."""

    def __init__(
        self,
        connect: Connect,
        lock_connect: Connect,
        objects: ObjectStore,
        folder: Path | None,
        label: str,
    ) -> None:
        """``connect``: connections for reads (pulls); ``lock_connect``: for write blocks,
        from another pool than ``connect`` (the work inside a block takes connections of
        its own, so one pool could run dry with blocks waiting on each other)."""
        self._connect = connect
        self._lock_connect = lock_connect
        self._objects = objects
        self._label = label
        self._claim: int | None = None
        self._private = folder is None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / ".mirror.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._claim = fd
            except BlockingIOError:
                os.close(fd)
                self._private = True
        #: The cache folder (the data root the artifact code works in).
        self.root = (
            Path(tempfile.mkdtemp(prefix="runlane-mirror-")).resolve()
            if self._private
            else folder.resolve()  # type: ignore[union-attr]
        )
        self._guard = threading.Lock()  # the dicts below
        self._locks: dict[str, threading.Lock] = {}
        self._applied: dict[str, int] = {}  # scope → highest seq written into the cache
        self._known: dict[str, dict[str, Sig]] = {}  # scope → path → Sig as the table has it
        self._dirty: set[str] = set()  # touched outside a write block
        self._local = threading.local()

    # --- bookkeeping ----------------------------------------------------------------------
    def _held(self) -> set[str]:
        held: set[str] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = set()
        return held

    def _lock(self, scope: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(scope)
            if lock is None:
                lock = self._locks[scope] = threading.Lock()
            return lock

    def _folder(self, scope: str) -> Path:
        return self.root / scope

    def _target(self, scope: str, path: str) -> Path:
        """The cache file of a row; StoreError for a path outside its scope."""
        parts = path.split("/")
        if not path.startswith(scope + "/") or any(p in ("", ".", "..") for p in parts):
            raise StoreError(f"artifact record {path!r} of {self._label} is not in {scope!r}")
        return self.root / path

    @property
    def dirty(self) -> frozenset[str]:
        """Scopes touched outside write blocks and not flushed since."""
        with self._guard:
            return frozenset(self._dirty)

    # --- reads ----------------------------------------------------------------------------
    def pull(self, *scopes: str) -> None:
        """Bring ``scopes`` up to date in the cache (see the module docstring)."""
        held = self._held()
        todo = [s for s in dict.fromkeys(scopes) if s not in held]
        for scope in todo:
            if scope not in self._applied:
                self._first_use(scope)
        todo = [s for s in todo if s in self._applied]
        if not todo:
            return
        with self._connect() as conn:
            rows = self._fetch(conn, todo)
        by_scope: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_scope.setdefault(str(row[0]), []).append(row)
        for scope, found in by_scope.items():
            self._apply(scope, found)

    def pull_project(self, project: str) -> None:
        """Pull every owner's scope of ``project`` (ModelBox's namespace)."""
        with self._connect() as conn:
            found = conn.execute(
                "SELECT scope FROM artifact_scopes WHERE project = %s", (project,)
            ).fetchall()
        self.pull(*(str(r[0]) for r in found))

    def pull_all(self) -> None:
        """Pull every scope the table holds."""
        with self._connect() as conn:
            found = conn.execute("SELECT scope FROM artifact_scopes").fetchall()
        self.pull(*(str(r[0]) for r in found))

    def touch(self, owner: str, project: str) -> None:
        """The hook of ``project_dir``: pull the project's scope unless this thread writes
        it, and remember that code outside a write block may change it (see :meth:`flush`)."""
        scope = scope_of(owner, project)
        if scope in self._held():
            return
        self.pull(scope)
        with self._guard:
            self._dirty.add(scope)

    def _fetch(self, conn: Conn, scopes: list[str]) -> list[tuple[Any, ...]]:
        floors = [self._applied.get(s, 0) for s in scopes]
        return conn.execute(
            f"SELECT {_ROW} FROM artifact_docs d JOIN unnest(%s::text[], %s::bigint[]) "
            "AS w(scope, seq) ON d.scope = w.scope AND d.seq > w.seq ORDER BY d.seq",
            (scopes, floors),
        ).fetchall()

    def _apply(self, scope: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Write the rows newer than what the cache holds (under the scope's lock)."""
        with self._lock(scope):
            floor = self._applied.get(scope, 0)
            known = self._known.setdefault(scope, {})
            top = floor
            for _scope, path, body, blob, _size, deleted, seq in rows:
                if seq <= floor:
                    continue
                target = self._target(scope, path)
                if deleted:
                    remove_file(target)
                    known.pop(path, None)
                else:
                    known[path] = self._write(target, body, blob)
                top = max(top, int(seq))
            self._applied[scope] = top

    def _write(self, target: Path, body: bytes | None, blob: dict[str, Any] | None) -> Sig:
        if blob is not None:
            return get_parts(self._objects, blob, target)
        return write_file(target, bytes(body or b""))

    def _first_use(self, scope: str, conn: Conn | None = None) -> None:
        """Reconcile the cache of ``scope`` with the table (or import it, for a scope the
        table has never seen). The table is read before the scope's lock is taken (no
        connection is awaited under it); a snapshot older than what a writer applied
        meanwhile is dropped."""
        importing = False
        with contextlib.ExitStack() as stack:
            db = conn if conn is not None else stack.enter_context(self._connect())
            seen = db.execute("SELECT 1 FROM artifact_scopes WHERE scope = %s", (scope,)).fetchone()
            rows = db.execute(
                f"SELECT {_ROW} FROM artifact_docs d WHERE d.scope = %s ORDER BY d.seq",
                (scope,),
            ).fetchall()
        with self._lock(scope):
            if scope in self._applied:
                return
            local = walk(self._folder(scope), scope)
            if seen is None and not rows:
                self._known[scope] = {}
                self._applied[scope] = 0
                importing = bool(local)
            else:
                known: dict[str, Sig] = {}
                top = 0
                for _scope, path, body, blob, size, deleted, seq in rows:
                    top = max(top, int(seq))
                    target = self._target(scope, path)
                    if deleted:
                        continue
                    content = None if body is None else bytes(body)
                    sig = same_content(target, int(size), content, blob)
                    known[path] = sig if sig is not None else self._write(target, content, blob)
                for path in local.keys() - known.keys():
                    remove_file(self.root / path)
                self._known[scope] = known
                self._applied[scope] = top
        if importing:
            with self._guard:
                self._dirty.add(scope)
            if conn is None and not self._held():
                self.flush(scope)

    def _forget(self, scopes: Iterable[str]) -> None:
        """After a failed push: reconcile these scopes on their next use."""
        for scope in scopes:
            with self._lock(scope):
                self._applied.pop(scope, None)
                self._known.pop(scope, None)

    # --- writes ---------------------------------------------------------------------------
    @contextmanager
    def write(self, *scopes: str, within: Sequence[str] = ()) -> Iterator[Conn]:
        """Run the block with ``scopes`` locked across replicas, pulled before and pushed
        after (see the module docstring); yields the block's connection, whose transaction
        commits with the push (the block may add rows of its own to it). Nested blocks of
        this thread on scopes it holds are part of the outer block. A thread holding scopes
        must not start a block on others (two transactions of one thread waiting on each
        other would be a deadlock PostgreSQL cannot see).

        ``within``: folders (relative to :attr:`root`) outside which the block changes
        nothing in their scopes; only they are listed for the push (a scope's full listing
        then waits for :meth:`flush`). Scopes with no folder in ``within`` are listed whole.
        """
        held = self._held()
        wanted = sorted({s for s in scopes if s not in held}, key=lambda s: (lock_key(s), s))
        if not wanted:
            outer: Conn = self._local.conn  # the outer block's
            yield outer
            return
        if held:
            raise RuntimeError(
                f"a write block on {', '.join(wanted)} inside one on {', '.join(sorted(held))}"
            )
        failure: BaseException | None = None
        locks = [self._lock(s) for s in sorted(wanted)]
        taken: list[threading.Lock] = []
        try:
            with self._lock_connect() as conn:
                for key in dict.fromkeys(lock_key(s) for s in wanted):
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, key))
                for scope in wanted:
                    if scope not in self._applied:
                        self._first_use(scope, conn)
                rows = self._fetch(conn, wanted)
                for scope in wanted:
                    self._apply(scope, [r for r in rows if r[0] == scope])
                held.update(wanted)
                self._local.conn = conn
                try:
                    yield conn
                except BaseException as exc:  # push what the block wrote, then re-raise
                    failure = exc
                finally:
                    held.difference_update(wanted)
                    self._local.conn = None
                for lock in locks:
                    lock.acquire()
                    taken.append(lock)
                pending = self._push(conn, wanted, within)
            # committed: the table holds what the cache holds
            for scope, (top, known) in pending.items():
                self._applied[scope] = top
                self._known[scope] = known
            if not within:
                with self._guard:
                    self._dirty.difference_update(wanted)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            taken = []
            self._forget(wanted)  # the cache may be ahead of the table: reconcile later
            if failure is None:
                raise
        finally:
            for lock in reversed(taken):
                lock.release()
        if failure is not None:
            raise failure

    def _push(
        self, conn: Conn, scopes: list[str], within: Sequence[str] = ()
    ) -> dict[str, tuple[int, dict[str, Sig]]]:
        """Write each scope's changes since the last pull or push (scope locks held)."""
        out: dict[str, tuple[int, dict[str, Sig]]] = {}
        for scope in scopes:
            known = dict(self._known.get(scope, {}))
            folders = [
                w.strip("/")
                for w in within
                if (w == scope or w.startswith(scope + "/")) and ".." not in w.split("/")
            ]
            if folders:
                now: dict[str, Sig] = {}
                for folder in folders:
                    now.update(walk(self.root / folder, folder))
                heads = tuple(f + "/" for f in folders)
                before = {p: sig for p, sig in known.items() if p.startswith(heads)}
                with self._guard:
                    self._dirty.add(scope)  # a full listing at the next flush
            else:
                now = walk(self._folder(scope), scope)
                before = known
            changed = [p for p, sig in now.items() if before.get(p) != sig]
            gone = [p for p in before if p not in now]
            top = 0
            for path in changed:
                try:
                    body, blob, sig = self._read(self.root / path, conn)
                except FileNotFoundError:  # removed since the listing
                    if path in known:
                        gone.append(path)
                    continue
                row = conn.execute(
                    "INSERT INTO artifact_docs (path, scope, body, blob, size, seq, deleted) "
                    "VALUES (%s, %s, %b, %s, %s, nextval('artifact_doc_seq'), false) "
                    "ON CONFLICT (path) DO UPDATE SET scope = EXCLUDED.scope, "
                    "body = EXCLUDED.body, blob = EXCLUDED.blob, size = EXCLUDED.size, "
                    "seq = EXCLUDED.seq, deleted = false RETURNING seq",
                    (path, scope, body, None if blob is None else Jsonb(blob), sig[0]),
                ).fetchone()
                assert row is not None
                top = max(top, int(row[0]))
                known[path] = sig
            for path in gone:
                row = conn.execute(
                    "UPDATE artifact_docs SET body = NULL, blob = NULL, size = 0, "
                    "seq = nextval('artifact_doc_seq'), deleted = true WHERE path = %s "
                    "RETURNING seq",
                    (path,),
                ).fetchone()
                if row is not None:
                    top = max(top, int(row[0]))
                known.pop(path, None)
            if top:
                conn.execute(
                    "INSERT INTO artifact_scopes (scope, project, seq) VALUES (%s, %s, %s) "
                    "ON CONFLICT (scope) DO UPDATE SET seq = EXCLUDED.seq",
                    (scope, _project(scope), top),
                )
            if changed or gone:
                out[scope] = (max(top, self._applied.get(scope, 0)), known)
        return out

    def _read(self, path: Path, conn: Conn) -> tuple[bytes | None, dict[str, Any] | None, Sig]:
        """``(body, blob, Sig)`` of a cache file: inline when small, else stored as parts
        (under :data:`PARTS_LOCK`, taken shared on the block's ``conn``)."""
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if info.st_size <= INLINE:
                data = fh.read()
                sig = signature(info)
                return data, None, (len(data), sig[1], sig[2])
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", PARTS_LOCK)
        blob, sig = put_parts(self._objects, path)
        return None, blob, sig

    def flush(self, scope: str | None = None) -> None:
        """Push what code outside write blocks changed in ``scope`` (default: every scope
        touched so): a listing of the folder when nothing changed, else a write block."""
        with self._guard:
            todo = [scope] if scope is not None else sorted(self._dirty)
            todo = [s for s in todo if s in self._dirty]
        for name in todo:
            with self._lock(name):
                known = self._known.get(name)
            if known is not None and walk(self._folder(name), name) == known:
                with self._guard:
                    self._dirty.discard(name)
                continue
            with self.write(name):
                pass

    def close(self) -> None:
        """Push what is left (see :meth:`flush`), then release the cache folder (a private
        one is removed)."""
        try:
            self.flush()
        finally:
            if self._claim is not None:
                os.close(self._claim)
                self._claim = None
            if self._private:
                shutil.rmtree(self.root, ignore_errors=True)
