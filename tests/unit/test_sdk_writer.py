"""The background writer: visibility after flush, background draining, fork, backpressure and
store failures (kept, retried, surfaced at ``flush``/``finish``, never raised in the loop)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.entities import Batch
from runlane.errors import InvalidValueError, StoreError, WriteFailedError
from runlane.sdk import writer as writer_mod
from runlane.sdk.run import Run
from runlane.store.local import LocalStore
from runlane.store.memory import MemoryStore

NewRun = Callable[..., Run]


class FlakyStore(MemoryStore):
    """A real MemoryStore whose first ``failures`` writes raise (``-1``: every write)."""

    def __init__(self, failures: int) -> None:
        super().__init__("memory://flaky")
        self.failures = failures
        self.failed = 0
        self.written = 0

    def write(self, run_id: str, batch: Batch) -> None:
        if self.failures < 0 or self.failed < self.failures:
            self.failed += 1
            raise StoreError(f"disk on fire (failure {self.failed})")
        self.written += 1
        super().write(run_id, batch)


class SlowStore(MemoryStore):
    """A MemoryStore that takes ``delay`` seconds per write (a slow network, a busy disk)."""

    def __init__(self, delay: float) -> None:
        super().__init__("memory://slow")
        self.delay = delay

    def write(self, run_id: str, batch: Batch) -> None:
        time.sleep(self.delay)
        super().write(run_id, batch)


def _values(store_view: runlane.RunView, field: str = "i") -> list[int]:
    return [row[field] for row in store_view.history()]


# --- visibility -----------------------------------------------------------------------------------


def test_flush_makes_data_visible_to_another_reader(new_run: NewRun, root: Path) -> None:
    run = new_run()
    for i in range(100):
        run.log({"i": i})
    run.log_message("hello")
    run.params.set(lr=0.1)
    run.flush()
    other = LocalStore(root)  # a separate instance, as another process would open it
    try:
        page = other.read_rows(run.id, "default", 0, 1000)
        assert [d["i"] for _, d, _ in page.rows] == list(range(100))
        assert [r.message for r in other.read_logs(run.id)] == ["hello"]
        assert other.read_params(run.id).data == {"lr": 0.1}
    finally:
        other.close()


def test_background_thread_writes_without_flush(new_run: NewRun, root: Path) -> None:
    run = new_run()
    run.log({"i": 1})
    other = LocalStore(root)
    try:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if other.read_rows(run.id, "default").rows:
                break
            time.sleep(0.02)
        assert [d["i"] for _, d, _ in other.read_rows(run.id, "default").rows] == [1]
    finally:
        other.close()


def test_logs_from_many_threads_all_arrive_in_each_threads_order(new_run: NewRun) -> None:
    run = new_run()

    def work(t: int) -> None:
        for i in range(500):
            run.metrics("s").log(t=t, i=i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = run.history("s")
    assert [r["_index"] for r in rows] == list(range(2000))
    for t in range(4):
        assert [r["i"] for r in rows if r["t"] == t] == list(range(500))


# --- fork -----------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_logs_to_the_same_run(new_run: NewRun) -> None:
    run = new_run()
    for i in range(10):
        run.log({"i": i, "who": "parent"})
    run.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            for i in range(100, 150):
                run.log({"i": i, "who": "child"})
            run.log_message("from the child")
            run.flush()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for i in range(10, 20):
        run.log({"i": i, "who": "parent"})
    rows = run.history()
    assert [r["_index"] for r in rows] == list(range(70))
    assert [r["i"] for r in rows if r["who"] == "child"] == list(range(100, 150))
    assert [r["i"] for r in rows if r["who"] == "parent"] == list(range(20))
    assert [r.message for r in run.logs()] == ["from the child"]
    run.finish()
    assert runlane.open(run.id).status == "succeeded"


class BusyStore(MemoryStore):
    """A MemoryStore holding its lock for ``delay`` seconds inside each write, as the local
    store holds file locks; ``writing`` is set while a write is under way."""

    def __init__(self, delay: float) -> None:
        super().__init__("memory://busy")
        self.delay = delay
        self.writing = threading.Event()

    def write(self, run_id: str, batch: Batch) -> None:
        with self._lock:
            self.writing.set()
            time.sleep(self.delay)
            super().write(run_id, batch)
            self.writing.clear()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_during_a_background_write_does_not_deadlock_the_child(new_run: NewRun) -> None:
    store = BusyStore(delay=0.3)
    run = new_run(store=store)
    run.log({"i": 0})
    assert store.writing.wait(5.0), "the writer thread never wrote"
    pid = os.fork()  # the writer thread is inside store.write, holding the store's lock
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            run.log({"i": 1})
            run.flush()
            code = 0 if [r["i"] for r in run.history()][-1] == 1 else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 10.0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on a lock held by the parent's writer thread")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0


# --- backpressure -----------------------------------------------------------------------------


def test_backpressure_keeps_the_queue_bounded(
    new_run: NewRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_mod, "SOFT_LIMIT", 50)
    monkeypatch.setattr(writer_mod, "HARD_LIMIT", 200)
    store = SlowStore(delay=0.01)
    run = new_run(store=store)
    queue = writer_mod.get_writer().queue
    longest = 0
    for i in range(3000):
        run.log({"i": i})
        longest = max(longest, len(queue))
    assert longest <= 200
    assert _values(run) == list(range(3000))


# --- failures -----------------------------------------------------------------------------------


def test_transient_store_failures_are_retried_and_finish_succeeds(
    new_run: NewRun, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FlakyStore(failures=2)
    run = new_run(store=store)
    for i in range(1000):
        run.log({"i": i})  # never raises
    run.log_message("still here")
    run.finish()  # nothing was lost: no error
    assert store.failed == 2
    view = runlane.open(run.id, store=store)
    assert _values(view) == list(range(1000))
    assert [r.message for r in view.logs()] == ["still here"]
    assert view.status == "succeeded"
    err = capsys.readouterr().err
    assert err.count("will retry") == 1  # reported once


def test_flush_recovers_from_a_transient_failure(new_run: NewRun) -> None:
    store = FlakyStore(failures=1)
    run = new_run(store=store)
    run.log({"i": 0})
    run.flush()  # the failed batch is retried; nothing lost, nothing raised
    run.log({"i": 1})
    run.flush()
    assert _values(run) == [0, 1]


def test_permanent_failure_raises_at_finish_not_in_the_loop(
    new_run: NewRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_mod, "RETRY_WAIT", 0.3)
    store = FlakyStore(failures=0)
    run = new_run(store=store)
    run.log({"i": 0})
    run.flush()
    store.failures = -1  # the store breaks down
    for i in range(1, 200):
        run.log({"i": i})  # still never raises
        run.log_message(f"m{i}")
    assert len(run.history()) >= 1  # reads in the loop do not raise either
    with pytest.raises(WriteFailedError, match="disk on fire"):
        run.flush()
    run.log({"i": 200})
    with pytest.raises(WriteFailedError) as info:
        run.finish()
    assert run.id in str(info.value)
    assert "could not be written" in str(info.value)
    assert isinstance(info.value.__cause__, StoreError)
    assert run.finished


def test_failures_of_one_run_do_not_touch_another(new_run: NewRun) -> None:
    broken = new_run(store=FlakyStore(failures=-1))
    healthy = new_run()
    broken.log({"i": 1})
    healthy.log({"i": 1})
    healthy.finish()
    assert runlane.open(healthy.id).history()[0]["i"] == 1
    with pytest.raises(WriteFailedError):
        broken.finish()


def test_a_long_passing_failure_loses_nothing(new_run: NewRun) -> None:
    """A store down for many more drains than MAX_ATTEMPTS (a full disk for seconds) keeps
    every batch while the run's waiting records stay under RETRY_BUDGET."""
    store = FlakyStore(failures=0)
    run = new_run(store=store)
    run.flush()
    store.failures = -1
    writer = writer_mod.get_writer()
    for i in range(300):
        run.log({"i": i})
        if i % 10 == 9:
            writer.drain()  # one failed attempt per drain
    for _ in range(3 * writer_mod.MAX_ATTEMPTS):
        writer.drain()
    assert store.failed > 3 * writer_mod.MAX_ATTEMPTS
    store.failures = store.failed  # the disk has room again
    run.finish()  # nothing was given up: no error
    assert _values(runlane.open(run.id, store=store)) == list(range(300))


