"""Garbage collection of a ServerStore: what the tables and the object store would otherwise
keep forever.

:func:`collect_garbage` runs one pass and returns a :class:`GcReport` (count and bytes
removed per kind). A pass first checks that the object store it was given is this
database's (below), then removes, in this order:

1. **mirror parts** (``mirror/<sha256>``, see :mod:`.mirror_files`) that no artifact record
   names any more (a large record file rewritten or deleted).
2. **commit ids**: rows of ``artifact_commits`` (the answers replayed to retried artifact
   commits) older than ``older_than``. A commit retried later than that is applied again, so
   ``older_than`` is the promise the client's spool relies on (24 hours by default).
3. **upload sessions** untouched (``updated``) for ``older_than``: their rows, their part
   rows, then their parts in the object store.
4. **upload objects** (``uploads/<id>/…``) of uploads that no longer exist: what a process
   killed between storing a chunk and recording it left behind.

Objects of kinds 1 and 4 are deleted only once passes have found them unreferenced for at
least ``older_than``: the first pass that finds one records it in ``gc_marks`` (key, when);
a pass finding it referenced again drops the mark. A replica that read a record just before
it stopped naming a part therefore has ``older_than`` to read the part.

Why a pass never deletes what someone still needs, with any number of replicas writing:

* **Mirror parts.** A write block stores parts only while holding
  :data:`~.mirror.PARTS_LOCK` shared, from before its first put to the commit of the rows
  naming them. A pass deletes a batch of parts only while holding that lock exclusively,
  after reading again which parts the committed rows name. While it holds the lock no
  transaction is between storing a part and committing a row that names it, and every
  committed row has been read; a block that later wants the same content stores the part
  again (``put_parts`` always writes, it never assumes a part exists). The pass *tries* the
  lock (polling up to ``lock_wait`` seconds) rather than waiting in PostgreSQL's queue, so
  write blocks never queue behind a pass that waits for them; a batch it cannot lock waits
  for the next pass (its marks stay).
* **Upload sessions.** An expired upload is removed in one transaction that first *tries*
  the advisory lock of its project's scope (:func:`~.mirror.lock_key`), the lock an artifact
  commit holds while it consumes uploads; a busy project is skipped until the next pass. The
  row is deleted with ``WHERE id = … AND updated < cutoff``: an append's compare-and-set on
  the row either commits first (``updated`` moves, PostgreSQL re-checks the condition after
  the row lock and spares the upload) or finds no row (the append deletes the parts it
  stored and answers that the upload does not exist). A live session (touched within
  ``older_than``) is never removed.
* **Upload objects.** Keys ``uploads/<id>/…`` are written only by appends to upload
  ``<id>``, whose row exists before any of them (ids are random, the row is created first).
  The objects are listed *before* the rows are read, so an object whose row is gone belongs
  to an upload that is gone for good: no append can name it any more.
* **Tombstones** (``artifact_docs`` rows with ``deleted``) are kept: a replica applies
  changes above the last sequence number it saw, and the tombstone is how a replica that
  has not pulled since a file was deleted learns to remove its cached copy. Nothing records
  which replicas have pulled (a replica's cache may be days old), so no age makes removing
  one safe. They hold no bytes (body and blob are NULL).
* **One pass at a time**: a pass holds the advisory lock :data:`PASS_LOCK` (tried, never
  waited for) for its duration; :func:`try_collect_garbage` returns None when another
  replica's pass holds it. A dry run takes no lock and writes nothing (not even marks); it
  reports what a pass started at the same moment would remove.

**Whose object store.** A pass deletes objects nothing in *this* database names, so it
must never be pointed at the object store (prefix) of another database. The first pass
claims the store: it writes this database's id (``gc_identity``, kept with the database
through a dump and restore) to the object :data:`OWNER_KEY`; a pass finding another id
there refuses with InvalidArgumentError, before removing anything. A pass also refuses when
none of the mirror parts the records name is in the store it was given (the servers keep
them elsewhere: ``runlane server gc`` was not given their ``--artifacts``).

The replicas' clocks are assumed to agree to well within ``older_than`` (uploads are
stamped with their server's clock).

Driver and object store errors raise :class:`~runlane.errors.StoreError`; what a pass
removed before the error stays removed (each step commits on its own).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from runlane.errors import InvalidArgumentError, NotFoundError, StoreError
from runlane.store.server.mirror import LOCK_SPACE, PARTS_LOCK, lock_key, scope_of
from runlane.store.server.objects import ObjectStore

#: Default age past which uploads, commit ids and unreferenced objects are collected.
DEFAULT_OLDER_THAN = 24 * 3600.0
#: How long a pass polls for :data:`~.mirror.PARTS_LOCK` before leaving parts to the next.
LOCK_WAIT = 30.0
#: Advisory lock ``(space "rlgc", key 1)`` held by the pass in progress.
PASS_LOCK = (PARTS_LOCK[0], 1)
#: The object holding the id of the database that collects the object store.
OWNER_KEY = "gc/owner"
MIRROR_PREFIX = "mirror/"
UPLOAD_PREFIX = "uploads/"
_BATCH = 1000
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD_KEY = re.compile(r"^uploads/([0-9a-f]{32})/")
_REFERENCED = (
    "SELECT DISTINCT p FROM artifact_docs d, jsonb_array_elements_text(d.blob->'parts') p "
    "WHERE d.blob IS NOT NULL"
)


class GcStore(Protocol):
    """What a pass needs of a ServerStore."""

    objects: ObjectStore

    def connection(self) -> AbstractContextManager[Any]: ...


@dataclass(frozen=True, slots=True)
class Removed:
    """What a pass removed of one kind (or would remove, in a dry run)."""

    count: int = 0
    bytes: int = 0

    def __add__(self, other: Removed) -> Removed:
        return Removed(self.count + other.count, self.bytes + other.bytes)

    def to_dict(self) -> dict[str, int]:
        return {"count": self.count, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class GcReport:
    """The outcome of one pass. ``waiting``: unreferenced objects kept until they have been
    unreferenced for ``older_than``; ``skipped``: what was left for the next pass, and why."""

    dry_run: bool
    older_than: float
    commit_ids: Removed
    uploads: Removed
    upload_parts: Removed
    mirror_parts: Removed
    waiting: int
    skipped: tuple[str, ...]
    seconds: float

    @property
    def kinds(self) -> dict[str, Removed]:
        return {
            "commit_ids": self.commit_ids,
            "uploads": self.uploads,
            "upload_parts": self.upload_parts,
            "mirror_parts": self.mirror_parts,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "older_than": self.older_than,
            **{name: removed.to_dict() for name, removed in self.kinds.items()},
            "waiting": self.waiting,
            "skipped": list(self.skipped),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class UploadExpiry:
    """What :func:`expire_uploads` removed: the sessions (bytes: what they had received),
    their parts, the ids removed, and the uploads left for later (their project was busy)."""

    sessions: Removed
    parts: Removed
    ids: tuple[str, ...]
    part_keys: frozenset[str]
    skipped: tuple[str, ...]


def check_older_than(value: object) -> float:
    """``value`` as seconds; InvalidArgumentError unless a finite number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"older_than {value!r} must be a finite number of seconds")
    if value < 0:
        raise InvalidArgumentError(f"older_than {value!r} must be ≥ 0 seconds")
    return float(value)


