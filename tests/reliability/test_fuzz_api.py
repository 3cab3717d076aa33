"""Schemathesis over the REST API's own OpenAPI spec, on a LocalStore and on a ServerStore.

Every operation in ``/api/v1/openapi.json`` gets requests generated from its schema (paths,
queries, bodies), half of them aimed at real records of a seeded run (its id, stream, topic,
project, artifact and model) so the fuzzing reaches past the 404s. The property: no answer is
a 5xx, and every refusal is a 4xx with exactly ``{"error": {"code", "message"}}`` whose code
maps to that status (:mod:`runlane.server.wire`).

The ingest body is only ``{"type": "object"}`` in the spec, so a second, hand-written
property-based client sends structured batches with hostile contents (NUL, lone surrogates,
huge numbers, wrong types, path tricks): each is applied (200) or refused (4xx), and after an
accepted one every read endpoint of the run still answers 200.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support_fuzz import FUZZ, big_ints, clean_names, floats, texts

import runlane
from runlane.server.app import create_app
from runlane.server.wire import CODES
from runlane.store.base import Store
from runlane.store.local import LocalStore

API = "/api/v1"
#: Examples per operation: the spec has ~50 operations, and the whole reliability suite must
#: stay within a few minutes on a 2-core machine.
LOCAL_EXAMPLES = 25
POSTGRES_EXAMPLES = 15
NO_CAPTURE: dict[str, Any] = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}


@schemathesis.serializer("application/offset+octet-stream")
def _upload_chunk(context: Any, value: Any) -> bytes:
    """Upload chunks (tus ``PATCH``) travel as raw bytes; schemathesis only needs telling."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


# --- stores with one seeded run -------------------------------------------------------------
def seed(store: Store, tmp: Path) -> dict[str, str]:
    """A run with a record of every kind, an output file, a versioned artifact and a model;
    returns the real values path parameters may take."""
    weights = tmp / "weights.bin"
    weights.write_bytes(b"\x01" * 128)
    run = runlane.init("alice/vision", name="seeded", store=store, **NO_CAPTURE)
    run.params.set(lr=0.01, model={"depth": 4}, blob=b"\x00\xff")
    run.update_metadata("notes", {"text": "hello", "nan": float("nan")})
    for step in range(20):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 20, "tag": "x"}, step=step)
    run.metrics("eval").log(score=0.5)
    run.log_message("started", "info", {"epoch": 1})
    run.log_message("oops", "error")
    run.log_event("checkpoint", source="rank0", metadata={"epoch": 1})
    run.tracks("robot/arm").append(x=1.0, y=2.0)
    run.log_data_ref("train", b"some bytes")
    run.log_artifact(weights, rel_path="ckpt")
    run.log_model(weights, name="clf")
    run.flush()
    return {
        "run_id": run.id,
        "stream": "default",
        "topic": "robot/arm",
        "owner": "alice",
        "project": "vision",
        "name": "clf",
        "version": "1",
        "rel_path": "outputs/ckpt/weights.bin",
        "path": "weights.bin",
        "alias": "latest",
        "upload_id": "nope",
    }


@pytest.fixture
def local_app(root: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    store = LocalStore(root)
    real = seed(store, tmp_path)
    yield create_app(store, ui=False), real
    runlane.finish()
    store.close()


@pytest.fixture
def postgres_app(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    from runlane.store.server import ServerStore
    from support.services import drop_database, fresh_database, services

    services()
    dsn = fresh_database("fuzz")
    store = ServerStore(dsn, files_root=tmp_path / "files", chunk_rows=8)
    try:
        real = seed(store, tmp_path)
        yield create_app(store, ui=False), real
    finally:
        runlane.finish()
        store.close()
        drop_database(dsn)


# --- the property ---------------------------------------------------------------------------
def check_answer(method: str, status: int, body: bytes, where: str) -> None:
    """No 5xx; a refusal is a 4xx with the one error shape and a code of that status."""
    assert status < 500, f"{where} answered {status}: {body[:400]!r}"
    if status < 400 or method == "HEAD":
        return
    doc = json.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, (where, doc)
    code = doc["error"]["code"]
    assert code in CODES and CODES[code].http == status, (where, status, code)
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"], (where, doc)


def operation_check(
    operation: Any, real: dict[str, str], examples: int, seen: dict[str, int]
) -> Any:
    """The hypothesis test of one operation: each generated request, with a random subset of
    its path parameters replaced by the seeded run's real values (never for DELETE, which
    would remove what the other operations aim at)."""
    names = [p.name for p in operation.path_parameters]
    aim = operation.method.upper() != "DELETE"

    @settings(FUZZ, max_examples=examples)
    @given(case=operation.as_strategy(), pick=st.lists(st.booleans(), min_size=8))
    def check(case: Any, pick: list[bool]) -> None:
        for name, use in zip(names, pick, strict=False):
            if aim and use and name in real:
                case.path_parameters[name] = real[name]
        if isinstance(case.query, dict) and "wait" in case.query:
            case.query["wait"] = 0  # follow mode would hold the request open
        response = case.call()
        label = f"{case.method} {case.formatted_path} {case.query!r}"
        check_answer(case.method.upper(), response.status_code, response.content, label)
        key = f"{response.status_code // 100}xx"
        seen[key] = seen.get(key, 0) + 1

    return check


def fuzz_spec(app: Any, real: dict[str, str], examples: int) -> dict[str, int]:
    """Run every operation of the spec; return how many requests got each status class.
    Failures of all operations are gathered and reported together."""
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, [op.label for op in operations]
    seen: dict[str, int] = {}
    failures: list[str] = []
    for operation in operations:
        try:
            operation_check(operation, real, examples, seen)()
        except AssertionError as exc:
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n".join(failures)
    return seen


def test_openapi_fuzz_on_the_local_store(local_app: tuple[Any, dict[str, str]]) -> None:
    app, real = local_app
    seen = fuzz_spec(app, real, LOCAL_EXAMPLES)
    print("local", seen)
    assert seen.get("2xx", 0) > 50 and seen.get("4xx", 0) > 50, seen


def test_openapi_fuzz_on_the_postgres_store(postgres_app: tuple[Any, dict[str, str]]) -> None:
    app, real = postgres_app
    seen = fuzz_spec(app, real, POSTGRES_EXAMPLES)
    print("postgres", seen)
    assert seen.get("2xx", 0) > 30 and seen.get("4xx", 0) > 30, seen


# --- structured batches with hostile contents -----------------------------------------------
# Mostly well-formed parts with hostile ones mixed in, one record kind per batch: a batch
# is refused as a whole, so a batch of many hostile parts would test only the first check.
keys = st.one_of(clean_names, clean_names, texts)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), big_ints, floats.filter(lambda f: f == f), texts
)
json_docs = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)
times = st.one_of(
    st.floats(0, 2e9), st.floats(0, 2e9), floats.filter(lambda f: f == f), big_ints, texts
)
fields = st.dictionaries(keys, json_docs, max_size=3)


