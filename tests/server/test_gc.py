"""Garbage collection of a ServerStore (:mod:`runlane.store.server.gc`) on real PostgreSQL and
SeaweedFS: abandoned uploads go with their parts while live ones (and those of a project
being committed) stay; committed artifacts and shared mirror parts survive; unreferenced
parts go once past their grace; a dry run changes nothing and reports what the pass then
removes; write blocks racing a collector lose nothing; one pass at a time; a failing pass
never stops the server's collector; ``runlane server gc`` and the periodic pass inside
``runlane server`` work end to end.

Ages are made by moving a row's timestamp back (``_age``): waiting a day is not a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

import runlane
from runlane.errors import InvalidArgumentError, NotFoundError, StoreError
from runlane.server.app import create_app
from runlane.server.gc_schedule import GcSchedule, PeriodicCollector, parse_duration
from runlane.server.shared_uploads import SharedUploadArea
from runlane.store.server import ServerStore
from runlane.store.server.gc import (
    OWNER_KEY,
    PASS_LOCK,
    Removed,
    collect_garbage,
    try_collect_garbage,
)
from runlane.store.server.mirror_files import INLINE
from runlane.store.server.objects import ObjectInfo, S3Location, S3Objects
from support.files import sha, write
from support.servers import ServerProcess, serve_app
from support.services import Services, drop_database, fresh_database, s3_location

DAY = 24 * 3600.0


def _sql(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description else []


def _age(dsn: str, table: str, column: str, seconds: float, where: str = "true") -> None:
    """Make rows of ``table`` look ``seconds`` older (what time would do)."""
    _sql(dsn, f"UPDATE {table} SET {column} = {column} - %s WHERE {where}", (seconds,))


def _keys(store: ServerStore, prefix: str) -> dict[str, int]:
    return {info.key: info.size for info in store.objects.scan(prefix)}


@pytest.fixture
def store(dsn: str, s3: S3Location, tmp_path: Path) -> Iterator[ServerStore]:
    served = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "files")
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def api(store: ServerStore) -> Iterator[httpx.Client]:
    with (
        serve_app(create_app(store)) as base,
        httpx.Client(base_url=f"{base}/api/v1", timeout=60) as client,
    ):
        yield client


def new_run(api: httpx.Client, project: str = "gc") -> str:
    made = api.post("/runs", json={"owner": "alice", "project": project})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["run"]["id"])


def start_upload(api: httpx.Client, run_id: str, data: bytes, *chunks: int) -> str:
    """An upload of ``data`` with the chunks of these sizes sent (one part each)."""
    created = api.post("/uploads", json={"run_id": run_id, "size": len(data)})
    upload_id = str(created.json()["upload_id"])
    at = 0
    for size in chunks:
        sent = api.patch(
            f"/uploads/{upload_id}",
            content=data[at : at + size],
            headers={"upload-offset": str(at)},
        )
        assert sent.status_code in (200, 204), sent.text
        at += size
    return upload_id


def commit(api: httpx.Client, run_id: str, upload_id: str, data: bytes, name: str) -> Any:
    files = [{"path": name, "upload_id": upload_id, "sha256": sha(data)}]
    spec = {
        "source": {"name": name, "is_dir": False, "files": files},
        "commit_id": uuid.uuid4().hex,
    }
    done = api.post(f"/runs/{run_id}/artifacts", json=spec)
    assert done.status_code == 201, done.text
    return done.json()


# --- uploads ------------------------------------------------------------------------------
def test_an_abandoned_upload_goes_with_its_parts_and_a_live_one_stays(
    store: ServerStore, api: httpx.Client, dsn: str
) -> None:
    run_id = new_run(api)
    old_data, live_data = os.urandom(300_000), os.urandom(200_000)
    old = start_upload(api, run_id, old_data, 100_000, 50_000)
    live = start_upload(api, run_id, live_data, 120_000)
    _age(dsn, "artifact_uploads", "updated", 2 * DAY, f"id = '{old}'")
    assert len(_keys(store, f"uploads/{old}/")) == 2

    report = collect_garbage(store)  # older than the default 24 h

    assert report.uploads == Removed(1, 150_000)
    assert report.upload_parts == Removed(2, 150_000)
    assert report.mirror_parts == Removed() and report.skipped == ()
    assert api.head(f"/uploads/{old}").status_code == 404
    assert _keys(store, f"uploads/{old}/") == {}
    late = api.patch(f"/uploads/{old}", content=b"x", headers={"upload-offset": "150000"})
    assert late.status_code == 404  # an append after the expiry finds no upload
    # the live upload is untouched: it resumes and commits
    assert api.head(f"/uploads/{live}").headers["upload-offset"] == "120000"
    rest = api.patch(
        f"/uploads/{live}", content=live_data[120_000:], headers={"upload-offset": "120000"}
    )
    assert rest.json()["offset"] == len(live_data)
    commit(api, run_id, live, live_data, "live.bin")
    got = api.get(f"/runs/{run_id}/files/outputs/live.bin")
    assert got.content == live_data
    assert collect_garbage(store).kinds == {k: Removed() for k in report.kinds}


def test_an_upload_of_a_project_being_committed_waits_for_the_next_pass(
    store: ServerStore, api: httpx.Client, dsn: str
) -> None:
    run_id = new_run(api)
    old = start_upload(api, run_id, os.urandom(1000), 500)
    _age(dsn, "artifact_uploads", "updated", 2 * DAY)
    with store.mirror.write("alice/gc"):  # the lock a commit to the project holds
        busy = collect_garbage(store)
    assert busy.uploads == Removed() and busy.upload_parts == Removed()
    assert [s for s in busy.skipped if old in s and "alice/gc" in s]
    assert api.head(f"/uploads/{old}").headers["upload-offset"] == "500"
    after = collect_garbage(store)
    assert after.uploads == Removed(1, 500) and after.skipped == ()
    assert api.head(f"/uploads/{old}").status_code == 404


def test_creating_an_upload_sweeps_expired_ones_the_same_safe_way(
    store: ServerStore, dsn: str, tmp_path: Path
) -> None:
    first = SharedUploadArea(store, tmp_path / "one", ttl=3600)
    old = first.create(owner="alice", project="gc", run_id=None)
    held = first.create(owner="alice", project="busy", run_id=None)
    _age(dsn, "artifact_uploads", "updated", 7200)
    other = SharedUploadArea(store, tmp_path / "two", ttl=3600)  # sweeps at its first create
    with store.mirror.write("alice/busy"):  # a commit to that project is running
        new = other.create(owner="alice", project="gc", run_id=None)
    with pytest.raises(NotFoundError):
        other.get(old.id)
    assert other.get(held.id).id == held.id and other.get(new.id).id == new.id


# --- mirror parts -------------------------------------------------------------------------
def test_a_committed_artifacts_parts_survive_collection(dsn: str, tmp_path: Path) -> None:
    """Without an S3 store a run folder's large files are mirror parts in PostgreSQL."""
    store = ServerStore(dsn, files_root=tmp_path / "files")
    fresh = ServerStore(dsn, files_root=tmp_path / "fresh")
    try:
        data = os.urandom(INLINE + 70_000)
        with (
            serve_app(create_app(store)) as base,
            httpx.Client(base_url=f"{base}/api/v1", timeout=60) as api,
        ):
            run_id = new_run(api)
            upload_id = start_upload(api, run_id, data, 5_000_000, len(data) - 5_000_000)
            commit(api, run_id, upload_id, data, "big.bin")
        stored = _keys(store, "mirror/")
        assert len(stored) == 2  # the file's two parts
        report = collect_garbage(store, older_than=0)
        assert report.mirror_parts == Removed() and report.waiting == 0
        assert report.upload_parts == Removed()  # the commit removed its upload already
        assert _keys(store, "mirror/") == stored
        view = runlane.open(run_id, store=fresh)
        got = view.artifacts.download("big.bin", dest=tmp_path / "dl")
        assert sha(got.read_bytes()) == sha(data)
    finally:
        store.close()
        fresh.close()


