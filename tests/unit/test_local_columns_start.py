"""LocalStore ``read_columns(..., start=)`` on both of its paths: the float64 column cache
(read from row ``start`` on) and the JSONL it falls back to when the cache is missing or
stale — each answering the full read sliced at ``start``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from runlane.entities import Batch, RunSpec
from runlane.store.local import LocalStore

STARTS = (0, 1, 5, 9, 10, 11, 500)


def fill(store: LocalStore) -> tuple[str, Path]:
    info, _ = store.create_run(RunSpec(owner="alice", project="vision", name="r"))
    assert info.path is not None
    store.write(info.id, Batch(rows={"default": [{"a": i, "s": "x"} for i in range(4)]}))
    store.write(info.id, Batch(rows={"default": [{"b": i, "_step": 2 * i} for i in range(4, 10)]}))
    return info.id, Path(info.path) / "metrics" / "default" / ".columns"


def assert_sliced(store: LocalStore, run_id: str, fields: list[str] | None) -> None:
    full = store.read_columns(run_id, "default", fields)
    assert full["_index"].tolist() == list(range(10))
    for start in STARTS:
        part = store.read_columns(run_id, "default", fields, start)
        assert set(part) == set(full)
        assert part["_index"].tolist() == list(range(start, 10))
        for name, column in full.items():
            np.testing.assert_array_equal(part[name], column[start:], err_msg=f"{start} {name}")


@pytest.mark.parametrize("fields", [None, ["a", "b", "s", "_step", "absent"]])
def test_start_reads_the_tail_of_the_column_cache(tmp_path: Path, fields: list[str] | None) -> None:
    store = LocalStore(tmp_path / "data")
    run_id, cache = fill(store)
    assert (cache / "columns.json").is_file()
    assert_sliced(store, run_id, fields)
    store.close()


@pytest.mark.parametrize("fields", [None, ["a", "b", "s", "_step", "absent"]])
def test_start_slices_the_jsonl_fallback(tmp_path: Path, fields: list[str] | None) -> None:
    store = LocalStore(tmp_path / "data")
    run_id, cache = fill(store)
    shutil.rmtree(cache)  # no cache: reads parse the JSONL
    assert_sliced(store, run_id, fields)
    every = store.read_columns(run_id, "default", None, 7)
    assert {"a", "b", "s", "_step"} <= set(every)  # fields of the whole stream, even if
    assert np.isnan(every["a"]).all()  # none of the rows read holds them
    store.close()
