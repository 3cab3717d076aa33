"""LocalStorage: artifact bytes in a folder (the run folder, the project's ``.artifacts``
folder, or any ``file://`` path). Keeps the contracts of :mod:`runlane.artifacts.storage`.

Every put copies into a hidden temporary file next to its destination (``.<name>.<pid>.
<random>.tmp``) and renames it into place, so a reader sees the old file or the new one,
never a partial one; a folder is built in a hidden temporary folder and swapped in.
Temporary files of a killed process stay hidden and are never listed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    ChecksumMismatchError,
    FileChangedError,
)
from runlane.artifacts.paths import safe_join
from runlane.artifacts.storage import Progress, StoredFile, blob_key
from runlane.artifacts.transfer import HashingReader, hash_bytes
from runlane.errors import StoreError
from runlane.names import check_path


def _temp_name(dest: Path, suffix: str = "tmp") -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{suffix}")


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def _kernel_copy(src: int, dst: int, count: int, offset: int) -> None:
    """Copy ``count`` bytes at ``offset`` from ``src`` to the same offset of ``dst`` in the
    kernel (``copy_file_range``: page cache to page cache, no user-space copy)."""
    done = 0
    while done < count:
        moved = os.copy_file_range(src, dst, count - done, offset + done, offset + done)
        if moved == 0:
            raise FileChangedError(f"source ended early at byte {offset + done} while copied")
        done += moved


#: Files at least this large start their writeback to disk while they are copied, so the
#: fsync at ``finish()`` has little left to do (the copy is CPU-bound on sha256 meanwhile).
EARLY_WRITEBACK = 64 << 20


def _start_writeback(fd: int, offset: int, count: int) -> None:
    """Ask the kernel to start writing a copied range to disk now, without waiting
    (``POSIX_FADV_DONTNEED`` starts writeback of dirty pages on Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, offset, count, os.POSIX_FADV_DONTNEED)


def copy_into(src: Path, temp: Path, progress: Progress | None = None) -> tuple[str, int]:
    """Copy ``src`` into the new file ``temp`` (which must not exist), hashing as it goes.
    Returns ``(sha256, size)``; removes ``temp`` and re-raises on any failure.

    Each chunk is read once into memory for the sha256 (on a helper thread) while the kernel
    copies the same byte range (``copy_file_range``; plain writes where the filesystem does
    not support it). A change of the source in between is caught by
    :meth:`HashingReader.finish` (size, mtime, inode). Large files start their writeback as
    they go (:data:`EARLY_WRITEBACK`).
    """
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            with HashingReader(src, progress=progress) as reader:
                kernel = not reader.small  # a small file is in memory already: write it
                offset = 0
                for chunk in reader.chunks():
                    if kernel:
                        try:
                            _kernel_copy(reader.fileno(), fd, len(chunk), offset)
                        except OSError as exc:
                            if exc.errno not in _NO_KERNEL_COPY:
                                raise
                            kernel = False
                    if not kernel:
                        written = 0
                        while written < len(chunk):
                            written += os.pwrite(fd, chunk[written:], offset + written)
                    if reader.size >= EARLY_WRITEBACK:
                        _start_writeback(fd, offset, len(chunk))
                    offset += len(chunk)
                digest, size = reader.finish()
        finally:
            os.close(fd)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return digest, size


