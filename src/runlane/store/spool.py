"""A folder of requests that could not reach the server, replayed later in order.

Each entry is one file: a JSON header line ``{"kind": "create" | "batch" | "artifact",
"run_id": ...}`` then the request body (a run spec, a serialized batch carrying its
``batch_id``, or an artifact commit whose files wait in ``artifacts/<entry name>/``, see
:mod:`runlane.artifacts.remote.spool`). Files are
written to a temporary name, fsynced and renamed, so an entry is either whole or absent after
a crash. Names sort in append order (nanosecond time, pid, counter), so replay keeps each
run's order. Entries are removed only after the server acknowledged them; a batch replayed
twice (a crash between the answer and the removal) is skipped by the server thanks to its
``batch_id``. A run created offline may get another id from the server (create-or-get found
an existing run): :meth:`Spool.alias` records the mapping in ``aliases.json``.

Two lanes share the folder, each replayed in its own order: *records* (``create`` and
``batch``: a run's metric rows, logs, params and status) and *artifacts* (``artifact``
commits, which wait behind the records of their run). A failing artifact commit (the
server's object store is down) holds back later artifact commits only, so metric ingest does
not depend on the object store.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from runlane.errors import StoreError

_counter = itertools.count()
#: The lane of each entry kind (see the module docstring).
LANES = {"create": "records", "batch": "records", "artifact": "artifacts"}


class Spool:
    """One server's spool folder. Thread-safe; several processes may share it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._count: dict[str, int] | None = None  # entries per lane, once counted

    @staticmethod
    def new_name() -> str:
        """A fresh entry name (without ``.entry``), sorting after every earlier one:
        ``<ns time>-<pid>-<counter>``."""
        return f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):08d}"

    def append(self, kind: str, run_id: str, body: bytes, *, name: str | None = None) -> Path:
        """Store an entry durably (fsynced) and return its path; ``name`` (from
        :meth:`new_name`) when the caller already named files after it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{name or self.new_name()}.entry"
            final = self.folder / name
            tmp = self.folder / f".{name}.tmp"
            header = orjson.dumps({"kind": kind, "run_id": run_id})
            with open(tmp, "wb") as fh:
                fh.write(header + b"\n" + body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            raise StoreError(f"could not spool a request to {self.folder}: {exc}") from exc
        with self._lock:
            if self._count is not None:
                lane = LANES.get(kind, "records")
                self._count[lane] = self._count.get(lane, 0) + 1
        return final

    def entries(self) -> list[Path]:
        """Pending entries, oldest first."""
        try:
            names = sorted(e.name for e in os.scandir(self.folder) if e.name.endswith(".entry"))
        except FileNotFoundError:
            names = []
        paths = [self.folder / n for n in names]
        counts: dict[str, int] = {}
        for path in paths:
            lane = LANES.get(self.kind(path) or "", "records")
            counts[lane] = counts.get(lane, 0) + 1
        with self._lock:
            self._count = counts
        return paths

    def pending(self, lane: str | None = None) -> bool:
        """Whether entries wait: in ``lane`` (``"records"`` or ``"artifacts"``), or in any."""
        with self._lock:
            counts = None if self._count is None else dict(self._count)
        if counts is None:
            self.entries()
            with self._lock:
                counts = dict(self._count or {})
        if lane is None:
            return sum(counts.values()) > 0
        return counts.get(lane, 0) > 0

    @staticmethod
    def kind(path: Path) -> str | None:
        """The kind of an entry (reads its header line only); None when it is gone."""
        try:
            with open(path, "rb") as fh:
                head = fh.readline()
        except FileNotFoundError:
            return None
        return str(orjson.loads(head)["kind"])

    @staticmethod
    def read(path: Path) -> tuple[str, str, bytes]:
        """``(kind, run_id, body)`` of an entry."""
        data = path.read_bytes()
        head, _, body = data.partition(b"\n")
        header = orjson.loads(head)
        return str(header["kind"]), str(header["run_id"]), body

    def remove(self, path: Path) -> None:
        lane = LANES.get(self.kind(path) or "", "records")
        path.unlink(missing_ok=True)
        with self._lock:
            if self._count and self._count.get(lane, 0) > 0:
                self._count[lane] -= 1

    # --- run ids the server chose for runs created offline ------------------------------
    def aliases(self) -> dict[str, str]:
        try:
            data = orjson.loads((self.folder / "aliases.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return {str(k): str(v) for k, v in dict(data).items()}

    def alias(self, local_id: str, server_id: str) -> None:
        with self.locked():
            data = self.aliases()
            data[local_id] = server_id
            tmp = self.folder / "aliases.json.tmp"
            tmp.write_bytes(orjson.dumps(data))
            os.replace(tmp, self.folder / "aliases.json")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock on the folder across processes (one replayer at a time)."""
        from runlane.store.local.files import locked

        self.folder.mkdir(parents=True, exist_ok=True)
        with locked(self.folder / ".lock"):
            yield
