"""API tokens: created by the CLI and stored hashed; bearer auth over HTTP and gRPC metadata;
roles and project isolation; the server refuses an open bind without auth."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from starlette.testclient import TestClient

import runlane
from runlane.errors import InvalidArgumentError
from runlane.server.app import create_app
from runlane.server.auth import Tokens, tokens_for
from runlane.server.context import ServerContext
from runlane.server.grpc.server import start_grpc
from runlane.server.serve import ServeOptions, build
from runlane.server.wire import WireError
from runlane.store.server import ServerStore
from support.servers import NO_CAPTURE, serve_app

API = "/api/v1"


@pytest.fixture
def tokens(pg_store: ServerStore) -> Tokens:
    return tokens_for(pg_store)


@pytest.fixture
def client(pg_store: ServerStore, tokens: Tokens) -> Iterator[TestClient]:
    yield TestClient(create_app(pg_store, auth=tokens))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def new_run(client: TestClient, token: str, owner: str, project: str) -> Any:
    return client.post(
        f"{API}/runs", json={"owner": owner, "project": project}, headers=bearer(token)
    )


def test_cli_creates_tokens_stored_hashed(dsn: str, root: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runlane.cli.main",
            "token",
            "create",
            "--store",
            dsn,
            "--project",
            "alice/vision",
            "--role",
            "write",
            "--name",
            "ci",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    secret = made["token"].split("_", 2)[2]
    store = ServerStore(dsn)
    try:
        with store.connection() as conn:
            rows = conn.execute("SELECT id, hash, project, role FROM api_tokens").fetchall()
        assert [(r[0], r[2], r[3]) for r in rows] == [(made["id"], "alice/vision", "write")]
        assert secret not in rows[0][1] and len(rows[0][1]) == 64
        grant = tokens_for(store).verify(made["token"])
        assert grant is not None and (grant.project, grant.role) == ("alice/vision", "write")
        assert tokens_for(store).verify(made["token"][:-1] + "x") is None
    finally:
        store.close()
    listed = subprocess.run(
        [sys.executable, "-m", "runlane.cli.main", "token", "list", "--store", dsn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made["id"] in listed.stdout and secret not in listed.stdout


def test_missing_bad_and_revoked_tokens_are_401(client: TestClient, tokens: Tokens) -> None:
    token, info = tokens.create("alice/vision", "read")
    assert code(client.get(f"{API}/runs")) == (401, "unauthenticated")
    assert code(client.get(f"{API}/runs", headers=bearer("rl_nope_nope"))) == (
        401,
        "unauthenticated",
    )
    assert code(client.get(f"{API}/runs", headers={"authorization": "Basic abc"})) == (
        401,
        "unauthenticated",
    )
    assert client.get(f"{API}/runs", headers=bearer(token)).status_code == 200
    tokens.revoke(info.id)
    assert code(client.get(f"{API}/runs", headers=bearer(token))) == (401, "unauthenticated")


def test_roles_and_project_isolation(client: TestClient, tokens: Tokens) -> None:
    alice_write, _ = tokens.create("alice/vision", "write")
    alice_read, _ = tokens.create("alice/vision", "read")
    bob_write, _ = tokens.create("bob/audio", "write")
    admin, _ = tokens.create("*", "admin")
    mine = new_run(client, alice_write, "alice", "vision").json()["run"]["id"]
    theirs = new_run(client, bob_write, "bob", "audio").json()["run"]["id"]
    # a token for project A can neither read nor write project B
    assert code(new_run(client, alice_write, "bob", "audio")) == (403, "permission_denied")
    assert code(client.get(f"{API}/runs/{theirs}", headers=bearer(alice_write))) == (
        403,
        "permission_denied",
    )
    batch = {"rows": {"s": [{"x": 1}]}}
    assert code(
        client.post(f"{API}/runs/{theirs}/batches", json=batch, headers=bearer(alice_write))
    ) == (403, "permission_denied")
    assert code(
        client.get(f"{API}/runs", params={"project": "bob/audio"}, headers=bearer(alice_write))
    ) == (403, "permission_denied")
    listed = client.get(f"{API}/runs", headers=bearer(alice_write)).json()["runs"]
    assert [r["id"] for r in listed] == [mine]
    projects = client.get(f"{API}/projects", headers=bearer(alice_read)).json()["projects"]
    assert [(p["owner"], p["project"]) for p in projects] == [("alice", "vision")]
    # read may read, not write
    assert client.get(f"{API}/runs/{mine}", headers=bearer(alice_read)).status_code == 200
    assert code(
        client.post(f"{API}/runs/{mine}/batches", json=batch, headers=bearer(alice_read))
    ) == (403, "permission_denied")
    assert (
        client.post(
            f"{API}/runs/{mine}/batches", json=batch, headers=bearer(alice_write)
        ).status_code
        == 200
    )
    # write may not delete; admin may, anywhere
    assert code(client.delete(f"{API}/runs/{mine}", headers=bearer(alice_write))) == (
        403,
        "permission_denied",
    )
    assert client.delete(f"{API}/runs/{theirs}", headers=bearer(admin)).status_code == 200
    assert {
        p["project"]
        for p in client.get(f"{API}/projects", headers=bearer(admin)).json()["projects"]
    } == {"vision"}


def test_sdk_sends_the_token(
    pg_store: ServerStore, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = tokens.create("alice/vision", "write")
    with serve_app(create_app(pg_store, auth=tokens)) as url:
        with pytest.raises(WireError, match="requires an API token"):
            runlane.init("alice/vision", server=url, **NO_CAPTURE)
        monkeypatch.setenv("RUNLANE_TOKEN", token)
        from runlane.store.registry import forget_stores

        forget_stores()
        run = runlane.init("alice/vision", name="authed", server=url, **NO_CAPTURE)
        run.log({"x": 1.0})
        run.finish()
        assert pg_store.read_rows(run.id, "default").total == 1
        with pytest.raises(WireError, match="may not write to bob/audio"):
            runlane.init("bob/audio", server=url, **NO_CAPTURE)


def test_grpc_requires_the_token_in_metadata(
    pg_store: ServerStore, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelbox.modelbox import MLFramework, ModelBox

    from runlane.compat.modelbox.remote import GrpcBackend

    token, _ = tokens.create("alice/vision", "write")
    server, port = start_grpc(ServerContext(store=pg_store, tokens=tokens), "127.0.0.1", 0)
    try:
        real = ModelBox(f"127.0.0.1:{port}")  # the real client sends no metadata
        with pytest.raises(grpc.RpcError) as refused:
            real.new_experiment("e", "alice", "vision", "", MLFramework.PYTORCH)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        backend = GrpcBackend(f"127.0.0.1:{port}", token=token)
        record = backend.create_experiment("e", "alice", "vision", "", "pytorch")
        backend.log_metrics(record.id, {"loss": 0.5}, 1, 1_700_000_000)
        assert backend.get_metrics(record.id)["loss"][0].value == 0.5
        with pytest.raises(WireError, match="may not write to alice/other"):
            backend.create_experiment("e", "alice", "other", "", "pytorch")
        backend.close()
    finally:
        server.stop(0)


def test_server_refuses_an_open_bind_without_auth(dsn: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"refusing to listen on 0\.0\.0\.0"):
        build(ServeOptions(store=dsn, host="0.0.0.0"))
    store, app, auth = build(ServeOptions(store=dsn, host="0.0.0.0", insecure=True))
    assert auth is None
    tokens_for(store).create("*", "admin")
    store.close()
    store, app, auth = build(ServeOptions(store=dsn, host="0.0.0.0"))  # tokens exist: auth on
    assert auth is not None
    assert TestClient(app).get(f"{API}/runs").status_code == 401
    store.close()
    store, app, auth = build(ServeOptions(store=dsn, host="127.0.0.1", auth="off"))
    assert auth is None
    store.close()


def test_local_folder_tokens_are_a_file(tmp_path: Path) -> None:
    from runlane.store.local import LocalStore

    store = LocalStore(tmp_path / "root")
    tokens = tokens_for(store)
    token, _ = tokens.create("p", "read")
    path = tmp_path / "root" / ".runlane" / "tokens.json"
    assert path.exists() and token.split("_", 2)[2] not in path.read_text()
    assert tokens_for(store).verify(token) is not None
    store.close()
