"""One stdout/stderr capture per process, routed to the runs that asked for it.

The first run started with stdio capture installs a tee on ``sys.stdout``/``sys.stderr``;
every captured line goes to each capturing run as a log record (level info for stdout,
error for stderr, metadata ``{"stream": ...}``); the tee is removed when the last capturing
run finishes. The user's console output is untouched.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runlane.sdk.run import Run

_lock = threading.Lock()
_runs: list[Run] = []
_capture: Any = None
_originals: dict[str, Any] = {}


def _sink(stream: str, line: str) -> None:
    for run in list(_runs):
        run._log_captured(stream, line)


def attach(run: Run) -> None:
    """Start routing captured output to ``run`` (installing the tee if needed)."""
    global _capture
    from runlane.sdk.capture.stdio import StdCapture

    with _lock:
        if _capture is None:
            _originals["stdout"] = sys.stdout
            _originals["stderr"] = sys.stderr
            _capture = StdCapture(_sink)
            _capture.start()
        _runs.append(run)
    run.add_closer(lambda: detach(run))


def detach(run: Run) -> None:
    """Stop routing to ``run``; remove the tee when no run is left."""
    global _capture
    with _lock:
        if run in _runs and _runs == [run] and _capture is not None:
            _capture.stop()  # flushes a pending unterminated line to ``run`` before it leaves
            _capture = None
            _originals.clear()
        if run in _runs:
            _runs.remove(run)


def write_uncaptured(stream: str, text: str) -> None:
    """Write to the console without the text being captured again."""
    target = _originals.get(stream) or (sys.stderr if stream == "stderr" else sys.stdout)
    try:
        target.write(text)
        target.flush()
    except (OSError, ValueError):
        pass
