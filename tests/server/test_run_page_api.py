"""The REST endpoints the run page uses, on every store (memory, local folder, PostgreSQL + S3):
series x ranges (zoom refinement), ``since`` (live appends), a field as the x axis, log search,
description and tag edits, metadata documents, events and tracks (with the live cursors: an
event position, a track's total)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runlane.entities import Batch, Event, LogRecord, MetadataUpdate, RunPatch, RunSpec, TrackEntry
from runlane.server.app import create_app
from runlane.store.base import Store
from support.stores import store_of_kind

API = "/api/v1"
CHUNK_ROWS = 2_000  # the PostgreSQL store compacts past this: reads merge chunks and hot rows
ROWS = 5_000
T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "local", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_of_kind(request.param, request, tmp_path, chunk_rows=CHUNK_ROWS) as made:
        yield made


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store))


def new_run(store: Store, name: str = "r") -> str:
    info, _ = store.create_run(RunSpec(owner="alice", project="vision", name=name))
    return info.id


def write_rows(store: Store, run_id: str, first: int, count: int) -> None:
    rows = [
        {"loss": float(np.sin(i / 50.0)), "_step": i * 10, "_ts": T0 + i, "epoch": i // 100}
        for i in range(first, first + count)
    ]
    store.write(run_id, Batch(rows={"train": rows}))


def series(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/runs/{run_id}/streams/train/series", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_zoomed_range_is_refetched_at_the_same_bucket_count(
    client: TestClient, store: Store
) -> None:
    run_id = new_run(store)
    write_rows(store, run_id, 0, ROWS)
    full = series(client, run_id, fields="loss", buckets=100)["series"]["loss"]
    assert len(full["x"]) <= 200
    assert full["x"][0] == 0 and full["x"][-1] == (ROWS - 1) * 10
    # zoom into steps [10_000, 20_000): 1,000 rows, drawn again from 100 buckets
    zoomed = series(client, run_id, fields="loss", buckets=100, start=10_000, end=20_000)
    points = zoomed["series"]["loss"]
    assert zoomed["count"] == 1_000 and zoomed["total"] == ROWS
    assert 100 <= len(points["x"]) <= 200
    assert min(points["x"]) >= 10_000 and max(points["x"]) < 20_000
    inside = [x for x in full["x"] if 10_000 <= x < 20_000]
    assert len(points["x"]) > 3 * len(inside)  # the refined fetch shows more detail
    # the same on the time axis (a zoomed wallclock or relative-time chart)
    timed = series(
        client, run_id, fields="loss", x="time", buckets=100, start=T0 + 100, end=T0 + 200
    )
    assert timed["count"] == 100 and timed["series"]["loss"]["x"][0] == T0 + 100


def test_since_returns_only_the_rows_after_the_last_total(client: TestClient, store: Store) -> None:
    run_id = new_run(store)
    write_rows(store, run_id, 0, ROWS)
    first = series(client, run_id, buckets=100)
    assert first["total"] == ROWS
    write_rows(store, run_id, ROWS, 7)
    new = series(client, run_id, buckets=100, since=first["total"])
    assert new["count"] == 7 and new["total"] == ROWS + 7
    assert new["series"]["loss"]["x"] == [i * 10 for i in range(ROWS, ROWS + 7)]
    assert new["series"]["loss"]["y"] == pytest.approx(
        [np.sin(i / 50.0) for i in range(ROWS, ROWS + 7)]
    )
    assert sorted(new["series"]) == ["epoch", "loss"]
    nothing = series(client, run_id, buckets=100, since=new["total"])
    assert nothing["count"] == 0 and nothing["series"]["loss"] == {"x": [], "y": []}
    bad = client.get(f"{API}/runs/{run_id}/streams/train/series", params={"since": -1})
    assert bad.status_code == 422


def test_a_field_is_an_x_axis(client: TestClient, store: Store) -> None:
    run_id = new_run(store)
    rows = [{"acc": i / 10, "lr_step": 30 - i} for i in range(30)]  # x decreasing by index
    rows += [{"acc": 9.0}]  # no lr_step: left out
    store.write(run_id, Batch(rows={"train": rows}))
    answer = series(client, run_id, fields="acc", x="field:lr_step")
    assert answer["x"] == "field:lr_step" and answer["count"] == 30
    acc = answer["series"]["acc"]
    assert acc["x"] == list(range(1, 31))  # sorted by the field
    assert acc["y"] == pytest.approx([(30 - x) / 10 for x in acc["x"]])
    window = series(client, run_id, fields="acc", x="field:lr_step", start=10, end=15)
    assert window["series"]["acc"]["x"] == [10, 11, 12, 13, 14]
    missing = series(client, run_id, fields="acc", x="field:nope")
    assert missing["count"] == 0 and missing["series"]["acc"]["x"] == []
    for bad_x in ("field:", "epochs", "wallclock"):
        bad = client.get(f"{API}/runs/{run_id}/streams/train/series", params={"x": bad_x})
        assert bad.status_code == 400
        assert bad_x in bad.json()["error"]["message"]
        assert "field:<name>" in bad.json()["error"]["message"]


def test_logs_search_with_level_pages_and_follow(client: TestClient, store: Store) -> None:
    run_id = new_run(store)
    lines = [
        LogRecord("info", "Epoch 1 done", T0),
        LogRecord("warn", "slow epoch", T0 + 1),
        LogRecord("error", "EPOCH 3 failed", T0 + 2),
        LogRecord("info", "saving", T0 + 3),
        LogRecord("error", "disk full", T0 + 4),
    ]
    store.write(run_id, Batch(logs=lines))
    url = f"{API}/runs/{run_id}/logs"
    found = client.get(url, params={"q": "epoch"}).json()
    assert [r["message"] for r in found["logs"]] == ["Epoch 1 done", "slow epoch", "EPOCH 3 failed"]
    assert found["nextStart"] == 5  # past every line scanned
    both = client.get(url, params={"q": "epoch", "level": "warn"}).json()
    assert [r["message"] for r in both["logs"]] == ["slow epoch", "EPOCH 3 failed"]
    page = client.get(url, params={"q": "epoch", "limit": 1}).json()
    assert [r["message"] for r in page["logs"]] == ["Epoch 1 done"]
    rest = client.get(url, params={"q": "epoch", "start": page["nextStart"]}).json()
    assert [r["message"] for r in rest["logs"]] == ["slow epoch", "EPOCH 3 failed"]
    # follow: from nextStart, only lines written afterwards come back
    store.write(run_id, Batch(logs=[LogRecord("info", "epoch 4 done", T0 + 5)]))
    follow = client.get(url, params={"q": "epoch", "start": found["nextStart"], "wait": 1}).json()
    assert [(r["seq"], r["message"]) for r in follow["logs"]] == [(5, "epoch 4 done")]
    none = client.get(url, params={"q": "zzz", "start": follow["nextStart"], "wait": 0.3}).json()
    assert none == {"logs": [], "nextStart": 6}


def test_description_and_tags_edits_persist(client: TestClient, store: Store) -> None:
    run_id = new_run(store)
    url = f"{API}/runs/{run_id}"
    edited = client.patch(url, json={"description": "baseline with warmup"})
    assert edited.status_code == 200 and edited.json()["description"] == "baseline with warmup"
    added = client.post(f"{url}/tags", json={"tags": ["gpu", "sweep"]}).json()
    assert added["tags"] == ["gpu", "sweep"]
    removed = client.post(f"{url}/tags", json={"tags": ["sweep"], "reset": True}).json()
    assert removed["tags"] == ["sweep"]
    info = store.get_run(run_id)
    assert info.description == "baseline with warmup" and info.tags == ("sweep",)
    assert client.get(url).json()["description"] == "baseline with warmup"
    bad = client.post(f"{url}/tags", json={"tags": "gpu"})
    assert bad.status_code == 400 and "tags" in bad.json()["error"]["message"]


def test_metadata_events_and_tracks_for_the_overview(client: TestClient, store: Store) -> None:
    run_id = new_run(store)
    store.write(
        run_id,
        Batch(
            metadata=[MetadataUpdate("env", {"python": "3.11", "gpus": ["A100"]}, T0)],
            events=[
                Event("checkpoint", T0 + 1, "rank0", {"epoch": 1}),
                Event("eval", T0 + 2, None, None),
            ],
            tracks=[
                TrackEntry("robot/pose", T0, {"x": 1.0, "y": 2.0}),
                TrackEntry("robot/pose", T0 + 1, {"x": 1.5, "y": 2.5}),
            ],
            patches=[RunPatch(framework="pytorch", backend="nccl", at=T0)],
        ),
    )
    meta = client.get(f"{API}/runs/{run_id}/metadata").json()["metadata"]
    assert meta["env"]["value"] == {"python": "3.11", "gpus": ["A100"]}
    assert meta["env"]["updatedAt"] == pytest.approx(T0)
    events = client.get(f"{API}/runs/{run_id}/events").json()["events"]
    assert [(e["name"], e["wallclock"]) for e in events] == [
        ("checkpoint", T0 + 1),
        ("eval", T0 + 2),
    ]
    assert events[0]["metadata"] == {"epoch": 1} and events[0]["source"] == "rank0"
    assert client.get(f"{API}/runs/{run_id}/tracks").json() == {"topics": ["robot/pose"]}
    entries = client.get(f"{API}/runs/{run_id}/tracks/robot/pose").json()["entries"]
    assert entries == [
        {"timestamp": T0, "x": 1.0, "y": 2.0},
        {"timestamp": T0 + 1, "x": 1.5, "y": 2.5},
    ]
    info = client.get(f"{API}/runs/{run_id}").json()
    assert (info["framework"], info["backend"]) == ("pytorch", "nccl")


def events_from(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/runs/{run_id}/events", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_events_start_cursor_gets_each_later_event_exactly_once(
    client: TestClient, store: Store
) -> None:
    run_id = new_run(store)
    store.write(
        run_id,
        Batch(events=[Event("a", T0 + 5, "rank0", None), Event("b", T0 + 5, "rank1", None)]),
    )
    first = events_from(client, run_id, start=0)
    assert [e["name"] for e in first["events"]] == ["a", "b"] and first["next"] == 2
    # later: one more at the same wallclock, and one stamped earlier by a slower process
    store.write(
        run_id,
        Batch(events=[Event("c", T0 + 5, "rank0", {"n": 1}), Event("d", T0 + 1, "rank2", None)]),
    )
    later = events_from(client, run_id, start=first["next"])
    assert [(e["name"], e["wallclock"]) for e in later["events"]] == [("c", T0 + 5), ("d", T0 + 1)]
    assert later["next"] == 4 and later["events"][0]["metadata"] == {"n": 1}
    assert events_from(client, run_id, start=4) == {"events": [], "next": 4}
    assert events_from(client, run_id, start=99) == {"events": [], "next": 4}
    # a wallclock cursor cannot do this: `since` repeats a and b and never sees d
    by_time = events_from(client, run_id, since=T0 + 5)["events"]
    assert [e["name"] for e in by_time] == ["a", "b", "c"]
    both = events_from(client, run_id, start=1, since=T0 + 5)
    assert [e["name"] for e in both["events"]] == ["b", "c"] and both["next"] == 4
    assert "next" not in events_from(client, run_id)  # the plain answer keeps its shape
    assert client.get(f"{API}/runs/{run_id}/events", params={"start": -1}).status_code == 422


def test_track_total_shows_an_entry_written_before_the_readers_cursor(
    client: TestClient, store: Store
) -> None:
    run_id = new_run(store)
    url = f"{API}/runs/{run_id}/tracks/robot/pose"
    store.write(
        run_id, Batch(tracks=[TrackEntry("robot/pose", T0 + i, {"x": float(i)}) for i in range(3)])
    )
    tail = client.get(url, params={"start": T0 + 2, "total": "true"}).json()
    assert tail == {"entries": [{"timestamp": T0 + 2, "x": 2.0}], "total": 3}
    store.write(run_id, Batch(tracks=[TrackEntry("robot/pose", T0 + 3, {"x": 3.0})]))
    tail = client.get(url, params={"start": T0 + 2, "total": "true"}).json()
    assert [e["timestamp"] for e in tail["entries"]] == [T0 + 2, T0 + 3] and tail["total"] == 4
    # an entry stamped before the cursor: the tail alone looks the same, the total does not
    store.write(run_id, Batch(tracks=[TrackEntry("robot/pose", T0 + 0.5, {"x": 0.5})]))
    tail = client.get(url, params={"start": T0 + 3, "total": "true"}).json()
    assert tail == {"entries": [{"timestamp": T0 + 3, "x": 3.0}], "total": 5}
    ranged = client.get(url, params={"start": T0 + 0.5, "end": T0 + 2, "total": "true"}).json()
    assert [e["x"] for e in ranged["entries"]] == [0.5, 1.0] and ranged["total"] == 5
    assert client.get(url, params={"start": T0 + 3}).json() == {
        "entries": [{"timestamp": T0 + 3, "x": 3.0}]
    }
