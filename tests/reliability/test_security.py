"""Security: path traversal, SQL injection, token isolation, hashed tokens, body limits, and
no credentials in logs, errors or captured git remotes.

Already covered elsewhere, and cited rather than repeated:

* tests/server/test_auth.py — ``test_roles_and_project_isolation`` (REST: a token of project A
  cannot create, read, write, list or search B; read < write < admin),
  ``test_grpc_requires_the_token_in_metadata`` (gRPC: no token → UNAUTHENTICATED; a token may
  not create in another project), ``test_cli_creates_tokens_stored_hashed`` and
  ``test_local_folder_tokens_are_a_file`` (only sha256 digests are kept),
  ``test_server_refuses_an_open_bind_without_auth``.
* tests/server/test_rest_api.py — ``test_oversized_bodies_are_refused_with_413`` (in-process
  app, Content-Length and streamed bodies).
* tests/unit/test_capture.py — ``strip_credentials`` on URL forms.

Added here: traversal through every name the SDK and the API take (run, folder, stream,
topic, metadata key, artifact name, rel_path, file routes, run references, symlinks out of the
run folder); the filter language compiled to bound parameters and run against SQLite and
PostgreSQL with injection payloads; isolation checked on *every* route of the OpenAPI spec
that names a run or a project, and on gRPC reads; token secrets absent from every file and
table; 413 from a real ``runlane server`` process; secrets absent from server logs, error
bodies, captured git remotes and PostgreSQL errors and banners.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import support_fuzz  # noqa: F401  (puts tests/ on sys.path for support.*)

import runlane
from runlane.artifacts.errors import UnsafePathError
from runlane.errors import InvalidNameError, QuerySyntaxError, StoreError
from runlane.query import compile_sql, evaluate, parse
from runlane.server.app import create_app
from runlane.server.auth import tokens_for
from runlane.store.local import LocalStore
from support.servers import ServerProcess, free_port

API = "/api/v1"
NO_CAPTURE: dict[str, Any] = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}
TRAVERSALS = [
    "..",
    "../x",
    "../../../../etc/passwd",
    "a/../../b",
    "/etc/passwd",
    "..\\..\\x",
    "C:\\Windows\\x",
    "x\x00y",
    "%2e%2e%2fx",
]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    from support.services import drop_database, fresh_database, services

    services()
    dsn = fresh_database("sec")
    try:
        yield dsn
    finally:
        drop_database(dsn)


# --- path traversal, local SDK ---------------------------------------------------------------
def test_sdk_names_cannot_leave_the_data_root(tmp_path: Path) -> None:
    root = tmp_path / "root"

    def outside() -> set[Path]:
        return {p for p in files_under(tmp_path) if not p.is_relative_to(root)}

    outside_before = outside()
    for bad in TRAVERSALS:
        with pytest.raises(InvalidNameError):
            runlane.init("sec/proj", name=bad, dir=root, **NO_CAPTURE)
        with pytest.raises(InvalidNameError):
            runlane.init(f"sec/{bad}", dir=root, **NO_CAPTURE)
        with pytest.raises(InvalidNameError):
            runlane.init("sec/proj", folder=bad, dir=root, **NO_CAPTURE)
    run = runlane.init("sec/proj", name="ok", dir=root, **NO_CAPTURE)
    for bad in TRAVERSALS:
        with pytest.raises(InvalidNameError):
            run.metrics(bad)
        with pytest.raises(InvalidNameError):
            run.tracks(bad)
        with pytest.raises(InvalidNameError):
            run.update_metadata(bad, {"a": 1})
        with pytest.raises(InvalidNameError):
            run.set_name(bad)
    run.finish()
    assert outside() == outside_before


def test_artifact_names_rel_paths_and_symlinks_stay_in_the_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    run = runlane.init("sec/proj", name="art", dir=root, **NO_CAPTURE)
    run_dir = Path(run.path or "")
    for bad in TRAVERSALS:
        with pytest.raises(InvalidNameError):  # UnsafePathError is an InvalidNameError
            run.log_artifact(source, name=bad)
        if bad.strip("./\\") or bad == "..":
            with pytest.raises(InvalidNameError):
                run.log_artifact(source, rel_path=bad)
        with pytest.raises(InvalidNameError):
            run.get_outputs_path(bad)
    # a symlink inside the run folder that points out of it is refused, not followed
    (run_dir / "outputs").mkdir(exist_ok=True)
    (run_dir / "outputs" / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symlink"):
        run.log_artifact(source, rel_path="escape")
    with pytest.raises(UnsafePathError, match="symlink"):
        run.get_outputs_path("escape/x")
    assert list(outside.iterdir()) == []
    record = run.log_artifact(source, rel_path="fine/dir")
    assert record is not None
    assert (run_dir / "outputs" / "fine" / "dir" / "model.bin").read_bytes() == b"weights"
    run.finish()


# --- path traversal, through the API ---------------------------------------------------------
@pytest.fixture
def served(root: Path, tmp_path: Path) -> Iterator[tuple[str, Any, Path]]:
    """A LocalStore served by uvicorn on loopback, with one run (a stream, a track, an output
    file) and a secret file beside the data root. Requests go out through ``http.client``,
    which sends paths byte for byte (httpx would normalize ``..`` and ``%2e%2e`` away)."""
    from support.servers import serve_app

    store = LocalStore(root)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights")
    run = runlane.init("alice/vision", name="target", store=store, **NO_CAPTURE)
    run.log({"loss": 1.0})
    run.tracks("robot/arm").append(x=1.0)
    run.log_artifact(source, rel_path="ckpt")
    run.finish()
    with serve_app(create_app(store, ui=False)) as url:
        yield url, run, secret
    store.close()


def raw(url: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """One request with ``path`` sent exactly as given."""
    import http.client
    import json

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"content-type": "application/json"}
        conn.request(method, path, body=data, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def refused_without_leak(answer: tuple[int, bytes], secret: bytes = b"TOP-SECRET") -> None:
    import json

    status, body = answer
    assert 400 <= status < 500, (status, body[:300])
    assert secret not in body
    assert set(json.loads(body)) == {"error"}


def test_api_refuses_traversal_in_every_path_name(
    served: tuple[str, Any, Path], tmp_path: Path
) -> None:
    url, run, secret = served
    run_dir = Path(run.path)
    # a planted file one level above the tracks folder: topic ".." must not read it
    (run_dir / "data.jsonl").write_text('{"timestamp": 1.0, "leak": "TOP-SECRET"}\n')
    rel_secret = os.path.relpath(secret, run_dir)
    paths = [
        "..%2F..%2Fsecret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "../../secret.txt",
        "..%5c..%5csecret.txt",
        "%2Fetc%2Fpasswd",
        "x%00y",
        rel_secret.replace("/", "%2F"),
        rel_secret,
    ]
    for name in ["../x", "..", "/abs", "a\x00b", "x/y"]:
        body = {"owner": "alice", "project": "vision", "name": name}
        refused_without_leak(raw(url, "POST", f"{API}/runs", body))
        refused_without_leak(raw(url, "POST", f"{API}/runs", {"owner": name, "project": "p"}))
    base = f"{API}/runs/{run.id}"
    for path in paths:
        for route in (
            f"{base}/streams/{path}/rows",
            f"{base}/streams/{path}/series",
            f"{base}/tracks/{path}",
            f"{base}/files/{path}",
            f"{base}/files/outputs/{path}",
            f"{API}/projects/alice/vision/artifacts/x/versions/1/files/{path}",
            f"{API}/projects/alice/vision/models/x/versions/1/files/{path}",
            f"{API}/projects/alice/{path}/models",
            f"{API}/runs/{path}",
        ):
            refused_without_leak(raw(url, "GET", route))
    for topic in ["..", "../..", "x/../..", "%2e%2e"]:
        refused_without_leak(raw(url, "GET", f"{base}/tracks/{topic}"))
    batch = {"tracks": [{"topic": "../../x", "timestamp": 1.0, "fields": {}}]}
    refused_without_leak(raw(url, "POST", f"{base}/batches", batch))
    batch = {"rows": {"../x": [{"a": 1}]}}
    refused_without_leak(raw(url, "POST", f"{base}/batches", batch))
    batch = {"metadata": [{"key": "../m", "value": {}, "at": 1}]}
    refused_without_leak(raw(url, "POST", f"{base}/batches", batch))
    # a symlink out of the run folder is not followed by the file route
    (run_dir / "outputs" / "link").symlink_to(secret)
    refused_without_leak(raw(url, "GET", f"{base}/files/outputs/link"))
    # the real file is served, so the refusals above are about the paths, not the route
    assert raw(url, "GET", f"{base}/files/outputs/ckpt/weights.bin") == (200, b"weights")
    assert raw(url, "GET", f"{base}/tracks/robot/arm")[0] == 200
    assert not (tmp_path / "x").exists() and not (tmp_path / "m").exists()


def test_run_references_outside_the_served_root_are_not_found(
    served: tuple[str, Any, Path], tmp_path: Path
) -> None:
    """``/runs/resolve?ref=<folder>`` reads only run folders under the store's root: a
    server must not open an ``experiment.json`` anywhere on its disk."""
    from urllib.parse import quote

    url, run, _ = served
    other = runlane.init("eve/stolen", name="theirs", dir=tmp_path / "other-root", **NO_CAPTURE)
    other.log({"x": 1.0})
    other.finish()
    answer = raw(url, "GET", f"{API}/runs/resolve?ref={quote(str(other.path), safe='')}")
    refused_without_leak(answer)
    assert answer[0] == 404
    assert raw(url, "GET", f"{API}/runs/{other.id}")[0] == 404
    status, body = raw(url, "GET", f"{API}/runs/resolve?ref={quote(str(run.path), safe='')}")
    assert status == 200 and run.id.encode() in body


# --- SQL injection through the filter language -----------------------------------------------
INJECTIONS = [
    'name = "x\' OR 1=1 --"',
    "name = 'x'' OR ''1''=''1'",
    "name = 'a\"; DROP TABLE runs; --'",
    "description like '%'' OR 1=1 --'",
    "params.`lr') OR 1=1 --` = 1",
    "params.`a\"b` = 'x'' OR 1=1'",
    "tags contains 'x'') OR 1=1 --'",
    "name in ('x', 'y''); DROP TABLE runs; --')",
    "meta.`$.a` = 1",
]
UNPARSEABLE = [
    "params.lr > 0; DROP TABLE runs",
    "name = 'x' OR 1=1 --",
    "1=1",
    "name = x' OR '1'='1",
    "params.lr > 0 UNION SELECT * FROM runs",
]


#: Pieces of the payloads that must never reach the SQL text (column names, operators and
#: the dialects' fixed fragments never contain them).
MARKERS = ("OR 1=1", "DROP", "--", "lr')", 'a"b', "$.a", "UNION", "1'")


def test_filters_compile_to_bound_parameters() -> None:
    for text in INJECTIONS:
        expr = parse(text)
        for dialect in ("sqlite", "postgres"):
            sql, params = compile_sql(expr, dialect)  # type: ignore[arg-type]
            placeholders = sql.count("?" if dialect == "sqlite" else "%s")
            assert placeholders == len(params) > 0, (dialect, text, sql, params)
            for marker in MARKERS:
                assert marker not in sql, (dialect, text, marker, sql)
            bound = " ".join(str(p) for p in params)
            assert any(m in bound for m in MARKERS if m in text), (dialect, text, params)
    for text in UNPARSEABLE:
        with pytest.raises(QuerySyntaxError):
            parse(text)


def _injection_runs(store: Any) -> dict[str, str]:
    made: dict[str, str] = {}
    for name, description, tags, lr in [
        ("x", "plain", ["a"], 0.1),
        ("y", "%' OR 1=1 --", ["x') OR 1=1 --"], 0.2),
        ("z", "other", [], 0.3),
    ]:
        run = runlane.init("inj/proj", name=name, store=store, tags=tags, **NO_CAPTURE)
        run.set_description(description)
        run.params.set({"lr": lr, "lr') OR 1=1 --": 5, 'a"b': "x' OR 1=1"})
        run.finish()
        made[name] = run.id
    return made


def _check_injections(store: Any, made: dict[str, str]) -> None:
    records = {
        info.id: info for info in store.list_runs(project="inj/proj")
    }  # the whole project, unfiltered
    assert set(records) == set(made.values())
    for text in INJECTIONS:
        found = {i.id for i in store.list_runs(project="inj/proj", where=text)}
        expected = {
            run_id
            for run_id in made.values()
            if evaluate(parse(text), _record(store, run_id))  # the reference evaluator
        }
        assert found == expected, (text, found, expected)
    for text in UNPARSEABLE:
        with pytest.raises(QuerySyntaxError):
            store.list_runs(project="inj/proj", where=text)
    # the table survived every payload, with every run in it
    assert {i.id for i in store.list_runs(project="inj/proj")} == set(made.values())
    # and a payload aimed at one run finds exactly that run
    hits = store.list_runs(project="inj/proj", where='description = "%\' OR 1=1 --"')
    assert [i.id for i in hits] == [made["y"]]
    hits = store.list_runs(project="inj/proj", where="params.`lr') OR 1=1 --` = 5")
    assert {i.id for i in hits} == set(made.values())
    hits = store.list_runs(project="inj/proj", where='tags contains "x\') OR 1=1 --"')
    assert [i.id for i in hits] == [made["y"]]


def _record(store: Any, run_id: str) -> dict[str, Any]:
    from runlane.store.documents import run_record

    info = store.get_run(run_id)
    return run_record(info, store.read_params(run_id).data, {})


def test_sql_injection_on_sqlite(root: Path) -> None:
    store = LocalStore(root)
    made = _injection_runs(store)
    _check_injections(store, made)
    with sqlite3.connect(root / ".runlane" / "catalog.sqlite") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "runs" in tables
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    store.close()


def test_sql_injection_on_postgres(pg_dsn: str, tmp_path: Path) -> None:
    from runlane.store.server import ServerStore

    store = ServerStore(pg_dsn, files_root=tmp_path / "files")
    try:
        made = _injection_runs(store)
        _check_injections(store, made)
        with store.connection() as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
            assert conn.execute("SELECT to_regclass('public.runs')").fetchone()[0] == "runs"
    finally:
        store.close()


# --- token isolation on every route ------------------------------------------------------------
def test_every_route_isolates_projects(pg_dsn: str, tmp_path: Path) -> None:
    """A write token of alice/vision gets 403 (never data) from every operation of the spec
    that names bob's run or bob's project, and the read routes answer alice's own run."""
    import schemathesis

    from runlane.store.server import ServerStore

    store = ServerStore(pg_dsn, files_root=tmp_path / "files")
    try:
        tokens = tokens_for(store)
        alice, _ = tokens.create("alice/vision", "write")
        bob_admin, _ = tokens.create("bob/audio", "admin")
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"bob's weights")
        theirs = runlane.init("bob/audio", name="theirs", store=store, **NO_CAPTURE)
        theirs.log({"loss": 0.5})
        theirs.log_message("bob's log")
        theirs.log_artifact(weights)
        theirs.log_model(weights, name="clf")
        theirs.finish()
        mine = runlane.init("alice/vision", name="mine", store=store, **NO_CAPTURE)
        mine.log({"loss": 0.1})
        mine.finish()
        app = create_app(store, auth=tokens, ui=False)
        client = TestClient(app, raise_server_exceptions=False)
        schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
        checked = 0
        values = {
            "run_id": theirs.id,
            "owner": "bob",
            "project": "audio",
            "name": "clf",
            "version": "1",
            "stream": "default",
            "topic": "t",
            "rel_path": "outputs/w.bin",
            "path": "w.bin",
            "alias": "latest",
        }
        for result in schema.get_all_operations():
            operation = result.ok()
            names = {p.name for p in operation.path_parameters}
            if not names & {"run_id", "owner"}:
                continue
            path = operation.path
            for name in names:
                path = path.replace("{" + name + "}", values.get(name, "x"))
            method = operation.method.upper()
            kwargs: dict[str, Any] = {"headers": {"authorization": f"Bearer {alice}"}}
            if method in ("POST", "PATCH", "PUT"):
                kwargs["json"] = {}
            answer = client.request(method, path, **kwargs)
            if method in ("GET", "HEAD"):  # a read names a record of bob: 403, nothing else
                assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
                if method == "GET":
                    assert answer.json()["error"]["code"] == "permission_denied"
            else:  # a write with an empty body may be refused for its body first
                assert answer.status_code in (400, 403, 422), (method, path, answer.text)
            assert "bob's" not in answer.text
            checked += 1
        assert checked >= 20
        # the same token reads its own run; bob's admin token reads bob's run
        own = client.get(f"{API}/runs/{mine.id}", headers={"authorization": f"Bearer {alice}"})
        assert own.status_code == 200
        bob = client.get(
            f"{API}/runs/{theirs.id}/logs", headers={"authorization": f"Bearer {bob_admin}"}
        )
        assert bob.status_code == 200 and "bob's log" in bob.text
        listed = client.get(f"{API}/runs", headers={"authorization": f"Bearer {alice}"}).json()
        assert [r["id"] for r in listed["runs"]] == [mine.id]
    finally:
        runlane.finish()
        store.close()


