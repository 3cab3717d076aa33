"""``GET /series?since=N`` (the live chart's poll) reads only the rows from index N on
(``Store.read_columns(..., start=N)``) and answers exactly the points the whole-stream read
gave before, on every x axis, with ``total`` still the stream's row count — on the memory,
local and PostgreSQL stores (there with ``since`` cutting into Parquet chunks, on a chunk
border and in the hot rows)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runlane.entities import Batch, RunSpec
from runlane.server.app import create_app
from runlane.store.base import Store
from runlane.store.wire import decode_columns
from support.stores import store_of_kind

API = "/api/v1"
ROWS = 400
CHUNK_ROWS = 50  # PostgreSQL: rows 0..349 in 7 chunks, 350..399 hot
T0 = 1_700_000_000.0
SINCES = (0, 37, 50, 349, 350, 360, 399)


@pytest.fixture(params=["memory", "local", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_of_kind(request.param, request, tmp_path, chunk_rows=CHUNK_ROWS) as made:
        yield made


def row(i: int) -> dict[str, Any]:
    """Row ``i`` of the mixed stream: ``_step`` on 4 rows of 5 (the others fall back to the
    index on the step axis), ``loss`` missing on every 9th row, ``k`` (a custom x, decreasing)
    on every 4th, ``acc`` a string on every 13th."""
    out: dict[str, Any] = {"_ts": T0 + i}
    if i % 5:
        out["_step"] = 1000 + 3 * i
    if i % 9:
        out["loss"] = math.sin(i / 7)
    if i % 4 == 0:
        out["k"] = 2 * (ROWS - i)
    out["acc"] = "n/a" if i % 13 == 0 else i / ROWS
    return out


def numeric(i: int, field: str) -> float | None:
    value = row(i).get(field)
    return None if isinstance(value, str) else value


def expected(since: int, x: str, field: str) -> tuple[list[float], list[float], int]:
    """``(x, y, count)`` of ``field`` from the rows themselves (every point kept: fewer
    points than buckets)."""
    kept = range(since, ROWS)
    if x.startswith("field:"):
        key = x.removeprefix("field:")
        kept = sorted((i for i in kept if key in row(i)), key=lambda i: row(i)[key])
    xs, ys = [], []
    for i in kept:
        y = numeric(i, field)
        if y is None:
            continue
        if x == "step":
            xs.append(float(row(i).get("_step", i)))
        elif x == "index":
            xs.append(float(i))
        elif x == "time":
            xs.append(T0 + i)
        else:
            xs.append(float(row(i)[x.removeprefix("field:")]))
        ys.append(y)
    return xs, ys, len(kept)


@pytest.fixture
def run_id(store: Store) -> str:
    info, _ = store.create_run(RunSpec(owner="alice", project="vision", name="live"))
    for first in range(0, ROWS, 60):  # several batches, as a live run sends them
        rows = [row(i) for i in range(first, min(first + 60, ROWS))]
        store.write(info.id, Batch(rows={"train": rows}))
    return str(info.id)


def series(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/runs/{run_id}/streams/train/series", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("x", ["step", "index", "time", "field:k"])
def test_since_gives_the_points_of_the_rows_from_since_on(
    store: Store, run_id: str, x: str
) -> None:
    client = TestClient(create_app(store))
    for since in SINCES:
        named = series(client, run_id, x=x, fields="loss,acc", buckets=1000, since=since)
        every = series(client, run_id, x=x, buckets=1000, since=since)
        assert sorted(every["series"]) == ["acc", "k", "loss"]
        for answer in (named, every):
            assert answer["total"] == ROWS, (x, since)
            for field in ("loss", "acc"):
                xs, ys, count = expected(since, x, field)
                got = answer["series"][field]
                assert answer["count"] == count, (x, since)
                assert got["x"] == pytest.approx(xs), (x, since, field)
                assert got["y"] == pytest.approx(ys), (x, since, field)


def test_since_downsamples_the_new_rows_like_the_full_read(store: Store, run_id: str) -> None:
    """Fewer buckets than new rows: min/max downsampling of exactly the rows from since on."""
    client = TestClient(create_app(store))
    answer = series(client, run_id, fields="loss", buckets=5, since=37)
    xs, ys, count = expected(37, "step", "loss")
    assert answer["count"] == count and answer["total"] == ROWS
    got = answer["series"]["loss"]
    assert 5 <= len(got["x"]) <= 10
    assert set(zip(got["x"], got["y"], strict=True)) <= set(zip(xs, ys, strict=True))
    assert max(got["y"]) == max(ys) and min(got["y"]) == min(ys)


@pytest.mark.parametrize("since", [ROWS, ROWS + 1, ROWS + 10_000])
def test_since_at_or_past_the_end_is_empty_with_the_stream_total(
    store: Store, run_id: str, since: int
) -> None:
    client = TestClient(create_app(store))
    for x in ("step", "time", "field:k"):
        answer = series(client, run_id, x=x, buckets=100, since=since)
        assert (answer["count"], answer["total"]) == (0, ROWS)
        assert answer["series"] == {n: {"x": [], "y": []} for n in ("acc", "k", "loss")}
        named = series(client, run_id, x=x, fields="loss,absent", since=since)
        assert (named["count"], named["total"]) == (0, ROWS)
        assert named["series"] == {n: {"x": [], "y": []} for n in ("loss", "absent")}
    never = client.get(f"{API}/runs/{run_id}/streams/never/series", params={"since": 3})
    assert never.status_code == 200
    assert (never.json()["count"], never.json()["total"]) == (0, 0)


def test_columns_route_takes_start(store: Store, run_id: str) -> None:
    client = TestClient(create_app(store))
    url = f"{API}/runs/{run_id}/streams/train/columns"
    answer = client.get(url, params={"fields": "loss,_step", "start": 349})
    assert answer.status_code == 200, answer.text
    columns = decode_columns(answer.content)
    assert columns["_index"].tolist() == list(range(349, ROWS))
    full = store.read_columns(run_id, "train", ["loss", "_step"])
    np.testing.assert_array_equal(columns["loss"], full["loss"][349:])
    np.testing.assert_array_equal(columns["_step"], full["_step"][349:])
    assert client.get(url, params={"start": -1}).status_code == 422
