"""Resumable uploads on the server's disk, so an artifact's bytes are never held in memory
and an interrupted transfer continues where it stopped.

Layout under ``<files root>/.uploads/``::

    <id>/meta.json     {"id", "owner", "project", "run_id", "size", "sha256", "created"}
    <id>/data          the bytes received so far; its size is the upload's offset
    .commits/<id>.json the answer of a finished commit (replayed for a retried commit)

The offset lives on disk, so it survives a restart. This is the upload area of a folder
store; a ServerStore's keeps the same contracts in PostgreSQL and the object store, so that
replicas share it (:mod:`runlane.server.shared_uploads`). Contracts:

* :meth:`UploadArea.append` streams one chunk to the end of ``data`` under a non-blocking
  exclusive lock; a chunk whose offset is not the current size (or an upload another request
  is writing) raises :class:`OffsetMismatch` carrying the current offset, and writes nothing.
  A chunk cut short (client gone) keeps the bytes that arrived: the client resumes from the
  offset it reads back. A chunk that would pass the declared size is refused whole.
* :meth:`UploadArea.finished` checks an upload is complete and hashes to the sha256 the
  client sent (``checksum_mismatch``); the hash is kept incrementally while chunks stream
  through this process, else computed from the file.
* Uploads untouched for ``ttl`` seconds are removed by a later :meth:`UploadArea.create`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from runlane.artifacts.errors import ChecksumMismatchError
from runlane.artifacts.transfer import hash_file
from runlane.errors import InvalidArgumentError, NotFoundError, StoreError
from runlane.server.wire import WireError
from runlane.store.local.files import locked, read_json, write_json

_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TTL = 24 * 3600.0
SWEEP_EVERY = 600.0


class OffsetMismatch(WireError):
    """A chunk's ``Upload-Offset`` is not where the upload stands (409 with the offset)."""

    def __init__(self, upload_id: str, offset: int, message: str) -> None:
        super().__init__("offset_mismatch", message)
        self.upload_id = upload_id
        self.offset = offset


def check_upload_id(upload_id: str) -> str:
    if not _ID.match(upload_id):
        raise InvalidArgumentError(f"upload id {upload_id!r} must be 32 lowercase hex digits")
    return upload_id


def check_sha256(value: object, what: str = "sha256") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidArgumentError(f"{what} {value!r} must be 64 lowercase hex digits or null")
    return value


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload's metadata (what its ``meta.json`` holds)."""

    id: str
    owner: str
    project: str
    run_id: str | None
    size: int | None
    sha256: str | None
    created: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "project": self.project,
            "run_id": self.run_id,
            "size": self.size,
            "sha256": self.sha256,
            "created": self.created,
        }