def test_grpc_reads_are_isolated_too(pg_dsn: str) -> None:
    from runlane.compat.modelbox.remote import GrpcBackend
    from runlane.server.context import ServerContext
    from runlane.server.grpc.server import start_grpc
    from runlane.server.wire import WireError
    from runlane.store.server import ServerStore

    store = ServerStore(pg_dsn)
    tokens = tokens_for(store)
    alice, _ = tokens.create("alice/vision", "write")
    bob, _ = tokens.create("bob/audio", "write")
    server, port = start_grpc(ServerContext(store=store, tokens=tokens), "127.0.0.1", 0)
    try:
        as_bob = GrpcBackend(f"127.0.0.1:{port}", token=bob)
        record = as_bob.create_experiment("e", "bob", "audio", "", "pytorch")
        as_bob.log_metrics(record.id, {"loss": 0.5}, 1, 1_700_000_000)
        as_bob.update_metadata(record.id, "secret", {"k": "bob-only"})
        as_alice = GrpcBackend(f"127.0.0.1:{port}", token=alice)
        for call in (
            lambda: as_alice.get_metrics(record.id),
            lambda: as_alice.get_experiment(record.id),
            lambda: as_alice.list_metadata(record.id),
            lambda: as_alice.list_events(record.id),
            lambda: as_alice.log_metrics(record.id, {"loss": 9.9}, 2, 1_700_000_001),
        ):
            with pytest.raises(WireError) as refused:
                call()
            assert refused.value.code == "permission_denied", refused.value
        try:
            listed = as_alice.list_experiments("audio")
        except WireError as exc:
            assert exc.code == "permission_denied", exc
        else:
            assert record.id not in {e.id for e in listed}
        assert [m.value for m in as_bob.get_metrics(record.id)["loss"]] == [0.5]
        as_alice.close()
        as_bob.close()
    finally:
        server.stop(0)
        store.close()


