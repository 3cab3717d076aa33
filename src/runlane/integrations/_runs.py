"""What every framework adapter shares: which run it logs to, and how a checkpoint is recorded
(as a version in the model registry, see :func:`log_checkpoint`).

:class:`RunSlot` holds the run an adapter logs to. It is, in this order of preference, the run
passed to the adapter; the current run (``runlane.current_run()``) when the adapter was given no
``runlane.init`` arguments; or a run the slot creates with ``runlane.init(**init_kwargs)`` on
first use. Only a run the slot created is *owned*: :meth:`RunSlot.end` finishes an owned run and
only flushes a borrowed one, so an adapter never ends a run its user started.

A framework may keep logging after it said training ended (Lightning's ``trainer.test`` after
``trainer.fit``). An owned run that was finished is then rejoined (``init(id=..., resume=True)``
on the same store): its data stays in one run, whose terminal status is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import runlane
from runlane.integrations.config import sanitize
from runlane.sdk.run import Run

__all__ = ["RunSlot", "log_checkpoint"]


class RunSlot:
    """The run an adapter logs to; see the module doc for which one and who ends it."""

    def __init__(self, run: Run | None, init_kwargs: Mapping[str, Any], framework: str) -> None:
        self._run = run
        self._init_kwargs = dict(init_kwargs)
        self._framework = framework
        self.owned = False

    def peek(self) -> Run | None:
        """The run, if one was given or created already; never creates one."""
        return self._run

    def get(self) -> Run:
        """The run to log to now, created (or rejoined) when needed."""
        run = self._run
        if run is None:
            current = runlane.current_run() if not self._init_kwargs else None
            if current is not None:
                run = current
            else:
                kwargs = dict(self._init_kwargs)
                kwargs.setdefault("framework", self._framework)
                run = runlane.init(**kwargs)
                self.owned = True
            self._run = run
        elif run.finished and self.owned:
            info = run.info
            run = runlane.init(
                f"{info.owner}/{info.project}",
                id=run.id,
                resume=True,
                store=run.store,
                capture_stdio=False,
            )
            self._run = run
        return run

    def end(self, status: str = "succeeded", message: str | None = None) -> None:
        """Finish an owned run with ``status``; flush a borrowed one. Raises what
        :meth:`Run.finish` / :meth:`Run.flush` raise (WriteFailedError)."""
        run = self._run
        if run is None or run.finished:
            return
        if self.owned:
            run.finish(status, message)
        else:
            run.flush()

    def fail(self, exc: BaseException | None, message: str | None = None) -> None:
        """End an owned run as failed, keeping ``exc``'s message and traceback (``stopped``
        for a KeyboardInterrupt); flush a borrowed one."""
        run = self._run
        if run is None or run.finished:
            return
        if not self.owned:
            run.flush()
        elif isinstance(exc, KeyboardInterrupt):
            run.finish("stopped", message or "KeyboardInterrupt")
        else:
            run.fail(exc, message if exc is None else None)


def log_checkpoint(
    run: Run,
    path: str | os.PathLike[str],
    name: str,
    *,
    framework: str,
    step: int | None,
    summary: Mapping[str, Any] | None = None,
    aliases: Iterable[str] = (),
) -> str:
    """Record a checkpoint file or folder as the next version of registry model ``name`` and
    return the version's ref (``name:vN``).

    With a ``step`` the files are stored as the versioned asset ``assets/model/<name>_<step>``;
    without one under ``outputs/model/``. ``latest`` and ``aliases`` move to the new version;
    ``summary`` (sanitized to JSON values) is kept on it. Raises what ``run.log_model`` raises
    (a missing path, an unsafe name).
    """
    record = run.log_model(
        path,
        name,
        framework=framework,
        step=step,
        summary=sanitize(dict(summary or {})),
        aliases=aliases,
    )
    return f"{name}:{record.version}"
