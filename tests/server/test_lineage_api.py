"""``GET /runs/{id}/lineage/graph`` on a local folder and on PostgreSQL: the run's lineage
walked both ways across the runs of its project, in columns (inputs at -1, the runs that
produced them at -2, outputs at +1, the runs that used them at +2), with producers and
consumers of each node, edges the way data flows, a per-column limit, other projects kept
out, and the errors (unknown run, bad depth, a token of another project)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from runlane.entities import Batch, LineageRecord, RunSpec
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


def ref(name: str, node: str, *, used: bool) -> LineageRecord:
    """A lineage record naming ``node`` (a URI, or a summary node such as model:clf:v0)."""
    if "://" in node:
        return LineageRecord(name=name, kind="file", path=node, is_input=used, at=time.time())
    kind = node.split(":", 1)[0]
    return LineageRecord(
        name=name, kind=kind, path=None, is_input=used, summary={"node": node}, at=time.time()
    )


def add_run(store: Store, name: str, records: list[LineageRecord], project: str = "vision") -> str:
    info, _ = store.create_run(RunSpec(owner="alice", project=project, name=name))
    if records:
        store.write(info.id, Batch(lineage=records))
    return info.id


def graph(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/runs/{run_id}/lineage/graph", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def columns(body: dict[str, Any]) -> dict[str, int]:
    return {n["id"]: n["column"] for n in body["nodes"]}


@pytest.fixture
def chain(store: Store) -> dict[str, str]:
    """raw → prep → mnist:v0 → train → clf:v0 → serve, plus a run of another project that
    also uses clf:v0 (a model of the same name there)."""
    prep = add_run(
        store,
        "prep",
        [
            ref("raw", "s3://lake/raw.csv", used=True),
            ref("mnist", "artifact:mnist:v0", used=False),
        ],
    )
    train = add_run(
        store,
        "train",
        [
            ref("mnist", "artifact:mnist:v0", used=True),
            ref("clf", "model:clf:v0", used=False),
            ref("preds", "s3://lake/preds.parquet", used=False),
        ],
    )
    serve = add_run(store, "serve", [ref("clf", "model:clf:v0", used=True)])
    other = add_run(store, "other", [ref("clf", "model:clf:v0", used=True)], project="audio")
    return {"prep": prep, "train": train, "serve": serve, "other": other}


def test_graph_walks_both_ways_across_runs(client: TestClient, chain: dict[str, str]) -> None:
    train, prep, serve = chain["train"], chain["prep"], chain["serve"]
    body = graph(client, train)
    assert body["run"] == f"run:{train}" and body["depth"] == 2 and body["hidden"] == {}
    assert columns(body) == {
        f"run:{train}": 0,
        "artifact:mnist:v0": -1,
        f"run:{prep}": -2,
        "model:clf:v0": 1,
        "s3://lake/preds.parquet": 1,
        f"run:{serve}": 2,
    }
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["artifact:mnist:v0"]["producers"] == [prep]
    assert nodes["artifact:mnist:v0"]["consumers"] == [train]
    assert nodes["model:clf:v0"]["consumers"] == [serve]  # not the run of project audio
    assert nodes["model:clf:v0"]["name"] == "clf:v0"
    assert nodes["s3://lake/preds.parquet"]["name"] == "preds"
    assert nodes[f"run:{prep}"]["name"] == "prep" and nodes[f"run:{prep}"]["kind"] == "run"
    assert nodes[f"run:{prep}"]["run_id"] == prep
    edges = {(e["source"], e["target"]) for e in body["edges"]}
    assert edges == {
        (f"run:{prep}", "artifact:mnist:v0"),
        ("artifact:mnist:v0", f"run:{train}"),
        (f"run:{train}", "model:clf:v0"),
        (f"run:{train}", "s3://lake/preds.parquet"),
        ("model:clf:v0", f"run:{serve}"),
    }

    near = graph(client, train, depth=1)
    assert set(columns(near).values()) == {-1, 0, 1}
    far = columns(graph(client, serve, depth=5))
    assert (far[f"run:{train}"], far["artifact:mnist:v0"], far[f"run:{prep}"]) == (-2, -3, -4)
    assert far["s3://lake/raw.csv"] == -5
    assert "s3://lake/raw.csv" not in columns(graph(client, serve, depth=4))


def test_a_run_without_lineage_is_a_lone_node(client: TestClient, store: Store) -> None:
    alone = add_run(store, "alone", [])
    body = graph(client, alone)
    assert [(n["id"], n["column"]) for n in body["nodes"]] == [(f"run:{alone}", 0)]
    assert body["edges"] == []


def test_columns_keep_limit_nodes_and_count_the_rest(client: TestClient, store: Store) -> None:
    wide = add_run(
        store, "wide", [ref(f"out{i}", f"s3://lake/out{i}.bin", used=False) for i in range(5)]
    )
    body = graph(client, wide, limit=2)
    assert [n["id"] for n in body["nodes"] if n["column"] == 1] == [
        "s3://lake/out0.bin",
        "s3://lake/out1.bin",
    ]
    assert body["hidden"] == {"1": 3}
    assert len(body["edges"]) == 2


def test_errors_name_the_problem(client: TestClient, chain: dict[str, str]) -> None:
    missing = client.get(f"{API}/runs/0123456789abcdef/lineage/graph")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    for depth in (0, 11):
        bad = client.get(f"{API}/runs/{chain['train']}/lineage/graph", params={"depth": depth})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
        assert "depth" in bad.json()["error"]["message"]


def test_a_token_of_another_project_is_refused(store: Store, chain: dict[str, str]) -> None:
    tokens = Tokens(MemoryTokens())
    token, _ = tokens.create("alice/audio", "read")
    client = TestClient(create_app(store, auth=tokens))
    headers = {"authorization": f"Bearer {token}"}
    refused = client.get(f"{API}/runs/{chain['train']}/lineage/graph", headers=headers)
    assert refused.status_code == 403
    own = client.get(f"{API}/runs/{chain['other']}/lineage/graph", headers=headers)
    assert own.status_code == 200
    assert {n["column"] for n in own.json()["nodes"]} == {0, -1}  # vision's runs stay out


def test_the_bulk_lineage_read_answers_only_readable_runs(
    store: Store, chain: dict[str, str]
) -> None:
    tokens = Tokens(MemoryTokens())
    token, _ = tokens.create("alice/audio", "read")
    client = TestClient(create_app(store, auth=tokens))
    headers = {"authorization": f"Bearer {token}"}
    url = f"{API}/runs/lineage"
    own = client.post(url, json={"ids": [chain["other"], "0123456789abcdef"]}, headers=headers)
    assert own.status_code == 200, own.text
    assert [r["name"] for r in own.json()["lineage"][chain["other"]]] == ["clf"]
    assert set(own.json()["lineage"]) == {chain["other"]}  # an unknown id is left out
    mixed = client.post(url, json={"ids": [chain["other"], chain["train"]]}, headers=headers)
    assert mixed.status_code == 403 and chain["train"] in mixed.json()["error"]["message"]
    bad = client.post(url, json={"ids": "not-a-list"}, headers=headers)
    assert bad.status_code == 400 and "'ids'" in bad.json()["error"]["message"]
