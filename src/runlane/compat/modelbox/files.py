"""Files of ModelBox objects — ``UploadFile``, ``DownloadFile``, ``TrackArtifacts`` and
``ListArtifacts`` — on a runlane Store, beside the mapping of :mod:`.objects`.

Every parent (experiment, model, model version, checkpoint) has a catalog of ModelBox
``FileMetadata`` entries, ``<data root>/.modelbox/files/<aa>/<parent id>.jsonl``: a line per
track or upload, the last line of a file id giving its current state (a later track keeps
the bytes of an earlier upload). A file's id is ``sha1(parent_id + path)`` with the client's
``path``, so tracking a path and then uploading it is one file.

Uploaded bytes become runlane artifacts of the parent:

* experiment or checkpoint: a file of the run, ``outputs/modelbox/<file id>/<base name>``
  (artifact kind from the file type; ``model`` for checkpoints), stored by the artifact layer
  in the run folder, or content-addressed in ``blobs`` (the server's S3 object store);
* model version: a file of the registry version (``runlane.models(...).version(...)``
  downloads it), content-addressed in ``blobs`` or the project's ``.artifacts`` blobs;
* model: a content-addressed blob there too, listed in the catalog only (the registry keeps
  no files per model).

An upload receives its bytes into a temporary file (hashing md5 and sha256 on the way),
checks the client's ``checksum`` — an md5 hex digest, which is what modelbox 0.0.5 sends, or
a sha256 one; empty means unchecked — then stores the bytes, writes the runlane record, then
the catalog line, then the id index entry: a failure at any step leaves no listed file, and a
wrong checksum (InvalidArgumentError) stores nothing. Downloads stream the stored bytes and
verify their sha256 at the end (ChecksumMismatchError).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from runlane.artifacts.context import ArtifactContext
from runlane.artifacts.errors import ChecksumMismatchError
from runlane.artifacts.fetch import storage_for
from runlane.artifacts.home import home_of, project_dir
from runlane.artifacts.journal import append_json_lines, read_json_lines
from runlane.artifacts.paths import check_artifact_name
from runlane.artifacts.records import PROJECT_BLOBS, FileEntry
from runlane.artifacts.storage import BlobStorage, open_storage
from runlane.artifacts.writes import log_path
from runlane.compat.modelbox.backend import object_id
from runlane.compat.modelbox.index import index_root, recall, remember
from runlane.compat.modelbox.objects import (
    CHECKPOINT,
    EXPERIMENT,
    MODEL,
    VERSION,
    ModelBoxObjects,
    Parent,
)
from runlane.entities import Batch, LineageRecord
from runlane.errors import InvalidArgumentError, NotFoundError

FILE = "file"
#: ModelBox ``FileType`` numbers → runlane artifact kinds (anything else: ``file``).
FILE_KINDS = {1: "model", 2: "model", 3: "text", 4: "image", 5: "audio", 6: "video"}
CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A ModelBox file of a parent. ``key`` is None for a file that was tracked only;
    ``storage`` follows the artifact records (None: the run folder, ``"project"``: the
    project's blobs, else a storage URI)."""

    id: str
    parent_id: str
    path: str
    file_type: int
    checksum: str
    created_at: float
    updated_at: float
    sha256: str | None = None
    size: int | None = None
    key: str | None = None
    storage: str | None = None
    endpoint_url: str | None = None

    @property
    def uploaded(self) -> bool:
        return self.key is not None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FileRecord:
        size = doc.get("size")
        return cls(
            id=str(doc["id"]),
            parent_id=str(doc["parent_id"]),
            path=str(doc["path"]),
            file_type=int(doc.get("file_type") or 0),
            checksum=str(doc.get("checksum") or ""),
            created_at=float(doc.get("created_at") or 0.0),
            updated_at=float(doc.get("updated_at") or 0.0),
            sha256=doc.get("sha256"),
            size=None if size is None else int(size),
            key=doc.get("key"),
            storage=doc.get("storage"),
            endpoint_url=doc.get("endpoint_url"),
        )