def test_an_unreferenced_part_goes_after_its_grace_and_named_ones_stay(
    store: ServerStore, dsn: str, s3: S3Location, tmp_path: Path
) -> None:
    head = os.urandom(INLINE)  # a part both files hold: stored once
    a, b = head + os.urandom(1000), head + os.urandom(2000)
    folder = store.root / "alice/p/.runs/r/outputs"
    with store.mirror.write("alice/p"):
        write(folder / "a.bin", a)
        write(folder / "b.bin", b)
    assert len(_keys(store, "mirror/")) == 3
    assert collect_garbage(store, older_than=0).mirror_parts == Removed()

    with store.mirror.write("alice/p"):
        write(folder / "a.bin", b"small now")  # a's own part is named by nothing
    first = collect_garbage(store, older_than=60)
    assert first.mirror_parts == Removed() and first.waiting == 1  # found, not yet past grace
    time.sleep(1.2)
    second = collect_garbage(store, older_than=1)
    assert second.mirror_parts == Removed(1, 1000) and second.waiting == 0
    assert sorted(_keys(store, "mirror/").values()) == [2000, INLINE]  # b's parts stay
    reader = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "reader")
    try:
        reader.mirror.pull("alice/p")
        assert sha((reader.root / "alice/p/.runs/r/outputs/b.bin").read_bytes()) == sha(b)
    finally:
        reader.close()

    with store.mirror.write("alice/p"):
        (folder / "b.bin").unlink()
    third = collect_garbage(store, older_than=1)  # the grace counts from when a pass found them
    assert third.mirror_parts == Removed() and third.waiting == 2
    last = collect_garbage(store, older_than=0)
    assert last.mirror_parts == Removed(2, INLINE + 2000)
    assert _keys(store, "mirror/") == {}