def test_batches_over_the_retry_budget_are_given_up_oldest_first(
    new_run: NewRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_mod, "RETRY_BUDGET", 25)
    store = FlakyStore(failures=0)
    run = new_run(store=store)
    run.flush()
    store.failures = -1
    writer = writer_mod.get_writer()
    with writer._io:  # the background thread must not drain (and split) a batch meanwhile
        for i in range(60):  # 6 batches of 10 records: over the budget of 25
            run.log({"i": i})
            if i % 10 == 9:
                writer.drain()
        for _ in range(3 * writer_mod.MAX_ATTEMPTS):
            writer.drain()
        store.failures = store.failed
    with pytest.raises(WriteFailedError, match="could not be written and were dropped"):
        run.flush()
    assert _values(runlane.open(run.id, store=store)) == list(range(40, 60))  # 20 ≤ 25 kept


class RefusingStore(MemoryStore):
    """Refuses every batch with metric rows as invalid: retrying cannot help."""

    def __init__(self) -> None:
        super().__init__("memory://refusing")
        self.refused = 0

    def write(self, run_id: str, batch: Batch) -> None:
        if batch.rows:
            self.refused += 1
            raise InvalidValueError("value 'x' is refused")
        super().write(run_id, batch)


def test_a_refused_batch_is_given_up_after_max_attempts(new_run: NewRun) -> None:
    store = RefusingStore()
    run = new_run(store=store)
    run.log({"i": 0})
    with pytest.raises(WriteFailedError, match="dropped"):
        run.flush()
    assert store.refused == writer_mod.MAX_ATTEMPTS
