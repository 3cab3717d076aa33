"""Automatic run endings: succeeded at exit, failed on an uncaught exception, stopped on
SIGTERM or KeyboardInterrupt.

Hooks are installed once, by the first ``init`` (nothing happens at import):

* ``atexit``: every live run this process created ends ``succeeded``; runs inherited across
  ``fork`` are only flushed (their creator ends them). Then the writer drains.
* ``sys.excepthook``: live runs end ``failed`` with the message and traceback
  (``stopped`` for KeyboardInterrupt); the previous hook is still called.
* ``SIGTERM`` (main thread, only when no handler of the user's is set): live runs end
  ``stopped``, then the default action runs, so the exit status is what it would have been.
* In a child made by ``multiprocessing`` (which leaves through ``os._exit``), a finalizer
  flushes before exit.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runlane.sdk.run import Run

_live: list[Run] = []
_lock = threading.RLock()
_installed = False
_previous_excepthook: Any = None


def track(run: Run) -> None:
    """Remember ``run`` as live and make sure the hooks are installed."""
    with _lock:
        _live.append(run)
    install()


def forget(run: Run) -> None:
    with _lock:
        if run in _live:
            _live.remove(run)


def live_runs() -> list[Run]:
    with _lock:
        return list(_live)


def _owned() -> list[Run]:
    pid = os.getpid()
    return [r for r in live_runs() if r._owner_pid == pid]


def install() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _end_all(status: str, message: str | None, exc: BaseException | None = None) -> None:
    for run in _owned():
        try:
            if exc is not None and status == "failed":
                run.fail(exc)
            else:
                run.finish(status, message)
        except Exception as err:
            print(f"runlane: could not end run {run.id}: {err}", file=sys.stderr)
    for run in live_runs():  # inherited across fork: flush only
        try:
            run.flush()
        except Exception as err:
            print(f"runlane: could not flush run {run.id}: {err}", file=sys.stderr)


def _at_exit() -> None:
    _end_all("succeeded", None)
    from runlane.sdk.writer import get_writer

    get_writer().stop()


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    try:
        if issubclass(exc_type, KeyboardInterrupt):
            _end_all("stopped", "KeyboardInterrupt")
        elif not issubclass(exc_type, SystemExit):
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            _end_all("failed", None, exc)
    finally:
        hook = _previous_excepthook or sys.__excepthook__
        hook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: Any) -> None:
    _end_all("stopped", "SIGTERM")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    if "multiprocessing" in sys.modules and _live:
        from multiprocessing import util

        util.Finalize(None, _flush_inherited, exitpriority=100)


def _flush_inherited() -> None:
    for run in live_runs():
        try:
            run.flush()
        except Exception as err:
            print(f"runlane: could not flush run {run.id}: {err}", file=sys.stderr)


os.register_at_fork(after_in_child=_after_fork_in_child)
