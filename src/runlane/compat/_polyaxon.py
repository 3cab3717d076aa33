"""What the Polyaxon v0 and v1 facades share: the no-op switch and the status table."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from runlane.errors import InvalidArgumentError

P = ParamSpec("P")
R = TypeVar("R")

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})

#: Polyaxon statuses that end a run, and the runlane status each becomes.
TERMINAL: dict[str, str] = {
    "succeeded": "succeeded",
    "done": "succeeded",
    "failed": "failed",
    "upstream_failed": "failed",
    "stopped": "stopped",
    "skipped": "stopped",
}
#: Polyaxon statuses of a run still in progress (v0 and v1); runlane shows them as running
#: and keeps the Polyaxon name in the run's ``extra.polyaxon_status``.
ACTIVE = frozenset(
    {
        "created",
        "building",
        "resuming",
        "on_schedule",
        "compiled",
        "queued",
        "scheduled",
        "starting",
        "running",
        "processing",
        "stopping",
        "warning",
        "unschedulable",
        "retrying",
        "unknown",
    }
)


def no_op() -> bool:
    """True when ``POLYAXON_NO_OP`` is set to a true value (true, 1, yes, on)."""
    return os.environ.get("POLYAXON_NO_OP", "").strip().lower() in _TRUE


def skip_when_no_op(method: Callable[P, R]) -> Callable[P, R | None]:
    """Make ``method`` return None without doing anything while :func:`no_op` is true."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        if no_op():
            return None
        return method(*args, **kwargs)

    return wrapper


def check_status(status: object) -> str:
    """Return the Polyaxon status ``status`` lower-cased, or raise InvalidArgumentError."""
    text = str(status).strip().lower()
    if text not in TERMINAL and text not in ACTIVE:
        allowed = ", ".join(sorted({*TERMINAL, *ACTIVE}))
        raise InvalidArgumentError(f"Polyaxon status {status!r} is not one of {allowed}")
    return text


def data_hash(data: object) -> str:
    """Polyaxon's data reference hash: md5 of ``str(data)``, the first ``POLYAXON_HASH_LENGTH``
    (default 12) hex digits."""
    try:
        length = int(os.environ.get("POLYAXON_HASH_LENGTH", "12"))
    except ValueError:
        length = 12
    return hashlib.md5(str(data).encode("utf-8"), usedforsecurity=False).hexdigest()[:length]