def collect_garbage(
    store: GcStore,
    *,
    older_than: float = DEFAULT_OLDER_THAN,
    dry_run: bool = False,
    lock_wait: float = LOCK_WAIT,
) -> GcReport:
    """Run one pass (see the module docstring). Raises StoreError when another pass is
    running, InvalidArgumentError for a bad ``older_than`` or an object store that is not
    this database's (claimed by another one, or holding none of the parts the records
    name)."""
    report = try_collect_garbage(store, older_than=older_than, dry_run=dry_run, lock_wait=lock_wait)
    if report is None:
        raise StoreError(
            "another garbage collection of this database is running (it holds the advisory "
            f"lock {PASS_LOCK}); try again when it is done"
        )
    return report


def try_collect_garbage(
    store: GcStore,
    *,
    older_than: float = DEFAULT_OLDER_THAN,
    dry_run: bool = False,
    lock_wait: float = LOCK_WAIT,
) -> GcReport | None:
    """As :func:`collect_garbage`, but None when another pass holds :data:`PASS_LOCK`."""
    older_than = check_older_than(older_than)
    started = time.monotonic()
    now = time.time()
    cutoff = now - older_than
    with contextlib.ExitStack() as stack:
        if not dry_run:
            conn = stack.enter_context(store.connection())
            if not _try_lock(conn, PASS_LOCK, 0.0):
                return None
        claim_object_store(store, dry_run=True)  # refuses a store another database claimed
        sweep = _Sweep(store, now, cutoff, dry_run, lock_wait)
        parts = sweep.mirror_parts()  # refuses one missing every part, before deleting any
        if not dry_run:
            claim_object_store(store)
        commits = expire_commit_ids(store, cutoff, dry_run=dry_run)
        expiry = expire_uploads(store, cutoff, dry_run=dry_run)
        orphans = sweep.upload_objects(set(expiry.ids) if dry_run else set(), expiry.part_keys)
    return GcReport(
        dry_run=dry_run,
        older_than=older_than,
        commit_ids=commits,
        uploads=expiry.sessions,
        upload_parts=expiry.parts + orphans,
        mirror_parts=parts,
        waiting=sweep.waiting,
        skipped=expiry.skipped + tuple(sweep.skipped),
        seconds=time.monotonic() - started,
    )


