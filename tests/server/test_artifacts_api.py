"""The artifact REST API of a real server (uvicorn on a loopback socket, PostgreSQL, bytes in
SeaweedFS): resumable uploads (an interrupted chunk, resuming from HEAD, a wrong offset),
commits (checksums, retries), one-shot multipart uploads, Range downloads, path traversal,
token isolation between projects, and the SDK's transfers recovering from failures."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

import runlane
from runlane.errors import StoreError
from runlane.server import file_responses
from runlane.server.app import create_app
from runlane.server.auth import Tokens, tokens_for
from runlane.server.upload_area import Upload, UploadArea
from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from support.files import sha
from support.servers import NO_CAPTURE, serve_app

MiB = 1 << 20


@pytest.fixture
def store(dsn: str, s3: S3Location, tmp_path: Path) -> Iterator[ServerStore]:
    served = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "files")
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def url(store: ServerStore) -> Iterator[str]:
    with serve_app(create_app(store)) as base:
        yield base


@pytest.fixture
def api(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
        yield client


def new_run(api: httpx.Client, owner: str = "alice", project: str = "vision", **kw: Any) -> str:
    response = api.post("/runs", json={"owner": owner, "project": project}, **kw)
    assert response.status_code == 200, response.text
    return str(response.json()["run"]["id"])


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def file_commit(filename: str, upload_id: str, digest: str | None, **fields: Any) -> Any:
    """A commit spec for one uploaded file (``fields``: name, kind, step, rel_path...)."""
    files = [{"path": filename, "upload_id": upload_id, "sha256": digest}]
    return {"source": {"name": filename, "is_dir": False, "files": files}, **fields}


def post_file(api: httpx.Client, run_id: str, filename: str, data: bytes, **fields: str) -> Any:
    response = api.post(
        f"/runs/{run_id}/artifacts", files={"file": (filename, data)}, data=fields or None
    )
    assert response.status_code == 201, response.text
    return response.json()


def _cut_chunk(url: str, upload_id: str, offset: int, declared: int, sent: bytes) -> None:
    """A PATCH whose connection dies after ``len(sent)`` of ``declared`` body bytes."""
    where = urlparse(url)
    head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: {where.netloc}\r\n"
        f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(head + sent)
        time.sleep(0.2)


def test_resumable_upload_survives_an_interrupted_chunk(api: httpx.Client, url: str) -> None:
    run_id = new_run(api)
    data = os.urandom(3 * MiB + 123)
    created = api.post("/uploads", json={"run_id": run_id, "size": len(data)})
    assert created.status_code == 201 and created.json()["offset"] == 0
    upload_id = created.json()["upload_id"]
    first = api.patch(f"/uploads/{upload_id}", content=data[:MiB], headers={"upload-offset": "0"})
    assert first.json()["offset"] == MiB

    stale = api.patch(f"/uploads/{upload_id}", content=b"xx", headers={"upload-offset": "0"})
    assert error(stale) == (409, "offset_mismatch")
    assert stale.headers["upload-offset"] == str(MiB)

    _cut_chunk(url, upload_id, MiB, MiB, data[MiB : MiB + 300_000])
    offset = int(api.head(f"/uploads/{upload_id}").headers["upload-offset"])
    assert MiB <= offset <= MiB + 300_000  # what arrived is kept, nothing else
    while offset < len(data):
        sent = api.patch(
            f"/uploads/{upload_id}",
            content=data[offset : offset + MiB],
            headers={"upload-offset": str(offset)},
        )
        offset = int(sent.headers["upload-offset"])
    assert api.get(f"/uploads/{upload_id}").json()["offset"] == len(data)

    too_far = api.patch(
        f"/uploads/{upload_id}", content=b"x", headers={"upload-offset": str(offset)}
    )
    assert error(too_far) == (400, "invalid_argument")
    wrong = api.post(f"/runs/{run_id}/artifacts", json=file_commit("w.bin", upload_id, sha(b"")))
    assert error(wrong) == (400, "checksum_mismatch")
    spec = file_commit("w.bin", upload_id, sha(data), commit_id="a" * 32)
    record = api.post(f"/runs/{run_id}/artifacts", json=spec)
    assert record.status_code == 201, record.text
    assert (record.json()["sha256"], record.json()["size"]) == (sha(data), len(data))
    retried = api.post(f"/runs/{run_id}/artifacts", json=spec)  # a retry: the same answer
    assert retried.json() == record.json()
    assert len(api.get(f"/runs/{run_id}/artifacts").json()["artifacts"]) == 1
    assert api.head(f"/uploads/{upload_id}").status_code == 404  # consumed by the commit
    assert api.get(f"/runs/{run_id}/files/outputs/w.bin").content == data


def test_incomplete_and_aborted_uploads_cannot_be_committed(api: httpx.Client) -> None:
    run_id = new_run(api)
    upload_id = api.post("/uploads", json={"run_id": run_id, "size": 10}).json()["upload_id"]
    api.patch(f"/uploads/{upload_id}", content=b"12345", headers={"upload-offset": "0"})
    early = api.post(f"/runs/{run_id}/artifacts", json=file_commit("a", upload_id, None))
    assert error(early) == (409, "offset_mismatch")
    missing = api.patch(f"/uploads/{upload_id}", content=b"x")
    assert error(missing) == (400, "invalid_argument")
    assert api.delete(f"/uploads/{upload_id}").json() == {"aborted": upload_id}
    gone = api.post(f"/runs/{run_id}/artifacts", json=file_commit("a", upload_id, None))
    assert error(gone) == (404, "not_found")


def test_multipart_form_uploads_and_listing_shapes(api: httpx.Client) -> None:
    run_id = new_run(api)
    record = post_file(api, run_id, "notes.txt", b"hello", name="notes", step="3")
    assert (record["mode"], record["path"], record["step"]) == (
        "asset",
        "assets/file/notes_3.txt",
        3,
    )
    spec = {
        "name": "pair",
        "type": "dataset",
        "files": [
            {"path": "a/one.txt", "upload_id": "form:p1", "sha256": sha(b"one")},
            {"path": "two.txt", "upload_id": "form:p2"},
        ],
        "aliases": ["gold"],
    }
    parts = [("p1", ("one.txt", b"one")), ("p2", ("two.txt", b"two"))]
    first = api.post(
        f"/runs/{run_id}/artifact-versions", data={"spec": json.dumps(spec)}, files=parts
    )
    again = api.post(
        f"/runs/{run_id}/artifact-versions", data={"spec": json.dumps(spec)}, files=parts
    )
    assert first.status_code == 201, first.text
    assert (first.json()["version"], again.json()["version"]) == ("v0", "v0")
    assert sorted(first.json()["aliases"]) == ["gold", "latest"]
    model = api.post(
        f"/runs/{run_id}/models",
        files={"file": ("m.pt", b"weights")},
        data={"name": "net", "framework": "torch"},
    )
    assert (model.status_code, model.json()["version"]) == (201, "v0")

    listed = api.get(f"/runs/{run_id}/artifacts").json()["artifacts"]
    first_record = listed[0]
    for key in ("name", "kind", "path", "is_dir", "step", "size", "sha256", "summary", "timestamp"):
        assert key in first_record
    assert first_record["files"][0]["sha256"] == sha(b"hello")
    assets = api.get(f"/runs/{run_id}/assets").json()["assets"]
    assert assets == [
        {
            "kind": "file",
            "name": "notes",
            "steps": [
                {
                    "step": 3,
                    "path": "assets/file/notes_3.txt",
                    "timestamp": first_record["timestamp"],
                    "size": 5,
                }
            ],
        }
    ]
    base = "/projects/alice/vision"
    names = api.get(f"{base}/artifacts").json()["artifacts"]
    assert [(a["name"], a["versions"], a["latest"]["version"]) for a in names] == [
        ("pair", 1, "v0")
    ]
    got = api.get(f"{base}/artifacts/pair/versions/gold/files/a/one.txt")
    assert got.content == b"one" and got.headers["etag"] == f'"{sha(b"one")}"'
    detail = api.get(f"{base}/models/net").json()
    assert [v["version"] for v in detail["versions"]] == ["v0"] and detail["aliases"] == {
        "latest": "v0"
    }
    moved = api.put(f"{base}/models/net/aliases/production", json={"version": "v0"})
    assert "production" in moved.json()["aliases"]
    assert api.get(f"{base}/models/net/versions/production/files/m.pt").content == b"weights"
    assert api.delete(f"{base}/models/net/aliases/production").status_code == 200
    assert error(api.get(f"{base}/models/net/versions/production")) == (404, "not_found")


def test_range_requests_resume_downloads(api: httpx.Client) -> None:
    run_id = new_run(api)
    data = os.urandom(1000)
    post_file(api, run_id, "blob.json", data)
    path = f"/runs/{run_id}/files/outputs/blob.json"
    whole = api.get(path, params={"download": "1"})
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "application/json"
    assert whole.headers["content-disposition"].startswith('attachment; filename="blob.json"')
    etag = whole.headers["etag"]
    assert etag == f'"{sha(data)}"' and whole.headers["accept-ranges"] == "bytes"
    part = api.get(path, headers={"range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, data[100:200])
    assert part.headers["content-range"] == "bytes 100-199/1000"
    assert api.get(path, headers={"range": "bytes=900-"}).content == data[900:]
    assert api.get(path, headers={"range": "bytes=-10"}).content == data[-10:]
    outside = api.get(path, headers={"range": "bytes=1000-"})
    assert error(outside) == (416, "range_not_satisfiable")
    assert outside.headers["content-range"] == "bytes */1000"
    stale = api.get(path, headers={"range": "bytes=10-", "if-range": '"other"'})
    assert (stale.status_code, stale.content) == (200, data)
    assert api.get(path, headers={"if-none-match": etag}).status_code == 304


def test_files_are_served_sandboxed_and_empty_files_answer_any_range(api: httpx.Client) -> None:
    run_id = new_run(api)
    post_file(api, run_id, "page.html", b"<script>alert(1)</script>")
    page = api.get(f"/runs/{run_id}/files/outputs/page.html")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "sandbox"  # no script on our origin
    assert page.headers["x-content-type-options"] == "nosniff"
    post_file(api, run_id, "empty.txt", b"")
    empty = api.get(f"/runs/{run_id}/files/outputs/empty.txt", headers={"range": "bytes=0-"})
    assert (empty.status_code, empty.content) == (200, b"")


def test_path_traversal_is_refused(api: httpx.Client, tmp_path: Path) -> None:
    run_id = new_run(api)
    upload_id = api.post("/uploads", json={"run_id": run_id}).json()["upload_id"]
    api.patch(f"/uploads/{upload_id}", content=b"evil", headers={"upload-offset": "0"})
    for spec in (
        file_commit("../evil", upload_id, None),
        file_commit("evil", upload_id, None, rel_path="../../outside"),
        file_commit("evil", upload_id, None, name="../x"),
        {
            "source": {
                "name": "d",
                "is_dir": True,
                "files": [{"path": "../../x", "upload_id": upload_id}],
            }
        },
    ):
        refused = api.post(f"/runs/{run_id}/artifacts", json=spec)
        assert error(refused) == (400, "invalid_name"), refused.text
        assert ".." in refused.json()["error"]["message"]
    bad_version = {"name": "v", "files": [{"path": "../../x", "upload_id": upload_id}]}
    assert error(api.post(f"/runs/{run_id}/artifact-versions", json=bad_version))[0] == 400
    for path in (
        f"/runs/{run_id}/files/outputs/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        f"/runs/{run_id}/files/%2E%2E",
        "/projects/alice/vision/artifacts/x/versions/v0/files/%2E%2E/%2E%2E/y",
        "/projects/%2E%2E/vision/models",
    ):
        assert api.get(path).status_code == 400, path
    assert not any(tmp_path.rglob("evil")) and not (tmp_path / "outside").exists()


@pytest.fixture
def guarded(store: ServerStore) -> Iterator[tuple[str, Tokens]]:
    tokens = tokens_for(store)
    with serve_app(create_app(store, auth=tokens)) as base:
        yield base, tokens


def test_tokens_isolate_projects(
    guarded: tuple[str, Tokens], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, tokens = guarded
    alice, _ = tokens.create("alice/vision", "write")
    reader, _ = tokens.create("alice/vision", "read")
    bob, _ = tokens.create("bob/audio", "write")
    admin, _ = tokens.create("*", "admin")

    def as_(token: str | None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30)

    monkeypatch.setenv("RUNLANE_TOKEN", alice)
    run = runlane.init("alice/vision", name="secret", server=base, **NO_CAPTURE)
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    run.log_model(weights, name="net")
    run.finish()
    upload_id = as_(alice).post("/uploads", json={"run_id": run.id}).json()["upload_id"]
    project = "/projects/alice/vision"
    with as_(bob) as api:
        for response in (
            api.get(f"/runs/{run.id}/artifacts"),
            api.get(f"/runs/{run.id}/files/outputs/model/w.bin"),
            api.get(f"/runs/{run.id}/checkpoints"),
            api.post("/uploads", json={"run_id": run.id}),
            api.post("/uploads", json={"project": "alice/vision"}),
            api.head(f"/uploads/{upload_id}"),
            api.patch(f"/uploads/{upload_id}", content=b"x", headers={"upload-offset": "0"}),
            api.delete(f"/uploads/{upload_id}"),
            api.get(f"{project}/models"),
            api.get(f"{project}/models/net/versions/v0/files/w.bin"),
            api.put(f"{project}/models/net/aliases/prod", json={"version": "v0"}),
            api.post(f"/runs/{run.id}/artifacts", files={"file": ("x", b"x")}),
        ):
            assert response.status_code == 403, response.request.url
        assert api.get(f"{project}/artifacts").status_code == 403
        assert api.get("/projects/bob/audio/models").json() == {"models": []}
    with as_(reader) as api:
        assert api.get(f"{project}/models/net/versions/v0/files/w.bin").content == b"weights"
        assert api.post(f"/runs/{run.id}/models", files={"file": ("x", b"x")}).status_code == 403
        assert api.put(f"{project}/models/net/aliases/p", json={"version": "v0"}).status_code == 403
    with as_(None) as api:
        assert error(api.get(f"/runs/{run.id}/artifacts")) == (401, "unauthenticated")
    with as_(admin) as api:  # an upload made for bob's project cannot land in alice's run
        foreign = api.post("/uploads", json={"project": "bob/audio"}).json()["upload_id"]
        api.patch(f"/uploads/{foreign}", content=b"b", headers={"upload-offset": "0"})
        moved = api.post(f"/runs/{run.id}/artifacts", json=file_commit("b", foreign, None))
        assert error(moved) == (403, "permission_denied")


def test_sdk_transfers_resume_after_failures(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk the server fails halfway (503) is resent from the server's offset; a
    download whose connection drops resumes with a Range request; both verified."""
    original = UploadArea.append
    failures: list[int] = []

    async def flaky(
        self: UploadArea, upload: Upload, offset: int, body: AsyncIterator[bytes]
    ) -> int:
        if failures or offset == 0:
            return await original(self, upload, offset, body)

        async def half() -> AsyncIterator[bytes]:
            seen = 0
            async for piece in body:
                yield piece
                seen += len(piece)
                if seen >= MiB // 2:
                    failures.append(offset)
                    raise StoreError("the disk hiccuped")

        return await original(self, upload, offset, half())

    monkeypatch.setattr(UploadArea, "append", flaky)
    monkeypatch.setattr("runlane.artifacts.remote.upload.CHUNK", MiB)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * MiB + 7))
    run = runlane.init("alice/vision", name="flaky", server=url, **NO_CAPTURE)
    record = run.log_artifact(big)
    assert failures == [MiB] and record.sha256 == sha(big.read_bytes())

    pieces = file_responses._pieces
    calls: list[int] = []

    def dropping(storage: Any, key: str, start: int, end: int) -> Iterator[bytes]:
        calls.append(start)
        for i, piece in enumerate(pieces(storage, key, start, end)):
            if len(calls) == 1 and i == 2:
                raise ConnectionResetError("the link dropped")
            yield piece

    monkeypatch.setattr(file_responses, "_pieces", dropping)
    got = run.artifacts.download("big.bin", dest=tmp_path / "dl")
    assert got.read_bytes() == big.read_bytes()
    assert len(calls) == 2 and calls[1] > 0  # the second request asked for the rest only
    run.finish()


def test_sdk_fits_a_server_with_a_small_body_limit(store: ServerStore, tmp_path: Path) -> None:
    """Under ``--max-body 2 MiB`` the SDK sends smaller chunks (the size the server
    announces) and moves files it would have sent inline to uploads when refused (413)."""
    with serve_app(create_app(store, max_body=2 * MiB)) as base:
        run = runlane.init("alice/vision", name="small-limit", server=base, **NO_CAPTURE)
        inline = tmp_path / "inline.bin"  # small enough to ride along in the commit
        inline.write_bytes(os.urandom(3 * MiB))
        chunked = tmp_path / "chunked.bin"
        chunked.write_bytes(os.urandom(5 * MiB))
        for path in (inline, chunked):
            record = run.log_artifact(path)
            assert record.sha256 == sha(path.read_bytes())
        run.finish()
        view = runlane.open(run.id, store=base)
        got = view.artifacts.download("chunked.bin", dest=tmp_path / "dl")
        assert got.read_bytes() == chunked.read_bytes()
