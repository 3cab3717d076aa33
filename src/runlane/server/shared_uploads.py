"""Resumable uploads kept in PostgreSQL and the object store, so that a transfer started on one
server replica continues and is committed on another (the upload area of a ServerStore; a
folder store keeps :class:`~runlane.server.upload_area.UploadArea`).

Tables (schema migration 4)::

    artifact_uploads       id, owner, project, run_id, size, sha256, created, updated, and
                           ``received``: the upload's offset
    artifact_upload_parts  (upload_id, first) → size, key: bytes [first, first + size) as the
                           object ``uploads/<id>/<first>-<random>`` of the store's object store
    artifact_commits       commit_id → the JSON answer of a finished commit

The contracts of :class:`~runlane.server.upload_area.UploadArea`, across replicas:

* ``append`` checks the offset, receives the chunk into a spool file of this process (a chunk
  that would pass the declared size is refused whole), stores it as parts of at most
  :data:`PART` bytes, then moves ``received`` with a compare-and-set in one transaction with
  the part rows. When another request moved it first, the parts are deleted and
  OffsetMismatch answers the current offset. A chunk cut short (client gone) keeps what
  arrived.
* The replica that received every chunk keeps the bytes in its cache folder
  (``<root>/<id>/data``, appended in offset order), so ``finished`` there reads nothing back;
  another replica assembles that file from the parts first (checking they cover the upload
  without a gap).
* ``fill`` (a form part of a one-shot commit) keeps the bytes in this process only: such an
  upload is committed by the request that made it.
* Commit answers are rows of ``artifact_commits``: the artifact service reads and writes
  them in the transaction of the commit's write block (the project's lock, see
  :meth:`~runlane.server.artifacts_service.ArtifactService.commit`), so an answer exists
  exactly when the commit's records do, and a retry on any replica gets the first answer.
* Uploads untouched for ``ttl`` seconds (rows, parts, cached bytes) and older commit answers
  are removed by a later ``create``, the way garbage collection removes them
  (:func:`runlane.store.server.gc.expire_uploads`: never an upload an append just touched or
  a commit is consuming), and by garbage collection passes (``runlane server gc``).

Driver and object store errors raise :class:`~runlane.errors.StoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from psycopg.types.json import Jsonb
from starlette.concurrency import run_in_threadpool

from runlane.errors import InvalidArgumentError, NotFoundError, StoreError
from runlane.server.upload_area import (
    SWEEP_EVERY,
    TTL,
    OffsetMismatch,
    Upload,
    UploadArea,
    check_sha256,
    check_upload_id,
)
from runlane.store.server.gc import expire_commit_ids, expire_uploads
from runlane.store.server.objects import ObjectStore

PART = 8 << 20
_COLUMNS = "id, owner, project, run_id, size, sha256, created"


class SharedStore(Protocol):
    """What the area needs of a ServerStore."""

    objects: ObjectStore

    def connection(self) -> AbstractContextManager[Any]: ...


class _Lost(Exception):
    """The compare-and-set of an append found another offset."""


class SharedUploadArea(UploadArea):
    """See the module docstring. ``root``: this process's cache of received bytes."""

    def __init__(self, store: SharedStore, root: Path, ttl: float = TTL) -> None:
        super().__init__(root, ttl)
        self._store = store
        self._local_only: set[str] = set()
        self._files = [threading.Lock() for _ in range(64)]  # cached data files, by id

    def _file_lock(self, upload_id: str) -> threading.Lock:
        return self._files[int(upload_id[:4], 16) % len(self._files)]

    # --- lifecycle --------------------------------------------------------------------------
    def create(
        self,
        *,
        owner: str,
        project: str,
        run_id: str | None,
        size: object = None,
        sha256: object = None,
    ) -> Upload:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidArgumentError(f"upload size {size!r} must be an int ≥ 0 or null")
        at = time.time()
        upload = Upload(uuid.uuid4().hex, owner, project, run_id, size, check_sha256(sha256), at)
        self._sweep()
        with self._store.connection() as conn:
            conn.execute(
                f"INSERT INTO artifact_uploads ({_COLUMNS}, updated) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (upload.id, owner, project, run_id, size, upload.sha256, at, at),
            )
        folder = self.folder(upload.id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "data").touch()
        except OSError as exc:
            raise StoreError(f"could not create upload {upload.id} in {self.root}: {exc}") from exc
        return upload

    def get(self, upload_id: str) -> Upload:
        check_upload_id(upload_id)
        with self._store.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM artifact_uploads WHERE id = %s", (upload_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no upload {upload_id!r}: it never existed, was aborted, committed or expired"
            )
        return Upload(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            row[3],
            None if row[4] is None else int(row[4]),
            row[5],
            float(row[6]),
        )

    def offset(self, upload_id: str) -> int:
        check_upload_id(upload_id)
        with self._store.connection() as conn:
            row = conn.execute(
                "SELECT received FROM artifact_uploads WHERE id = %s", (upload_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no upload {upload_id!r}")
        return int(row[0])

    def discard(self, upload_id: str) -> None:
        check_upload_id(upload_id)
        with self._store.connection() as conn:
            keys = [
                str(r[0])
                for r in conn.execute(
                    "DELETE FROM artifact_upload_parts WHERE upload_id = %s RETURNING key",
                    (upload_id,),
                ).fetchall()
            ]
            conn.execute("DELETE FROM artifact_uploads WHERE id = %s", (upload_id,))
        if keys:
            self._store.objects.delete(keys)
        with self._lock:
            self._hashes.pop(upload_id, None)
            self._local_only.discard(upload_id)
        shutil.rmtree(self.folder(upload_id), ignore_errors=True)

    def fill(self, upload_id: str, source: BinaryIO) -> None:
        super().fill(upload_id, source)
        size = self.data(upload_id).stat().st_size
        with self._lock:
            self._local_only.add(upload_id)
        with self._store.connection() as conn:
            conn.execute(
                "UPDATE artifact_uploads SET received = %s, updated = %s WHERE id = %s",
                (size, time.time(), upload_id),
            )

    def _sweep(self) -> None:
        now = time.time()
        with self._lock:
            if now - self._swept < SWEEP_EVERY:
                return
            self._swept = now
        expire_commit_ids(self._store, now - self.ttl)
        for upload_id in expire_uploads(self._store, now - self.ttl).ids:
            with self._lock:
                self._hashes.pop(upload_id, None)
                self._local_only.discard(upload_id)
            shutil.rmtree(self.folder(upload_id), ignore_errors=True)
        for entry in self.root.iterdir() if self.root.is_dir() else []:
            with contextlib.suppress(OSError):  # what this process left of old uploads
                if now - entry.stat().st_mtime > self.ttl:
                    shutil.rmtree(entry, ignore_errors=True)

    # --- chunks -----------------------------------------------------------------------------
    async def _append(self, upload: Upload, offset: int, body: AsyncIterator[bytes]) -> int:
        current = await run_in_threadpool(self.offset, upload.id)
        if current != offset:
            raise OffsetMismatch(
                upload.id,
                current,
                f"upload {upload.id} is at offset {current}, not {offset}; resume from {current}",
            )
        folder = self.folder(upload.id)
        folder.mkdir(parents=True, exist_ok=True)
        spool = folder / f".chunk-{uuid.uuid4().hex}"
        hasher = self._take_hash(upload.id, offset)
        written = 0
        cut: Exception | None = None
        try:
            with open(spool, "wb") as out:
                try:
                    async for piece in body:
                        if not piece:
                            continue
                        if upload.size is not None and offset + written + len(piece) > upload.size:
                            raise InvalidArgumentError(
                                f"upload {upload.id} was declared as {upload.size} bytes; a "
                                f"chunk at offset {offset} may not go past it (nothing of it "
                                "was kept)"
                            )
                        out.write(piece)
                        if hasher is not None:
                            hasher.update(piece)
                        written += len(piece)
                except InvalidArgumentError:
                    raise
                except Exception as exc:  # the client went away: keep what arrived
                    cut = exc
            new = offset
            if written:
                new = await run_in_threadpool(self._settle, upload.id, offset, spool, written)
                if hasher is not None:
                    with self._lock:
                        self._hashes[upload.id] = (new, hasher)
        finally:
            with contextlib.suppress(OSError):
                spool.unlink()
        if cut is not None:
            raise cut
        return new

    def _settle(self, upload_id: str, offset: int, spool: Path, size: int) -> int:
        """Store the spooled chunk as parts and move the offset past it; returns the new
        offset. OffsetMismatch when another request moved it first."""
        parts: list[tuple[str, int, int, str]] = []
        try:
            with open(spool, "rb") as source:
                first = offset
                while block := source.read(PART):
                    key = f"uploads/{upload_id}/{first:016d}-{uuid.uuid4().hex[:12]}"
                    self._store.objects.put(key, block)
                    parts.append((upload_id, first, len(block), key))
                    first += len(block)
            with self._store.connection() as conn:
                moved = conn.execute(
                    "UPDATE artifact_uploads SET received = received + %s, updated = %s "
                    "WHERE id = %s AND received = %s",
                    (size, time.time(), upload_id, offset),
                )
                if moved.rowcount != 1:
                    raise _Lost
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO artifact_upload_parts (upload_id, first, size, key) "
                        "VALUES (%s, %s, %s, %s)",
                        parts,
                    )
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._store.objects.delete([p[3] for p in parts])
            if isinstance(exc, _Lost):
                current = self.offset(upload_id)
                raise OffsetMismatch(
                    upload_id,
                    current,
                    f"upload {upload_id} was written by another request (now at offset "
                    f"{current}); retry from the offset HEAD reports",
                ) from None
            raise
        with self._file_lock(upload_id):  # keep the bytes here too, in offset order
            data = self.data(upload_id)
            with contextlib.suppress(OSError):
                if data.stat().st_size == offset:
                    with open(spool, "rb") as source, open(data, "ab") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
        return offset + size

    def finished(self, upload_id: str, sha256: str | None = None) -> tuple[Upload, Path, str]:
        upload = self.get(upload_id)
        received = self.offset(upload_id)
        if upload.size is None or received == upload.size:
            self._assemble(upload_id, received)
        return super().finished(upload_id, sha256)

    def _assemble(self, upload_id: str, received: int) -> None:
        """Make ``<id>/data`` hold the upload's ``received`` bytes (from the parts when this
        process did not receive them all)."""
        with self._file_lock(upload_id):
            data = self.data(upload_id)
            with contextlib.suppress(FileNotFoundError):
                if upload_id in self._local_only or data.stat().st_size == received:
                    return
            with self._store.connection() as conn:
                parts = conn.execute(
                    "SELECT first, size, key FROM artifact_upload_parts WHERE upload_id = %s "
                    "ORDER BY first",
                    (upload_id,),
                ).fetchall()
            data.parent.mkdir(parents=True, exist_ok=True)
            temp = data.with_name(f".data-{uuid.uuid4().hex}")
            digest = hashlib.sha256()
            try:
                at = 0
                with open(temp, "wb") as out:
                    for first, size, key in parts:
                        if int(first) != at:
                            break
                        block = self._store.objects.get(str(key))
                        if len(block) != int(size):
                            raise StoreError(
                                f"part {key} of upload {upload_id} holds {len(block)} bytes, "
                                f"not {size}"
                            )
                        out.write(block)
                        digest.update(block)
                        at += len(block)
                if at != received:
                    raise StoreError(
                        f"upload {upload_id} has {received} bytes but its stored parts cover "
                        f"{at}: it was received as a form part by another server process, or "
                        "its parts were lost; upload the file again"
                    )
                os.replace(temp, data)
            finally:
                with contextlib.suppress(OSError):
                    temp.unlink()
            with self._lock:
                self._hashes[upload_id] = (received, digest)

    # --- commits ------------------------------------------------------------------------------
    def commit_answer(self, commit_id: str, conn: Any = None) -> Any:
        """The answer of a finished commit, or None; read on ``conn`` when given (the
        transaction of the commit's write block)."""
        with contextlib.nullcontext(conn) if conn is not None else self._store.connection() as db:
            row = db.execute(
                "SELECT answer FROM artifact_commits WHERE commit_id = %s",
                (check_upload_id(commit_id),),
            ).fetchone()
        return None if row is None else row[0]

    def remember_commit(self, commit_id: str, answer: Any, conn: Any = None) -> None:
        """Keep a commit's answer, on ``conn`` when given (so it commits with the records)."""
        with contextlib.nullcontext(conn) if conn is not None else self._store.connection() as db:
            db.execute(
                "INSERT INTO artifact_commits (commit_id, answer, at) VALUES (%s, %s, %s) "
                "ON CONFLICT (commit_id) DO UPDATE SET answer = EXCLUDED.answer",
                (check_upload_id(commit_id), Jsonb(answer), time.time()),
            )