def test_another_databases_object_store_is_refused_before_anything_goes(
    store: ServerStore, dsn: str, s3: S3Location, tmp_path: Path
) -> None:
    with store.mirror.write("alice/p"):
        write(store.root / "alice/p/.runs/r/outputs/a.bin", os.urandom(INLINE + 10))
    with store.mirror.write("alice/p"):
        (store.root / "alice/p/.runs/r/outputs/a.bin").unlink()
    first = collect_garbage(store)  # claims the object store for this database
    assert first.waiting == 2 and _keys(store, OWNER_KEY)
    _age(dsn, "gc_marks", "seen", 2 * DAY)
    other_dsn = fresh_database("gc")
    other = ServerStore(other_dsn, objects=S3Objects(s3), files_root=tmp_path / "other")
    try:
        for dry_run in (True, False):
            with pytest.raises(InvalidArgumentError, match="collected by another database"):
                collect_garbage(other, older_than=0, dry_run=dry_run)
    finally:
        other.close()
        drop_database(other_dsn)
    assert len(_keys(store, "mirror/")) == 2  # nothing of this database's went

    # a store that holds none of the parts the records name (not the servers' --artifacts)
    with store.mirror.write("alice/p"):
        write(store.root / "alice/p/.runs/r/outputs/b.bin", os.urandom(INLINE + 20))
    wrong = ServerStore(dsn, objects=S3Objects(s3_location("gc-wrong")))
    try:
        with pytest.raises(InvalidArgumentError, match="not the object store"):
            collect_garbage(wrong, older_than=0)
        assert _keys(wrong, "") == {}  # not claimed either
    finally:
        wrong.close()
    assert collect_garbage(store).mirror_parts == Removed(2, INLINE + 10)


# --- dry run ------------------------------------------------------------------------------
def test_a_dry_run_deletes_nothing_and_reports_what_the_pass_then_removes(
    store: ServerStore, api: httpx.Client, dsn: str
) -> None:
    with store.mirror.write("alice/gc"):
        write(store.root / "alice/gc/.runs/r/outputs/big.bin", os.urandom(INLINE + 500))
    with store.mirror.write("alice/gc"):
        (store.root / "alice/gc/.runs/r/outputs/big.bin").unlink()
    gone = uuid.uuid4().hex  # what a process killed between storing and recording left
    store.objects.put(f"uploads/{gone}/0000000000000000-dead", b"z" * 700)
    found = collect_garbage(store)  # marks the unreferenced objects, removes nothing
    assert found.waiting == 3 and all(r == Removed() for r in found.kinds.values())
    _age(dsn, "gc_marks", "seen", 2 * DAY)

    run_id = new_run(api)
    old = start_upload(api, run_id, os.urandom(4000), 1000, 1000)
    store.objects.put(f"uploads/{old}/0000000000099999-orphan", b"y" * 300)  # no part row
    live = start_upload(api, run_id, os.urandom(4000), 4000)
    data = os.urandom(3000)
    commit(api, run_id, start_upload(api, run_id, data, 3000), data, "c.bin")
    _age(dsn, "artifact_uploads", "updated", 2 * DAY, f"id = '{old}'")
    _age(dsn, "artifact_commits", "at", 2 * DAY)

    def state() -> Any:
        return (
            _keys(store, ""),
            _sql(dsn, "SELECT * FROM artifact_uploads ORDER BY id"),
            _sql(dsn, "SELECT * FROM artifact_upload_parts ORDER BY upload_id, first"),
            _sql(dsn, "SELECT commit_id, at FROM artifact_commits ORDER BY commit_id"),
            _sql(dsn, "SELECT * FROM gc_marks ORDER BY key"),
        )

    before = state()
    dry = collect_garbage(store, dry_run=True)
    assert state() == before
    real = collect_garbage(store)
    assert dry.dry_run and not real.dry_run
    assert dry.kinds == real.kinds and dry.waiting == real.waiting
    assert real.commit_ids.count == 1
    assert real.uploads == Removed(1, 2000)
    assert real.upload_parts == Removed(3, 2700)  # two parts, the crash leftover
    assert real.mirror_parts == Removed(2, INLINE + 500)
    assert real.waiting == 1  # the orphan of the upload removed now: its grace starts now
    assert api.head(f"/uploads/{live}").headers["upload-offset"] == "4000"
    left = _keys(store, "uploads/")
    assert {key.split("/")[1] for key in left} == {old, live}
    assert [key for key in left if old in key] == [f"uploads/{old}/0000000000099999-orphan"]