# --- tokens stored hashed, everywhere they are stored ---------------------------------------
def test_token_secrets_appear_in_no_table_and_no_file(pg_dsn: str, root: Path) -> None:
    from runlane.store.server import ServerStore

    store = ServerStore(pg_dsn)
    try:
        text, _ = tokens_for(store).create("*", "admin", "ci")
        secret = text.split("_", 2)[2]
        with store.connection() as conn:
            dump = conn.execute("SELECT row_to_json(t)::text FROM api_tokens t").fetchall()
        assert dump and all(secret not in row[0] and text not in row[0] for row in dump)
    finally:
        store.close()
    local = LocalStore(root)
    text, _ = tokens_for(local).create("p", "write")
    secret = text.split("_", 2)[2]
    for path in root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    local.close()


# --- real server process: body limit, logs without tokens, banner without passwords ----------
@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[tuple[ServerProcess, str, Path]]:
    """A ``runlane server`` over a local folder with auth on (one token) and a 64 KiB body
    limit; yields the process, a valid token and the log file."""
    root = tmp_path / "served"
    store = LocalStore(root)
    token, _ = tokens_for(store).create("*", "admin")
    store.close()
    log = tmp_path / "server.log"
    proc = ServerProcess(
        ["--store", str(root), "--max-body", "65536"],
        free_port(),
        {**os.environ, "RUNLANE_CAPTURE": "none"},
        log,
    )
    proc.start()
    try:
        yield proc, token, log
    finally:
        proc.stop()


