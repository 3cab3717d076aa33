"""The processes the reliability suite starts, kills and checks (one per mode).

    python support_child.py crash PROJECT NAME COUNTERS RATE FLUSH_EVERY
    python support_child.py writer PROJECT RUN_ID RANK THREADS ROWS
    python support_child.py own PROJECT NAME ROWS
    python support_child.py steady PROJECT NAME COUNTERS RATE TOTAL [EVERY]
    python support_child.py fill PROJECT NAME COUNTERS LIMIT_MODE

The store comes from the environment (``RUNLANE_DIR``, or ``RUNLANE_SERVER`` for a runlane
server). ``RL_TEST_START_AT`` (epoch seconds) makes ``writer`` and ``own`` children call ``init``
together; ``RL_TEST_BARRIER`` (a folder) and ``RL_TEST_BARRIER_N`` make ``writer`` children
start logging together.
``RUNLANE_HEARTBEAT_INTERVAL`` (a runlane setting) shortens the heartbeat interval so a
killed run reads as crashed within seconds on a server whose staleness limit was shortened too.
Row ``i`` of the default stream is always ``{"i": i, "v": value_of(i)}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

from support_checks import value_of
from support_procs import ACKED, EXTRA, LOGGED, PHASE, Counters

import runlane
from runlane.errors import StoreError
from runlane.sdk import writer as writer_mod


def wait_for_start() -> None:
    """Sleep until ``RL_TEST_START_AT`` (epoch seconds), so that processes started one after
    the other begin together."""
    import numpy  # noqa: F401 - what init imports, loaded before the common start

    import runlane.store.local.store
    import runlane.store.remote  # noqa: F401

    start_at = float(os.environ.get("RL_TEST_START_AT", "0"))
    if start_at > time.time():
        time.sleep(start_at - time.time())


def barrier() -> None:
    """Wait until ``RL_TEST_BARRIER_N`` processes have reached the barrier folder
    ``RL_TEST_BARRIER`` (each leaves a file there), so all of them start logging together."""
    folder = os.environ.get("RL_TEST_BARRIER")
    if not folder:
        return
    parties = int(os.environ["RL_TEST_BARRIER_N"])
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(os.listdir(folder)) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(folder))} of {parties} at the barrier")
        time.sleep(0.005)


class Pacer:
    """Never faster than ``rate`` calls per second: a process that fell behind (a busy
    machine) catches up at most 50 ms, so ``rows / rate`` bounds the time rows span."""

    def __init__(self, rate: float) -> None:
        self.period = 1.0 / rate
        self.due = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self.due > now + 0.002:
            time.sleep(self.due - now)
        self.due = max(self.due, now - 0.05) + self.period


def pace(t0: float, i: int, rate: float) -> None:
    """Sleep until row ``i`` is due at ``rate`` rows per second (in steps of ≥ 2 ms)."""
    ahead = t0 + i / rate - time.monotonic()
    if ahead > 0.002:
        time.sleep(ahead)


def crash(project: str, name: str, counters_path: str, rate: str, flush_every: str) -> None:
    """Log at ``rate`` rows/s forever, flushing every ``flush_every`` s, until killed."""
    counters = Counters(Path(counters_path))
    run = runlane.init(project, name=name)
    print(run.id, flush=True)
    counters[PHASE] = 1
    fast = run.metrics("fast")
    every, pacer = float(flush_every), Pacer(float(rate))
    next_flush = time.monotonic() + every
    i = 0
    while True:
        pacer.wait()
        run.log({"i": i, "v": value_of(i)})
        fast.log(i=i)
        if i % 50 == 0:
            run.log_message(f"row {i}")
        i += 1
        counters[LOGGED] = i
        if time.monotonic() >= next_flush:
            run.flush()
            counters[ACKED] = i
            next_flush += every


def writer(project: str, run_id: str, rank: str, threads: str, rows: str) -> None:
    """``threads`` threads of this process log ``rows`` rows each into one shared run, and
    each sets its own params key every 100 rows. Prints the run id and when logging began
    and ended (epoch seconds)."""
    wait_for_start()
    run = runlane.init(project, id=run_id, source=rank)
    count = int(rows)
    start = threading.Barrier(int(threads))
    failures: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait()
            stream = run.metrics("m")
            for k in range(count):
                run.log({"w": int(rank), "t": thread, "k": k})
                stream.log(w=int(rank), t=thread, k=k)
                if k % 100 == 0 or k == count - 1:
                    run.params.set(**{f"p{rank}_{thread}": k})
                if k % 250 == 0:
                    run.log_message(f"rank {rank} thread {thread} at {k}")
                if k % 50 == 0:  # let the other writers in: more interleaving, more batches
                    time.sleep(0.005)
        except BaseException as exc:  # reported by the exit status
            failures.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(int(threads))]
    barrier()
    begin = time.time()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    end = time.time()
    if failures:
        raise failures[0]
    run.finish()
    print(run.id, begin, end, flush=True)


def own(project: str, name: str, rows: str) -> None:
    """Log ``rows`` rows into a run of one's own, with params, and finish it."""
    wait_for_start()
    run = runlane.init(project, name=name, config={"pid": os.getpid()})
    for i in range(int(rows)):
        run.log({"i": i, "v": value_of(i)})
        if i % 100 == 0:
            run.params.set(last=i)
    run.params.set(last=int(rows) - 1, done=True)
    run.finish()
    print(run.id, flush=True)


