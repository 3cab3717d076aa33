"""Artifacts logged while the runlane server is unreachable: spooled on this disk (a private
copy of each file plus the commit), returned as pending records, replayed in order once the
server answers — by ``runlane sync``, the background catch-up or ``finish()`` — each commit
applied exactly once, also when the replay is interrupted or repeated, and when the logging
process exits or is killed while spooling.

"Server down" is a URL whose port nothing listens on yet; "server up" serves the same port
(``serve_app`` in this process, or a ``runlane server`` subprocess that is SIGKILLed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import runlane
from runlane.artifacts.api import artifact_versions
from runlane.artifacts.remote.pending import PendingArtifactVersion, is_pending
from runlane.artifacts.remote.spool import sweep
from runlane.server.app import create_app
from runlane.store.registry import forget_stores
from runlane.store.remote import RemoteStore, default_spool_dir
from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from runlane.store.spool import Spool
from support.files import sha, write
from support.servers import NO_CAPTURE, ServerProcess, free_port, serve_app

MiB = 1 << 20


@pytest.fixture
def backend(dsn: str, s3: S3Location, tmp_path: Path) -> Iterator[ServerStore]:
    """A ServerStore (PostgreSQL, bytes in SeaweedFS) to serve once the test says so."""
    store = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "server-files")
    try:
        yield store
    finally:
        store.close()


def env(root: Path) -> dict[str, str]:
    return {**os.environ, "RUNLANE_DIR": str(root), "RUNLANE_CAPTURE": "none"}


def sync(url: str, root: Path) -> str:
    """``runlane sync --server URL`` in a fresh process; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "runlane.cli.main", "sync", "--server", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(root),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def artifact_entries(spool: Spool) -> list[Path]:
    return [p for p in spool.entries() if Spool.kind(p) == "artifact"]


