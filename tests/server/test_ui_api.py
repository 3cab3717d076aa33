"""The REST endpoints the web UI's runs table uses, on a local folder and on PostgreSQL:
``GET /runs`` with ``total`` and ``column`` values, ``GET /runs/groups`` and ``GET /runs/keys``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from runlane.entities import Batch, ParamsUpdate, RunPatch, RunSpec
from runlane.server.app import create_app
from runlane.server.auth import MemoryTokens, Tokens
from runlane.store.base import Store
from runlane.store.local import LocalStore

API = "/api/v1"


@pytest.fixture(params=["local", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_store")
        return
    local = LocalStore(tmp_path / "data")
    yield local
    local.close()


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store))


def add_run(
    store: Store,
    name: str,
    params: dict[str, Any] | None = None,
    rows: dict[str, list[dict[str, Any]]] | None = None,
    tags: tuple[str, ...] = (),
    project: str = "vision",
    extra: dict[str, Any] | None = None,
) -> str:
    info, _ = store.create_run(
        RunSpec(owner="alice", project=project, name=name, extra=extra or {})
    )
    at = time.time()
    batch = Batch(
        params=[ParamsUpdate(params, at=at)] if params else [],
        rows={
            s: [{**r, "_ts": at + i} for i, r in enumerate(rs)] for s, rs in (rows or {}).items()
        },
        nonfinite={s for s, rs in (rows or {}).items() if any(_nonfinite(r) for r in rs)},
        patches=[RunPatch(tags=tags, at=at)] if tags else [],
    )
    store.write(info.id, batch)
    return info.id


def _nonfinite(row: dict[str, Any]) -> bool:
    return any(isinstance(v, float) and not math.isfinite(v) for v in row.values())


def runs_of(client: TestClient, **query: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/runs", params=query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def test_total_counts_every_matching_run_only_when_asked(client: TestClient, store: Store) -> None:
    for i in range(7):
        add_run(store, f"r{i}", {"lr": 0.1 if i % 2 else 0.01})
    add_run(store, "elsewhere", {"lr": 0.1}, project="audio")
    assert "total" not in runs_of(client, limit=2)
    assert runs_of(client, limit=2, total=1)["total"] == 8
    assert runs_of(client, limit=2, total=1, project="alice/vision")["total"] == 7
    assert runs_of(client, limit=2, total=1, where="params.lr = 0.1")["total"] == 4
    # a page that reaches the end, an offset past the end, and an empty answer
    assert runs_of(client, limit=5, offset=5, total=1, project="alice/vision")["total"] == 7
    past = runs_of(client, limit=5, offset=50, total=1, project="alice/vision")
    assert past["runs"] == [] and past["total"] == 7
    assert runs_of(client, total=1, where="params.lr = 5")["total"] == 0
    pages = [runs_of(client, limit=3, offset=o, project="alice/vision")["runs"] for o in (0, 3, 6)]
    assert len({r["id"] for page in pages for r in page}) == 7


def test_column_values_params_meta_and_metric_aggregates(client: TestClient, store: Store) -> None:
    nan = float("nan")
    a = add_run(
        store,
        "a",
        {"lr": 0.01, "model.depth": 4, "opt": "adam"},
        rows={
            "default": [{"loss": 3.0}, {"loss": 1.0}, {"loss": nan}, {"loss": 2.0, "acc": 0.5}],
            "eval": [{"top1": 0.25}, {"top1": 0.75}],
        },
        extra={"team": "red"},
    )
    add_run(store, "b", {"lr": 0.1}, rows={"default": [{"acc": 0.9}]})
    columns = [
        "params.lr",
        "params.model.depth",
        "params.opt",
        "meta.team",
        "metrics.loss",
        "metrics.loss:min",
        "metrics.loss:max",
        "metrics.eval.top1:max",
        "metrics.acc:last",
        "metrics.nope",
    ]
    body = runs_of(client, column=columns, sort="name")
    values = {r["name"]: r["values"] for r in body["runs"]}
    assert values["a"] == {
        "params.lr": 0.01,
        "params.model.depth": 4,
        "params.opt": "adam",
        "meta.team": "red",
        "metrics.loss": 2.0,  # the last finite value: the NaN row is skipped
        "metrics.loss:min": 1.0,
        "metrics.loss:max": 3.0,
        "metrics.eval.top1:max": 0.75,
        "metrics.acc:last": 0.5,
    }
    assert values["b"] == {"params.lr": 0.1, "metrics.acc:last": 0.9}
    assert body["runs"][0]["id"] == a
    assert "values" not in runs_of(client)["runs"][0]


@pytest.mark.parametrize(
    ("column", "needle"),
    [
        ("lr", "'lr' is not one of params.<key>"),
        ("params.", "'params.' is not one of"),
        ("metrics.loss:median", "aggregate 'median' is not one of last, min, max"),
        ("metrics.:min", "'metrics.:min' is not one of"),
    ],
)
def test_bad_columns_are_refused_naming_the_value(
    client: TestClient, store: Store, column: str, needle: str
) -> None:
    add_run(store, "a", {"lr": 0.01})
    status, code, message = error_of(client.get(f"{API}/runs", params={"column": column}))
    assert (status, code) == (400, "invalid_argument")
    assert needle in message


def _members(client: TestClient, where: str | None, group: dict[str, Any]) -> list[str]:
    condition = group["where"] if not where else f"({where}) and ({group['where']})"
    runs = runs_of(client, where=condition, sort="name", limit=1000)["runs"]
    return [r["name"] for r in runs]


def test_groups_by_a_param_select_exactly_their_runs(client: TestClient, store: Store) -> None:
    add_run(store, "a", {"lr": 0.1, "flag": True, "layers": [1, 2]})
    add_run(store, "b", {"lr": 0.01, "flag": 1, "layers": [1, 2]})
    add_run(store, "c", {"lr": 0.1, "flag": False})
    add_run(store, "d", {"lr": "auto"})
    add_run(store, "e", {"other": 1})
    add_run(store, "f", {"lr": 1})
    add_run(store, "g", {"lr": 1.0})
    body = client.get(f"{API}/runs/groups", params={"by": "params.lr"}).json()
    assert body["by"] == "params.lr" and body["total"] == 7 and body["truncated"] is False
    shown = [(g["label"], g["count"], g["where"]) for g in body["groups"]]
    assert shown == [
        ("0.01", 1, "params.lr = 0.01"),
        ("0.1", 2, "params.lr = 0.1"),
        ("1", 2, "params.lr = 1"),  # 1 and 1.0 are one number
        ("auto", 1, "params.lr = 'auto'"),
        ("(none)", 1, "params.lr is null"),
    ]
    assert [_members(client, None, g) for g in body["groups"]] == [
        ["b"],
        ["a", "c"],
        ["f", "g"],
        ["d"],
        ["e"],
    ]
    # booleans never group with numbers; list values are selected by run id
    flags = client.get(f"{API}/runs/groups", params={"by": "params.flag"}).json()["groups"]
    assert [(g["label"], _members(client, None, g)) for g in flags] == [
        ("1", ["b"]),
        ("false", ["c"]),
        ("true", ["a"]),
        ("(none)", ["d", "e", "f", "g"]),
    ]
    layers = client.get(f"{API}/runs/groups", params={"by": "params.layers"}).json()["groups"]
    assert [(g["label"], g["count"]) for g in layers] == [("[1,2]", 2), ("(none)", 5)]
    assert _members(client, None, layers[0]) == ["a", "b"]


def test_groups_by_tags_status_and_meta_within_a_filter(client: TestClient, store: Store) -> None:
    add_run(store, "a", {"lr": 0.1}, tags=("gpu", "baseline"), extra={"team": "red"})
    add_run(store, "b", {"lr": 0.1}, tags=("gpu",), extra={"team": "blue"})
    add_run(store, "c", {"lr": 0.01}, extra={"team": "red"})
    done = add_run(store, "d", {"lr": 0.1})
    store.write(done, Batch(patches=[RunPatch(status="succeeded", at=time.time())]))
    where = "params.lr = 0.1"
    tags = client.get(f"{API}/runs/groups", params={"by": "tags", "where": where}).json()
    assert tags["total"] == 3  # a run is counted once in the total, once per tag in groups
    assert [(g["label"], g["count"]) for g in tags["groups"]] == [
        ("baseline", 1),
        ("gpu", 2),
        ("(none)", 1),
    ]
    assert [_members(client, where, g) for g in tags["groups"]] == [["a"], ["a", "b"], ["d"]]
    status = client.get(f"{API}/runs/groups", params={"by": "status"}).json()["groups"]
    assert [(g["label"], g["count"]) for g in status] == [("created", 3), ("succeeded", 1)]
    assert _members(client, None, status[1]) == ["d"]
    team = client.get(f"{API}/runs/groups", params={"by": "meta.team"}).json()["groups"]
    assert [(g["label"], _members(client, None, g)) for g in team] == [
        ("blue", ["b"]),
        ("red", ["a", "c"]),
        ("(none)", ["d"]),
    ]
    limited = client.get(f"{API}/runs/groups", params={"by": "meta.team", "limit": 1}).json()
    assert [g["label"] for g in limited["groups"]] == ["blue"] and limited["truncated"] is True


@pytest.mark.parametrize("by", ["metrics.loss", "created", "-params.lr", "params.lr,name", "x y"])
def test_bad_group_fields_are_refused(client: TestClient, by: str) -> None:
    status, code, message = error_of(client.get(f"{API}/runs/groups", params={"by": by}))
    assert (status, code) == (400, "invalid_argument")
    assert f"cannot group by {by!r}" in message and "params.<key>" in message


def test_keys_list_what_the_newest_runs_hold_most_common_first(
    client: TestClient, store: Store
) -> None:
    add_run(store, "old", {"seed": 1}, rows={"default": [{"old_metric": 1.0}]})
    add_run(store, "a", {"lr": 0.1, "seed": 1}, rows={"default": [{"loss": 1.0}]})
    add_run(
        store,
        "b",
        {"lr": 0.1, "batch": 8},
        rows={"default": [{"loss": 1.0, "acc": 0.1}], "eval": [{"top1": 0.5}]},
        extra={"team": "red"},
    )
    keys = client.get(f"{API}/runs/keys", params={"sample": 2}).json()
    assert keys == {
        "params": ["lr", "batch", "seed"],
        "metrics": ["loss", "acc", "eval.top1"],
        "meta": ["team"],
    }
    everything = client.get(f"{API}/runs/keys").json()
    assert "old_metric" in everything["metrics"]
    only_b = client.get(f"{API}/runs/keys", params={"where": "name = 'b'"}).json()
    assert only_b["params"] == ["batch", "lr"]


def test_a_scoped_token_sees_only_its_project(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "scoped")
    tokens = Tokens(MemoryTokens())
    token, _ = tokens.create("alice/vision", "read")
    client = TestClient(create_app(store, auth=tokens))
    headers = {"authorization": f"Bearer {token}"}
    add_run(store, "mine", {"lr": 0.1})
    add_run(store, "theirs", {"lr": 0.1}, project="audio")
    groups = client.get(f"{API}/runs/groups", params={"by": "params.lr"}, headers=headers)
    assert groups.json()["total"] == 1
    keys = client.get(f"{API}/runs/keys", headers=headers)
    assert keys.status_code == 200
    runs = client.get(f"{API}/runs", params={"total": 1}, headers=headers).json()
    assert runs["total"] == 1 and runs["runs"][0]["name"] == "mine"
    for path in ("runs/groups", "runs/keys"):
        denied = client.get(
            f"{API}/{path}", params={"by": "status", "project": "alice/audio"}, headers=headers
        )
        assert denied.status_code == 403, path
    assert client.get(f"{API}/runs/keys").status_code == 401
    store.close()
