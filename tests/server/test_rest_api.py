"""The REST API through HTTP: OpenAPI, error shapes and codes, search and pagination,
ingest idempotency, series downsampling, stats, logs (level, pages, follow), run updates,
and request size limits."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

import runlane
from runlane.entities import Batch, LogRecord, ParamsUpdate, RunSpec
from runlane.server.app import create_app
from runlane.store.memory import MemoryStore
from runlane.store.server import ServerStore
from runlane.store.wire import encode_batch

API = "/api/v1"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("memory://rest")


@pytest.fixture
def client(store: MemoryStore) -> TestClient:
    return TestClient(create_app(store, max_body=200_000))


def make_run(client: TestClient, name: str = "r", **kw: Any) -> str:
    body = {"owner": "alice", "project": "vision", "name": name, **kw}
    answer = client.post(f"{API}/runs", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["run"]["id"])


def post_batch(client: TestClient, run_id: str, batch: Batch, batch_id: str | None = None) -> Any:
    return client.post(
        f"{API}/runs/{run_id}/batches",
        content=encode_batch(batch, batch_id),
        headers={"content-type": "application/json"},
    )


def error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response.status_code, body["error"]["code"]


def test_openapi_describes_the_api(client: TestClient) -> None:
    doc = client.get(f"{API}/openapi.json").json()
    paths = set(doc["paths"])
    for path in (
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/batches",
        "/api/v1/runs/{run_id}/streams/{stream}/series",
        "/api/v1/runs/{run_id}/logs",
        "/api/v1/projects",
    ):
        assert path in paths


def test_create_or_get_by_external_id(client: TestClient) -> None:
    first = client.post(f"{API}/runs", json={"owner": "a", "project": "p", "external_id": "j1"})
    again = client.post(f"{API}/runs", json={"owner": "a", "project": "p", "external_id": "j1"})
    assert first.json()["existed"] is False and again.json()["existed"] is True
    assert first.json()["run"]["id"] == again.json()["run"]["id"]


def test_errors_have_a_stable_code_and_status(client: TestClient) -> None:
    run_id = make_run(client)
    assert error(client.get(f"{API}/runs/nope-nope")) == (404, "not_found")
    assert "nope-nope" in client.get(f"{API}/runs/nope-nope").json()["error"]["message"]
    assert error(client.get(f"{API}/no/such/route")) == (404, "not_found")
    assert error(client.delete(f"{API}/projects")) == (405, "method_not_allowed")
    assert error(client.get(f"{API}/runs", params={"where": "params.lr <"})) == (
        400,
        "query_syntax",
    )
    assert error(client.get(f"{API}/runs", params={"limit": -1})) == (422, "invalid_request")
    assert error(client.post(f"{API}/runs", json={"owner": "a"})) == (400, "malformed_request")
    assert error(
        client.post(f"{API}/runs", json={"owner": "a", "project": "p", "name": "../x"})
    ) == (400, "invalid_name")
    assert error(client.post(f"{API}/runs/{run_id}/status", json={"status": "bogus"})) == (
        400,
        "invalid_argument",
    )


def test_malformed_batches_are_refused_with_400(client: TestClient) -> None:
    run_id = make_run(client)
    url = f"{API}/runs/{run_id}/batches"
    headers = {"content-type": "application/json"}
    for body in (
        b"{not json",
        b"[1, 2]",
        b'{"rows": {"s": [1]}}',
        b'{"logs": [{"level": 1}]}',
        b'{"patches": [{"colour": "red"}]}',
        b'{"batch_id": 7}',
    ):
        assert error(client.post(url, content=body, headers=headers)) == (
            400,
            "malformed_request",
        ), body
    bad_name = b'{"rows": {"../up": [{"x": 1}]}}'
    assert error(client.post(url, content=bad_name, headers=headers)) == (400, "invalid_name")
    assert client.get(f"{API}/runs/{run_id}/streams").json() == {"streams": []}


def test_oversized_bodies_are_refused_with_413(client: TestClient) -> None:
    run_id = make_run(client)
    big = encode_batch(Batch(rows={"s": [{"x": i, "pad": "y" * 50} for i in range(5_000)]}))
    assert len(big) > 200_000
    answer = client.post(
        f"{API}/runs/{run_id}/batches", content=big, headers={"content-type": "application/json"}
    )
    assert error(answer) == (413, "payload_too_large")
    assert "200000" in answer.json()["error"]["message"]

    def chunks() -> Any:  # no Content-Length: counted while streaming
        for start in range(0, len(big), 50_000):
            yield big[start : start + 50_000]

    streamed = client.post(
        f"{API}/runs/{run_id}/batches",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert error(streamed) == (413, "payload_too_large")
    assert client.get(f"{API}/runs/{run_id}/streams").json() == {"streams": []}


def test_batches_with_an_id_apply_once(client: TestClient) -> None:
    run_id = make_run(client)
    batch = Batch(rows={"s": [{"x": 1.0}, {"x": math.inf}]}, logs=[LogRecord("info", "m", 1.0)])
    batch.nonfinite.add("s")
    assert post_batch(client, run_id, batch, "b-1").json()["applied"] is True
    assert post_batch(client, run_id, batch, "b-1").json()["applied"] is False
    rows = client.get(f"{API}/runs/{run_id}/streams/s/rows").json()
    assert [d["data"]["x"] for d in rows["data"]] == [1.0, {"$f": "Infinity"}]
    assert len(client.get(f"{API}/runs/{run_id}/logs").json()["logs"]) == 1


def test_batch_ids_dedupe_on_the_postgres_store_too(dsn: str) -> None:
    store = ServerStore(dsn)
    try:
        client = TestClient(create_app(store))
        run_id = make_run(client)
        batch = Batch(rows={"s": [{"x": 1}]})
        answers = [post_batch(client, run_id, batch, "same").json()["applied"] for _ in range(3)]
        assert answers == [True, False, False]
        assert store.read_rows(run_id, "s").total == 1
    finally:
        store.close()


def test_search_sort_and_pages(client: TestClient, store: MemoryStore) -> None:
    for i in range(7):
        run_id = make_run(client, f"r{i}")
        store.write(run_id, Batch(params=[ParamsUpdate({"lr": i / 10})]))
    make_run(client, "other", project="audio")
    first = client.get(
        f"{API}/runs",
        params={
            "project": "alice/vision",
            "where": "params.lr >= 0.2",
            "sort": "params.lr",
            "limit": 3,
        },
    ).json()
    assert [r["name"] for r in first["runs"]] == ["r2", "r3", "r4"]
    assert first["nextOffset"] == 3
    second = client.get(
        f"{API}/runs",
        params={
            "project": "alice/vision",
            "where": "params.lr >= 0.2",
            "sort": "params.lr",
            "limit": 3,
            "offset": 3,
        },
    ).json()
    assert [r["name"] for r in second["runs"]] == ["r5", "r6"]
    assert second["nextOffset"] is None
    projects = client.get(f"{API}/projects").json()["projects"]
    assert {(p["project"], p["runs"]) for p in projects} == {("vision", 7), ("audio", 1)}


def test_update_status_and_tags(client: TestClient) -> None:
    run_id = make_run(client, tags=["a"])
    info = client.patch(f"{API}/runs/{run_id}", json={"description": "d", "name": "renamed"}).json()
    assert (info["description"], info["name"]) == ("d", "renamed")
    assert client.post(f"{API}/runs/{run_id}/tags", json={"tags": ["b"]}).json()["tags"] == [
        "a",
        "b",
    ]
    assert client.post(f"{API}/runs/{run_id}/tags", json={"tags": ["z"], "reset": True}).json()[
        "tags"
    ] == ["z"]
    client.post(f"{API}/runs/{run_id}/status", json={"status": "running"})
    done = client.post(f"{API}/runs/{run_id}/status", json={"status": "failed", "message": "x"})
    assert done.json()["status"] == "failed"
    sticky = client.post(f"{API}/runs/{run_id}/status", json={"status": "succeeded"}).json()
    assert sticky["status"] == "failed"
    assert client.delete(f"{API}/runs/{run_id}").json() == {"deleted": run_id}
    assert error(client.get(f"{API}/runs/{run_id}")) == (404, "not_found")


def test_series_downsampling_keeps_extremes(client: TestClient, store: MemoryStore) -> None:
    run_id = make_run(client)
    n = 100_000
    values = np.sin(np.arange(n) / 500.0)
    values[12_345] = 40.0
    values[77_777] = -40.0
    rows = [{"loss": float(v), "_step": i * 2} for i, v in enumerate(values)]
    rows[500]["loss"] = math.nan
    store.write(run_id, Batch(rows={"train": rows}, nonfinite={"train"}))
    answer = client.get(
        f"{API}/runs/{run_id}/streams/train/series", params={"fields": "loss", "buckets": 100}
    ).json()
    series = answer["series"]["loss"]
    assert answer["count"] == n
    assert len(series["x"]) == len(series["y"]) <= 200
    assert max(series["y"]) == 40.0 and min(series["y"]) == -40.0
    assert series["x"][series["y"].index(40.0)] == 12_345 * 2  # x is the step
    assert series["x"] == sorted(series["x"])
    window = client.get(
        f"{API}/runs/{run_id}/streams/train/series",
        params={"fields": "loss", "x": "index", "start": 1000, "end": 2000, "buckets": 10_000},
    ).json()
    assert window["count"] == 1000 and window["series"]["loss"]["x"][0] == 1000
    stats = client.get(f"{API}/runs/{run_id}/streams/train/stats").json()
    assert stats["count"] == n
    assert stats["fields"]["loss"]["max"] == 40.0 and stats["fields"]["loss"]["count"] == n - 1
    bad = client.get(f"{API}/runs/{run_id}/streams/train/series", params={"x": "bogus"})
    assert error(bad) == (400, "invalid_argument")


def test_logs_level_filter_pages_and_follow(client: TestClient, store: MemoryStore) -> None:
    run_id = make_run(client)
    levels = ["debug", "info", "warn", "error"] * 5
    store.write(run_id, Batch(logs=[LogRecord(lv, f"m{i}", 1.0) for i, lv in enumerate(levels)]))
    page = client.get(f"{API}/runs/{run_id}/logs", params={"level": "error", "limit": 3}).json()
    assert [r["message"] for r in page["logs"]] == ["m3", "m7", "m11"]
    rest = client.get(
        f"{API}/runs/{run_id}/logs", params={"level": "error", "start": page["nextStart"]}
    ).json()
    assert [r["message"] for r in rest["logs"]] == ["m15", "m19"]
    assert error(client.get(f"{API}/runs/{run_id}/logs", params={"level": "loud"})) == (
        400,
        "invalid_argument",
    )

    def later() -> None:
        time.sleep(0.4)
        store.write(run_id, Batch(logs=[LogRecord("info", "late", 2.0)]))

    threading.Thread(target=later).start()
    started = time.monotonic()
    follow = client.get(f"{API}/runs/{run_id}/logs", params={"start": 20, "wait": 10}).json()
    assert [r["message"] for r in follow["logs"]] == ["late"]
    assert 0.3 < time.monotonic() - started < 5
    empty = client.get(f"{API}/runs/{run_id}/logs", params={"start": 99, "wait": 0.3}).json()
    assert empty == {"logs": [], "nextStart": 99}


def test_records_endpoints(client: TestClient, store: MemoryStore) -> None:
    run_id = make_run(client)
    store.write(run_id, Batch(params=[ParamsUpdate({"lr": 0.1, "bad": math.nan})]))
    assert client.get(f"{API}/runs/{run_id}/params").json()["data"] == {
        "lr": 0.1,
        "bad": {"$f": "NaN"},
    }
    assert client.get(f"{API}/runs/{run_id}/tracks").json() == {"topics": []}
    assert client.get(f"{API}/runs/{run_id}/tracks/robot/pose").json() == {"entries": []}
    assert client.get(f"{API}/runs/{run_id}/events").json() == {"events": []}
    assert client.get(f"{API}/runs/{run_id}/lineage").json() == {"lineage": []}
    assert client.get(f"{API}/runs/{run_id}/metadata").json() == {"metadata": {}}


def test_spec_round_trip(client: TestClient) -> None:
    spec = RunSpec(owner="alice", project="vision", name="s", tags=("t",), extra={"k": [1]})
    from runlane.store.wire import spec_to_wire

    run = client.post(f"{API}/runs", json=spec_to_wire(spec)).json()["run"]
    assert (run["name"], run["tags"], run["extra"]) == ("s", ["t"], {"k": [1]})


def test_server_serves_a_local_folder_with_zero_setup(root: Any) -> None:
    from runlane.server.serve import ServeOptions, build

    run = runlane.init(
        "carol/local",
        name="here",
        capture_git=False,
        capture_env=False,
        capture_stdio=False,
        system_metrics=False,
    )
    run.log({"x": 1.5})
    run.finish()
    store, app, auth = build(ServeOptions())  # no --store: RUNLANE_DIR, the SDK's folder
    try:
        assert auth is None
        client = TestClient(app)
        (found,) = client.get(f"{API}/runs", params={"project": "carol/local"}).json()["runs"]
        assert (found["id"], found["status"]) == (run.id, "succeeded")
        rows = client.get(f"{API}/runs/{run.id}/streams/default/rows").json()["data"]
        assert rows[0]["data"]["x"] == 1.5
    finally:
        store.close()
