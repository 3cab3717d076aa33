"""Appends to small line-oriented files under an ``flock``, safe against torn tails.

A writer killed mid-append can leave a partial last line. :func:`append` looks at the last
byte under the lock and starts a new line first when the file does not end where a record
ends, so the torn fragment stays a line of its own (readers skip it) and never corrupts the
next record.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runlane.errors import StoreError
from runlane.store.local.files import dumps_line, loads


def append(path: Path, build: Callable[[int, bytes], bytes]) -> None:
    """Append ``build(size, last_byte)`` to ``path`` under an ``flock`` on the file itself.

    ``size`` is the file's current size (0 when new) and ``last_byte`` its last byte (b""
    when empty), so the caller can write a header or a separator. The file is never
    replaced, only appended to, so locking it directly is safe. Raises StoreError.
    """
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            last = os.pread(fd, 1, size - 1) if size else b""
            view = memoryview(build(size, last))
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)  # releases the lock
    except OSError as exc:
        raise StoreError(f"could not append to {path}: {exc.strerror or exc}") from exc


def append_json_lines(path: Path, docs: list[dict[str, Any]]) -> None:
    """Append JSON documents as lines (starting a new line after a torn tail)."""
    payload = b"".join(dumps_line(d) for d in docs)
    append(path, lambda size, last: payload if last in (b"", b"\n") else b"\n" + payload)


def read_json_lines(path: Path) -> Iterator[Any]:
    """Every parseable line of a JSONL file; torn or corrupt lines are skipped."""
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    continue  # a tail still being written, or torn
                try:
                    yield loads(line)
                except (ValueError, TypeError):
                    continue
    except FileNotFoundError:
        return