# --- concurrency --------------------------------------------------------------------------
class SlowPuts:
    """An S3 object store whose puts of mirror parts take a while: the window between a
    write block storing a part and committing the row naming it, made wide."""

    def __init__(self, inner: S3Objects, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    @property
    def uri(self) -> str:
        return self.inner.uri

    def put(self, key: str, body: bytes) -> None:
        self.inner.put(key, body)
        if key.startswith("mirror/"):
            time.sleep(self.delay)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def delete(self, keys: list[str]) -> None:
        self.inner.delete(keys)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.scan(prefix)


def test_write_blocks_racing_a_collector_lose_nothing(
    dsn: str, s3: S3Location, tmp_path: Path
) -> None:
    """A writer flips a file between two contents (so each version's own part is unnamed,
    then named again) while another store collects with no grace at all, in a loop."""
    writer = ServerStore(dsn, objects=SlowPuts(S3Objects(s3), 0.15), files_root=tmp_path / "w")
    reader = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "r")
    collector = ServerStore(dsn, objects=S3Objects(s3))
    head = os.urandom(INLINE)
    versions = [head + os.urandom(3000), head + os.urandom(4000)]
    stop = threading.Event()
    removed: list[int] = []
    failures: list[BaseException] = []

    def collect() -> None:
        while not stop.is_set():
            try:
                removed.append(collect_garbage(collector, older_than=0).mirror_parts.count)
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)
                return

    thread = threading.Thread(target=collect)
    thread.start()
    target = "alice/p/.runs/r/outputs/model.bin"
    try:
        for i in range(6):
            data = versions[i % 2]
            with writer.mirror.write("alice/p"):
                write(writer.root / target, data)
            reader.mirror.pull("alice/p")  # raises if a part the record names is gone
            assert sha((reader.root / target).read_bytes()) == sha(data)
            time.sleep(0.2)  # room for the collector to take the parts lock between blocks
        stop.set()
        thread.join(60)
        assert not failures, failures
        assert len(removed) >= 3  # passes ran beside the writer...
        last = collect_garbage(collector, older_than=0).mirror_parts.count
        assert sum(removed) + last >= 1  # ...and the version not current is gone
    finally:
        stop.set()
        thread.join(60)
        for store in (writer, reader, collector):
            store.close()