def test_server_process_refuses_big_bodies_and_logs_no_token(
    server_log: tuple[ServerProcess, str, Path],
) -> None:
    proc, token, log = server_log
    good = {"authorization": f"Bearer {token}"}
    forged = "rl_" + token.split("_")[1] + "_NOT-THE-SECRET-0123456789abcdef"
    made = httpx.post(f"{proc.url}{API}/runs", json={"owner": "o", "project": "p"}, headers=good)
    assert made.status_code == 200, made.text
    run_id = made.json()["run"]["id"]
    big = b'{"rows": {"s": [' + b'{"x": 1.0},' * 20_000 + b'{"x": 1.0}]}}'
    answer = httpx.post(
        f"{proc.url}{API}/runs/{run_id}/batches",
        content=big,
        headers={**good, "content-type": "application/json"},
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        yield big[: len(big) // 2]
        yield big[len(big) // 2 :]

    streamed = httpx.post(
        f"{proc.url}{API}/runs/{run_id}/batches",
        content=chunks(),
        headers={**good, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    for header in (f"Bearer {forged}", f"Bearer {token}x", "Basic " + token, token):
        refused = httpx.get(f"{proc.url}{API}/runs", headers={"authorization": header})
        assert refused.status_code == 401
        assert token not in refused.text and forged not in refused.text
    assert httpx.get(f"{proc.url}{API}/runs", headers=good).status_code == 200
    proc.stop()
    text = log.read_text(errors="replace")
    secret = token.split("_", 2)[2]
    assert secret not in text and "NOT-THE-SECRET" not in text


def test_postgres_passwords_are_redacted(pg_dsn: str, tmp_path: Path) -> None:
    from runlane.store.server import ServerStore

    host_part = pg_dsn.split("@", 1)[1]
    user = pg_dsn.split("://", 1)[1].split("@", 1)[0].split(":")[0]
    with_password = f"postgresql://{user}:hunter2-SECRET@{host_part}"
    unreachable = f"postgresql://{user}:hunter2-SECRET@127.0.0.1:{free_port()}/nope"
    with pytest.raises(StoreError) as failed:
        ServerStore(unreachable)
    assert "hunter2" not in str(failed.value) and "***" in str(failed.value)
    # the server's banner and its failure output never print the password
    log = tmp_path / "pg-server.log"
    proc = ServerProcess(
        ["--store", with_password, "--files", str(tmp_path / "files")],
        free_port(),
        {**os.environ, "RUNLANE_CAPTURE": "none"},
        log,
    )
    proc.start()
    made = httpx.post(f"{proc.url}{API}/runs", json={"owner": "o", "project": "p"})
    assert made.status_code == 200 and "hunter2" not in made.text
    missing = httpx.get(f"{proc.url}{API}/runs/nope-nope")
    assert missing.status_code == 404 and "hunter2" not in missing.text
    proc.stop()
    assert "hunter2" not in log.read_text()
    failing = subprocess.run(
        [sys.executable, "-m", "runlane.cli.main", "server", "--store", unreachable],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RUNLANE_CAPTURE": "none"},
    )
    assert failing.returncode != 0
    assert "hunter2" not in failing.stdout + failing.stderr
    assert re.search(r"\*\*\*|postgres", failing.stdout + failing.stderr)


# --- credentials in captured git remotes ------------------------------------------------------
def test_captured_git_remote_holds_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    subprocess.run(
        [*git, "remote", "add", "origin", "https://user:s3cr3t-TOKEN@host.example/x.git"],
        cwd=repo,
        check=True,
    )
    (repo / "train.py").write_text("print('changed')\n")  # a diff is captured too
    monkeypatch.chdir(repo)
    root = tmp_path / "root"
    run = runlane.init(
        "sec/git",
        name="g",
        dir=root,
        capture_git=True,
        capture_env=True,
        capture_stdio=False,
        system_metrics=False,
    )
    run.finish()
    git_info = runlane.open(run.id, dir=root).info.extra["git"]
    remotes = str(git_info)
    assert "host.example/x.git" in remotes and "s3cr3t" not in remotes and "user:" not in remotes
    for path in root.rglob("*"):
        if path.is_file():
            assert b"s3cr3t-TOKEN" not in path.read_bytes(), path
