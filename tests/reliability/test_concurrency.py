"""Many writers at once, locally and through a ``runlane server`` on PostgreSQL.

* One run, 8 processes × 4 threads: every process joins the run by id at the same moment
  (create-or-get races), every thread logs its own sequence ``k = 0..ROWS-1`` into two streams
  and sets its own params key. Afterwards: no row lost or doubled, indices contiguous, each
  thread's rows in its order, every params key of every writer kept (Polyaxon #591 lost them)
  and the params version counts every update, log sequence numbers contiguous.
* 8 runs at once: 8 processes create a run with the same name in the same project at the same
  moment: 8 distinct runs (``name``, ``name-2``...), each complete.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support_checks import check_catalog, check_rows, read_stream
from support_procs import child_env, finish, spawn

from runlane.store.base import Store
from runlane.store.local.store import LocalStore
from runlane.store.remote import RemoteStore

pytestmark = pytest.mark.reliability

PROCESSES = 8
THREADS = 4
ROWS = 2000  # per thread and stream
START_DELAY = 2.5  # seconds for every child to start before they all begin at once
RUN_ROWS = 3000  # per run of the 8-runs test


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    store: Store
    root: Path


@pytest.fixture(params=["local", "remote"])
def backend(request: pytest.FixtureRequest, root: Path, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        store: Store = LocalStore(root)
        yield Backend("local", child_env(root), store, root)
    else:
        dsn = request.getfixturevalue("dsn")
        server = request.getfixturevalue("runlane_server")("--store", dsn)
        store = RemoteStore(server.url, spool_dir=tmp_path / "parent-spool")
        yield Backend("remote", child_env(root, RUNLANE_SERVER=server.url), store, root)
    store.close()


def test_8_processes_x_4_threads_log_into_one_run(
    backend: Backend, tmp_path: Path, figures: Any
) -> None:
    run_id = f"shared{backend.name}0001"
    project = "conc/one-run"
    (tmp_path / "barrier").mkdir()
    env = {
        **backend.env,
        "RL_TEST_START_AT": str(time.time() + START_DELAY),
        "RL_TEST_BARRIER": str(tmp_path / "barrier"),
        "RL_TEST_BARRIER_N": str(PROCESSES),
    }
    logs = [tmp_path / f"writer-{rank}.log" for rank in range(PROCESSES)]
    procs = [
        spawn("writer", project, run_id, rank, THREADS, ROWS, env=env, log=logs[rank])
        for rank in range(PROCESSES)
    ]
    started = time.monotonic() + START_DELAY
    spans = []
    for proc, log in zip(procs, logs, strict=True):
        got, begin, end = finish(proc, 120, log).split()
        assert got == run_id
        spans.append((float(begin), float(end)))
    elapsed = time.monotonic() - started
    # the harness really ran them together: every process was logging at one moment
    assert max(b for b, _ in spans) < min(e for _, e in spans), spans
    _no_write_refused(logs)
    store = backend.store

    total = PROCESSES * THREADS * ROWS
    for stream in ("default", "m"):
        rows = read_stream(store, run_id, stream)
        assert [index for index, _ in rows] == list(range(total)), f"{stream}: indices"
        seen: dict[tuple[int, int], list[int]] = defaultdict(list)
        for _, data in rows:
            seen[(data["w"], data["t"])].append(data["k"])
        assert len(seen) == PROCESSES * THREADS, f"{stream}: writers missing"
        for writer, ks in seen.items():
            assert ks == list(range(ROWS)), f"{stream}: writer {writer} lost, doubled or reordered"
        if stream == "default" and backend.name == "local":
            assert all(data["_source"] == str(data["w"]) for _, data in rows)

    params = store.read_params(run_id)
    expected = {f"p{r}_{t}": ROWS - 1 for r in range(PROCESSES) for t in range(THREADS)}
    assert params.data == expected, "params of some writers were lost"
    sets_per_thread = len([k for k in range(ROWS) if k % 100 == 0 or k == ROWS - 1])
    assert params.version == PROCESSES * THREADS * sets_per_thread, "params updates lost"

    seqs = [r.seq for r in store.read_logs(run_id)]
    assert seqs == list(range(PROCESSES * THREADS * ((ROWS + 249) // 250)))
    assert store.get_run(run_id).status == "succeeded"
    assert len(store.list_runs(project=project)) == 1
    if backend.name == "local":
        assert check_catalog(backend.root) == 1
    figures.record(
        f"concurrency.one_run.{backend.name}",
        processes=PROCESSES,
        threads=THREADS,
        rows=2 * total,
        params_updates=params.version,
        seconds=round(elapsed, 1),
        rows_per_s=round(2 * total / elapsed),
    )


def test_8_runs_created_and_logged_at_once(backend: Backend, tmp_path: Path, figures: Any) -> None:
    project = "conc/many-runs"
    env = {**backend.env, "RL_TEST_START_AT": str(time.time() + START_DELAY)}
    logs = [tmp_path / f"own-{k}.log" for k in range(PROCESSES)]
    procs = [
        spawn("own", project, "same", RUN_ROWS, env=env, log=logs[k]) for k in range(PROCESSES)
    ]
    started = time.monotonic() + START_DELAY
    ids = [finish(proc, 120, log).strip() for proc, log in zip(procs, logs, strict=True)]
    elapsed = time.monotonic() - started
    _no_write_refused(logs)
    store = backend.store

    assert len(set(ids)) == PROCESSES
    infos = store.list_runs(project=project)
    assert sorted(i.id for i in infos) == sorted(ids)
    assert sorted(i.name for i in infos) == sorted(
        ["same", *(f"same-{n}" for n in range(2, PROCESSES + 1))]
    )
    pids = set()
    for run_id in ids:
        assert check_rows(read_stream(store, run_id), run_id) == RUN_ROWS
        params = store.read_params(run_id).data
        assert params["last"] == RUN_ROWS - 1 and params["done"] is True
        pids.add(params["pid"])
        assert store.get_run(run_id).status == "succeeded"
    assert len(pids) == PROCESSES, "two runs were given the same params"
    if backend.name == "local":
        assert check_catalog(backend.root) == PROCESSES
    figures.record(
        f"concurrency.eight_runs.{backend.name}",
        runs=PROCESSES,
        rows=PROCESSES * RUN_ROWS,
        seconds=round(elapsed, 1),
    )


def _no_write_refused(logs: list[Path]) -> None:
    """With every service up, no write may fail, be retried or spooled (concurrent batches
    of one run once deadlocked in PostgreSQL: 503s, then every client spooled)."""
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        assert "runlane:" not in text, f"{log.name}:\n{text[-2000:]}"


def test_concurrent_batches_of_one_run_never_deadlock_in_postgresql(dsn: str) -> None:
    """Found by the 8 × 4 test: a batch with log lines locked the run's row and then a stream
    counter, a batch without locked the counter and then the row; PostgreSQL aborted one of
    them as a deadlock (HTTP 503: every client of the run spooled). Here 4 threads write both
    kinds of batches into one run through the ServerStore itself: none may fail."""
    from runlane.entities import Batch, LogRecord, ParamsUpdate, RunSpec
    from runlane.store.server import ServerStore

    store = ServerStore(dsn, pool_size=8)
    errors: list[BaseException] = []
    try:
        run_id = store.create_run(RunSpec(owner="conc", project="locks", name="r"))[0].id

        def work(thread: int) -> None:
            try:
                for n in range(150):
                    batch = Batch(rows={"m": [{"t": thread, "n": n}], "x": [{"t": thread}]})
                    if n % 2:
                        batch.logs.append(LogRecord("info", f"{thread}:{n}", time.time()))
                    if n % 3 == 0:
                        batch.params.append(ParamsUpdate({f"p{thread}": n}, at=time.time()))
                    store.write(run_id, batch)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[0]
        assert store.read_rows(run_id, "m", 0, 1).total == 4 * 150
        assert [r.seq for r in store.read_logs(run_id)] == list(range(4 * 75))
        assert store.read_params(run_id).data == {f"p{t}": 147 for t in range(4)}
    finally:
        store.close()