class UploadArea:
    """See the module docstring. Thread-safe; one per server process."""

    def __init__(self, root: Path, ttl: float = TTL) -> None:
        self.root = root
        self.ttl = ttl
        self._hashes: dict[str, tuple[int, Any]] = {}  # id → (bytes hashed, sha256 object)
        self._lock = threading.Lock()
        self._swept = 0.0

    # --- lifecycle --------------------------------------------------------------------------
    def folder(self, upload_id: str) -> Path:
        return self.root / check_upload_id(upload_id)

    def data(self, upload_id: str) -> Path:
        return self.folder(upload_id) / "data"

    def create(
        self,
        *,
        owner: str,
        project: str,
        run_id: str | None,
        size: object = None,
        sha256: object = None,
    ) -> Upload:
        """A new, empty upload for ``owner/project``. InvalidArgumentError for a negative or
        non-integer ``size`` or a malformed ``sha256``."""
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidArgumentError(f"upload size {size!r} must be an int ≥ 0 or null")
        upload = Upload(
            uuid.uuid4().hex, owner, project, run_id, size, check_sha256(sha256), time.time()
        )
        self._sweep()
        folder = self.folder(upload.id)
        try:
            folder.mkdir(parents=True)
            (folder / "data").touch()
            write_json(folder / "meta.json", upload.to_dict())
        except OSError as exc:
            raise StoreError(f"could not create upload {upload.id} in {self.root}: {exc}") from exc
        return upload

    def get(self, upload_id: str) -> Upload:
        """The upload's metadata; NotFoundError when it does not exist (or was committed)."""
        doc = read_json(self.folder(upload_id) / "meta.json", None)
        if not isinstance(doc, dict):
            raise NotFoundError(
                f"no upload {upload_id!r}: it never existed, was aborted, committed or expired"
            )
        size = doc.get("size")
        return Upload(
            str(doc["id"]),
            str(doc["owner"]),
            str(doc["project"]),
            doc.get("run_id"),
            None if size is None else int(size),
            doc.get("sha256"),
            float(doc.get("created", 0.0)),
        )

    def offset(self, upload_id: str) -> int:
        """Bytes received so far (NotFoundError for an unknown upload)."""
        try:
            return self.data(upload_id).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"no upload {upload_id!r}") from None

    def discard(self, upload_id: str) -> None:
        """Remove the upload (abort, or consumed by a commit); unknown ids are ignored."""
        with self._lock:
            self._hashes.pop(upload_id, None)
        shutil.rmtree(self.folder(upload_id), ignore_errors=True)

    def _sweep(self) -> None:
        now = time.time()
        with self._lock:
            if now - self._swept < SWEEP_EVERY:
                return
            self._swept = now
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            with contextlib.suppress(OSError):
                target = entry / "data" if entry.is_dir() else entry
                if not target.exists():
                    target = entry
                if now - target.stat().st_mtime > self.ttl:
                    if entry.is_dir() and _ID.match(entry.name):
                        self.discard(entry.name)
                    elif entry.name.startswith(".stage-"):  # left by a killed commit
                        shutil.rmtree(entry, ignore_errors=True)
                    elif entry.name == ".commits":
                        for done in entry.iterdir():
                            if now - done.stat().st_mtime > self.ttl:
                                done.unlink(missing_ok=True)

    # --- chunks -----------------------------------------------------------------------------
    async def append(self, upload: Upload, offset: int, body: AsyncIterator[bytes]) -> int:
        """Stream ``body`` to the end of the upload if it stands at ``offset``; returns the
        new offset. Raises OffsetMismatch (nothing written) or InvalidArgumentError when the
        chunk would pass the declared size (nothing of it kept)."""
        return await self._append(upload, offset, body)

    def fill(self, upload_id: str, source: BinaryIO) -> None:
        """Make ``source`` (read to its end) the whole content of a new, empty upload (a
        form part of a one-shot commit)."""
        with open(self.data(upload_id), "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    async def _append(self, upload: Upload, offset: int, body: AsyncIterator[bytes]) -> int:
        try:
            fd = os.open(self.data(upload.id), os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            raise NotFoundError(f"no upload {upload.id!r}") from None
        written = offset
        hasher: Any = None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                current = os.fstat(fd).st_size
                raise OffsetMismatch(
                    upload.id,
                    current,
                    f"upload {upload.id} is being written by another request (at offset "
                    f"{current}); retry from the offset HEAD reports",
                ) from None
            current = os.fstat(fd).st_size
            if current != offset:
                raise OffsetMismatch(
                    upload.id,
                    current,
                    f"upload {upload.id} is at offset {current}, not {offset}; resume from "
                    f"{current}",
                )
            hasher = self._take_hash(upload.id, offset)
            async for piece in body:
                if not piece:
                    continue
                if upload.size is not None and written + len(piece) > upload.size:
                    os.ftruncate(fd, offset)
                    written, hasher = offset, None
                    raise InvalidArgumentError(
                        f"upload {upload.id} was declared as {upload.size} bytes; a chunk at "
                        f"offset {offset} may not go past it (nothing of it was kept)"
                    )
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
                if hasher is not None:
                    hasher.update(piece)
                written += len(piece)
        finally:
            if hasher is not None:
                with self._lock:
                    self._hashes[upload.id] = (written, hasher)
            os.close(fd)
        return written

    def _take_hash(self, upload_id: str, offset: int) -> Any:
        with self._lock:
            held = self._hashes.pop(upload_id, None)
        if offset == 0:
            return hashlib.sha256()
        if held is not None and held[0] == offset:
            return held[1]
        return None  # a chunk went through another process: hash the file at the end

    def finished(self, upload_id: str, sha256: str | None = None) -> tuple[Upload, Path, str]:
        """``(upload, data file, its sha256)`` of a complete upload. Raises OffsetMismatch
        when bytes are missing, ChecksumMismatchError when the bytes do not hash to
        ``sha256`` (or to the one declared at creation)."""
        upload = self.get(upload_id)
        path = self.data(upload_id)
        size = self.offset(upload_id)
        if upload.size is not None and size != upload.size:
            raise OffsetMismatch(
                upload_id,
                size,
                f"upload {upload_id} holds {size} of its {upload.size} bytes; send the rest "
                "before committing it",
            )
        with self._lock:
            held = self._hashes.get(upload_id)
        if held is not None and held[0] == size:
            digest = str(held[1].copy().hexdigest())
        else:
            digest = hash_file(path)[0]
        for expected in (check_sha256(sha256), upload.sha256):
            if expected is not None and expected != digest:
                raise ChecksumMismatchError(
                    f"upload {upload_id} hashes to {digest[:16]}…, not the sha256 "
                    f"{expected[:16]}… sent with it: bytes were lost or changed in transit; "
                    "upload the file again"
                )
        return upload, path, digest

    # --- commits ------------------------------------------------------------------------------
    def commit_answer(self, commit_id: str) -> Any:
        """The stored answer of a finished commit, or None."""
        return read_json(self.root / ".commits" / f"{check_upload_id(commit_id)}.json", None)

    def remember_commit(self, commit_id: str, answer: Any) -> None:
        folder = self.root / ".commits"
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{check_upload_id(commit_id)}.json", answer)

    def commit_lock(self, commit_id: str) -> Path:
        folder = self.root / ".commits"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{check_upload_id(commit_id)}.lock"

    def commit_guard(self, commit_id: str) -> AbstractContextManager[None]:
        """Held while a commit with this id runs, so a concurrent retry waits for its
        answer."""
        return locked(self.commit_lock(commit_id))

    def staging(self) -> Path:
        """A fresh, empty folder beside the uploads (same filesystem: uploads hard-link in)."""
        folder = self.root / f".stage-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        return folder