def test_one_pass_at_a_time_and_a_failing_pass_never_stops_the_collector(
    store: ServerStore, dsn: str, svc: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(dsn) as conn:  # another replica's pass holds the lock
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", PASS_LOCK)
        assert try_collect_garbage(store) is None
        with pytest.raises(StoreError, match="another garbage collection"):
            collect_garbage(store)
        assert try_collect_garbage(store, dry_run=True) is not None  # a dry run takes no lock
    assert try_collect_garbage(store) is not None

    nowhere = S3Location("no-such-bucket-gc", "", svc.s3_endpoint, svc.access_key, svc.secret_key)
    broken = ServerStore(dsn, objects=S3Objects(nowhere))
    collector = PeriodicCollector(broken, GcSchedule(interval=0.1, older_than=0)).start()
    try:
        deadline = time.monotonic() + 30
        while capsys.readouterr().err.count("garbage collection failed") < 1:
            assert time.monotonic() < deadline, "no failure was reported"
            time.sleep(0.05)
        while capsys.readouterr().err.count("garbage collection failed") < 1:  # and again
            assert time.monotonic() < deadline, "the collector stopped after a failure"
            time.sleep(0.05)
        assert collector._thread.is_alive()
    finally:
        collector.stop()
        broken.close()


# --- settings and the command line ---------------------------------------------------------
def test_durations_and_the_schedule_from_the_environment() -> None:
    assert [parse_duration(t) for t in ("90", "90s", "30m", "1.5h", "7d")] == [
        90,
        90,
        1800,
        5400,
        7 * DAY,
    ]
    with pytest.raises(runlane.InvalidArgumentError, match="'3 weeks' is not a duration"):
        parse_duration("3 weeks")
    assert GcSchedule.from_env({}) == GcSchedule(3600.0, DAY)
    assert GcSchedule.from_env({"RUNLANE_GC_INTERVAL": "off"}).interval is None
    assert GcSchedule.from_env({"RUNLANE_GC_INTERVAL": "0"}).interval is None
    both = {"RUNLANE_GC_INTERVAL": "10m", "RUNLANE_GC_OLDER_THAN": "2d"}
    assert GcSchedule.from_env(both) == GcSchedule(600.0, 2 * DAY)
    with pytest.raises(runlane.InvalidArgumentError, match="RUNLANE_GC_INTERVAL 'soon'"):
        GcSchedule.from_env({"RUNLANE_GC_INTERVAL": "soon"})


def _cli(svc: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": svc.access_key,
        "AWS_SECRET_ACCESS_KEY": svc.secret_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "runlane.cli.main", "server", "gc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_runlane_server_gc_reports_a_dry_run_then_collects(
    store: ServerStore, api: httpx.Client, dsn: str, s3: S3Location, svc: Services
) -> None:
    run_id = new_run(api)
    old = start_upload(api, run_id, os.urandom(5000), 2000)
    _age(dsn, "artifact_uploads", "updated", 3600 * 3)
    where = ("--store", dsn, "--artifacts", f"s3://{s3.bucket}/{s3.prefix}")
    where += ("--s3-endpoint", svc.s3_endpoint)

    kept = _cli(svc, *where, "--json")  # 3 hours old: younger than the default 24 h
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["uploads"] == {"count": 0, "bytes": 0}
    dry = _cli(svc, *where, "--older-than", "2h", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["uploads"] == {"count": 1, "bytes": 2000}
    assert api.head(f"/uploads/{old}").status_code == 200
    real = _cli(svc, *where, "--older-than", "2h")
    assert real.returncode == 0, real.stderr
    assert (
        "removed 0 commit ids (0 B), 1 uploads (2.0 KiB), 1 upload parts (2.0 KiB)" in real.stdout
    )
    assert api.head(f"/uploads/{old}").status_code == 404

    wrong = _cli(svc, "--store", "/tmp/not-a-database")
    assert wrong.returncode == 2 and "not a postgresql:// URI" in wrong.stderr
    bad = _cli(svc, *where, "--older-than", "soon")
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr


def test_runlane_server_collects_on_its_own(
    dsn: str,
    s3: S3Location,
    svc: Services,
    tmp_path: Path,
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process(
        *("--store", dsn, "--files", str(tmp_path / "files")),
        *("--artifacts", f"s3://{s3.bucket}/{s3.prefix}", "--s3-endpoint", svc.s3_endpoint),
        env={
            "AWS_ACCESS_KEY_ID": svc.access_key,
            "AWS_SECRET_ACCESS_KEY": svc.secret_key,
            "RUNLANE_GC_INTERVAL": "0.5s",
            "RUNLANE_GC_OLDER_THAN": "1h",
        },
    )
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        run_id = new_run(api)
        old = start_upload(api, run_id, os.urandom(3000), 1000)
        live = start_upload(api, run_id, os.urandom(3000), 1000)
        _age(dsn, "artifact_uploads", "updated", 2 * 3600, f"id = '{old}'")
        deadline = time.monotonic() + 30
        while api.head(f"/uploads/{old}").status_code != 404:
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            time.sleep(0.1)
        assert api.head(f"/uploads/{live}").headers["upload-offset"] == "1000"
    deadline = time.monotonic() + 10
    while "garbage collection: removed" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.1)
    assert "1 uploads (1000 B)" in server.log.read_text()


def test_an_invalid_interval_refuses_to_start_the_server(
    dsn: str, tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> None:
    with pytest.raises(RuntimeError, match="RUNLANE_GC_INTERVAL 'hourly' is not a duration"):
        server_process("--store", dsn, env={"RUNLANE_GC_INTERVAL": "hourly"})
