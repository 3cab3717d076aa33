"""Artifact records are stateless across server replicas: two ``runlane server`` processes over
one PostgreSQL and one SeaweedFS, each with its own ``--files`` folder (a cache, as on two
hosts), serve the same artifacts, versions, aliases, models, uploads and ModelBox objects; a
replica started with an empty folder serves everything. Below them, the mirror itself
(:mod:`runlane.store.server.mirror`) on ServerStores in this process: changes, deletions,
large files, a stale cache, a folder from before the mirror, a failing block, the SDK
writing to a ServerStore in-process, and many concurrent commits on a small pool."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import runlane
from runlane.artifacts.api import artifact_versions
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.store.server import ServerStore
from runlane.store.server.mirror_files import INLINE
from runlane.store.server.objects import S3Location
from support.files import sha, write
from support.servers import NO_CAPTURE, ServerProcess, free_port
from support.services import Services

MiB = 1 << 20


@dataclass
class Replica:
    process: ServerProcess
    grpc: int
    files: Path

    @property
    def url(self) -> str:
        return self.process.url

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", timeout=60)


@pytest.fixture
def replica(
    dsn: str,
    s3: S3Location,
    svc: Services,
    tmp_path: Path,
    server_process: Callable[..., ServerProcess],
) -> Callable[[str], Replica]:
    """``replica(name)``: a ``runlane server`` (REST + gRPC) on the test's database and
    bucket, with its own new ``--files`` folder."""
    keys = {"AWS_ACCESS_KEY_ID": svc.access_key, "AWS_SECRET_ACCESS_KEY": svc.secret_key}

    def start(name: str) -> Replica:
        files = tmp_path / f"files-{name}"
        assert not files.exists()
        grpc = free_port()
        process = server_process(
            *("--store", dsn, "--files", str(files)),
            *("--artifacts", f"s3://{s3.bucket}/{s3.prefix}", "--s3-endpoint", svc.s3_endpoint),
            *("--grpc-port", str(grpc)),
            env=keys,
        )
        return Replica(process, grpc, files)

    return start


def test_what_one_replica_logs_the_other_serves_and_a_fresh_replica_too(
    replica: Callable[[str], Replica], tmp_path: Path
) -> None:
    one, two = replica("one"), replica("two")
    weights = write(tmp_path / "src" / "weights.bin", os.urandom(300_000))
    table = write(tmp_path / "src" / "table.csv", b"a,b\n1,2\n")
    run = runlane.init("alice/stateless", name="writer", server=one.url, **NO_CAPTURE)
    output = run.log_artifact(weights, summary={"epochs": 3})
    run.log_artifact(table, name="table", step=4)
    run.log_model(weights, name="net", aliases=["candidate"])
    first = run.log_artifact(runlane.Artifact("ds").add_file(table), aliases=["gold"])
    second = run.log_artifact(runlane.Artifact("ds").add_file(weights))
    run.log_checkpoint(2, {"loss": 0.5})
    run.finish()

    def check(url: str, dest: Path, gold_digest: str) -> None:
        view = runlane.open(run.id, store=url)
        assert [r.label for r in view.artifacts] == [
            "weights.bin",
            "table@4",
            "net:v0",
            "ds:v0",
            "ds:v1",
        ]
        got = view.artifacts.download("weights.bin", dest=dest / "out")
        assert sha(got.read_bytes()) == output.sha256 == sha(weights.read_bytes())
        assert [(c.epoch, c.metrics) for c in view.checkpoints()] == [(2, {"loss": 0.5})]
        gold = runlane.artifact("ds@gold", "alice/stateless", store=url)
        assert gold.digest == gold_digest
        latest = runlane.artifact("ds", "alice/stateless", store=url)
        assert (latest.version, latest.digest) == ("v1", second.digest)
        back = latest.download(dest / "ds")
        assert sha((back / "weights.bin").read_bytes()) == latest.files[0].sha256
        registry = runlane.models("alice/stateless", store=url)
        model = registry.version("net", "candidate")
        assert model.version == "v0"
        assert sha(model.download(dest / "net").read_bytes()) == sha(weights.read_bytes())

    check(two.url, tmp_path / "via-two", first.digest)
    # an alias moved through replica two is what replica one answers
    with two.api() as api:
        moved = api.put(
            "/projects/alice/stateless/artifacts/ds/aliases/gold", json={"version": "v1"}
        )
        assert moved.status_code == 200, moved.text
        dropped = api.delete("/projects/alice/stateless/models/net/aliases/candidate")
        assert dropped.status_code == 200, dropped.text
    assert runlane.artifact("ds@gold", "alice/stateless", store=one.url).version == "v1"
    with pytest.raises(ArtifactNotFoundError, match="candidate"):
        runlane.models("alice/stateless", store=one.url).version("net", "candidate")
    runlane.models("alice/stateless", store=one.url).set_alias("net", "candidate", "v0")

    two.process.stop()  # a replica on a new host: an empty files folder
    three = replica("three")
    check(three.url, tmp_path / "via-three", second.digest)


def test_concurrent_versions_through_both_replicas_are_numbered_once(
    replica: Callable[[str], Replica], tmp_path: Path
) -> None:
    one, two = replica("one"), replica("two")
    contents = [f"content {i}".encode() * 1000 for i in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(contents))

    def log(i: int) -> None:
        try:
            url = (one, two)[i % 2].url
            run = runlane.init("alice/race", name=f"w{i}", server=url, **NO_CAPTURE)
            source = write(tmp_path / f"c{i}" / "data.bin", contents[i])
            start.wait(30)
            run.log_artifact(runlane.Artifact("shared").add_file(source))
            run.finish()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(i,)) for i in range(len(contents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    for url in (one.url, two.url):
        versions = artifact_versions("alice/race", store=url).versions("shared")
        assert [v.version for v in versions] == [f"v{i}" for i in range(len(contents))]
        digests = {v.files[0].sha256 for v in versions}
        assert digests == {sha(c) for c in contents}


def test_an_upload_moves_between_replicas_and_modelbox_objects_are_shared(
    replica: Callable[[str], Replica], tmp_path: Path
) -> None:
    from modelbox.modelbox import ModelBox

    one, two = replica("one"), replica("two")
    data = os.urandom(3 * MiB + 5)
    with one.api() as api_one, two.api() as api_two:
        made = api_one.post("/runs", json={"owner": "alice", "project": "up"})
        run_id = made.json()["run"]["id"]
        upload_id = api_one.post("/uploads", json={"run_id": run_id, "size": len(data)}).json()[
            "upload_id"
        ]
        first = api_one.patch(
            f"/uploads/{upload_id}", content=data[:MiB], headers={"upload-offset": "0"}
        )
        assert first.json()["offset"] == MiB
        assert api_two.head(f"/uploads/{upload_id}").headers["upload-offset"] == str(MiB)
        rest = api_two.patch(
            f"/uploads/{upload_id}", content=data[MiB:], headers={"upload-offset": str(MiB)}
        )
        assert rest.json()["offset"] == len(data)
        stale = api_one.patch(f"/uploads/{upload_id}", content=b"x", headers={"upload-offset": "0"})
        assert stale.status_code == 409 and stale.headers["upload-offset"] == str(len(data))
        files = [{"path": "w.bin", "upload_id": upload_id, "sha256": sha(data)}]
        spec = {"source": {"name": "w.bin", "is_dir": False, "files": files}}
        spec["commit_id"] = "c" * 32
        record = api_two.post(f"/runs/{run_id}/artifacts", json=spec)
        assert record.status_code == 201, record.text
        retried = api_one.post(f"/runs/{run_id}/artifacts", json=spec)  # the first answer
        assert retried.json() == record.json()
        assert api_one.head(f"/uploads/{upload_id}").status_code == 404
        assert api_one.get(f"/runs/{run_id}/files/outputs/w.bin").content == data
        listed = api_one.get(f"/runs/{run_id}/artifacts").json()["artifacts"]
        assert [(a["path"], a["sha256"]) for a in listed] == [("outputs/w.bin", sha(data))]

    weights = write(tmp_path / "model.bin", os.urandom(200_000))
    mbox = ModelBox(f"127.0.0.1:{one.grpc}")
    model = mbox.new_model("detector", "carol", "robotics", "detection", "")
    version = model.new_model_version("0.1", name="alpha")
    (file_id,) = version.upload_artifact([str(weights)]).artifact_ids.values()
    mbox._client.close()
    with two.api() as api_two:
        models = api_two.get("/projects/carol/robotics/models").json()["models"]
        assert [m["name"] for m in models] == ["detector"]
        found = api_two.get("/projects/carol/robotics/models/detector").json()
        assert [v["label"] for v in found["versions"]] == ["0.1"]
        got = api_two.get("/projects/carol/robotics/models/detector/versions/0.1/files/model.bin")
        assert got.content == weights.read_bytes()
    other = ModelBox(f"127.0.0.1:{two.grpc}")
    try:
        assert [m.id for m in other.models("robotics").models] == [model.id]
        back = tmp_path / "back.bin"
        other._client.download_artifact(file_id, str(back))
        assert back.read_bytes() == weights.read_bytes()
    finally:
        other._client.close()


# --- the mirror on ServerStores of this process -------------------------------------------
def _stores(dsn: str, tmp_path: Path, count: int = 2) -> list[ServerStore]:
    return [ServerStore(dsn, files_root=tmp_path / f"cache-{i}") for i in range(count)]


def test_changes_deletions_and_large_files_reach_the_other_cache(dsn: str, tmp_path: Path) -> None:
    a, b = _stores(dsn, tmp_path)
    try:
        big = os.urandom(INLINE + 300_000)  # past the inline limit: parts in `objects`
        with a.mirror.write("alice/p"):
            write(a.root / "alice/p/.models/m/model.json", b'{"v": 1}')
            write(a.root / "alice/p/.runs/r1/outputs/big.bin", big)
            write(a.root / "alice/p/.models/m/.lock", b"")  # never a record
        b.mirror.pull("alice/p")
        assert (b.root / "alice/p/.models/m/model.json").read_bytes() == b'{"v": 1}'
        assert (b.root / "alice/p/.runs/r1/outputs/big.bin").read_bytes() == big
        assert not (b.root / "alice/p/.models/m/.lock").exists()
        with b.mirror.write("alice/p"):
            (b.root / "alice/p/.runs/r1/outputs/big.bin").unlink()
            with open(b.root / "alice/p/.models/m/model.json", "ab") as fh:
                fh.write(b"\n")
        a.mirror.pull("alice/p")
        assert not (a.root / "alice/p/.runs/r1").exists()  # emptied folders go too
        assert (a.root / "alice/p/.models/m/model.json").read_bytes() == b'{"v": 1}\n'
    finally:
        a.close()
        b.close()


def test_first_use_reconciles_a_stale_cache_and_imports_an_unknown_scope(
    dsn: str, tmp_path: Path
) -> None:
    old = tmp_path / "cache-0"  # a --files folder from before the mirror
    write(old / "bob/legacy/.artifacts/names/ds/v0.json", b'{"version": "v0"}')
    write(old / "alice/p/leftover.json", b"written by a crashed block")
    a, b = _stores(dsn, tmp_path)
    try:
        with b.mirror.write("alice/p"):
            write(b.root / "alice/p/kept.json", b"{}")
        a.mirror.pull("alice/p", "bob/legacy")
        assert (a.root / "alice/p/kept.json").exists()
        assert not (a.root / "alice/p/leftover.json").exists()  # the table does not hold it
        b.mirror.pull_all()
        assert (b.root / "bob/legacy/.artifacts/names/ds/v0.json").read_bytes() == (
            b'{"version": "v0"}'
        )
    finally:
        a.close()
        b.close()


def test_a_failing_block_keeps_what_it_wrote_and_one_folder_serves_one_process(
    dsn: str, tmp_path: Path
) -> None:
    a, b = _stores(dsn, tmp_path)
    shared = ServerStore(dsn, files_root=tmp_path / "cache-0")  # taken by `a`
    try:
        assert shared.root != a.root and shared.root.is_dir()
        with pytest.raises(ZeroDivisionError), a.mirror.write("alice/p"):
            write(a.root / "alice/p/half.json", b"1")
            raise ZeroDivisionError
        shared.mirror.pull("alice/p")
        assert (shared.root / "alice/p/half.json").read_bytes() == b"1"
        private = shared.root
    finally:
        a.close()
        b.close()
        shared.close()
    assert not private.exists()  # a private cache is removed at close


def test_the_sdk_writing_to_a_server_store_in_process_reaches_other_replicas(
    dsn: str, tmp_path: Path
) -> None:
    a, b = _stores(dsn, tmp_path)
    try:
        weights = write(tmp_path / "w.bin", os.urandom(10_000))
        run = runlane.init("alice/direct", name="d", store=a, **NO_CAPTURE)
        run.log_artifact(weights)
        run.log_model(weights, name="clf")
        run.finish()  # Store.sync pushes what the SDK wrote into a's cache
        view = runlane.open(run.id, store=b)
        assert [r.label for r in view.artifacts] == ["w.bin", "clf:v0"]
        got = view.artifacts.download("w.bin", dest=tmp_path / "dl")
        assert got.read_bytes() == weights.read_bytes()
        assert [v.version for v in runlane.models("alice/direct", store=b).versions("clf")] == [
            "v0"
        ]
    finally:
        a.close()
        b.close()


def test_many_concurrent_commits_to_one_project_never_run_the_pools_dry(
    dsn: str, tmp_path: Path
) -> None:
    """Write blocks wait for the project's lock on connections of their own pool, so 16
    commits (with commit ids) through a store of 4 connections all land, each once."""
    from runlane.entities import RunSpec
    from runlane.server.artifacts_service import ArtifactService

    store = ServerStore(dsn, files_root=tmp_path / "cache", pool_size=4)
    try:
        service = ArtifactService(store)
        run_id = store.create_run(RunSpec(owner="alice", project="busy", name="r"))[0].id
        answers: list[Any] = []
        errors: list[BaseException] = []

        def commit(i: int) -> None:
            spec = {"name": "note", "kind": "text", "step": i, "value": f"v{i}"}
            try:
                for _ in range(2):  # the retry answers the first result
                    answers.append(
                        service.commit(run_id, "value", {**spec, "commit_id": f"{i:032x}"})
                    )
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert len(answers) == 32 and len({a["step"] for a in answers}) == 16
        assert sorted(r.step for r in service.records(run_id)) == list(range(16))
    finally:
        store.close()