def claim_object_store(store: GcStore, *, dry_run: bool = False) -> None:
    """Make sure ``store.objects`` is this database's to collect (see the module docstring):
    claim it when nobody has (not in a dry run); InvalidArgumentError when another database
    has."""
    with store.connection() as conn:
        row = conn.execute("SELECT id FROM gc_identity").fetchone()
        if row is None and not dry_run:
            row = conn.execute(
                "INSERT INTO gc_identity (id) VALUES (%s) RETURNING id", (uuid.uuid4().hex,)
            ).fetchone()
    ours = None if row is None else str(row[0])
    try:
        theirs: str | None = store.objects.get(OWNER_KEY).decode(errors="replace")
    except NotFoundError:
        theirs = None
    if theirs is None:
        if ours is not None and not dry_run:
            store.objects.put(OWNER_KEY, ours.encode())
        return
    if theirs != ours:
        raise InvalidArgumentError(
            f"the object store {store.objects.uri} is collected by another database (its "
            f"{OWNER_KEY} holds {theirs[:40]!r}, this database is {ours!r}): give the "
            "--artifacts this database's servers use. If that database is gone for good, "
            f"delete {OWNER_KEY} from the store; nothing was removed"
        )


def expire_commit_ids(store: GcStore, cutoff: float, *, dry_run: bool = False) -> Removed:
    """Remove the commit answers recorded before ``cutoff`` (bytes: their JSON text)."""
    with store.connection() as conn:
        if dry_run:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(octet_length(answer::text)), 0) "
                "FROM artifact_commits WHERE at < %s",
                (cutoff,),
            ).fetchone()
        else:
            row = conn.execute(
                "WITH gone AS (DELETE FROM artifact_commits WHERE at < %s "
                "RETURNING octet_length(answer::text) AS n) "
                "SELECT count(*), coalesce(sum(n), 0) FROM gone",
                (cutoff,),
            ).fetchone()
    assert row is not None
    return Removed(int(row[0]), int(row[1]))


def expire_uploads(store: GcStore, cutoff: float, *, dry_run: bool = False) -> UploadExpiry:
    """Remove the uploads untouched since ``cutoff`` with their parts (see the module
    docstring for why a live session or a commit consuming one is never hit)."""
    with store.connection() as conn:
        expired = conn.execute(
            "SELECT id, owner, project, received FROM artifact_uploads WHERE updated < %s "
            "ORDER BY id",
            (cutoff,),
        ).fetchall()
    sessions = Removed()
    ids: list[str] = []
    keys: dict[str, int] = {}
    skipped: list[str] = []
    for upload_id, owner, project, received in expired:
        with store.connection() as conn:
            if dry_run:
                found = conn.execute(
                    "SELECT key, size FROM artifact_upload_parts WHERE upload_id = %s",
                    (upload_id,),
                ).fetchall()
            else:
                scope = scope_of(str(owner), str(project))
                if not _try_lock(conn, (LOCK_SPACE, lock_key(scope)), 0.0):
                    skipped.append(f"upload {upload_id}: project {scope} is being written")
                    continue
                if (
                    conn.execute(
                        "DELETE FROM artifact_uploads WHERE id = %s AND updated < %s",
                        (upload_id, cutoff),
                    ).rowcount
                    != 1
                ):
                    continue  # touched (or removed) since it was listed
                found = conn.execute(
                    "DELETE FROM artifact_upload_parts WHERE upload_id = %s RETURNING key, size",
                    (upload_id,),
                ).fetchall()
        ids.append(str(upload_id))
        sessions += Removed(1, int(received))
        for key, size in found:
            keys[str(key)] = int(size)
    if not dry_run:
        _delete_objects(store.objects, list(keys))
    parts = Removed(len(keys), sum(keys.values()))
    return UploadExpiry(sessions, parts, tuple(ids), frozenset(keys), tuple(skipped))