class LocalStorage:
    """Artifact bytes under ``root``. Thread-safe."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._safe_dirs: set[str] = set()  # folders (as keys) checked to stay under root

    @property
    def uri(self) -> str:
        return f"file://{self.root}"

    @property
    def endpoint_url(self) -> str | None:
        return None

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # --- paths ----------------------------------------------------------------------------
    def local_path(self, key: str) -> Path:
        """The file (or folder) of ``key``; UnsafePathError if it would leave the root
        through a symlink. Folders already checked are remembered."""
        check_path(key, "storage key")
        parent = key.rpartition("/")[0]
        path = self.root / key
        if parent in self._safe_dirs and not path.is_symlink():
            return path
        safe_join(self.root, key, "storage key")
        if parent and (self.root / parent).is_dir():
            self._safe_dirs.add(parent)
        return path

    def _prepare(self, key: str) -> Path:
        dest = self.local_path(key)
        parent = key.rpartition("/")[0]
        if parent in self._safe_dirs:
            return dest
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"could not create {dest.parent}: {exc.strerror or exc}") from exc
        return self.local_path(key)

    def _written(self, *paths: Path) -> None:
        with self._lock:
            self._dirty.update(paths)

    # --- puts -----------------------------------------------------------------------------
    def put_file(self, src: Path, key: str, *, progress: Progress | None = None) -> StoredFile:
        dest = self._prepare(key)
        temp = _temp_name(dest)
        digest, size = copy_into(src, temp, progress)
        os.replace(temp, dest)
        self._written(dest)
        return StoredFile(key, size, digest)

    def put_blob(self, src: Path, *, progress: Progress | None = None) -> StoredFile:
        staging = self._prepare("blobs/tmp/x").parent  # same filesystem: rename, not copy
        temp = _temp_name(staging / "blob")
        digest, size = copy_into(src, temp, progress)
        return self._settle_blob(temp, digest, size)

    def _settle_blob(self, temp: Path, digest: str, size: int) -> StoredFile:
        key = blob_key(digest)
        final = self._prepare(key)
        try:
            if final.is_file() and final.stat().st_size == size:
                temp.unlink(missing_ok=True)
                return StoredFile(key, size, digest, existed=True)
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        self._written(final)
        return StoredFile(key, size, digest)

    def put_bytes(self, data: bytes, key: str | None = None) -> StoredFile:
        digest = hash_bytes(data)
        if key is None:
            key = blob_key(digest)
            final = self._prepare(key)
            if final.is_file() and final.stat().st_size == len(data):
                return StoredFile(key, len(data), digest, existed=True)
        dest = self._prepare(key)
        temp = _temp_name(dest)
        try:
            with open(temp, "xb") as fh:
                fh.write(data)
            os.replace(temp, dest)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"could not write {dest}: {exc.strerror or exc}") from exc
        self._written(dest)
        return StoredFile(key, len(data), digest)

    def put_tree(
        self,
        files: Sequence[tuple[Path, str]],
        key: str | None,
        *,
        progress: Progress | None = None,
    ) -> list[StoredFile]:
        if key is None:
            return [self.put_blob(src, progress=progress) for src, _ in files]
        dest = self._prepare(key)
        temp_dir = _temp_name(dest, "tmpdir")
        temp_dir.mkdir()
        stored: list[StoredFile] = []
        try:
            for src, rel in files:
                check_path(rel, "file path in folder")
                target = temp_dir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = copy_into(src, target, progress)
                stored.append(StoredFile(f"{key}/{rel}", size, digest))
            old = None
            if dest.exists() or dest.is_symlink():
                old = _temp_name(dest, "old")
                os.replace(dest, old)
            os.replace(temp_dir, dest)
            if old is not None:
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
        except BaseException:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        self._written(*(dest / rel for _, rel in files), dest)
        return stored

    # --- reads ----------------------------------------------------------------------------
    def _existing(self, key: str) -> Path:
        path = self.local_path(key)
        if not path.is_file():
            raise ArtifactNotFoundError(f"no stored file {key!r} in {self.root}")
        return path

    def get_file(
        self, key: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None
    ) -> int:
        src = self._existing(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = _temp_name(dest)
        digest, size = copy_into(src, temp, progress)
        if sha256 is not None and digest != sha256:
            temp.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"stored file {key!r} in {self.root} hashes to {digest[:16]}…, not the recorded "
                f"{sha256[:16]}…: it was modified or corrupted after it was logged"
            )
        os.replace(temp, dest)
        return size

    def open(self, key: str) -> IO[bytes]:
        return open(self._existing(key), "rb")

    def exists(self, key: str) -> bool:
        return self.local_path(key).exists()

    def delete(self, key: str) -> None:
        path = self.local_path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def sync(self) -> None:
        with self._lock:
            paths, self._dirty = self._dirty, set()
        folders = set()
        for path in paths:
            folders.add(path.parent)
            _fsync(path)
        for folder in folders:
            _fsync(folder)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
