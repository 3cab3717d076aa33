"""``POST /runs/params`` and ``POST /runs/streams`` (what ``RemoteStore.read_params_many`` and
``RemoteStore.list_streams_many`` send; their answers are checked against the one-run reads
by the contract suite through ``RemoteStore``): project isolation, the body's checks, and
``GET /runs/keys`` reading many runs in a constant number of store calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient

from runlane.entities import Batch, FieldAggregate, ParamsDoc, ParamsUpdate, RunSpec, StreamInfo
from runlane.server.app import create_app
from runlane.server.auth import MemoryTokens, Tokens
from runlane.server.context import MAX_PAGE
from runlane.store.memory import MemoryStore

API = "/api/v1"
PATHS = ("runs/params", "runs/streams", "runs/aggregates")


class CountingStore(MemoryStore):
    """A MemoryStore that counts the calls its callers make to its per-run and bulk reads
    (not the per-run reads its own bulk reads make)."""

    def __init__(self) -> None:
        super().__init__("memory://counting")
        self.calls: Counter[str] = Counter()
        self._bulk = False

    def _count(self, name: str) -> None:
        if not self._bulk:
            self.calls[name] += 1

    def read_params(self, run_id: str) -> ParamsDoc:
        self._count("read_params")
        return super().read_params(run_id)

    def list_streams(self, run_id: str) -> list[StreamInfo]:
        self._count("list_streams")
        return super().list_streams(run_id)

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        self._count("read_params_many")
        self._bulk = True
        try:
            return super().read_params_many(run_ids)
        finally:
            self._bulk = False

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        self._count("list_streams_many")
        self._bulk = True
        try:
            return super().list_streams_many(run_ids)
        finally:
            self._bulk = False

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, Any]:
        self._count("read_columns")
        return super().read_columns(run_id, stream, fields, start)

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        self._count("field_aggregates_many")
        self._bulk = True
        try:
            return super().field_aggregates_many(run_ids, fields)
        finally:
            self._bulk = False


def add_run(
    store: MemoryStore, name: str, project: str = "vision", params: dict[str, Any] | None = None
) -> str:
    info, _ = store.create_run(RunSpec(owner="alice", project=project, name=name))
    store.write(
        info.id,
        Batch(
            params=[ParamsUpdate(params or {"lr": 0.1}, at=1000.0)],
            rows={"default": [{"loss": 1.0, "_ts": 1000.0}]},
        ),
    )
    return info.id


@pytest.fixture
def scoped() -> tuple[TestClient, dict[str, str], dict[str, str]]:
    """A client of a server with auth on, a read token of ``alice/audio`` as headers, and
    runs of both projects by name."""
    store = MemoryStore("memory://bulk")
    runs = {"mine": add_run(store, "mine", "audio"), "theirs": add_run(store, "theirs")}
    tokens = Tokens(MemoryTokens())
    token, _ = tokens.create("alice/audio", "read")
    client = TestClient(create_app(store, auth=tokens))
    return client, {"authorization": f"Bearer {token}"}, runs


@pytest.mark.parametrize("path", PATHS)
def test_a_scoped_token_reads_its_own_runs_only(
    scoped: tuple[TestClient, dict[str, str], dict[str, str]], path: str
) -> None:
    client, headers, runs = scoped
    key = path.split("/")[1]
    own = client.post(f"{API}/{path}", json={"ids": [runs["mine"], "nope-nope"]}, headers=headers)
    assert own.status_code == 200, own.text
    assert set(own.json()[key]) == {runs["mine"]}  # the unknown id is left out
    mixed = client.post(
        f"{API}/{path}", json={"ids": [runs["mine"], runs["theirs"]]}, headers=headers
    )
    assert mixed.status_code == 403
    assert runs["theirs"] in mixed.json()["error"]["message"]
    anonymous = client.post(f"{API}/{path}", json={"ids": [runs["mine"]]})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ids": "abc"}, "'ids' as a list of run id strings"),
        ({"ids": [1, 2]}, "'ids' as a list of run id strings"),
        ({}, "'ids' as a list of run id strings"),
        ({"ids": ["x"] * (MAX_PAGE + 1)}, f"holds {MAX_PAGE + 1} run ids; at most {MAX_PAGE}"),
    ],
)
def test_a_bad_body_is_refused_naming_the_rule(path: str, body: Any, message: str) -> None:
    client = TestClient(create_app(MemoryStore("memory://bad")))
    answer = client.post(f"{API}/{path}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_argument"
    assert message in answer.json()["error"]["message"]


def test_keys_read_the_sample_in_a_constant_number_of_store_calls() -> None:
    store = CountingStore()
    for i in range(30):
        add_run(store, f"r{i}", params={"lr": 0.1, f"only{i % 3}": i})
    client = TestClient(create_app(store))
    keys = client.get(f"{API}/runs/keys")
    assert keys.status_code == 200, keys.text
    assert keys.json()["params"] == ["lr", "only0", "only1", "only2"]
    assert keys.json()["metrics"] == ["loss"]
    assert store.calls == Counter({"read_params_many": 1, "list_streams_many": 1})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("default", "'fields' as a list of [stream, field] pairs"),
        ([["default"]], "is not a (stream name, field name) pair"),
        ([["default", 1]], "is not a (stream name, field name) pair"),
        ([["s", "f"]] * 1001, "holds 1001 pairs; at most 1000"),
    ],
)
def test_bad_aggregate_fields_are_refused_naming_the_rule(fields: Any, message: str) -> None:
    client = TestClient(create_app(MemoryStore("memory://bad")))
    answer = client.post(f"{API}/runs/aggregates", json={"ids": [], "fields": fields})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_argument"
    assert message in answer.json()["error"]["message"]


def test_aggregates_answer_each_asked_pair_of_each_known_run() -> None:
    store = MemoryStore("memory://aggregates")
    run_id = add_run(store, "r")
    store.write(run_id, Batch(rows={"default": [{"loss": 0.5}, {"loss": "nan?"}, {"loss": 2.0}]}))
    client = TestClient(create_app(store))
    body = {"ids": [run_id, "nope-nope"], "fields": [["default", "loss"], ["eval", "acc"]]}
    answer = client.post(f"{API}/runs/aggregates", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "aggregates": {
            run_id: [["default", "loss", 2.0, 0.5, 2.0], ["eval", "acc", None, None, None]]
        }
    }


def test_a_page_of_metric_columns_costs_three_store_calls() -> None:
    """However many runs a page shows: params, stream listings and field aggregates are each
    read once, and no run's columns are read."""
    store = CountingStore()
    ids = [add_run(store, f"r{i}") for i in range(30)]
    for i, run_id in enumerate(ids):
        store.write(
            run_id,
            Batch(rows={"default": [{"loss": i + 0.5}, {"loss": i - 0.5}], "eval": [{"acc": i}]}),
        )
    client = TestClient(create_app(store))
    columns = ["params.lr", "metrics.loss:min", "metrics.loss", "metrics.eval.acc:max"]
    page = client.get(f"{API}/runs", params={"limit": 100, "sort": "name", "column": columns})
    assert page.status_code == 200, page.text
    values = [run["values"] for run in page.json()["runs"]]
    assert values[:2] == [
        {
            "params.lr": 0.1,
            "metrics.loss:min": -0.5,
            "metrics.loss": -0.5,
            "metrics.eval.acc:max": 0,
        },
        {"params.lr": 0.1, "metrics.loss:min": 0.5, "metrics.loss": 0.5, "metrics.eval.acc:max": 1},
    ]
    assert store.calls == Counter(
        {"read_params_many": 1, "list_streams_many": 1, "field_aggregates_many": 1}
    )
