"""What the local store promises beyond the Store contract: the ML-Dash-compatible layout on
disk, crash tolerance of its append-only files, the column cache, the catalog and liveness."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runlane.entities import (
    Batch,
    Event,
    LineageRecord,
    LogRecord,
    MetadataUpdate,
    ParamsUpdate,
    RunPatch,
    RunSpec,
    TrackEntry,
)
from runlane.errors import NotFoundError
from runlane.store.local import LocalStore


@pytest.fixture
def store(root: Path) -> Iterator[LocalStore]:
    instance = LocalStore(root)
    yield instance
    instance.close()


def new(store: LocalStore, name: str = "run", **kw: Any) -> tuple[str, Path]:
    info, _ = store.create_run(RunSpec(owner="alice", project="vision", name=name, **kw))
    assert info.path is not None
    return info.id, Path(info.path)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- layout -----------------------------------------------------------------------------------


def test_run_folder_and_experiment_document(store: LocalStore, root: Path) -> None:
    run_id, run_dir = new(store, "baseline", folder="sweeps/a", tags=("x",))
    assert run_dir == root / "alice" / "vision" / "sweeps" / "a" / "baseline"
    assert store.run_path(run_id) == str(run_dir)
    doc = json.loads((run_dir / "experiment.json").read_text())
    # ML-Dash's fields
    for key in (
        "name",
        "project",
        "description",
        "tags",
        "bindrs",
        "prefix",
        "metadata",
        "created_at",
        "write_protected",
    ):
        assert key in doc
    assert doc["prefix"] == "alice/vision/sweeps/a/baseline"
    assert doc["tags"] == ["x"]
    # runlane's
    assert doc["id"] == run_id
    assert doc["owner"] == "alice"
    assert doc["status"] == "created"
    assert (root / ".runlane" / "catalog.sqlite").is_file()


def test_files_of_every_kind(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(
        run_id,
        Batch(
            params=[ParamsUpdate({"lr": 0.1}, at=1000.0)],
            metadata=[MetadataUpdate("env", {"python": "3.11"}, 1000.0)],
            rows={"train": [{"loss": 1.0, "_ts": 5.0}, {"loss": math.nan, "_ts": 6.0}]},
            nonfinite={"train"},
            logs=[LogRecord("warn", "careful", 1000.0, {"k": 1})],
            events=[Event("start", 1000.0, "trainer")],
            tracks=[TrackEntry("robot/pose", 1.0, {"x": 1})],
            lineage=[LineageRecord("d", "data", "/x", True, "h", 3)],
        ),
    )
    params = json.loads((run_dir / "parameters.json").read_text())
    assert params["version"] == 1 and params["data"] == {"lr": 0.1}
    assert params["updatedAt"].endswith("Z")
    lines = (run_dir / "metrics" / "train" / "data.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"index", "data", "createdAt"}
    assert first["index"] == 0 and first["data"] == {"loss": 1.0, "_ts": 5.0}
    assert '"loss":NaN' in lines[1]  # JSON's NaN token, as ML-Dash writes it
    meta = json.loads((run_dir / "metrics" / "train" / "metadata.json").read_text())
    assert (meta["name"], meta["nextIndex"], meta["totalDataPoints"]) == ("train", 2, 2)
    (log,) = jsonl(run_dir / "logs" / "logs.jsonl")
    assert (log["sequenceNumber"], log["level"], log["message"]) == (0, "warn", "careful")
    assert log["metadata"] == {"k": 1} and log["timestamp"].endswith("Z")
    assert jsonl(run_dir / "events" / "events.jsonl")[0]["name"] == "start"
    assert jsonl(run_dir / "tracks" / "robot_pose" / "data.jsonl") == [{"timestamp": 1.0, "x": 1}]
    track_meta = json.loads((run_dir / "tracks" / "robot_pose" / "metadata.json").read_text())
    assert track_meta["topic"] == "robot/pose" and track_meta["totalEntries"] == 1
    assert jsonl(run_dir / "lineage.jsonl")[0]["hash"] == "h"
    assert json.loads((run_dir / "metadata.json").read_text())["env"]["value"] == {"python": "3.11"}


def test_another_instance_sees_a_created_run_and_its_writes(store: LocalStore, root: Path) -> None:
    run_id, _ = new(store)
    store.write(run_id, Batch(rows={"default": [{"a": 1}]}))
    other = LocalStore(root)
    try:
        assert other.get_run(run_id).name == "run"
        assert other.read_rows(run_id, "default").rows[0][1] == {"a": 1}
        other.write(run_id, Batch(rows={"default": [{"a": 2}]}))
    finally:
        other.close()
    assert [i for i, _, _ in store.read_rows(run_id, "default").rows] == [0, 1]


def test_name_suffix_also_avoids_foreign_folders(store: LocalStore, root: Path) -> None:
    (root / "alice" / "vision" / "taken").mkdir(parents=True)
    _, run_dir = new(store, "taken")
    assert run_dir.name == "taken-2"


def test_resume_adopts_a_folder_written_by_ml_dash(store: LocalStore, root: Path) -> None:
    run_dir = root / "alice" / "vision" / "legacy"
    (run_dir / "metrics" / "loss").mkdir(parents=True)
    (run_dir / "experiment.json").write_text(json.dumps({"name": "legacy", "tags": ["old"]}))
    (run_dir / "metrics" / "loss" / "data.jsonl").write_text(
        '{"index":0,"data":{"value":1.5},"createdAt":"2024-01-01T00:00:00Z"}\n'
    )
    (run_dir / "metrics" / "loss" / "metadata.json").write_text('{"name":"loss","nextIndex":1}')
    info, existed = store.create_run(RunSpec("alice", "vision", name="legacy", resume=True))
    assert existed is True
    assert info.tags == ("old",)
    assert store.read_rows(info.id, "loss").rows[0][1] == {"value": 1.5}
    store.write(info.id, Batch(rows={"loss": [{"value": 0.5}]}))
    assert store.read_columns(info.id, "loss", ["value"])["value"].tolist() == [1.5, 0.5]


# --- crash tolerance --------------------------------------------------------------------------


def test_torn_last_line_is_skipped_then_truncated(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(run_id, Batch(rows={"default": [{"a": 0}, {"a": 1}]}))
    data = run_dir / "metrics" / "default" / "data.jsonl"
    with open(data, "ab") as fh:
        fh.write(b'{"index":2,"data":{"a":')  # a writer killed mid-line
    assert [d["a"] for _, d, _ in store.read_rows(run_id, "default").rows] == [0, 1]
    store.write(run_id, Batch(rows={"default": [{"a": 2}]}))
    lines = data.read_bytes().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1, 2]
    assert store.read_columns(run_id, "default", ["a"])["a"].tolist() == [0.0, 1.0, 2.0]


def test_complete_lines_missing_from_the_state_are_recounted(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(run_id, Batch(rows={"default": [{"a": 0}]}))
    data = run_dir / "metrics" / "default" / "data.jsonl"
    with open(data, "ab") as fh:  # appended, then killed before the state file was updated
        fh.write(b'{"index":1,"data":{"a":1},"createdAt":"2024-01-01T00:00:00Z"}\n')
    store.write(run_id, Batch(rows={"default": [{"a": 2}]}))
    page = store.read_rows(run_id, "default")
    assert [(i, d["a"]) for i, d, _ in page.rows] == [(0, 0), (1, 1), (2, 2)]
    assert page.total == 3
    assert store.read_columns(run_id, "default", ["a"])["a"].tolist() == [0.0, 1.0, 2.0]


def test_torn_log_line_keeps_sequence_numbers_contiguous(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(run_id, Batch(logs=[LogRecord("info", "a", 1.0)]))
    with open(run_dir / "logs" / "logs.jsonl", "ab") as fh:
        fh.write(b'{"sequenceNumber":1,"timest')
    assert [r.message for r in store.read_logs(run_id)] == ["a"]
    store.write(run_id, Batch(logs=[LogRecord("info", "b", 2.0)]))
    assert [(r.seq, r.message) for r in store.read_logs(run_id)] == [(0, "a"), (1, "b")]


# --- column cache -----------------------------------------------------------------------------


def test_column_cache_is_rebuilt_when_missing_or_stale(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(run_id, Batch(rows={"default": [{"a": 1, "b": "x"}, {"a": 2}]}))
    cache = run_dir / "metrics" / "default" / ".columns"
    assert (cache / "columns.json").is_file()
    for file in cache.iterdir():
        file.unlink()
    cache.rmdir()
    cols = store.read_columns(run_id, "default", ["a", "b"])  # falls back to the JSONL
    assert cols["a"].tolist() == [1.0, 2.0] and np.isnan(cols["b"]).all()
    store.write(run_id, Batch(rows={"default": [{"a": 3, "c": 1.5}]}))  # rebuilds the cache
    assert json.loads((cache / "columns.json").read_text())["rows"] == 3
    cols = store.read_columns(run_id, "default")
    assert cols["a"].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(cols["c"][:2]).all() and cols["c"][2] == 1.5


def test_fields_appearing_late_are_padded_in_the_cache(store: LocalStore) -> None:
    run_id, _ = new(store)
    for i in range(3):
        store.write(run_id, Batch(rows={"default": [{"a": i}]}))
    store.write(run_id, Batch(rows={"default": [{"late": 9}]}))
    cols = store.read_columns(run_id, "default", ["a", "late"])
    np.testing.assert_array_equal(cols["late"], [np.nan, np.nan, np.nan, 9.0])
    np.testing.assert_array_equal(cols["a"], [0.0, 1.0, 2.0, np.nan])


# --- catalog --------------------------------------------------------------------------------


def test_a_catalog_from_before_status_histories_is_upgraded_in_place(
    store: LocalStore, root: Path
) -> None:
    done, _ = new(store, "done")
    store.write(done, Batch(patches=[RunPatch(status="succeeded", at=time.time())]))
    fresh, _ = new(store, "fresh")
    expected = {r.id: r.status_history for r in (store.get_run(done), store.get_run(fresh))}
    store.close()
    with sqlite3.connect(root / ".runlane" / "catalog.sqlite") as conn:  # as schema 1 was
        conn.execute("ALTER TABLE runs DROP COLUMN history")
    upgraded = LocalStore(root)
    try:
        listed = {r.id: r.status_history for r in upgraded.list_runs()}
        assert listed == expected
        assert [c.status for c in listed[done]] == ["created", "succeeded"]
        assert [r.id for r in upgraded.list_runs(where="status = 'succeeded'")] == [done]
    finally:
        upgraded.close()


def test_reindex_rebuilds_a_lost_catalog(store: LocalStore, root: Path) -> None:
    first, run_dir = new(store, "a")
    second, _ = new(store, "b")
    store.write(
        first,
        Batch(
            params=[ParamsUpdate({"lr": 0.5})],
            rows={"default": [{"acc": 0.9}]},
            patches=[RunPatch(status="succeeded", at=time.time())],
        ),
    )
    store.close()
    (root / ".runlane" / "catalog.sqlite").unlink()
    fresh = LocalStore(root)
    try:
        assert fresh.list_runs() == []
        with pytest.raises(NotFoundError):
            fresh.resolve_run(first)
        assert fresh.resolve_run(str(run_dir)) == first  # a folder path needs no catalog
        assert fresh.reindex() == 2
        assert {r.id for r in fresh.list_runs()} == {first, second}
        assert [r.id for r in fresh.list_runs(where="params.lr = 0.5")] == [first]
        assert [r.id for r in fresh.list_runs(where="metrics.acc > 0.5")] == [first]
    finally:
        fresh.close()


def test_resolve_ambiguous_prefix_raises(store: LocalStore) -> None:
    store.create_run(RunSpec("alice", "vision", run_id="abcdef000001"))
    store.create_run(RunSpec("alice", "vision", run_id="abcdef000002"))
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_run("abcdef")
    assert store.resolve_run("abcdef000002") == "abcdef000002"


# --- liveness -------------------------------------------------------------------------------


def test_running_run_of_a_dead_process_reads_as_crashed(store: LocalStore) -> None:
    run_id, run_dir = new(store)
    store.write(run_id, Batch(patches=[RunPatch(status="running", at=time.time())]))
    store.heartbeat(run_id, time.time())
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(child.stdout)
    doc = json.loads((run_dir / "experiment.json").read_text())
    doc["pid"] = dead_pid
    (run_dir / "experiment.json").write_text(json.dumps(doc))
    assert store.get_run(run_id).status == "crashed"
    assert [r.status for r in store.list_runs()] == ["crashed"]
    doc["host"] = "some-other-host"  # another machine's pid cannot be checked: heartbeat rules
    (run_dir / "experiment.json").write_text(json.dumps(doc))
    assert store.get_run(run_id).status == "running"


# --- concurrency ----------------------------------------------------------------------------


def test_two_instances_writing_one_stream_get_unique_contiguous_indices(
    store: LocalStore, root: Path
) -> None:
    run_id, _ = new(store)
    other = LocalStore(root)

    def work(target: LocalStore, tag: str) -> None:
        for i in range(50):
            target.write(
                run_id, Batch(rows={"default": [{"who": tag, "i": i}, {"who": tag, "i": i}]})
            )

    try:
        threads = [
            threading.Thread(target=work, args=(s, t)) for s, t in ((store, "a"), (other, "b"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    page = store.read_rows(run_id, "default", 0, 1000)
    assert [i for i, _, _ in page.rows] == list(range(200))
    for tag in ("a", "b"):
        assert sorted(d["i"] for _, d, _ in page.rows if d["who"] == tag) == sorted(
            list(range(50)) * 2
        )
    assert len(store.read_columns(run_id, "default", ["i"])["i"]) == 200
