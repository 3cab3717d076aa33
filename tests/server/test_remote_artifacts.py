"""Artifacts, versioned artifacts, models and checkpoints logged with the unchanged SDK
through a real runlane server on PostgreSQL, with the bytes in SeaweedFS (the server's
``--artifacts``): files, folders, step assets, images, Artifact versions (dedupe, aliases),
models (downloaded back, verified), checkpoints, the outputs folder, ``runlane.models`` and
the CLI over http, two replicas, and the server's memory while a 200 MB file goes through."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

import runlane
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.server.app import create_app
from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from support.servers import NO_CAPTURE, ServerProcess, serve_app


@dataclass
class Served:
    url: str
    store: ServerStore | None
    s3: S3Location
    files: Path

    def s3_keys(self) -> list[str]:
        """Every object under the server's artifact prefix."""
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.s3.endpoint,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            region_name="us-east-1",
        )
        prefix = f"{self.s3.prefix}artifacts/"
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.s3.bucket, Prefix=prefix
        )
        return [o["Key"][len(prefix) :] for page in pages for o in page.get("Contents", [])]


@pytest.fixture
def served(dsn: str, s3: S3Location, tmp_path: Path) -> Iterator[Served]:
    files = tmp_path / "server-files"
    store = ServerStore(dsn, objects=S3Objects(s3), files_root=files)
    try:
        with serve_app(create_app(store)) as url:
            yield Served(url, store, s3, files)
    finally:
        store.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_sdk_logs_and_reads_every_artifact_kind_through_the_server(
    served: Served, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    weights = write(src / "weights.bin", os.urandom(300_000))
    write(src / "data" / "train.csv", b"x,y\n1,2\n")
    write(src / "data" / "img" / "a.raw", os.urandom(5_000))
    run = runlane.init("alice/vision", name="art", server=served.url, **NO_CAPTURE)

    output = run.log_artifact(weights, summary={"epochs": 3})
    assert (output.path, output.size, output.sha256) == (
        "outputs/weights.bin",
        300_000,
        sha(weights),
    )
    folder = run.log_artifact(src / "data", rel_path="inputs")
    assert folder.is_dir and sorted(f.path for f in folder.files) == ["img/a.raw", "train.csv"]
    stepped = run.log_artifact(weights, name="ckpt", step=7)
    assert (stepped.mode, stepped.path) == ("asset", "assets/file/ckpt_7.bin")
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    for step in range(3):
        run.log_image(pixels + step, name="sample", step=step)
    run.log_text("notes", "first", step=0)
    run.log_roc_auc_curve("roc", [0.0, 0.5, 1.0], [0.0, 0.8, 1.0], auc=0.9, step=1)

    dataset = runlane.Artifact("mnist", "dataset", metadata={"rows": 1}).add_dir(src / "data")
    v0 = run.log_artifact(dataset, aliases=["best"])
    again = run.log_artifact(runlane.Artifact("mnist", "dataset").add_dir(src / "data"))
    write(src / "data" / "train.csv", b"x,y\n1,2\n3,4\n")
    v1 = run.log_artifact(runlane.Artifact("mnist", "dataset").add_dir(src / "data"))
    assert (v0.version, again.version, v1.version) == ("v0", "v0", "v1")
    assert v0.aliases == ("best", "latest") and v1.aliases == ("latest",)

    model = run.log_model(weights, name="net", framework="torch", aliases=["production"])
    assert (model.version, model.path) == ("v0", "outputs/model/weights.bin")
    checkpoint = run.log_checkpoint(2, {"loss": np.float32(0.25)}, path=weights)
    assert checkpoint.artifact == "outputs/checkpoints/epoch-2/weights.bin"

    used = run.use_model("net", "production")
    got = used.download(tmp_path / "model-dl")
    assert sha(got) == used.sha256 == sha(weights)
    best = run.use_artifact("mnist@best")
    best.download(tmp_path / "ds-dl")
    assert (tmp_path / "ds-dl" / "data" / "train.csv").read_bytes() == b"x,y\n1,2\n"
    assert [a.step for a in run.assets("sample")] == [0, 1, 2]
    np.testing.assert_array_equal(run.asset("sample", step=2).image(), pixels + 2)
    assert run.asset("notes").text() == "first"
    _, y, auc = run.asset("roc").curve()
    assert list(y) == [0.0, 0.8, 1.0] and auc == 0.9
    run.finish()

    view = runlane.open(run.id, store=served.url)
    labels = [r.label for r in view.artifacts]
    assert labels[:3] == ["weights.bin", "data", "ckpt@7"] and "net:v0" in labels
    got = view.artifacts.download("data", dest=tmp_path / "folder-dl")
    assert (got / "img" / "a.raw").read_bytes() == (src / "data" / "img" / "a.raw").read_bytes()
    assert [c.epoch for c in view.checkpoints()] == [2]
    with pytest.raises(ArtifactNotFoundError, match="no artifact 'nope'"):
        view.artifacts.get("nope")
    # lineage was recorded by the server: outputs, the version, the model; inputs by the SDK
    assert served.store is not None
    lineage = served.store.read_lineage(run.id)
    assert {r.name for r in lineage if not r.is_input} >= {"weights.bin", "mnist", "net"}
    assert {r.name for r in lineage if r.is_input} == {"net", "mnist"}

    # the bytes live in SeaweedFS, content-addressed; the files folder holds only records
    keys = served.s3_keys()
    assert f"blobs/sha256/{sha(weights)[:2]}/{sha(weights)}" in keys
    assert len([k for k in keys if k.startswith("blobs/")]) == len(keys)
    stored = [p for p in served.files.rglob("*") if p.is_file()]
    assert not [p for p in stored if p.name in ("weights.bin", "a.raw", "train.csv")]
    assert sum(p.stat().st_size for p in stored) < 300_000


def test_outputs_folder_is_uploaded_at_finish(served: Served, tmp_path: Path) -> None:
    run = runlane.init("alice/vision", name="outs", server=served.url, **NO_CAPTURE)
    logged = write(tmp_path / "kept.txt", b"logged")
    Path(run.get_outputs_path("report/summary.txt")).write_text("written into outputs")
    record = run.log_artifact(logged)
    run.finish()
    view = runlane.open(run.id, store=served.url)
    assert [r.path for r in view.artifacts] == [record.path, "outputs/report/summary.txt"]
    got = view.artifacts.download("summary.txt", dest=tmp_path / "dl")
    assert got.read_text() == "written into outputs"


def test_model_registry_and_cli_over_http(
    dsn: str,
    s3: S3Location,
    tmp_path: Path,
    root: Path,
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process(
        "--store",
        dsn,
        "--files",
        str(tmp_path / "files"),
        "--artifacts",
        f"s3://{s3.bucket}/{s3.prefix}",
        "--s3-endpoint",
        str(s3.endpoint),
        env={"AWS_ACCESS_KEY_ID": str(s3.access_key), "AWS_SECRET_ACCESS_KEY": str(s3.secret_key)},
    )
    served = Served(server.url, None, s3, tmp_path / "files")
    run = runlane.init("alice/reg", name="trainer", server=served.url, **NO_CAPTURE)
    first = write(tmp_path / "m1" / "model.pt", b"one")
    second = write(tmp_path / "m2" / "model.pt", b"two")
    run.log_model(first, name="clf")
    run.log_model(second, name="clf", aliases=["staging"])
    run.finish()

    registry = runlane.models("alice/reg", store=served.url)
    assert [m.name for m in registry.all()] == ["clf"]
    assert [v.version for v in registry.versions("clf")] == ["v0", "v1"]
    moved = registry.set_alias("clf", "production", "v0")
    assert "production" in moved.aliases
    got = registry.version("clf", "production").download(tmp_path / "prod")
    assert got.read_bytes() == b"one"
    registry.remove_alias("clf", "production")
    with pytest.raises(ArtifactNotFoundError, match="production"):
        registry.version("clf", "production")

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "runlane.cli.main", *args, "--dir", served.url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RUNLANE_DIR": str(root)},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    models = cli("models", "--project", "alice/reg")
    assert [(m["name"], m["versions"]) for m in models] == [("clf", 2)]
    assert [r["version"] for r in cli("artifacts", run.id)] == ["v0", "v1"]
    out = cli("get", run.id, "clf", "--version", "v1", "-o", str(tmp_path / "cli"))
    assert Path(out["path"]).read_bytes() == b"two"
    # `runlane server --artifacts s3://...` put the bytes in SeaweedFS
    assert f"blobs/sha256/{sha(second)[:2]}/{sha(second)}" in served.s3_keys()


def test_two_replicas_see_the_same_artifacts(dsn: str, s3: S3Location, tmp_path: Path) -> None:
    files = tmp_path / "shared-files"
    stores = [ServerStore(dsn, objects=S3Objects(s3), files_root=files) for _ in range(2)]
    try:
        with serve_app(create_app(stores[0])) as url_a, serve_app(create_app(stores[1])) as url_b:
            run = runlane.init("alice/replicas", name="r", server=url_a, **NO_CAPTURE)
            weights = write(tmp_path / "w.bin", os.urandom(50_000))
            run.log_model(weights, name="net")
            run.log_artifact(runlane.Artifact("ds").add_file(weights), aliases=["gold"])
            run.finish()
            view = runlane.open(run.id, store=url_b)
            assert [r.label for r in view.artifacts] == ["net:v0", "ds:v0"]
            got = view.artifacts.download("net", dest=tmp_path / "b")
            assert got.read_bytes() == weights.read_bytes()
            found = runlane.artifact("ds@gold", "alice/replicas", store=url_b)
            assert found.version == "v0" and found.digest
    finally:
        for store in stores:
            store.close()


def _rss_sampler(pid: int) -> tuple[Callable[[], int], threading.Event]:
    proc = psutil.Process(pid)
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    return (lambda: peak[0]), stop


def test_a_200_mb_upload_keeps_server_memory_flat(
    dsn: str, tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> None:
    # bytes into the files folder: SeaweedFS on this machine takes ~6 s for 200 MB, and the
    # S3 path's memory is S3Storage's bounded multipart upload (parts of 5 MiB, 4 in flight)
    server = server_process("--store", dsn, "--files", str(tmp_path / "files"))
    assert server.process is not None
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for _ in range(200):
            fh.write(block)
    run = runlane.init("alice/big", name="big", server=server.url, **NO_CAPTURE)
    run.log_artifact(write(tmp_path / "warm.bin", b"warm-up"))  # imports, pools, S3 client
    baseline = psutil.Process(server.process.pid).memory_info().rss
    peak, stop = _rss_sampler(server.process.pid)
    try:
        record = run.log_artifact(big)
    finally:
        stop.set()
    run.finish()
    assert record.size == 200 << 20 and record.sha256 == sha(big)
    growth = peak() - baseline
    assert growth < 64 << 20, f"server RSS grew by {growth / 2**20:.0f} MiB for a 200 MiB file"
