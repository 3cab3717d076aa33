"""The seam between artifacts and where their bytes live: :class:`BlobStorage`, addressed by
URI, plus the URI → storage registry.

Backends: :class:`~runlane.artifacts.local.LocalStorage` (a folder: the run folder, the
project's ``.artifacts`` folder, or any ``file://`` path) and
:class:`~runlane.artifacts.s3.S3Storage` (``s3://bucket/prefix`` on any S3-compatible
endpoint). Contracts every backend keeps:

* **Streaming.** Files move in chunks; no call reads a whole file into memory.
* **Hashes.** Every put returns the sha256 and size of exactly the bytes stored; a source
  that changes while it is read raises :class:`~runlane.artifacts.errors.FileChangedError`
  and leaves nothing behind. Every get with ``sha256=`` verifies it and raises
  :class:`~runlane.artifacts.errors.ChecksumMismatchError` (removing the partial file).
* **Atomicity.** A key is either absent or complete: local puts write a temporary file and
  rename it, S3 puts complete a (multipart) upload. Callers write the record that points at
  the keys only after the puts returned, so an interrupted upload is never visible.
* **Content addressing.** :meth:`BlobStorage.put_blob` stores a file under
  ``blobs/sha256/<aa>/<hash>``; putting the same content again stores (and, on S3, sends)
  no new bytes, reported as ``existed=True``.
* **Durability.** Puts are visible on return; :meth:`BlobStorage.sync` makes the ones this
  process made durable against power loss (local fsync; S3 is durable on return).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from runlane.errors import InvalidArgumentError

Progress = Callable[[int], None]
SCHEMES = ("a folder path", "file://PATH", "s3://BUCKET[/PREFIX]")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """The result of a put: where the bytes are, how many, their sha256, and whether a
    content-addressed blob was already there (no new bytes stored)."""

    key: str
    size: int
    sha256: str
    existed: bool = False


def blob_key(sha256: str) -> str:
    """The content-addressed key of a blob: ``blobs/sha256/<first two hex>/<hash>``."""
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


@runtime_checkable
class BlobStorage(Protocol):
    """Where artifact bytes live. See the module docstring for the contracts."""

    @property
    def uri(self) -> str:
        """A URI that :func:`open_storage` turns back into an equivalent storage."""
        ...

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint of an S3-compatible service, None for local storage."""
        ...

    def put_file(self, src: Path, key: str, *, progress: Progress | None = None) -> StoredFile:
        """Copy the file ``src`` to ``key`` (replacing what is there), hashing while copying."""
        ...

    def put_blob(self, src: Path, *, progress: Progress | None = None) -> StoredFile:
        """Store ``src`` content-addressed under :func:`blob_key`; no new bytes if present."""
        ...

    def put_bytes(self, data: bytes, key: str | None = None) -> StoredFile:
        """Store small generated content at ``key``, or content-addressed when None."""
        ...

    def put_tree(
        self,
        files: Sequence[tuple[Path, str]],
        key: str | None,
        *,
        progress: Progress | None = None,
    ) -> list[StoredFile]:
        """Store ``(source, relative path)`` pairs as a folder at ``key`` (replacing the old
        folder at once where the backend can), or each content-addressed when None."""
        ...

    def get_file(
        self, key: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None
    ) -> int:
        """Stream ``key`` into the file ``dest`` (temporary file + rename); verify ``sha256``
        when given. Returns the byte count. ArtifactNotFoundError when the key is missing."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """A binary stream reading ``key``. ArtifactNotFoundError when it is missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (a file, or a folder's files); missing keys are ignored."""
        ...

    def sync(self) -> None:
        """Make this process's puts durable against power loss."""
        ...


_registry: dict[tuple[str, str | None], BlobStorage] = {}
_lock = threading.Lock()


def _env_endpoint() -> str | None:
    for name in ("RUNLANE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            return value
    return None


def register_storage(storage: BlobStorage) -> BlobStorage:
    """Make ``storage`` the instance :func:`open_storage` returns for its URI and endpoint
    (so readers find a storage built with explicit credentials). Returns it."""
    with _lock:
        _registry[(storage.uri, storage.endpoint_url)] = storage
    return storage


def open_storage(
    uri: str | os.PathLike[str], *, endpoint_url: str | None = None, **options: Any
) -> BlobStorage:
    """The storage for ``uri`` (cached per URI and endpoint).

    ``s3://bucket/prefix`` opens an :class:`~runlane.artifacts.s3.S3Storage` (boto3 must be
    installed: ``pip install runlane[s3]``); ``endpoint_url`` defaults to
    ``RUNLANE_S3_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``; other
    ``options`` go to its constructor. A path or ``file://PATH`` opens a
    :class:`~runlane.artifacts.local.LocalStorage`. Raises InvalidArgumentError for other
    schemes, listing the valid ones.
    """
    text = os.fspath(uri)
    if text.startswith("s3://"):
        endpoint = endpoint_url or _env_endpoint()
        with _lock:
            found = _registry.get((text.rstrip("/"), endpoint))
        if found is not None:
            return found
        from runlane.artifacts.s3 import S3Storage

        return register_storage(S3Storage(text, endpoint_url=endpoint, **options))
    if "://" in text and not text.startswith("file://"):
        scheme = text.split("://", 1)[0]
        raise InvalidArgumentError(
            f"artifact storage URI {text!r} has an unknown scheme {scheme!r}; use one of: "
            + ", ".join(SCHEMES)
        )
    from runlane.artifacts.local import LocalStorage

    path = Path(text[len("file://") :] if text.startswith("file://") else text).expanduser()
    key = (str(path.resolve()), None)
    with _lock:
        found = _registry.get(key)
        if found is None:
            found = LocalStorage(path)
            _registry[key] = found
        return found


def forget_storages() -> None:
    """Drop every cached storage (tests use this between cases)."""
    with _lock:
        _registry.clear()
