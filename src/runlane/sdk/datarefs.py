"""Content hashes of data references: files, folders, bytes, arrays, anything else by repr."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runlane.entities import LineageRecord
from runlane.errors import InvalidArgumentError
from runlane.timeutil import now

CHUNK = 1 << 20


def hash_file(path: Path, digest: Any) -> int:
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size


def hash_path(path: Path) -> tuple[str, int]:
    """sha256 of a file, or of a folder (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    if path.is_file():
        size = hash_file(path, digest)
        return digest.hexdigest(), size
    size = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        size += hash_file(file, digest)
    return digest.hexdigest(), size


def describe(
    name: str,
    data: object,
    path: str | os.PathLike[str] | None,
    *,
    is_input: bool,
    summary: Mapping[str, Any] | None,
    kind: str,
) -> LineageRecord:
    """A lineage record for ``data`` and/or ``path``: sha256 and size of the content.

    A path that exists is hashed (file or folder); bytes and numpy arrays are hashed by
    content; other objects by ``repr``. A path that does not exist (e.g. ``s3://...``) is
    recorded as a reference without a hash.
    """
    digest: str | None = None
    size: int | None = None
    location = os.fspath(path) if path is not None else None
    if data is None and path is None:
        raise InvalidArgumentError(f"data reference {name!r} needs data or a path")
    if data is not None:
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
        elif hasattr(data, "tobytes") and hasattr(data, "dtype"):
            array: Any = data
            raw = f"{array.dtype}{array.shape}".encode() + array.tobytes()
        elif isinstance(data, str | os.PathLike) and Path(os.fspath(data)).exists():
            location = location or os.fspath(data)
            raw = None
        else:
            raw = repr(data).encode()
        if raw is not None:
            digest, size = hashlib.sha256(raw).hexdigest(), len(raw)
    if digest is None and location is not None and "://" not in location:
        target = Path(location)
        if target.exists():
            digest, size = hash_path(target)
            location = str(target.resolve())
    return LineageRecord(
        name=name,
        kind=kind,
        path=location,
        is_input=is_input,
        hash=digest,
        size=size,
        summary=dict(summary) if summary else None,
        at=now(),
    )