def steady(
    project: str,
    name: str,
    counters_path: str,
    rate: str,
    total: str,
    every: str = "0",
) -> None:
    """Log ``total`` rows at ``rate`` rows/s while the parent breaks the services, then
    finish. With ``every`` > 0, also log a small artifact file every ``every`` rows; a call
    that fails with a StoreError (the object store is down) is kept and tried again on the
    next turn. Prints one JSON line: the run id, artifacts stored (with the sha256 of their
    source), failures seen, and how many were never stored."""
    counters = Counters(Path(counters_path))
    run = runlane.init(project, name=name, config={"total": int(total)})
    counters[PHASE] = 1
    print(run.id, flush=True)
    files = Path(os.environ["RUNLANE_DIR"]) / "artifact-sources"
    files.mkdir(parents=True, exist_ok=True)
    pending: list[Path] = []
    stored: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    per_second, count, period = float(rate), int(total), int(every)
    t0 = time.monotonic()
    for i in range(count):
        pace(t0, i, per_second)
        run.log({"i": i, "v": value_of(i)})
        counters[LOGGED] = i + 1
        if period and i % period == 0:
            source = files / f"weights-{i}.bin"
            source.write_bytes(hashlib.sha256(str(i).encode()).digest() * (64 + i % 7))
            pending.append(source)
            pending = _store_artifacts(run, pending, stored, failures)
            counters[EXTRA] = len(stored)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        pending = _store_artifacts(run, pending, stored, failures)
        time.sleep(0.2)
    run.finish()
    counters[ACKED] = count
    print(
        json.dumps({"run": run.id, "stored": stored, "failures": failures, "left": len(pending)}),
        flush=True,
    )


