"""Streaming reads of source files: chunked, hashed (sha256) while they stream, and checked
for changes.

:class:`HashingReader` yields a file's bytes in chunks of ``chunk_size`` (never the whole
file), hashing each chunk on a helper thread while the caller writes or uploads it, so a copy
costs about ``max(read+write, sha256)`` instead of their sum. :meth:`HashingReader.finish`
returns ``(sha256, size)`` and raises :class:`FileChangedError` when the file's size, mtime,
inode or byte count changed between the start and the end of the read.
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from runlane.artifacts.errors import ChecksumMismatchError, FileChangedError, SourceNotFoundError
from runlane.errors import InvalidArgumentError

CHUNK = 4 << 20
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What identifies a file's content cheaply: size, mtime (ns), inode, device."""

    size: int
    mtime_ns: int
    ino: int
    dev: int

    @classmethod
    def of(cls, st: os.stat_result) -> Snapshot:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def source_stat(path: Path, what: str = "artifact source") -> os.stat_result:
    """``os.stat`` following symlinks; SourceNotFoundError naming ``path`` when missing."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise SourceNotFoundError(str(path), what) from None
    except NotADirectoryError:
        raise SourceNotFoundError(str(path), what) from None


class HashingReader:
    """Read ``path`` in chunks while hashing it; use as a context manager::

    with HashingReader(path) as reader:
        for chunk in reader.chunks():
            out.write(chunk)          # chunk is only valid until the next iteration
        digest, size = reader.finish()
    """

    def __init__(
        self,
        path: Path,
        chunk_size: int = CHUNK,
        progress: Progress | None = None,
        *,
        buffers: int = 3,
    ) -> None:
        self.path = path
        self.chunk_size = max(1 << 16, int(chunk_size))
        self.progress = progress
        self.buffers = max(2, buffers)
        self._fh: int | None = None
        self._before: Snapshot | None = None
        self._digest = hashlib.sha256()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._work: queue.Queue[tuple[bytearray, int] | None] | None = None
        self._free: queue.Queue[bytearray] | None = None
        self._error: BaseException | None = None

    def fileno(self) -> int:
        """The open source file (for kernel-side copies of the ranges read)."""
        assert self._fh is not None, "open the reader first"
        return self._fh

    @property
    def small(self) -> bool:
        """Whether the file fits one chunk (read in one go, hashed inline)."""
        return self.size <= self.chunk_size

    @property
    def size(self) -> int:
        """The size the file had when it was opened."""
        assert self._before is not None, "open the reader first"
        return self._before.size

    def __enter__(self) -> HashingReader:
        st = source_stat(self.path)
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgumentError(f"{str(self.path)!r} is a folder, not a file")
        try:
            self._fh = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise SourceNotFoundError(str(self.path)) from None
        self._before = Snapshot.of(os.fstat(self._fh))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_thread()
        if self._fh is not None:
            os.close(self._fh)
            self._fh = None

    # --- hashing helper -------------------------------------------------------------------
    def _hash_loop(self) -> None:
        assert self._work is not None and self._free is not None
        while True:
            item = self._work.get()
            if item is None:
                return
            buf, n = item
            try:
                if self._error is None:
                    self._digest.update(memoryview(buf)[:n])
            except BaseException as exc:  # pragma: no cover - hashlib does not fail
                self._error = exc
            finally:
                self._free.put(buf)

    def _stop_thread(self) -> None:
        if self._thread is not None and self._work is not None:
            self._work.put(None)
            self._thread.join()
            self._thread = None

    def chunks(self) -> Iterator[memoryview]:
        """Yield the file's bytes in order. Each chunk is valid until the next one is asked
        for; keep a copy (``bytes(chunk)``) to hold it longer."""
        assert self._fh is not None and self._before is not None, "open the reader first"
        fd = self._fh
        if self._before.size <= self.chunk_size:  # small: no helper thread
            buf = bytearray(max(self._before.size, 1) + 1)
            while n := os.readv(fd, [memoryview(buf)]):
                view = memoryview(buf)[:n]
                self._digest.update(view)
                self._count += n
                if self.progress is not None:
                    self.progress(self._count)
                yield view
            return
        work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        free: queue.Queue[bytearray] = queue.Queue()
        self._work, self._free = work, free
        for _ in range(self.buffers):
            free.put(bytearray(self.chunk_size))
        self._thread = threading.Thread(target=self._hash_loop, name="runlane-hash", daemon=True)
        self._thread.start()
        while True:
            buf = free.get()
            n = os.readv(fd, [buf])
            if not n:
                free.put(buf)
                break
            self._count += n
            # Hash and hand out the chunk at once: both only read it, and the buffer is
            # refilled only after the caller asked for the next chunk and the hash is done.
            work.put((buf, n))
            yield memoryview(buf)[:n]
            if self.progress is not None:
                self.progress(self._count)

    def finish(self) -> tuple[str, int]:
        """Wait for the hash; check the file did not change. Returns ``(sha256, size)``.

        Raises FileChangedError when the byte count, size, mtime or inode differ from when
        the file was opened (the file was written, truncated or replaced meanwhile).
        """
        assert self._fh is not None and self._before is not None
        self._stop_thread()
        if self._error is not None:  # pragma: no cover
            raise self._error
        after_fd = Snapshot.of(os.fstat(self._fh))
        try:
            after_path: Snapshot | None = Snapshot.of(os.stat(self.path))
        except FileNotFoundError:
            after_path = None
        before = self._before
        if after_fd != before or after_path != before or self._count != before.size:
            raise FileChangedError(
                f"{str(self.path)!r} changed while it was being copied (size {before.size} → "
                f"{after_fd.size}, {self._count} bytes read); nothing was recorded — log it "
                "again once it is no longer being written"
            )
        return self._digest.hexdigest(), self._count


def hash_file(path: Path, progress: Progress | None = None) -> tuple[str, int]:
    """``(sha256, size)`` of a file, streamed; FileChangedError if it changes meanwhile."""
    with HashingReader(path, progress=progress) as reader:
        for _ in reader.chunks():
            pass
        return reader.finish()


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HashingWriter:
    """A file-like sink that hashes what passes through (used for verified downloads)."""

    def __init__(self, fh: int) -> None:
        self.fd = fh
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        self.digest.update(view)
        written = 0
        while written < len(view):
            written += os.write(self.fd, view[written:])
        self.count += written
        return written


def download_verified(
    dest: Path, sha256: str | None, source: str, fill: Callable[[int], HashingWriter]
) -> int:
    """Write ``dest`` from ``fill(fd)``, which writes the bytes into the open descriptor
    through a :class:`HashingWriter` and returns it; return the byte count.

    The bytes go to a temporary file beside ``dest``, renamed over it only when they hash to
    ``sha256`` (when given): ``dest`` is whole or untouched. A mismatch raises
    ChecksumMismatchError naming ``source``; whatever ``fill`` raises propagates, and the
    temporary file is removed either way."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            sink = fill(fd)
        finally:
            os.close(fd)
        digest = sink.digest.hexdigest()
        if sha256 is not None and digest != sha256:
            raise ChecksumMismatchError(
                f"{source} hashes to {digest[:16]}…, not the recorded {sha256[:16]}…: "
                "the stored file was modified or corrupted"
            )
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return sink.count
