"""SIGKILL at random moments: 50 logging processes into a local folder, 50 through a
``runlane server`` on PostgreSQL.

Each child logs ``{"i": i, "v": value_of(i)}`` at a known rate (plus a second stream and log
lines), calls ``run.flush()`` every 0.2 s and records, in a memory-mapped file that outlives
it, how many rows it had logged and how many the last returned flush acknowledged. One trial
in five is killed at a random moment from process start (during import, ``init``, run
creation); the others at a random moment of their logging loop. Then, for every trial:

* every file parses (JSON whole; JSONL complete but for a torn last line readers skip) and the
  catalog passes SQLite's integrity check (local);
* every acknowledged row is present, rows are contiguous, unique, in order and carry their
  value (checksum), and at most the unflushed tail is missing: ≤ 1 s of data;
* the run reads as crashed: at once locally (its process is gone), after the heartbeat went
  stale on the server (shortened to 2 s here, 30 s in production);
* locally, the crashed run can be resumed and appended to, right after its last row.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support_checks import (
    check_catalog,
    check_rows,
    check_run_files,
    read_stream,
    value_of,
)
from support_procs import ACKED, LOGGED, PHASE, Counters, child_env, spawn, tail

import runlane
from runlane.store.local.store import LocalStore
from runlane.store.remote import RemoteStore

pytestmark = pytest.mark.reliability

TRIALS = 50
PARALLEL = 4
RATE = 1000.0  # rows per second of the default stream
FLUSH_EVERY = 0.2
MAX_LOST_SECONDS = 1.0
STALE_AFTER = 2.0  # the server's heartbeat staleness in this test
HEARTBEAT = 0.3  # the children's heartbeat interval in this test
PROJECT = "crash/victims"


@dataclass
class Trial:
    number: int
    name: str
    early: bool
    delay: float
    run_id: str = ""
    logged: int = 0
    acked: int = 0
    killed_at: float = 0.0
    status_before: str | None = None


def _kill_trial(trial: Trial, tmp: Path, env: dict[str, str], status_of: Any = None) -> Trial:
    counters = Counters(tmp / f"counters-{trial.number}", create=True)
    log = tmp / f"child-{trial.number}.log"
    proc = spawn("crash", PROJECT, trial.name, counters.path, RATE, FLUSH_EVERY, env=env, log=log)
    try:
        if not trial.early:
            deadline = time.monotonic() + 60
            while counters[PHASE] != 1:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"trial {trial.number} never started{tail(log)}")
                time.sleep(0.005)
            if status_of is not None:
                trial.status_before = status_of(trial)
        time.sleep(trial.delay)
        proc.kill()  # SIGKILL: no handler, no atexit, no flush
        trial.killed_at = time.monotonic()
        proc.wait(30)
        assert proc.stdout is not None
        trial.run_id = proc.stdout.read().strip()
        proc.stdout.close()
        trial.logged, trial.acked = counters[LOGGED], counters[ACKED]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        counters.close()
    return trial


def _plan(seed: int) -> list[Trial]:
    rng = random.Random(seed)
    trials = []
    for k in range(TRIALS):
        early = k % 5 == 0
        delay = rng.uniform(0.0, 0.6) if early else rng.uniform(0.0, 1.0)
        trials.append(Trial(k, f"trial-{k}", early, delay))
    return trials


def _run_all(trials: list[Trial], tmp: Path, env: dict[str, str], status_of: Any = None) -> None:
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda t: _kill_trial(t, tmp, env, status_of), trials))


def _losses(trial: Trial, present: int) -> int:
    assert present >= trial.acked, (
        f"trial {trial.number}: {present} rows present, {trial.acked} were acknowledged by flush()"
    )
    assert present <= trial.logged, f"trial {trial.number}: more rows than were logged"
    lost = trial.logged - present
    assert lost / RATE <= MAX_LOST_SECONDS, (
        f"trial {trial.number}: {lost} rows lost = {lost / RATE:.2f} s of data (limit 1 s)"
    )
    return lost


def test_sigkill_at_random_moments_local(root: Path, tmp_path: Path, figures: Any) -> None:
    started = time.monotonic()
    trials = _plan(seed=8)
    _run_all(trials, tmp_path, child_env(root))
    kills_done = time.monotonic()

    store = LocalStore(root)
    lost: list[int] = []
    torn = files = runs_found = 0
    for trial in trials:
        run_dir = root / "crash" / "victims" / trial.name
        if not (run_dir / "experiment.json").exists():
            assert trial.early and not trial.run_id, f"trial {trial.number}: no run folder"
            continue
        runs_found += 1
        parsed = check_run_files(run_dir)
        files += parsed["files"]
        torn += parsed["torn"]
        run_id = trial.run_id or store.resolve_run(str(run_dir))
        present = check_rows(read_stream(store, run_id), f"trial {trial.number}")
        fast = [(index, data["i"]) for index, data in read_stream(store, run_id, "fast")]
        assert all(index == i for index, i in fast), f"trial {trial.number}: fast stream"
        seqs = [r.seq for r in store.read_logs(run_id)]
        assert seqs == list(range(len(seqs))), f"trial {trial.number}: log sequence"
        lost.append(_losses(trial, present))
        assert runlane.open(run_id, dir=root).status == "crashed", f"trial {trial.number}"
        # the crashed run takes new rows right after its last one (torn tail dropped)
        resumed = runlane.init(PROJECT, id=run_id, dir=root)
        resumed.log({"i": present, "v": value_of(present)})
        resumed.finish()
        assert check_rows(read_stream(store, run_id), f"trial {trial.number} resumed") == (
            present + 1
        )
    listed = runlane.runs(PROJECT, dir=root)
    assert check_catalog(root) == runs_found == len(listed)
    assert runs_found >= TRIALS * 4 // 5
    store.close()
    figures.record(
        "crash.local",
        trials=TRIALS,
        runs_created=runs_found,
        killed_early=sum(t.early for t in trials),
        max_rows_lost=max(lost),
        max_lost_s=max(lost) / RATE,
        mean_rows_lost=sum(lost) / len(lost),
        max_unflushed_at_kill=max(t.logged - t.acked for t in trials),
        files_parsed=files,
        torn_last_lines=torn,
        kill_phase_s=round(kills_done - started, 1),
        total_s=round(time.monotonic() - started, 1),
    )


def test_sigkill_at_random_moments_remote(
    dsn: str, runlane_server: Any, root: Path, tmp_path: Path, figures: Any
) -> None:
    started = time.monotonic()
    server = runlane_server("--store", dsn, stale_after=STALE_AFTER)
    remote = RemoteStore(server.url, spool_dir=tmp_path / "parent-spool")
    env = child_env(root, RUNLANE_SERVER=server.url, RUNLANE_HEARTBEAT_INTERVAL=str(HEARTBEAT))

    def status_of(trial: Trial) -> str:
        found = remote.list_runs(project=PROJECT, where=f"name = '{trial.name}'")
        return found[0].status if found else "missing"

    # a watcher lists the project every 0.1 s and notes when each run first reads crashed
    seen_crashed: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        watcher = RemoteStore(server.url, spool_dir=tmp_path / "watcher-spool")
        try:
            while not stop.wait(0.1):
                for info in watcher.list_runs(project=PROJECT):
                    if info.status == "crashed":
                        seen_crashed.setdefault(info.name, time.monotonic())
        finally:
            watcher.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    trials = _plan(seed=9)
    _run_all(trials, tmp_path, env, status_of)
    kills_done = time.monotonic()

    by_name = {info.name: info for info in remote.list_runs(project=PROJECT)}
    lost: list[int] = []
    for trial in trials:
        info = by_name.get(trial.name)
        if info is None:
            assert trial.early and not trial.run_id, f"trial {trial.number}: no run on the server"
            continue
        if not trial.early:
            assert trial.status_before == "running", f"trial {trial.number} before the kill"
        present = check_rows(read_stream(remote, info.id), f"trial {trial.number}")
        fast = [(index, data["i"]) for index, data in read_stream(remote, info.id, "fast")]
        assert all(index == i for index, i in fast), f"trial {trial.number}: fast stream"
        seqs = [r.seq for r in remote.read_logs(info.id)]
        assert seqs == list(range(len(seqs))), f"trial {trial.number}: log sequence"
        lost.append(_losses(trial, present))

    # liveness: every run whose process died reads as crashed once its heartbeat is stale
    started_runs = {name for name, info in by_name.items() if info.status != "created"}
    deadline = time.monotonic() + 10 * STALE_AFTER
    while not started_runs <= set(seen_crashed) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    watcher.join(10)
    missing = started_runs - set(seen_crashed)
    assert not missing, f"{len(missing)} killed run(s) never read as crashed: {sorted(missing)}"
    by_trial = {t.name: t for t in trials}
    latency = [seen_crashed[name] - by_trial[name].killed_at for name in started_runs]
    statuses = [info.status for info in remote.list_runs(project=PROJECT)]
    assert set(statuses) <= {"crashed", "created"}, statuses
    remote.close()
    figures.record(
        "crash.remote",
        trials=TRIALS,
        runs_created=len(by_name),
        killed_early=sum(t.early for t in trials),
        max_rows_lost=max(lost),
        max_lost_s=max(lost) / RATE,
        mean_rows_lost=sum(lost) / len(lost),
        max_unflushed_at_kill=max(t.logged - t.acked for t in trials),
        stale_after_s=STALE_AFTER,
        heartbeat_s=HEARTBEAT,
        max_s_kill_to_crashed=round(max(latency), 2),
        mean_s_kill_to_crashed=round(sum(latency) / len(latency), 2),
        left_created=statuses.count("created"),
        kill_phase_s=round(kills_done - started, 1),
        total_s=round(time.monotonic() - started, 1),
    )


def test_children_are_really_killed_by_sigkill(root: Path, tmp_path: Path) -> None:
    """The harness itself: a crash child dies by SIGKILL, not by an exit of its own."""
    counters = Counters(tmp_path / "counters", create=True)
    proc = spawn("crash", PROJECT, "probe", counters.path, RATE, FLUSH_EVERY, env=child_env(root))
    deadline = time.monotonic() + 30
    while counters[ACKED] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the child exited on its own"
    proc.kill()
    assert proc.wait(10) == -9
    assert counters[LOGGED] >= counters[ACKED] > 0
    counters.close()
