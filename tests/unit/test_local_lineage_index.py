"""The LocalStore's catalog copy of ``lineage.jsonl`` (what ``read_lineage_many`` reads): it
follows every writer, fills itself for a catalog made before it existed, and ``reindex``
rebuilds it. What every store must answer is in tests/contract; this is the local index's own
upkeep."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from runlane.entities import Batch, LineageRecord, RunSpec
from runlane.store.local import LocalStore


def record(name: str, is_input: bool = True) -> LineageRecord:
    return LineageRecord(name, "dataset", f"s3://lake/{name}", is_input, at=1.0)


def new_run(store: LocalStore, name: str) -> str:
    info, _ = store.create_run(RunSpec(owner="o", project="p", name=name))
    return info.id


def test_two_stores_appending_to_one_run_both_land_in_the_index(tmp_path: Path) -> None:
    first, second = LocalStore(tmp_path), LocalStore(tmp_path)  # as two processes would
    run_id = new_run(first, "r")
    for i in range(3):
        first.write(run_id, Batch(lineage=[record(f"a{i}")]))
        second.write(run_id, Batch(lineage=[record(f"b{i}", is_input=False)]))
    names = [r.name for r in second.read_lineage_many([run_id])[run_id]]
    assert names == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert first.read_lineage_many([run_id]) == {run_id: first.read_lineage(run_id)}
    first.close()
    second.close()


def test_a_catalog_from_before_the_index_is_filled_on_first_read(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ids = [new_run(store, f"r{i}") for i in range(3)]
    store.write(ids[0], Batch(lineage=[record("x"), record("y", is_input=False)]))
    store.write(ids[2], Batch(lineage=[record("z")]))
    store.close()
    with sqlite3.connect(tmp_path / ".runlane" / "catalog.sqlite") as conn:  # the old schema
        conn.execute("DROP TABLE lineage")
        conn.execute("DROP TABLE state")
    reopened = LocalStore(tmp_path)
    many = reopened.read_lineage_many(ids)
    assert many == {i: reopened.read_lineage(i) for i in ids}
    assert [r.name for r in many[ids[0]]] == ["x", "y"] and many[ids[1]] == []
    reopened.close()


def test_reindex_rebuilds_the_index_from_the_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    run_id = new_run(store, "r")
    store.write(run_id, Batch(lineage=[record("x")]))
    with sqlite3.connect(tmp_path / ".runlane" / "catalog.sqlite") as conn:
        conn.execute("DELETE FROM lineage")  # an index out of date (a crash, an old writer)
    assert store.read_lineage_many([run_id]) == {run_id: []}
    assert store.reindex() == 1
    assert [r.name for r in store.read_lineage_many([run_id])[run_id]] == ["x"]
    store.close()


def test_a_torn_last_line_is_left_out_as_read_lineage_does(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    run_id = new_run(store, "r")
    store.write(run_id, Batch(lineage=[record("x")]))
    folder = Path(store.run_path(run_id) or "")
    with open(folder / "lineage.jsonl", "ab") as fh:
        fh.write(b'{"name": "torn", "ki')  # a writer killed mid-line
    store.write(run_id, Batch(lineage=[record("y")]))  # the next append truncates it
    assert [r.name for r in store.read_lineage_many([run_id])[run_id]] == ["x", "y"]
    assert store.read_lineage_many([run_id])[run_id] == store.read_lineage(run_id)
    store.close()