def _expected(checksum: str) -> tuple[str, str] | None:
    """``(algorithm, hex digest)`` of a client checksum; None when empty."""
    text = checksum.strip().lower()
    if not text:
        return None
    algorithm = {32: "md5", 64: "sha256"}.get(len(text))
    if algorithm is None or any(c not in "0123456789abcdef" for c in text):
        raise InvalidArgumentError(
            f"file checksum {checksum!r} must be an md5 (32 hex digits) or sha256 (64 hex "
            "digits) digest, or empty"
        )
    return algorithm, text


def check_tracked(path: str, checksum: str) -> None:
    """InvalidArgumentError unless ``path`` is non-empty and ``checksum`` is empty or an md5
    or sha256 hex digest."""
    if not path:
        raise InvalidArgumentError("a tracked file needs its path")
    _expected(checksum)


class ModelBoxFiles:
    """See the module docstring. ``blobs``: where uploaded bytes go content-addressed (None:
    run folders and project blobs)."""

    def __init__(self, objects: ModelBoxObjects, blobs: BlobStorage | None = None) -> None:
        self.objects = objects
        self.blobs = blobs

    def _catalog(self, parent_id: str) -> Path:
        digest = object_id(parent_id)  # parent ids come from clients: never a path themselves
        return index_root(self.objects.root) / "files" / digest[:2] / f"{digest}.jsonl"

    def _append(self, parent: Parent, record: FileRecord) -> FileRecord:
        append_json_lines(self._catalog(parent.id), [asdict(record)])
        remember(self.objects.root, record.id, {"kind": FILE, "parent_id": parent.id})
        return record

    # --- listing ------------------------------------------------------------------------
    def files(self, parent: Parent) -> list[FileRecord]:
        """The parent's files, in the order they were first tracked or uploaded."""
        latest: dict[str, FileRecord] = {}
        for doc in read_json_lines(self._catalog(parent.id)):
            if not isinstance(doc, dict) or doc.get("parent_id") != parent.id:
                continue
            try:
                record = FileRecord.from_doc(doc)
            except (KeyError, TypeError, ValueError):
                continue
            before = latest.get(record.id)
            if before is not None:
                record = replace(record, created_at=before.created_at)
                if before.uploaded and not record.uploaded:
                    record = replace(
                        record,
                        sha256=before.sha256,
                        size=before.size,
                        key=before.key,
                        storage=before.storage,
                        endpoint_url=before.endpoint_url,
                    )
            latest[record.id] = record
        return list(latest.values())

    def find(self, file_id: str) -> tuple[Parent, FileRecord]:
        """The file ``file_id`` and its parent. NotFoundError for an unknown id."""
        doc = recall(self.objects.root, file_id)
        if doc is not None and doc.get("kind") == FILE:
            parent = self.objects.resolve(str(doc["parent_id"]))
            for record in self.files(parent):
                if record.id == file_id:
                    return parent, record
        raise NotFoundError(f"no ModelBox file has id {file_id!r}")

    # --- writing ------------------------------------------------------------------------
    def track(self, parent: Parent, path: str, checksum: str, file_type: int) -> FileRecord:
        """Record a file the client keeps (no bytes). InvalidArgumentError for an empty path
        or a malformed checksum (see :func:`check_tracked`)."""
        check_tracked(path, checksum)
        at = time.time()
        return self._append(
            parent,
            FileRecord(object_id(parent.id, path), parent.id, path, file_type, checksum, at, at),
        )

    def upload(
        self,
        parent: Parent,
        path: str,
        checksum: str,
        file_type: int,
        chunks: Iterable[bytes],
    ) -> FileRecord:
        """Store the bytes of ``chunks`` as the file ``path`` of ``parent`` (see the module
        docstring). InvalidArgumentError for a bad path or a checksum that does not match."""
        name = check_artifact_name(
            PurePosixPath(path.replace("\\", "/")).name if path else "", "uploaded file name"
        )
        expected = _expected(checksum)
        file_id = object_id(parent.id, path)
        with tempfile.TemporaryDirectory(prefix="runlane-modelbox-") as folder:
            source = Path(folder) / name
            md5 = hashlib.md5(usedforsecurity=False)
            sha256 = hashlib.sha256()
            size = 0
            with open(source, "wb") as out:
                for chunk in chunks:
                    md5.update(chunk)
                    sha256.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            got = {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}
            if expected is not None and got[expected[0]] != expected[1]:
                raise InvalidArgumentError(
                    f"file {path!r}: the {size} bytes received have {expected[0]} "
                    f"{got[expected[0]]}, not the upload's checksum {checksum}; nothing was "
                    "stored"
                )
            entry, storage, endpoint = self._store(parent, file_id, source, file_type)
        if entry.sha256 != got["sha256"]:  # the stored copy is not what was received
            raise ChecksumMismatchError(
                f"file {path!r} was stored with sha256 {entry.sha256}, received {got['sha256']}"
            )
        at = time.time()
        return self._append(
            parent,
            FileRecord(
                id=file_id,
                parent_id=parent.id,
                path=path,
                file_type=file_type,
                checksum=checksum or got["md5"],
                created_at=at,
                updated_at=at,
                sha256=entry.sha256,
                size=entry.size,
                key=entry.key,
                storage=storage,
                endpoint_url=endpoint,
            ),
        )

    def _store(
        self, parent: Parent, file_id: str, source: Path, file_type: int
    ) -> tuple[FileEntry, str | None, str | None]:
        """Store ``source`` as a runlane artifact of the parent: ``(entry, storage tag,
        endpoint)``."""
        store = self.objects.store
        if parent.kind in (EXPERIMENT, CHECKPOINT) and parent.run_id is not None:
            run_id = parent.run_id

            def emit(record: LineageRecord) -> None:
                store.write(run_id, Batch(lineage=[record]))

            ctx = ArtifactContext(home_of(store, run_id), emit, self.blobs)
            kind = FILE_KINDS.get(file_type, "model" if parent.kind == CHECKPOINT else None)
            record = log_path(ctx, source, kind=kind, rel_path=f"modelbox/{file_id}")
            ctx.sync()
            return record.files[0], record.storage, record.endpoint_url
        if parent.kind not in (MODEL, VERSION) or parent.model is None:
            raise InvalidArgumentError(f"a ModelBox {parent.kind} keeps no files")
        storage, tag = self._blob_storage(parent)
        put = storage.put_blob(source)
        storage.sync()
        entry = FileEntry(source.name, put.size, put.sha256, put.key)
        if parent.kind == VERSION and parent.version is not None:
            self.objects.registry(parent.owner, parent.project).add_files(
                parent.model,
                parent.version,
                [entry],
                storage=tag,
                endpoint_url=storage.endpoint_url,
            )
        return entry, tag, storage.endpoint_url

    def _blob_storage(self, parent: Parent) -> tuple[BlobStorage, str]:
        if self.blobs is not None:
            return self.blobs, self.blobs.uri
        folder = project_dir(self.objects.store, parent.owner, parent.project) / ".artifacts"
        return open_storage(folder), PROJECT_BLOBS

    # --- reading ------------------------------------------------------------------------
    def read(self, parent: Parent, record: FileRecord, chunk: int = CHUNK) -> Iterator[bytes]:
        """The stored bytes of an uploaded file, in chunks; the last ``next`` raises
        ChecksumMismatchError when they do not hash to the recorded sha256. NotFoundError
        for a file that was only tracked."""
        if record.key is None:
            raise NotFoundError(
                f"file {record.id} ({record.path}) was tracked, not uploaded: the server "
                "holds no bytes for it"
            )
        run_dir = None
        if record.storage is None and parent.run_id is not None:
            run_dir = home_of(self.objects.store, parent.run_id).run_dir
        storage = storage_for(
            record.storage,
            record.endpoint_url,
            run_dir=run_dir,
            artifacts_dir=project_dir(self.objects.store, parent.owner, parent.project)
            / ".artifacts",
        )
        return _stream(storage, record, chunk)


def _stream(storage: BlobStorage, record: FileRecord, chunk: int) -> Iterator[bytes]:
    assert record.key is not None
    digest = hashlib.sha256()
    handle = storage.open(record.key)
    try:
        while block := handle.read(chunk):
            digest.update(block)
            yield block
    finally:
        handle.close()
    if digest.hexdigest() != record.sha256:
        raise ChecksumMismatchError(
            f"file {record.id} ({record.path}) read back with sha256 {digest.hexdigest()}, "
            f"recorded {record.sha256}"
        )