def _store_artifacts(
    run: runlane.Run,
    pending: list[Path],
    stored: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> list[Path]:
    """Try each pending file once, in order; stop at the first failure (keep the rest)."""
    for index, source in enumerate(pending):
        started = time.monotonic()
        try:
            record = run.log_artifact(source, name=source.stem)
        except StoreError as exc:
            failures.append(
                {
                    "file": source.name,
                    "error": f"{type(exc).__name__}: {exc}",
                    "seconds": time.monotonic() - started,
                }
            )
            return pending[index:]
        data = source.read_bytes()
        stored.append(
            {
                "name": source.stem,
                "sha256": hashlib.sha256(data).hexdigest(),
                "recorded_sha256": record.sha256,
                "size": len(data),
                "pending": bool(record.extra.get("pending")),
                "seconds": time.monotonic() - started,
            }
        )
    return []


def fill(project: str, name: str, counters_path: str, limit_mode: str) -> None:
    """Log until the disk is full, then until space returns, driven by the parent on stdin:

    ``FILL`` → log 512-byte rows, flushing every 100, until a flush raises; print
    ``FULL <error as JSON>``; keep logging 300 more rows (none may raise in ``log``).
    ``GO`` → log 1,000 more rows, flush (must succeed), print ``RESUMED <JSON>``.
    ``BLIP`` → the disk is nearly full again (this process fills it): log 10 small rows to a
    stream ``side`` and 100 rows to the default stream (one batch; the first part fits, the
    second not), let the writer fail on it for 0.6 s, free the space before the writer gave
    the batch up, flush (must succeed), finish, print ``OK <JSON>``.
    With ``limit_mode`` ``fsize`` the process limits its own file size (RLIMIT_FSIZE: writes
    past it fail with EFBIG) instead of the parent filling a small tmpfs."""
    counters = Counters(Path(counters_path))
    run = runlane.init(project, name=name)
    run.log_message("started")
    run.flush()
    print(run.id, flush=True)
    counters[PHASE] = 1
    assert sys.stdin.readline().strip() == "FILL"
    if limit_mode == "fsize":
        data = Path(run.path or "") / "metrics" / "default" / "data.jsonl"
        size = data.stat().st_size if data.exists() else 0
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 400_000, resource.RLIM_INFINITY))
    pad = "x" * 480
    i = 0
    error: str | None = None
    while error is None and i < 200_000:
        run.log({"i": i, "v": value_of(i), "pad": pad})
        i += 1
        counters[LOGGED] = i
        if i % 100 == 0:
            try:
                run.flush()
                counters[ACKED] = i
            except StoreError as exc:
                error = f"{type(exc).__name__}: {exc}"
    assert error is not None, "the disk never filled up"
    full_at = i
    for _ in range(300):  # the training loop goes on: log() must not raise
        run.log({"i": i, "v": value_of(i), "pad": pad})
        i += 1
        counters[LOGGED] = i
    print("FULL " + json.dumps({"error": error, "acked": counters[ACKED], "at": full_at}))
    sys.stdout.flush()
    assert sys.stdin.readline().strip() == "GO"
    if limit_mode == "fsize":
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    # batches that failed while full may still be retried or already dropped: a flush now
    # settles them and reports what was dropped, once
    late: str | None = None
    with contextlib.suppress(StoreError):
        run.flush()
    resumed = i
    for _ in range(1000):
        run.log({"i": i, "v": value_of(i), "pad": pad})
        i += 1
        counters[LOGGED] = i
    try:
        run.flush()
    except StoreError as exc:
        late = str(exc)
    run.log_message("resumed")
    run.flush()
    print("RESUMED " + json.dumps({"resumed": resumed, "logged": i, "late_error": late}))
    sys.stdout.flush()
    # a blip: the disk fills in the middle of a batch and frees up before its retries run out
    assert sys.stdin.readline().strip() == "BLIP"
    data = Path(run.path or "") / "metrics" / "default" / "data.jsonl"
    ballast = Path(os.environ["RUNLANE_DIR"]).parent / "blip-ballast"
    if limit_mode == "fsize":
        resource.setrlimit(
            resource.RLIMIT_FSIZE, (data.stat().st_size + 20_000, resource.RLIM_INFINITY)
        )
    else:
        free = os.statvfs(ballast.parent)
        ballast.write_bytes(b"\0" * max(0, free.f_bavail * free.f_frsize - 20_000))
    blip = i
    side = run.metrics("side")  # a small stream in the same batch: it fits, "default" not
    for k in range(10):
        side.log(i=k, v=value_of(k))
    for _ in range(100):
        run.log({"i": i, "v": value_of(i), "pad": pad})
        i += 1
    time.sleep(0.6)  # the writer tries (and fails) two or three times in the background
    for _ in range(2):  # and surely twice, however the background thread was scheduled
        writer_mod.get_writer().drain()
    if limit_mode == "fsize":  # space is back before the writer gave the batch up
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    else:
        ballast.unlink()
    run.flush()  # the failed batch is retried now, and succeeds
    run.finish()
    print("OK " + json.dumps({"blip": blip, "logged": i}), flush=True)


MODES = {"crash": crash, "writer": writer, "own": own, "steady": steady, "fill": fill}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
