"""Crash-safe file primitives of the local store.

* :func:`atomic_write` writes a whole file through a temporary file and ``rename``: a reader
  sees the old or the new content, never half of it.
* :class:`AppendLog` appends JSONL under an ``flock`` with a small state file
  ``{next, bytes}``. A writer killed between the append and the state update leaves complete
  lines (recounted by the next writer) and at most one torn line (truncated by the next
  writer, skipped by readers). Record numbers stay unique and contiguous across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from runlane.errors import StoreError


def read_json(path: Path, default: Any = None) -> Any:
    """Parse a JSON file; ``default`` when it does not exist. NaN tokens are accepted."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    return loads(raw)


def loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # NaN / Infinity tokens written for non-finite floats


def dumps_line(obj: Any) -> bytes:
    """One JSON line; falls back to the stdlib (NaN tokens) only when orjson would lose data:
    a NaN or ±inf at any depth (orjson writes null) or an int past 64 bits (orjson refuses)."""
    if has_nonfinite_deep(obj):
        return dumps_line_nan(obj)
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (json.dumps(obj, separators=(",", ":"), allow_nan=True) + "\n").encode()


def has_nonfinite_deep(obj: Any) -> bool:
    """Whether a float NaN or ±inf sits anywhere in ``obj`` (dicts, lists, tuples)."""
    kind = type(obj)
    if kind is float:
        return bool(obj - obj != 0.0)  # NaN - NaN and inf - inf are NaN
    if kind is dict:
        return any(has_nonfinite_deep(v) for v in obj.values())
    if kind is list or kind is tuple:
        return any(has_nonfinite_deep(v) for v in obj)
    return False


def dumps_line_nan(obj: Any) -> bytes:
    """One JSON line that keeps NaN/±inf as JSON's NaN/Infinity tokens (Python's json)."""
    return (json.dumps(obj, separators=(",", ":"), allow_nan=True) + "\n").encode()


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (temp file + rename in the same folder)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StoreError(f"could not write {path}: {exc.strerror or exc}") from exc


def write_json(path: Path, obj: Any, *, durable: bool = False) -> None:
    """Replace ``path`` with ``obj`` as JSON; NaN/±inf are kept as JSON's NaN tokens."""
    try:
        data = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
        # orjson writes NaN/±inf as null: only a document whose JSON holds a null can have
        # one, so the walk is skipped for the common document without any
        if b"null" in data and has_nonfinite_deep(obj):
            raise TypeError("orjson would write NaN/inf as null")
    except TypeError:
        data = json.dumps(obj, indent=2, allow_nan=True).encode()
    atomic_write(path, data, durable=durable)


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing) for the block."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"could not open lock file {lock_path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def iter_jsonl(path: Path, start_byte: int = 0, end_byte: int | None = None) -> Iterator[Any]:
    """Parse each complete line of a JSONL file; a torn or corrupt line is skipped."""
    try:
        with open(path, "rb") as fh:
            if start_byte:
                fh.seek(start_byte)
            data = fh.read() if end_byte is None else fh.read(max(0, end_byte - start_byte))
    except FileNotFoundError:
        return
    end = data.rfind(b"\n")
    if end < 0:
        return
    for line in data[: end + 1].splitlines():
        if not line:
            continue
        try:
            yield loads(line)
        except (ValueError, TypeError):
            continue


class AppendLog:
    """A JSONL file whose records are numbered ``0, 1, 2, ...`` across all writers.

    ``state_path`` holds ``{next_key: n, bytes_key: size, ...extra}``; callers may keep more
    keys in it (ML-Dash's ``metadata.json`` is such a file). Use :meth:`append` under no lock
    of your own: it takes ``lock_path``.
    """

    def __init__(
        self,
        data_path: Path,
        state_path: Path,
        lock_path: Path,
        *,
        next_key: str = "next",
        bytes_key: str = "bytes",
    ) -> None:
        self.data_path = data_path
        self.state_path = state_path
        self.lock_path = lock_path
        self.next_key = next_key
        self.bytes_key = bytes_key

    def read_state(self) -> dict[str, Any]:
        state = read_json(self.state_path, None)
        return state if isinstance(state, dict) else {}

    def _recover(self, state: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Make ``state`` agree with the data file; truncate a torn tail. Returns
        ``(state, recovered)`` where recovered is True when the file had unrecorded lines."""
        known_next = int(state.get(self.next_key, 0) or 0)
        known_bytes = int(state.get(self.bytes_key, 0) or 0)
        try:
            size = self.data_path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == known_bytes:
            return state, False
        if size < known_bytes:  # shortened behind our back: recount from the start
            known_next, known_bytes = 0, 0
        with open(self.data_path, "rb+") as fh:
            fh.seek(known_bytes)
            tail = fh.read()
            complete = tail.rfind(b"\n") + 1
            if complete < len(tail):
                fh.truncate(known_bytes + complete)
        state = dict(state)
        state[self.next_key] = known_next + tail.count(b"\n", 0, complete)
        state[self.bytes_key] = known_bytes + complete
        return state, True

    def append(
        self,
        build: Callable[[int], tuple[bytes, int]],
        update_state: Callable[[dict[str, Any], int, int, bool], None] | None = None,
    ) -> tuple[int, int]:
        """Append what ``build(first_number)`` returns (``(bytes, record_count)``).

        ``update_state(state, first, count, recovered)`` may add keys to the state before it
        is saved. Returns ``(first, count)``. All or nothing: when writing the lines, updating
        or saving the state fails (a full disk), the file is cut back to its size before the
        append and StoreError is raised naming the file, so a retry never doubles a line.
        """
        self.data_path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.lock_path):
            state, recovered = self._recover(self.read_state())
            first = int(state.get(self.next_key, 0) or 0)
            start = int(state.get(self.bytes_key, 0) or 0)
            data, count = build(first)
            try:
                if count:
                    with open(self.data_path, "ab") as fh:
                        fh.write(data)
                    state[self.next_key] = first + count
                    state[self.bytes_key] = start + len(data)
                if update_state is not None:
                    update_state(state, first, count, recovered)
                if count or recovered or update_state is not None:
                    write_json(self.state_path, state)
            except BaseException as exc:
                if count:
                    with contextlib.suppress(OSError):
                        os.truncate(self.data_path, start)
                if isinstance(exc, OSError):
                    where = exc.filename or self.data_path
                    raise StoreError(f"could not append to {where}: {exc.strerror or exc}") from exc
                raise
            return first, count
