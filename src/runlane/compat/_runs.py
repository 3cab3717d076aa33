"""Live run handles for the facades: the systems they imitate keep accepting writes after a
run ended (Polyaxon, FedML), so a facade reopens a finished run instead of failing."""

from __future__ import annotations

import runlane
from runlane.sdk.run import Run


def reopen(run: Run) -> Run:
    """``run`` while it is live; after it finished, a new live handle on the same run.

    The run keeps its terminal status (statuses are sticky); only data can still be added.
    Nothing is captured again (git, environment, stdio, system metrics).
    """
    if not run.finished:
        return run
    info = run.info
    return runlane.init(
        f"{info.owner}/{info.project}",
        id=run.id,
        store=run.store,
        capture_git=False,
        capture_env=False,
        capture_stdio=False,
        system_metrics=False,
    )
