"""The SDK end to end through a real server: ``runlane.init(server=...)`` over HTTP into
PostgreSQL + SeaweedFS, two server replicas over one database, a server killed and
restarted while a client logs, the offline spool, and ``runlane sync``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlane
from runlane.entities import Batch
from runlane.server.app import create_app
from runlane.store.registry import forget_stores, open_store
from runlane.store.remote import RemoteStore
from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from support.servers import NO_CAPTURE, ServerProcess, free_port, serve_app


def test_sdk_logs_every_kind_through_the_server(pg_store: ServerStore) -> None:
    with serve_app(create_app(pg_store)) as url:
        run = runlane.init(
            "alice/vision",
            name="e2e",
            server=url,
            config={"lr": 0.1, "opt": {"name": "adam"}},
            tags=["t1"],
            **NO_CAPTURE,
        )
        for step in range(12_000):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 12_000}, step=step)
        run.metrics("eval").log(accuracy=0.9, epoch=1)
        run.log_message("hello", level="warn", metadata={"k": 1})
        run.log_event("best", metadata={"step": 3})
        run.tracks("robot/pose").append(x=1.0, _ts=5.0)
        run.update_metadata("hw", {"gpus": 2})
        run.add_tags(["t2"])
        run.finish()

        view = runlane.open(run.id, store=url)
        assert view.info.status == "succeeded"
        assert view.info.tags == ("t1", "t2")
        assert view.params.get() == {"lr": 0.1, "opt.name": "adam"}
        steps, values, _ = view.metrics().arrays("loss")
        np.testing.assert_array_equal(steps, np.arange(12_000))
        assert values[0] == 1.0 and len(values) == 12_000
        assert view.metrics("eval").read(0, 10)["data"][0]["data"]["accuracy"] == 0.9
        assert [r.message for r in pg_store.read_logs(run.id)] == ["hello"]
        assert [e.name for e in pg_store.read_events(run.id)] == ["best"]
        assert pg_store.read_track(run.id, "robot/pose") == [{"timestamp": 5.0, "x": 1.0}]
        assert pg_store.read_metadata(run.id)["hw"][0] == {"gpus": 2}
        found = runlane.runs("alice/vision", "params.lr = 0.1 and metrics.acc > 0.99", store=url)
        assert [v.id for v in found] == [run.id]
    # past 10,000 rows the stream was compacted into Parquet chunks and reads merged them
    pg_store.compact()
    cols = pg_store.read_columns(run.id, "default", ["loss"])
    assert len(cols["loss"]) == 12_000


def test_runlane_server_env_selects_the_remote_store(
    pg_store: ServerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_app(create_app(pg_store)) as url:
        monkeypatch.setenv("RUNLANE_SERVER", url)
        run = runlane.init("alice/env", name="via-env", **NO_CAPTURE)
        run.log({"x": 1})
        run.finish()
        assert isinstance(open_store(url), RemoteStore)
        assert pg_store.get_run(run.id).name == "via-env"
        assert pg_store.read_rows(run.id, "default").total == 1


def _rows(store: ServerStore, run_id: str) -> list[int]:
    return [int(d["i"]) for _, d, _ in store.read_rows(run_id, "default", 0, 1_000_000).rows]


def test_offline_spool_then_sync_uploads_once(
    pg_store: ServerStore, tmp_path: Path, root: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # nothing listens yet
    run = runlane.init("alice/offline", name="plane", server=url, **NO_CAPTURE)
    for i in range(500):
        run.log({"i": i})
    run.log_message("logged offline")
    run.finish()
    store = open_store(url)
    assert isinstance(store, RemoteStore)
    spooled = store.spool.entries()
    assert spooled, "nothing was spooled"
    forget_stores()  # the process ends; its spool stays on disk
    with serve_app(create_app(pg_store), port=port):
        for _ in range(2):  # re-running is harmless
            done = subprocess.run(
                [sys.executable, "-m", "runlane.cli.main", "sync", "--server", url],
                capture_output=True,
                text=True,
                timeout=60,
                env=_env(root),
            )
            assert done.returncode == 0, done.stderr
            assert "0 left" in done.stdout
        info = pg_store.get_run(run.id)
        assert (info.name, info.status) == ("plane", "succeeded")
        assert _rows(pg_store, run.id) == list(range(500))
        assert [r.message for r in pg_store.read_logs(run.id)] == ["logged offline"]


def test_server_killed_and_restarted_while_a_client_logs(
    dsn: str, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process("--store", dsn)
    run = runlane.init("alice/chaos", name="survivor", server=server.url, **NO_CAPTURE)
    store = open_store(server.url)
    assert isinstance(store, RemoteStore)
    total = 30_000
    for i in range(total):
        run.log({"i": i})
        if i == 8_000:
            server.kill()  # SIGKILL while the writer may be mid-request
        if i == 15_000:
            run.flush()  # everything logged while it was down is now in the spool
            assert store.spool.pending()
            server.start()  # same port, same database
        if i % 2_000 == 0:
            time.sleep(0.05)  # let the writer send while the server is down or back
    run.finish()
    deadline = time.monotonic() + 30
    while store.spool.pending() and time.monotonic() < deadline:
        store.replay()
        time.sleep(0.1)
    assert not store.spool.pending()
    check = ServerStore(dsn)
    try:
        assert _rows(check, run.id) == list(range(total))  # nothing lost, nothing doubled
        assert check.get_run(run.id).status == "succeeded"
    finally:
        check.close()


def test_two_replicas_over_one_database_serve_the_same_data(
    dsn: str, s3: S3Location, server_process: Callable[..., ServerProcess]
) -> None:
    env = {"AWS_ACCESS_KEY_ID": s3.access_key or "", "AWS_SECRET_ACCESS_KEY": s3.secret_key or ""}
    args = (
        "--store",
        dsn,
        "--artifacts",
        f"s3://{s3.bucket}/{s3.prefix}",
        "--s3-endpoint",
        s3.endpoint or "",
    )
    a = server_process(*args, env=env)
    b = server_process(*args, env=env)
    store_a, store_b = RemoteStore(a.url), RemoteStore(b.url)
    try:
        run_id = store_a.create_run(
            runlane.entities.RunSpec(owner="alice", project="ha", name="shared")
        )[0].id
        assert (
            store_b.create_run(
                runlane.entities.RunSpec(owner="alice", project="ha", name="shared", resume=True)
            )[0].id
            == run_id
        )

        def writer(store: RemoteStore, tag: int) -> None:
            for n in range(30):
                store.write(
                    run_id, Batch(rows={"m": [{"w": tag, "n": n, "k": k} for k in range(500)]})
                )

        threads = [
            threading.Thread(target=writer, args=(s, i)) for i, s in enumerate((store_a, store_b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = 2 * 30 * 500
        assert store_a.read_rows(run_id, "m", 0, 1).total == total
        cols_a = store_a.read_columns(run_id, "m", ["k", "w"])
        cols_b = store_b.read_columns(run_id, "m", ["k", "w"])
        np.testing.assert_array_equal(cols_a["_index"], np.arange(total))
        for name in ("k", "w"):
            np.testing.assert_array_equal(cols_a[name], cols_b[name])
        # every 500-row batch stayed contiguous, whichever replica wrote it
        np.testing.assert_array_equal(cols_a["k"], np.tile(np.arange(500.0), 60))
        # past 10,000 rows, chunks went to SeaweedFS; both replicas read them
        check = ServerStore(dsn, objects=S3Objects(s3))
        try:
            check.compact()
            with check.connection() as conn:
                chunks = conn.execute("SELECT count(*) FROM metric_chunks").fetchone()
            assert chunks is not None and chunks[0] >= 2
        finally:
            check.close()
        assert store_b.read_rows(run_id, "m", 20_500, 2).rows[0][1]["k"] == 0
    finally:
        store_a.close()
        store_b.close()


def test_runlane_sync_uploads_a_local_folder_idempotently(
    pg_store: ServerStore, tmp_path: Path, root: Path
) -> None:
    local_root = tmp_path / "offline"
    run = runlane.init("bob/field", name="rover", dir=local_root, config={"k": 1}, **NO_CAPTURE)
    for i in range(300):
        run.log({"i": i, "blob": b"\x00\x01" if i == 0 else None})
    run.log_message("one")
    run.log_event("e1")
    run.tracks("gps").append(lat=1.0, _ts=1.0)
    run.finish()
    with serve_app(create_app(pg_store)) as url:
        outputs = []
        for _ in range(2):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "runlane.cli.main",
                    "sync",
                    str(local_root),
                    "--server",
                    url,
                    "--json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env=_env(root),
            )
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
    import json

    first, second = (json.loads(o) for o in outputs)
    assert first[0]["rows"] == 300 and first[0]["existed"] is False
    assert second[0]["rows"] == 0 and second[0]["existed"] is True and second[0]["other"] == []
    assert _rows(pg_store, run.id) == list(range(300))
    assert pg_store.read_rows(run.id, "default", 0, 1).rows[0][1]["blob"] == b"\x00\x01"
    assert [r.message for r in pg_store.read_logs(run.id)] == ["one"]
    assert [e.name for e in pg_store.read_events(run.id)] == ["e1"]
    assert pg_store.read_track(run.id, "gps") == [{"timestamp": 1.0, "lat": 1.0}]
    info = pg_store.get_run(run.id)
    assert (info.owner, info.project, info.name, info.status) == (
        "bob",
        "field",
        "rover",
        "succeeded",
    )
    assert pg_store.read_params(run.id).data == {"k": 1}


def _env(root: Path) -> dict[str, Any]:
    import os

    return {**os.environ, "RUNLANE_DIR": str(root), "RUNLANE_CAPTURE": "none"}


def test_batches_over_the_body_limit_are_split_in_order(tmp_path: Path) -> None:
    from runlane.entities import LogRecord, RunPatch, RunSpec
    from runlane.store.memory import MemoryStore

    backend = MemoryStore("memory://split")
    with serve_app(create_app(backend, max_body=40_000)) as url:
        store = RemoteStore(url, spool_dir=tmp_path / "spool", max_body=30_000)
        try:
            run_id = store.create_run(RunSpec(owner="a", project="p", name="big"))[0].id
            batch = Batch(
                rows={"m": [{"i": i, "pad": "x" * 20} for i in range(3_000)]},
                logs=[LogRecord("info", "first", 1.0)],
                patches=[RunPatch(status="running", at=1.0), RunPatch(status="succeeded", at=2.0)],
            )
            store.write(run_id, batch)
            rows = backend.read_rows(run_id, "m", 0, 10_000).rows
            assert [d["i"] for _, d, _ in rows] == list(range(3_000))
            assert backend.get_run(run_id).status == "succeeded"
            assert [r.message for r in backend.read_logs(run_id)] == ["first"]
            assert not store.spool.pending()
        finally:
            store.close()
