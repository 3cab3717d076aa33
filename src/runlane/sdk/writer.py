"""The one background writer of a process.

Callers append items to a deque (``Writer.queue``) on their own thread — a few hundred
nanoseconds — and the writer thread turns them into one :class:`~runlane.entities.Batch` per
run and hands it to that run's store. Contracts:

* **Order.** Items are taken from the queue in order and written under one lock, so a run's
  records reach its store in call order, whichever thread drains.
* **Latency.** The thread drains every ``flush_interval`` seconds (≤ 1 s; 0.25 s by default),
  sooner when ``SOFT_LIMIT`` items are waiting. A crash loses at most that interval.
* **Memory.** When ``HARD_LIMIT`` items wait, the caller drains synchronously (backpressure).
* **Flush.** :meth:`Writer.flush` drains on the caller's thread and returns when every item
  queued before the call has been handed to its store; then it raises the sink's first
  background error, if any, as :class:`~runlane.errors.WriteFailedError`.
* **Failures** of a store are kept per run and the batch is retried on the next drains. A
  batch the store refuses (an invalid value, an unknown run) is given up after
  ``MAX_ATTEMPTS``; one that failed for a passing reason (a full disk, an unreachable
  database) is kept and retried as long as the run's waiting records stay under
  ``RETRY_BUDGET`` (then its oldest batch is given up). Given-up batches are counted as lost
  and reported at ``flush``/``finish``. Failures never raise on the training loop.
  ``flush``/``finish`` first keep retrying, with short pauses, for up to ``RETRY_WAIT``
  seconds, so a store that recovers raises nothing; ``finish`` counts what is still
  unwritten after that as lost.
* **Fork.** ``fork`` waits for a drain in flight, so no store lock is inherited held. In a
  forked child the queue is emptied (the parent writes its own items), the locks are new,
  and a new thread is started; runs inherited from the parent keep logging.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from runlane import settings
from runlane.entities import Batch
from runlane.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    WriteFailedError,
)
from runlane.timeutil import now

if TYPE_CHECKING:
    from runlane.store.base import Store

# item kinds: the first element of each queued tuple
METRIC, LOG, EVENT, TRACK, PARAMS, META, LINEAGE, PATCH, STREAM = range(9)

SOFT_LIMIT = 20_000
HARD_LIMIT = 200_000
MAX_ATTEMPTS = 5
#: Records a run may hold in failed batches waiting for a passing failure to end.
RETRY_BUDGET = HARD_LIMIT
RETRY_WAIT = 2.0
#: Seconds between a live run's heartbeats (``RUNLANE_HEARTBEAT_INTERVAL``, default 5).
HEARTBEAT_EVERY = settings.seconds_from_env("RUNLANE_HEARTBEAT_INTERVAL", 5.0, 0.05, 3_600.0)


class Sink:
    """Where one run's items go: a store and a run id, plus that run's write failures."""

    __slots__ = ("__weakref__", "errors", "last_beat", "live", "lost", "retry", "run_id", "store")

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.errors: list[BaseException] = []
        self.retry: list[tuple[Batch, int]] = []
        self.lost = 0
        self.live = True
        self.last_beat = now()

    def give_up(self) -> None:
        """Count the batches still waiting for a retry as lost (the run is ending)."""
        self.lost += len(self.retry)
        self.retry = []

    def raise_errors(self) -> None:
        """Raise the first kept failure (and forget them) as WriteFailedError."""
        if not self.errors:
            return
        first, count, lost = self.errors[0], len(self.errors), self.lost
        self.errors = []
        self.lost = 0
        detail = f"; {lost} batch(es) could not be written and were dropped" if lost else ""
        if self.retry:
            detail += f"; {len(self.retry)} batch(es) are kept and retried"
        raise WriteFailedError(
            f"{count} background write(s) to run {self.run_id} failed: {first}{detail}"
        ) from first


class Writer:
    """See the module docstring. Use :func:`get_writer` for the process-wide instance."""

    def __init__(self, flush_interval: float = 0.25) -> None:
        self.flush_interval = min(float(flush_interval), 1.0)
        self.queue: deque[tuple[Any, ...]] = deque()
        self._io = threading.RLock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._sinks: weakref.WeakSet[Sink] = weakref.WeakSet()
        self._kicked = False

    # --- caller side --------------------------------------------------------------------
    def register(self, sink: Sink) -> None:
        self._sinks.add(sink)
        self.ensure_started()

    def ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="runlane-writer", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """Called by producers when the queue passed SOFT_LIMIT: wake the thread, and drain
        here when HARD_LIMIT is passed (bounded memory)."""
        if len(self.queue) >= HARD_LIMIT:
            self.drain()
        elif not self._kicked:
            self._kicked = True
            self._wake.set()

    def flush(self, sink: Sink | None = None) -> None:
        """Write everything queued so far; then retry the sink's failed batches (see
        :meth:`settle`) and raise its kept failures, if any, as WriteFailedError."""
        self.drain()
        if sink is not None:
            self.settle(sink)
            sink.raise_errors()

    def settle(self, sink: Sink, wait: float | None = None) -> None:
        """Retry ``sink``'s failed batches, pausing briefly between drains, until they are
        written, given up after MAX_ATTEMPTS, or ``wait`` (default RETRY_WAIT) seconds pass."""
        deadline = time.monotonic() + (RETRY_WAIT if wait is None else wait)
        pause = 0.01
        while sink.retry and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
            self.drain()

    # --- writer side --------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._kicked = False
            try:
                self.drain()
                self._heartbeats()
            except Exception as exc:  # never let the thread die
                print(f"runlane: background writer error: {exc!r}", file=sys.stderr)

    def drain(self) -> None:
        """Take every queued item and write it, one batch per run, in order.

        The cyclic garbage collector is paused while a drain runs: a batch holds up to
        ``HARD_LIMIT`` young dicts, and collections triggered while serializing them cost
        10× the serialization itself. Reference counting still frees everything.
        """
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._drain()
        finally:
            if paused:
                gc.enable()

    def _drain(self) -> None:
        with self._io:
            queue = self.queue
            pending = len(queue)
            batches: dict[Sink, Batch] = {}
            for sink in list(self._sinks):
                if sink.retry:
                    self._retry(sink)
            if not pending:
                return
            pop = queue.popleft
            for _ in range(pending):
                item = pop()
                kind = item[0]
                sink = item[1]
                batch = batches.get(sink)
                if batch is None:
                    batch = batches[sink] = Batch()
                if kind == METRIC:
                    stream = item[2]
                    rows = batch.rows.get(stream)
                    if rows is None:
                        rows = batch.rows[stream] = []
                    rows.append(item[3])
                    if item[4]:
                        batch.nonfinite.add(stream)
                elif kind == LOG:
                    batch.logs.append(item[2])
                elif kind == EVENT:
                    batch.events.append(item[2])
                elif kind == TRACK:
                    batch.tracks.append(item[2])
                elif kind == PARAMS:
                    batch.params.append(item[2])
                elif kind == META:
                    batch.metadata.append(item[2])
                elif kind == LINEAGE:
                    batch.lineage.append(item[2])
                elif kind == PATCH:
                    batch.patches.append(item[2])
                elif kind == STREAM:
                    batch.stream_info.append(item[2])
            for sink, batch in batches.items():
                self._write(sink, batch, 1)

    def _write(self, sink: Sink, batch: Batch, attempt: int) -> None:
        if sink.retry:  # keep order: a newer batch waits behind a failed one
            sink.retry.append((batch, attempt - 1))
            return
        try:
            sink.store.write(sink.run_id, batch)
        except Exception as exc:
            if not sink.errors:
                print(
                    f"runlane: writing run {sink.run_id} failed, will retry: {exc}", file=sys.stderr
                )
            sink.errors.append(exc)
            sink.retry.append((batch, attempt))

    def _retry(self, sink: Sink) -> None:
        waiting, sink.retry = sink.retry, []
        for index, (batch, attempt) in enumerate(waiting):
            try:
                sink.store.write(sink.run_id, batch)
            except Exception as exc:
                sink.errors.append(exc)
                give_up = attempt + 1 >= MAX_ATTEMPTS and (
                    isinstance(exc, REFUSALS) or waiting_records(waiting) > RETRY_BUDGET
                )
                if give_up:
                    sink.lost += 1
                    rest = waiting[index + 1 :]
                else:
                    rest = [(batch, attempt + 1), *waiting[index + 1 :]]
                sink.retry = rest + sink.retry
                return
        if not sink.retry and not sink.lost:
            sink.errors = []  # recovered: nothing was lost

    def _heartbeats(self) -> None:
        t = now()
        for sink in list(self._sinks):
            if sink.live and t - sink.last_beat >= HEARTBEAT_EVERY:
                sink.last_beat = t
                with contextlib.suppress(Exception):  # a missed beat loses no data
                    sink.store.heartbeat(sink.run_id, t)

    def stop(self, timeout: float = 10.0) -> None:
        """Drain and stop the thread (used at interpreter exit)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.drain()

    def _after_fork_in_child(self) -> None:
        self.queue.clear()
        self._io = threading.RLock()
        self._wake = threading.Event()
        self._kicked = False
        self._thread = None
        if len(self._sinks):
            self.ensure_started()


