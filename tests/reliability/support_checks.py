"""What the reliability suite checks after each fault, shared by its tests and its children.

* :func:`value_of` is the value every logged row carries next to its index ``i``, so a row read
  back can be checked against what was logged, and :func:`digest` is a checksum of a whole
  stream (``sha256`` over ``i:v`` lines in index order).
* :func:`check_run_files` parses every file of a local run folder: each JSON document
  whole, each JSONL line complete except possibly a torn last line (readers skip it).
* :func:`check_catalog` opens a local root's SQLite catalog and runs ``integrity_check``.
* :func:`read_stream` reads a stream back through any Store, page by page.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: A stream read back: ``(index, data)`` pairs in index order.
Rows = list[tuple[int, dict[str, Any]]]


def value_of(i: int) -> float:
    """The value row ``i`` carries: a binary fraction, so JSON and float64 keep it exactly."""
    return ((i * 2654435761) % (1 << 32)) / (1 << 32)


def digest(pairs: Iterable[tuple[int, float]]) -> str:
    """A checksum of ``(i, v)`` pairs in the order given."""
    h = hashlib.sha256()
    for i, v in pairs:
        h.update(f"{i}:{v!r}\n".encode())
    return h.hexdigest()


def expected_digest(count: int) -> str:
    return digest((i, value_of(i)) for i in range(count))


def read_stream(store: Any, run_id: str, stream: str = "default") -> Rows:
    """Every row of ``stream`` through the Store protocol, in index order: pages of 10,000
    rows from a server (its limit), one page from a local store (which parses the whole
    file for each page)."""
    page = 10_000 if str(store.uri).startswith(("http://", "https://")) else 1 << 40
    out: Rows = []
    start = 0
    while True:
        got = store.read_rows(run_id, stream, start, page)
        out.extend((index, data) for index, data, _ in got.rows)
        if not got.rows or len(got.rows) < page:
            return out
        start = got.rows[-1][0] + 1


def check_rows(rows: Rows, what: str) -> int:
    """Assert the rows are indexed ``0..n-1`` and row ``k`` is ``{i: k, v: value_of(k)}``;
    return ``n``. Used where one writer logged ``i = 0, 1, 2, ...`` in order."""
    indices = [index for index, _ in rows]
    assert indices == list(range(len(rows))), f"{what}: indices are not contiguous from 0"
    logged = [data.get("i") for _, data in rows]
    assert logged == indices, f"{what}: rows are lost, doubled or out of order"
    bad = [i for i, data in rows if data.get("v") != value_of(i)]
    assert not bad, f"{what}: {len(bad)} row(s) carry a wrong value, first i={bad[0]}"
    got = digest((i, data["v"]) for i, data in rows)
    assert got == expected_digest(len(rows)), f"{what}: checksum differs"
    return len(rows)


def check_run_files(run_dir: Path) -> dict[str, int]:
    """Parse every file of a local run folder. Returns ``{"files": n, "torn": t}`` where
    ``torn`` counts JSONL files whose last line was cut (allowed: readers skip it)."""
    files = torn = 0
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(".tmp"):
            continue
        if path.suffix == ".jsonl":
            raw = path.read_bytes()
            lines = raw.split(b"\n")
            for number, line in enumerate(lines[:-1], 1):
                try:
                    json.loads(line)
                except ValueError as exc:
                    raise AssertionError(f"{path}:{number} does not parse: {line[:80]!r}") from exc
            if lines[-1]:
                torn += 1
            files += 1
        elif path.suffix in (".json", ".state"):
            try:
                json.loads(path.read_bytes())
            except ValueError as exc:
                raise AssertionError(f"{path} does not parse") from exc
            files += 1
    return {"files": files, "torn": torn}


def check_catalog(root: Path) -> int:
    """Open the catalog of a local root, check its integrity, return its number of runs."""
    path = root / ".runlane" / "catalog.sqlite"
    conn = sqlite3.connect(path, timeout=30)
    try:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
        assert result == "ok", f"catalog {path} is damaged: {result}"
        (count,) = conn.execute("SELECT count(*) FROM runs").fetchone()
        return int(count)
    finally:
        conn.close()
