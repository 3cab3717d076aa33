"""The catalog's copy of each run's ``lineage.jsonl``, so that the lineage of 10,000 runs
reads in one query (:meth:`LocalStore.read_lineage_many`) instead of 10,000 file reads.

Like the rest of the catalog it is an index, not the truth: ``lineage.jsonl`` is.

* After every lineage append, :func:`refresh` copies the run's file (its complete lines) into
  the table inside a catalog write transaction: two processes appending to one run leave
  the copy of whichever read the file last, which holds both appends.
* A catalog whose runs were indexed before this table existed is marked ``pending`` (see
  :class:`~runlane.store.local.catalog.Catalog`); :func:`read_many` first fills it from
  every run folder (:func:`fill`, once). ``runlane reindex`` rebuilds it with the runs.
* Lines are parsed exactly as :func:`~runlane.store.local.files.iter_jsonl` parses the file
  (NaN tokens kept, a torn or corrupt line skipped), so both reads give the same records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson

from runlane.entities import LineageRecord
from runlane.errors import StoreError
from runlane.store import documents as docs
from runlane.store.local.catalog import Catalog
from runlane.store.local.files import loads

FILE = "lineage.jsonl"


def _complete_lines(run_dir: Path) -> bytes:
    """The file's complete lines (a torn last line left out); empty when it is missing."""
    try:
        data = (run_dir / FILE).read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise StoreError(f"could not read {run_dir / FILE}: {exc.strerror or exc}") from exc
    return data[: data.rfind(b"\n") + 1]


def _records(lines: bytes) -> Iterator[LineageRecord]:
    for line in lines.splitlines():
        if not line:
            continue
        try:
            yield docs.lineage_from_doc(loads(line))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue


def refresh(catalog: Catalog, run_id: str, run_dir: Path) -> None:
    """Copy the run's lineage file into the index (call after appending to it)."""
    with catalog.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO lineage (run_id, lines) VALUES (?, ?)",
            (run_id, _complete_lines(run_dir)),
        )


def forget(catalog: Catalog, run_id: str) -> None:
    catalog.execute("DELETE FROM lineage WHERE run_id = ?", (run_id,))


def fill(catalog: Catalog, root: Path) -> None:
    """Copy every indexed run's lineage file into the index and mark it ``ready``."""
    with catalog.transaction() as conn:
        runs = conn.execute("SELECT id, path FROM runs").fetchall()
        conn.executemany(
            "INSERT OR REPLACE INTO lineage (run_id, lines) VALUES (?, ?)",
            [(str(run_id), _complete_lines(root / str(rel))) for run_id, rel in runs],
        )
        conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('lineage', 'ready')")


def read_many(
    catalog: Catalog, root: Path, run_ids: Sequence[str]
) -> dict[str, list[LineageRecord]]:
    """``{run id: records}`` of the catalog's runs among ``run_ids``, in one query."""
    state = catalog.execute("SELECT value FROM state WHERE key = 'lineage'")
    if not state or state[0][0] != "ready":
        fill(catalog, root)
    rows = catalog.execute(
        "SELECT r.id, l.lines FROM runs AS r LEFT JOIN lineage AS l ON l.run_id = r.id "
        "WHERE r.id IN (SELECT value FROM json_each(?))",
        (_json_list(run_ids),),
    )
    return {str(run_id): list(_records(lines or b"")) for run_id, lines in rows}


def _json_list(run_ids: Sequence[str]) -> str:
    """``run_ids`` as a JSON array; an id that is no valid text (a lone surrogate) names no
    run and is dropped."""
    try:
        return orjson.dumps(list(run_ids)).decode()
    except TypeError:
        valid = []
        for run_id in run_ids:
            try:
                orjson.dumps(run_id)
            except TypeError:
                continue
            valid.append(run_id)
        return orjson.dumps(valid).decode()