#: Errors that name something wrong with the batch itself: retrying cannot help.
REFUSALS = (InvalidArgumentError, InvalidNameError, InvalidValueError, NotFoundError)


def waiting_records(waiting: list[tuple[Batch, int]]) -> int:
    """How many records the failed batches ``waiting`` hold."""
    return sum(
        len(b.params)
        + len(b.metadata)
        + len(b.stream_info)
        + sum(len(rows) for rows in b.rows.values())
        + len(b.logs)
        + len(b.events)
        + len(b.tracks)
        + len(b.lineage)
        + len(b.patches)
        for b, _ in waiting
    )


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer() -> Writer:
    """The process-wide writer, created on first use."""
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                interval = float(os.environ.get("RUNLANE_FLUSH_INTERVAL", "0.25"))
                _writer = Writer(interval)
    return _writer


_held_across_fork: Writer | None = None


def _before_fork() -> None:
    """Wait for a drain in flight: a child must not inherit locks (thread locks of a store,
    ``flock``s on shared file descriptions) held by a writer thread it does not have."""
    global _held_across_fork
    writer = _writer
    if writer is not None:
        writer._io.acquire()
        _held_across_fork = writer


def _after_fork_in_parent() -> None:
    global _held_across_fork
    writer, _held_across_fork = _held_across_fork, None
    if writer is not None:
        writer._io.release()


def _reinit_after_fork() -> None:
    global _writer_lock, _held_across_fork
    _writer_lock = threading.Lock()
    _held_across_fork = None
    if _writer is not None:
        _writer._after_fork_in_child()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_reinit_after_fork
)
