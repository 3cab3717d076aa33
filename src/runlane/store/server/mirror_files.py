"""The local side of the artifact mirror (:mod:`.mirror`): listing a scope's folder, writing
files atomically, and large files as content-addressed parts in the object store.

* :func:`walk` lists the plain files under a folder as ``{path: Sig}``, ``Sig`` being
  ``(size, mtime_ns, inode)``: enough to notice a file that was appended to, rewritten in
  place or replaced by a rename (the artifact code does all three). Lock files (``*.lock``),
  the artifact code's hidden temporary entries (``.<name>.<pid>.<random>.tmp``, ``.tmpdir``,
  ``.old``) and symlinks are skipped: they are never records.
* :func:`write_file` replaces a file through a hidden temporary file and ``rename``, so a
  reader sees the old content or the new, never a mix.
* :func:`put_parts` stores a file as parts of :data:`PART` bytes under
  ``mirror/<sha256 of the part>`` in an :class:`~runlane.store.server.objects.ObjectStore`
  (identical parts are stored once) and returns the file's blob document
  ``{"sha256", "size", "parts": [part digests]}``; :func:`get_parts` writes it back and
  raises :class:`~runlane.errors.StoreError` when the bytes do not hash to ``sha256``.
  Memory stays at one part whatever the file's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import uuid
from pathlib import Path
from typing import Any

from runlane.errors import StoreError
from runlane.store.server.objects import ObjectStore

Sig = tuple[int, int, int]
#: Files larger than this go to the object store as parts; smaller ones stay in their row
#: (a rewritten row's old body is reclaimed by PostgreSQL; parts, shared by content, only by
#: garbage collection (:mod:`.gc`), so only bytes files that are rarely rewritten should pass
#: this).
INLINE = 8 << 20
PART = 8 << 20
_TEMP_SUFFIXES = (".tmp", ".tmpdir", ".old")


def skipped(name: str) -> bool:
    """Whether an entry named ``name`` is never mirrored (locks and temporary entries)."""
    if name.endswith(".lock"):
        return True
    return name.startswith(".") and name.endswith(_TEMP_SUFFIXES)


def signature(info: os.stat_result) -> Sig:
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def walk(folder: Path, prefix: str) -> dict[str, Sig]:
    """``{prefix/relative path: Sig}`` of every mirrored file under ``folder`` (empty when
    the folder does not exist). Entries vanishing while listed are left out."""
    out: dict[str, Sig] = {}
    stack: list[tuple[str, str]] = [(str(folder), prefix)]
    while stack:
        where, rel = stack.pop()
        try:
            entries = os.scandir(where)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                if skipped(entry.name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):  # the entry's type: no stat
                        stack.append((entry.path, f"{rel}/{entry.name}"))
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    out[f"{rel}/{entry.name}"] = signature(info)
    return out


def write_file(path: Path, data: bytes) -> Sig:
    """Replace ``path`` with ``data`` (temporary file + rename); returns its Sig."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "wb") as out:
            out.write(data)
            sig = signature(os.fstat(out.fileno()))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return (len(data), sig[1], sig[2])


def remove_file(path: Path) -> None:
    """Remove ``path`` and the folders it leaves empty (up to the first non-empty one)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    parent = path.parent
    for _ in range(8):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def put_parts(objects: ObjectStore, path: Path) -> tuple[dict[str, Any], Sig]:
    """Store the file at ``path`` as parts; returns its blob document and the Sig of the
    file that was read. Raises StoreError (object store) or FileNotFoundError."""
    digest = hashlib.sha256()
    parts: list[str] = []
    size = 0
    with open(path, "rb") as source:
        sig = signature(os.fstat(source.fileno()))
        while block := source.read(PART):
            part = hashlib.sha256(block).hexdigest()
            objects.put(f"mirror/{part}", block)
            digest.update(block)
            parts.append(part)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size, "parts": parts}, (size, sig[1], sig[2])


def get_parts(objects: ObjectStore, blob: dict[str, Any], path: Path) -> Sig:
    """Write the file of ``blob`` at ``path`` (temporary file + rename); returns its Sig."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    digest = hashlib.sha256()
    try:
        with open(temp, "wb") as out:
            for part in blob.get("parts") or []:
                block = objects.get(f"mirror/{part}")
                digest.update(block)
                out.write(block)
            sig = signature(os.fstat(out.fileno()))
        if digest.hexdigest() != blob.get("sha256"):
            raise StoreError(
                f"the mirrored file {path.name} read back from {objects.uri} with sha256 "
                f"{digest.hexdigest()}, not the recorded {blob.get('sha256')}"
            )
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return sig


def same_content(
    path: Path, size: int, body: bytes | None, blob: dict[str, Any] | None
) -> Sig | None:
    """The Sig of ``path`` when it already holds this content (inline ``body`` or the
    ``blob``'s sha256), else None."""
    try:
        with open(path, "rb") as fh:
            sig = signature(os.fstat(fh.fileno()))
            if sig[0] != size:
                return None
            if body is not None:
                return sig if fh.read() == body else None
            digest = hashlib.sha256()
            while block := fh.read(PART):
                digest.update(block)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return sig if blob is not None and digest.hexdigest() == blob.get("sha256") else None
