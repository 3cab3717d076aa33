"""Fixtures shared by every test.

* Every test gets its own data root (``root``, also exported as ``RUNLANE_DIR``), captures off
  (``RUNLANE_CAPTURE=none``) and no ``RUNLANE_MODE``/``RUNLANE_STORE`` from the caller's shell.
* After each test, runs it left live are finished and the cached stores are closed, so no
  writer sink, stdout tee or SQLite connection leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import runlane
from runlane.sdk import lifecycle
from runlane.sdk.run import Run
from runlane.store.registry import forget_stores

# No per-example deadline: one GC pause on a shared 2-core CI machine is not a failure.
settings.register_profile("runlane", deadline=None)
settings.load_profile("runlane")

_ENV_CLEARED = (
    "RUNLANE_MODE",
    "RUNLANE_STORE",
    "RUNLANE_SERVER",
    "RUNLANE_TOKEN",
    "RUNLANE_OWNER",
    "RUNLANE_PROJECT",
    "RUNLANE_FLUSH_INTERVAL",
    "RUNLANE_SYSTEM_INTERVAL",
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The test's local data root (created by the first store that opens it)."""
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _isolated_runlane(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RUNLANE_DIR", str(root))
    monkeypatch.setenv("RUNLANE_CAPTURE", "none")
    for name in _ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    yield
    for run in lifecycle.live_runs():
        try:
            run.finish()
        except Exception:  # a test's failing store may refuse the final write
            lifecycle.forget(run)
    forget_stores()


@pytest.fixture
def new_run(root: Path) -> Callable[..., Run]:
    """``new_run(project="tester/tests", **init_kwargs)``: a live run under ``root``."""

    def make(project: str = "tester/tests", **kwargs: Any) -> Run:
        if "store" not in kwargs:
            kwargs.setdefault("dir", root)
        return runlane.init(project, **kwargs)

    return make
