"""Garbage collection inside ``runlane server``: a thread that runs a pass of
:mod:`runlane.store.server.gc` every ``RUNLANE_GC_INTERVAL``.

Settings (read once, when the server starts; a bad value refuses to start it):

* ``RUNLANE_GC_INTERVAL``: time between passes, a duration such as ``3600``, ``90s``,
  ``30m``, ``1h``, ``7d`` (default ``1h``); ``0`` or ``off`` turns the thread off.
* ``RUNLANE_GC_OLDER_THAN``: the passes' ``older_than`` (default ``24h``).

Every replica runs the thread; the pass lock lets one replica at a time collect, the others
skip that round. The first pass runs after a random 10 to 100 % of the interval, so
replicas started together spread out and a server restarted more often than the interval
still collects (a short-lived server, such as a test's, none at all). A failed pass is printed
on stderr and tried again at the next interval: it never stops the server. A pass that
removed something prints one line saying what.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runlane.errors import InvalidArgumentError

if TYPE_CHECKING:
    from runlane.store.server.gc import GcReport, GcStore

INTERVAL_ENV = "RUNLANE_GC_INTERVAL"
OLDER_THAN_ENV = "RUNLANE_GC_OLDER_THAN"
DEFAULT_INTERVAL = 3600.0
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in ``text``: a number with an optional unit ``s``, ``m``, ``h`` or ``d``
    (``90``, ``30m``, ``1.5h``). InvalidArgumentError names the value otherwise."""
    found = _DURATION.match(text.lower())
    if found is None:
        raise InvalidArgumentError(
            f"{what} {text!r} is not a duration; write a number of seconds or a number with "
            "s, m, h or d (90, 30m, 24h, 7d)"
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass(frozen=True, slots=True)
class GcSchedule:
    """When the server collects: every ``interval`` seconds (None: never), removing what is
    older than ``older_than``."""

    interval: float | None = DEFAULT_INTERVAL
    older_than: float = 24 * 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> GcSchedule:
        """The schedule ``RUNLANE_GC_INTERVAL`` and ``RUNLANE_GC_OLDER_THAN`` ask for."""
        raw = environ.get(INTERVAL_ENV, "").strip()
        interval: float | None = DEFAULT_INTERVAL
        if raw.lower() in ("0", "off", "none", "never"):
            interval = None
        elif raw:
            interval = parse_duration(raw, INTERVAL_ENV) or None
        older = environ.get(OLDER_THAN_ENV, "").strip()
        return cls(interval, parse_duration(older, OLDER_THAN_ENV) if older else 24 * 3600.0)


class PeriodicCollector:
    """Runs a pass on ``store`` every ``schedule.interval`` seconds on a daemon thread."""

    def __init__(self, store: GcStore, schedule: GcSchedule) -> None:
        if schedule.interval is None:
            raise ValueError("a PeriodicCollector needs an interval")
        self.store = store
        self.schedule = schedule
        self.interval = schedule.interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runlane-gc", daemon=True)

    def start(self) -> PeriodicCollector:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread (a pass in progress finishes first, up to ``timeout``)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> GcReport | None:
        """One pass now; None when another replica's pass ran or this one failed (printed)."""
        from runlane.store.server.gc import try_collect_garbage

        try:
            report = try_collect_garbage(self.store, older_than=self.schedule.older_than)
        except Exception as exc:  # never let the server's thread die: the next round retries
            print(
                f"runlane: garbage collection failed (tried again in {self.interval:g} s): {exc}",
                file=sys.stderr,
                flush=True,
            )
            return None
        if report is not None and (any(r.count for r in report.kinds.values()) or report.skipped):
            print(f"runlane: garbage collection: {summary(report)}", file=sys.stderr, flush=True)
        return report

    def _loop(self) -> None:
        if self._stop.wait(random.uniform(0.1, 1.0) * self.interval):
            return
        self.run_once()
        while not self._stop.wait(self.interval):
            self.run_once()


def summary(report: GcReport) -> str:
    """One line: what a pass removed (or would remove) per kind, and what it left."""
    verb = "would remove" if report.dry_run else "removed"
    parts = [
        f"{removed.count} {name.replace('_', ' ')} ({_size(removed.bytes)})"
        for name, removed in report.kinds.items()
    ]
    line = f"{verb} {', '.join(parts)} in {report.seconds:.1f} s"
    if report.waiting:
        line += f"; {report.waiting} unreferenced objects wait for their grace period"
    if report.skipped:
        line += f"; left for the next pass: {'; '.join(report.skipped)}"
    return line


def _size(count: int) -> str:
    size, unit = float(count), 0
    while size >= 1024 and unit < 4:
        size, unit = size / 1024, unit + 1
    return f"{count} B" if unit == 0 else f"{size:.1f} {('KiB', 'MiB', 'GiB', 'TiB')[unit - 1]}"


def start_collector(store: object, schedule: GcSchedule | None = None) -> PeriodicCollector | None:
    """Start collecting on a ServerStore by ``schedule`` (default: the environment's); None
    for other stores or when the schedule has no interval. InvalidArgumentError for a bad
    setting in the environment."""
    schedule = schedule or GcSchedule.from_env()
    if schedule.interval is None:
        return None
    try:
        from runlane.store.server import ServerStore
    except ImportError:  # without the server extra no store is a ServerStore
        return None
    if not isinstance(store, ServerStore):
        return None
    return PeriodicCollector(store, schedule).start()