def _one(kind: str, item: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {kind: st.lists(item, min_size=1, max_size=2)},
        optional={"batch_id": st.one_of(st.none(), texts)},
    )


batches = st.one_of(
    _one("params", st.fixed_dictionaries({"data": fields}, optional={"at": times})),
    _one("metadata", st.fixed_dictionaries({"key": keys, "value": fields, "at": times})),
    st.fixed_dictionaries(
        {
            "rows": st.dictionaries(
                st.one_of(st.just("default"), keys),
                st.lists(st.dictionaries(keys, json_scalars, max_size=3), max_size=3),
                min_size=1,
                max_size=2,
            )
        }
    ),
    _one(
        "logs",
        st.fixed_dictionaries(
            {"level": st.one_of(st.just("info"), texts), "message": texts, "timestamp": times},
            optional={"metadata": fields, "source": json_scalars, "seq": json_scalars},
        ),
    ),
    _one(
        "events",
        st.fixed_dictionaries(
            {"name": keys, "wallclock": times},
            optional={"source": json_scalars, "metadata": fields},
        ),
    ),
    _one(
        "tracks",
        st.fixed_dictionaries(
            {"topic": st.one_of(st.just("robot/arm"), keys), "timestamp": times, "fields": fields}
        ),
    ),
    _one(
        "lineage",
        st.fixed_dictionaries(
            {"name": keys}, optional={"kind": keys, "uri": texts, "summary": fields, "at": times}
        ),
    ),
    _one(
        "patches",
        st.fixed_dictionaries(
            {},
            optional={
                "name": keys,
                "description": json_scalars,
                "tags": st.one_of(st.lists(keys, max_size=3), json_scalars),
                "status": st.one_of(st.sampled_from(["running", "failed", "done"]), texts),
                "extra": fields,
                "at": times,
            },
        ),
    ),
)
READS = (
    "",
    "/params",
    "/metadata",
    "/logs",
    "/events",
    "/tracks",
    "/lineage",
    "/streams",
    "/streams/default/rows",
    "/streams/default/columns",
    "/streams/default/series",
    "/streams/default/stats",
)


def fuzz_batches(app: Any, run_id: str, examples: int) -> int:
    client = TestClient(app, raise_server_exceptions=False)
    applied = 0

    @settings(FUZZ, max_examples=examples)
    @given(batch=batches)
    def check(batch: dict[str, Any]) -> None:
        nonlocal applied
        body = json.dumps(batch).encode()  # lone surrogates travel as \\ud800 escapes
        answer = client.post(
            f"{API}/runs/{run_id}/batches",
            content=body,
            headers={"content-type": "application/json"},
        )
        check_answer("POST", answer.status_code, answer.content, f"batch {body[:300]!r}")
        if answer.status_code != 200:
            return
        applied += 1
        streams = [s["name"] for s in client.get(f"{API}/runs/{run_id}/streams").json()["streams"]]
        topics = client.get(f"{API}/runs/{run_id}/tracks").json()["topics"]
        paths = [
            *READS,
            *(f"/streams/{s}/{kind}" for s in streams for kind in ("rows", "series", "stats")),
            *(f"/tracks/{t}" for t in topics),
        ]
        for path in paths:
            read = client.get(f"{API}/runs/{run_id}{path}")
            assert read.status_code == 200, (path, read.status_code, read.text[:300], body[:300])

    check()
    return applied


def test_batch_fuzz_on_the_local_store(local_app: tuple[Any, dict[str, str]]) -> None:
    app, real = local_app
    assert fuzz_batches(app, real["run_id"], 150) > 10


def test_batch_fuzz_on_the_postgres_store(postgres_app: tuple[Any, dict[str, str]]) -> None:
    app, real = postgres_app
    assert fuzz_batches(app, real["run_id"], 100) > 10