@dataclass
class _Sweep:
    """Unreferenced objects of one pass, marked and deleted past their grace."""

    store: GcStore
    now: float
    cutoff: float
    dry_run: bool
    lock_wait: float
    waiting: int = 0
    skipped: list[str] = field(default_factory=list)

    def upload_objects(self, dead: set[str], counted: frozenset[str]) -> Removed:
        """Objects of uploads that no longer exist (``dead``: ids a dry run counts as
        removed; ``counted``: keys already reported as parts of expired uploads)."""
        listed = {
            info.key: info.size
            for info in self.store.objects.scan(UPLOAD_PREFIX)
            if _UPLOAD_KEY.match(info.key) and info.key not in counted
        }
        owners = {key: _upload_of(key) for key in listed}
        with self.store.connection() as conn:  # read after the listing (module docstring)
            live = {
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM artifact_uploads WHERE id = ANY(%s)",
                    (sorted(set(owners.values())),),
                ).fetchall()
            }
        live -= dead
        unreferenced = {k: size for k, size in listed.items() if owners[k] not in live}
        due = self._marked(UPLOAD_PREFIX, unreferenced)
        if not self.dry_run:
            for batch in _batches(due):
                _delete_objects(self.store.objects, batch)
                with self.store.connection() as conn:
                    conn.execute("DELETE FROM gc_marks WHERE key = ANY(%s)", (batch,))
        return Removed(len(due), sum(unreferenced[k] for k in due))

    def mirror_parts(self) -> Removed:
        """Parts no artifact record names, deleted under the exclusive parts lock."""
        with self.store.connection() as conn:
            before = {str(r[0]) for r in conn.execute(_REFERENCED).fetchall()}
        listed = {
            info.key: info.size
            for info in self.store.objects.scan(MIRROR_PREFIX)
            if _DIGEST.match(info.key[len(MIRROR_PREFIX) :])
        }
        if before and not any(MIRROR_PREFIX + digest in listed for digest in before):
            raise InvalidArgumentError(
                f"none of the {len(before)} mirror parts the artifact records name is in "
                f"{self.store.objects.uri}: it is not the object store this database's servers "
                "use (give the same --artifacts and --s3-endpoint); nothing was deleted there"
            )
        with self.store.connection() as conn:
            named = {str(r[0]) for r in conn.execute(_REFERENCED).fetchall()}
        unreferenced = {
            k: size for k, size in listed.items() if k[len(MIRROR_PREFIX) :] not in named
        }
        due = self._marked(MIRROR_PREFIX, unreferenced)
        if self.dry_run:
            return Removed(len(due), sum(unreferenced[k] for k in due))
        removed = Removed()
        for batch in _batches(due):
            done = self._delete_parts(batch, unreferenced)
            if done is None:
                self.skipped.append(
                    f"{len(due) - removed.count} mirror parts: write blocks storing large "
                    f"files held the parts lock for {self.lock_wait:g} s"
                )
                break
            removed += done
        return removed

    def _delete_parts(self, batch: list[str], sizes: dict[str, int]) -> Removed | None:
        with self.store.connection() as conn:
            if not _try_lock(conn, PARTS_LOCK, self.lock_wait):
                return None
            digests = [k[len(MIRROR_PREFIX) :] for k in batch]
            named = {
                str(r[0])
                for r in conn.execute(
                    f"SELECT p FROM ({_REFERENCED}) AS r(p) WHERE p = ANY(%s)", (digests,)
                ).fetchall()
            }
            doomed = [k for k in batch if k[len(MIRROR_PREFIX) :] not in named]
            _delete_objects(self.store.objects, doomed)
            conn.execute("DELETE FROM gc_marks WHERE key = ANY(%s)", (batch,))
        return Removed(len(doomed), sum(sizes[k] for k in doomed))

    def _marked(self, prefix: str, unreferenced: dict[str, int]) -> list[str]:
        """Record when each unreferenced key under ``prefix`` was first found so (a dry run
        only reads), drop the marks of the others; return the keys past their grace."""
        with self.store.connection() as conn:
            marks = {
                str(k): float(at)
                for k, at in conn.execute(
                    "SELECT key, seen FROM gc_marks WHERE starts_with(key, %s)", (prefix,)
                ).fetchall()
            }
            if not self.dry_run:
                fresh = [(k, self.now) for k in unreferenced if k not in marks]
                if fresh:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO gc_marks (key, seen) VALUES (%s, %s) "
                            "ON CONFLICT (key) DO NOTHING",
                            fresh,
                        )
                stale = [k for k in marks if k not in unreferenced]
                if stale:
                    conn.execute("DELETE FROM gc_marks WHERE key = ANY(%s)", (stale,))
        due = sorted(k for k in unreferenced if marks.get(k, self.now) <= self.cutoff)
        self.waiting += len(unreferenced) - len(due)
        return due


def _upload_of(key: str) -> str:
    found = _UPLOAD_KEY.match(key)
    assert found is not None
    return found.group(1)


def _try_lock(conn: Any, lock: tuple[int, int], wait: float) -> bool:
    """Take a transaction-level advisory lock, polling up to ``wait`` seconds without ever
    queueing for it (so the lock's holders are never blocked behind this caller)."""
    deadline = time.monotonic() + wait
    while True:
        row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", lock).fetchone()
        if row is not None and row[0]:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.05, left))


def _batches(keys: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


def _delete_objects(objects: ObjectStore, keys: list[str]) -> None:
    for batch in _batches(keys):
        objects.delete(batch)
