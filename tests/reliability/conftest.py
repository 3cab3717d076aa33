"""Fixtures of the reliability suite: real processes, real servers, faults injected on purpose.

* ``figures``: tests record what they measured (trials, rows lost, recovery times); the
  session prints them under "runlane reliability figures" at the end and, when
  ``RUNLANE_RELIABILITY_FIGURES`` names a file, writes them there as JSON (docs cite them).
* ``svc``/``dsn``: the shared PostgreSQL + SeaweedFS of ``scripts/services`` and a fresh
  database on it (tests that restart a service start a private one instead, see
  ``support_services``).
* ``runlane_server``: ``runlane_server(*args, stale_after=None)`` starts a ``runlane server``
  subprocess; every server started is stopped at the end of the test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent, HERE):  # tests/ for support.*, this folder for support_*
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from support_services import RunlaneServer  # noqa: E402

from support.services import Services, drop_database, fresh_database, services  # noqa: E402

_FIGURES: dict[str, dict[str, Any]] = {}


class Figures:
    """Named groups of measured values, printed at the end of the session."""

    def record(self, name: str, **values: Any) -> None:
        _FIGURES.setdefault(name, {}).update(values)


@pytest.fixture
def figures() -> Figures:
    return Figures()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("runlane reliability figures")
    for name, values in sorted(_FIGURES.items()):
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        terminalreporter.write_line(f"{name}: {shown}")
    target = os.environ.get("RUNLANE_RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps(_FIGURES, indent=2, sort_keys=True) + "\n")


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@pytest.fixture(scope="session")
def svc() -> Services:
    return services()


@pytest.fixture
def dsn(svc: Services) -> Iterator[str]:
    url = fresh_database("rel")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def runlane_server(tmp_path: Path) -> Iterator[Callable[..., RunlaneServer]]:
    started: list[RunlaneServer] = []

    def make(
        *args: str, stale_after: float | None = None, env: dict[str, str] | None = None
    ) -> RunlaneServer:
        server = RunlaneServer(
            list(args),
            tmp_path / f"server-{len(started)}.log",
            env=env,
            stale_after=stale_after,
        )
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def stopwatch() -> Callable[[], float]:
    """Seconds since the test started."""
    t0 = time.monotonic()
    return lambda: time.monotonic() - t0
