"""A background thread that compacts metric streams after writes, off the request path.

Writes hand it ``(run_id, stream_id)`` pairs; duplicates waiting in the queue are merged.
Failures are printed once per stream and retried on the stream's next write: the rows stay
hot (and readable) until a compaction succeeds, so nothing is lost.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


class Compactor:
    """Runs ``compact(run_id, stream_id)`` on its own thread, one stream at a time."""

    def __init__(self, compact: Callable[[str, int], int]) -> None:
        self._compact = compact
        self._pending: dict[int, str] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._failed: set[int] = set()
        self._thread = threading.Thread(target=self._loop, name="runlane-compactor", daemon=True)
        self._thread.start()

    def submit(self, run_id: str, stream_id: int) -> None:
        with self._cond:
            self._pending[stream_id] = run_id
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or running; return False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                stream_id, run_id = self._pending.popitem()
                self._busy = True
            try:
                self._compact(run_id, stream_id)
                self._failed.discard(stream_id)
            except Exception as exc:
                if stream_id not in self._failed:
                    self._failed.add(stream_id)
                    print(
                        f"runlane: compacting stream {stream_id} of run {run_id} failed "
                        f"(its rows stay in PostgreSQL; retried on the next write): {exc}",
                        file=sys.stderr,
                    )
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the compaction in progress, drop the queue and end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