def test_artifacts_logged_offline_arrive_once_with_the_bytes_of_the_call(
    backend: ServerStore, tmp_path: Path, root: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # nothing listens yet
    src = tmp_path / "src"
    weights = write(src / "weights.bin", os.urandom(300_000))
    big = write(src / "big.bin", os.urandom(6 * MiB))  # past the inline limit: resumable
    write(src / "data" / "train.csv", b"x,y\n1,2\n")
    original, big_bytes = weights.read_bytes(), big.read_bytes()

    run = runlane.init("alice/offline", name="plane", server=url, **NO_CAPTURE)
    output = run.log_artifact(weights, summary={"epochs": 3})
    assert is_pending(output)
    assert (output.path, output.size, output.sha256) == (
        "outputs/weights.bin",
        300_000,
        sha(original),
    )
    weights.write_bytes(b"rewritten in place after the call")  # must not reach the server
    stepped = run.log_artifact(big, name="ckpt", step=3)
    assert (stepped.mode, stepped.path, stepped.sha256) == (
        "asset",
        "assets/file/ckpt_3.bin",
        sha(big_bytes),
    )
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    image = run.log_image(pixels, name="sample", step=0)
    assert is_pending(image) and image.path == "assets/image/sample_0.png"
    run.log_text("notes", "offline", step=0)
    v0 = run.log_artifact(
        runlane.Artifact("mnist", "dataset").add_dir(src / "data"), aliases=["best"]
    )
    assert isinstance(v0, PendingArtifactVersion)
    assert (v0.version, v0.pending, v0.ref) == (None, True, "mnist:pending")
    write(src / "data" / "train.csv", b"x,y\n1,2\n3,4\n")
    v1 = run.log_artifact(runlane.Artifact("mnist", "dataset").add_dir(src / "data"))
    assert v1.version is None and v1.commit_id != v0.commit_id
    model = run.log_model(big, name="net", framework="torch", aliases=["production"])
    assert is_pending(model) and model.version is None and model.mode == "model"
    assert model.path == "outputs/model/big.bin"
    checkpoint = run.log_checkpoint(2, {"loss": 0.25}, path=big)
    assert checkpoint.artifact == "outputs/checkpoints/epoch-2/big.bin"
    run.finish()  # still down: everything stays spooled

    spool = Spool(default_spool_dir(url))
    assert len(artifact_entries(spool)) == 8
    forget_stores()  # as if the process ended
    big.unlink()  # the caller removes its files: the spool has its own copies

    with serve_app(create_app(backend), port=port):
        for _ in range(2):  # re-running is harmless
            assert "0 left" in sync(url, root)
        view = runlane.open(run.id, store=url)
        assert [r.label for r in view.artifacts] == [
            "weights.bin",
            "ckpt@3",
            "sample@0",
            "notes@0",
            "mnist:v0",
            "mnist:v1",
            "net:v0",
            "big.bin",
        ]
        records = {r.label: r for r in view.artifacts}
        assert records["weights.bin"].sha256 == sha(original)
        assert records["ckpt@3"].sha256 == records["net:v0"].sha256 == sha(big_bytes)
        got = view.artifacts.download("weights.bin", dest=tmp_path / "dl")
        assert got.read_bytes() == original
        np.testing.assert_array_equal(view.asset("sample", step=0).image(), pixels)
        assert view.asset("notes").text() == "offline"
        assert [c.epoch for c in view.checkpoints()] == [2]

        versions = artifact_versions("alice/offline", store=url).versions("mnist")
        assert [(v.version, v.aliases) for v in versions] == [
            ("v0", ("best",)),
            ("v1", ("latest",)),
        ]
        assert versions[1].files[0].sha256 == sha(b"x,y\n1,2\n3,4\n")
        registry = runlane.models("alice/offline", store=url)
        assert [v.version for v in registry.versions("net")] == ["v0"]
        assert "production" in registry.version("net", "production").aliases
        assert backend.get_run(run.id).status == "succeeded"
    assert not spool.entries() and not any((spool.folder / "artifacts").iterdir())


def test_a_commit_logged_after_the_server_returns_waits_behind_the_spool(
    backend: ServerStore, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = write(tmp_path / "a" / "params.json", b'{"v": 1}')
    second = write(tmp_path / "b" / "params.json", b'{"v": 2}')
    run = runlane.init("alice/order", name="late", server=url, **NO_CAPTURE)
    pending = run.log_artifact(runlane.Artifact("cfg").add_file(first), aliases=["old"])
    assert isinstance(pending, PendingArtifactVersion)
    with serve_app(create_app(backend), port=port):
        later = run.log_artifact(runlane.Artifact("cfg").add_file(second), aliases=["new"])
        run.finish()  # replays what is left
        versions = artifact_versions("alice/order", store=url).versions("cfg")
        assert [(v.version, v.aliases) for v in versions] == [
            ("v0", ("old",)),
            ("v1", ("latest", "new")),
        ]
        assert later.version in (None, "v1")  # queued behind the spool, or sent after it
        online = runlane.init("alice/order", name="online", server=url, **NO_CAPTURE)
        record = online.log_artifact(first)
        assert not is_pending(record) and record.sha256 == sha(b'{"v": 1}')
        online.finish()


def test_server_killed_during_the_replay_applies_each_commit_once(
    dsn: str, tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> None:
    files = tmp_path / "server-files"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    big = 40 * MiB  # three resumable chunks: the kill lands while they are sent
    run = runlane.init("alice/chaos", name="replay", server=url, **NO_CAPTURE)
    for i in range(4):
        blob = write(tmp_path / f"f{i}.bin", os.urandom(big if i % 2 else 1_000))
        run.log_artifact(blob, name=f"part{i}", step=i)
        run.log_artifact(runlane.Artifact("set").add_file(blob))
    run.finish()
    forget_stores()  # the run's store and its background replayer, as if the process ended
    store = RemoteStore(url)
    try:
        backup = tmp_path / "spool-backup"
        with store.spool.locked():  # this store's replayer waits until the copy is whole
            assert len(artifact_entries(store.spool)) == 8
            shutil.copytree(store.spool.folder, backup, ignore=shutil.ignore_patterns(".lock"))

        server = server_process("--store", dsn, "--files", str(files), port=port)
        outcome: list[bool] = []
        replayer = threading.Thread(target=lambda: outcome.append(store.replay()))
        replayer.start()
        deadline = time.monotonic() + 60
        # two small commits acknowledged: kill while the first big file is being sent
        while len(artifact_entries(store.spool)) > 6 and time.monotonic() < deadline:
            time.sleep(0.001)
        server.kill()
        replayer.join(60)
        left = len(artifact_entries(store.spool))
        assert outcome == [False] and 0 < left < 8, (outcome, left)

        server.start()
        assert store.replay()
        # a crash after the server's answer but before the entries were removed: all of
        # them are replayed again, by a new process, and answered from the commit ids.
        # The old store is closed first so its background replayer cannot read the
        # entries while they are being put back.
        store.close()
        for path in backup.iterdir():
            target = store.spool.folder / path.name
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                shutil.copy2(path, target)
        assert len(artifact_entries(store.spool)) == 8
        store = RemoteStore(url)
        assert store.replay()
        view = runlane.open(run.id, store=url)
        labels = [r.label for r in view.artifacts]
        assert labels == [
            "part0@0",
            "set:v0",
            "part1@1",
            "set:v1",
            "part2@2",
            "set:v2",
            "part3@3",
            "set:v3",
        ]
        versions = artifact_versions("alice/chaos", store=url).versions("set")
        assert [v.version for v in versions] == ["v0", "v1", "v2", "v3"]
    finally:
        store.close()


OFFLINE_SCRIPT = """
import os, sys, runlane
url, src = sys.argv[1], sys.argv[2]
run = runlane.init("bob/field", name="rover", server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
run.log_artifact(os.path.join(src, "weights.bin"))
run.log_model(os.path.join(src, "weights.bin"), name="clf")
run.log_artifact(runlane.Artifact("ds").add_file(os.path.join(src, "weights.bin")))
print(run.id, flush=True)
"""


def test_a_process_that_exits_offline_leaves_a_spool_runlane_sync_uploads(
    backend: ServerStore, tmp_path: Path, root: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = os.urandom(50_000)
    write(tmp_path / "src" / "weights.bin", data)
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, url, str(tmp_path / "src")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(root),
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[0]
    assert len(artifact_entries(Spool(default_spool_dir(url)))) == 3
    with serve_app(create_app(backend), port=port):
        assert "0 left" in sync(url, root)
        view = runlane.open(run_id, store=url)
        assert [r.label for r in view.artifacts] == ["weights.bin", "clf:v0", "ds:v0"]
        assert {f.sha256 for r in view.artifacts for f in r.files} == {sha(data)}
        assert view.info.status == "succeeded"


KILLED_SCRIPT = """
import os, sys, runlane
url, src = sys.argv[1], sys.argv[2]
run = runlane.init("bob/killed", name="cut", server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
print(run.id, flush=True)
for i in range(1000):
    run.log_artifact(src, name=f"blob{i}", step=i)
    print(i, flush=True)
"""


def test_a_process_killed_while_spooling_leaves_whole_entries_or_none(
    backend: ServerStore, tmp_path: Path, root: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    blob = write(tmp_path / "blob.bin", os.urandom(24 * MiB))
    spool = Spool(default_spool_dir(url))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, url, str(blob)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env(root),
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().decode().strip()
        proc.stdout.readline()  # one artifact spooled
        deadline = time.monotonic() + 30
        copying = False
        while not copying and time.monotonic() < deadline:  # kill it while it copies one
            copying = bool(list((spool.folder / "artifacts").glob(".*.tmp")))
            time.sleep(0.001)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert copying, "the spooling process was never seen copying"
    entries = artifact_entries(spool)
    assert entries
    for path in entries:  # every visible entry is complete
        doc = json.loads(Spool.read(path)[2])
        ref = doc["spec"]["source"]["files"][0]
        assert sha((spool.folder / doc["folder"] / ref["spool"]).read_bytes()) == ref["sha256"]
    assert sweep(spool, grace=0) or not list((spool.folder / "artifacts").glob(".*"))
    named = {path.name.removesuffix(".entry") for path in entries}
    assert {p.name for p in (spool.folder / "artifacts").iterdir()} == named
    with serve_app(create_app(backend), port=port):
        assert "0 left" in sync(url, root)
        labels = [r.label for r in runlane.open(run_id, store=url).artifacts]
        assert labels == [f"blob{i}@{i}" for i in range(len(entries))]
