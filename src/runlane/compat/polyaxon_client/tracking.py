"""Polyaxon v0's ``Experiment`` on runlane: ``from runlane.compat.polyaxon_client.tracking
import Experiment``.

An ``Experiment`` is one runlane run, created by :meth:`Experiment.create` (or by the first
call that needs it) in ``project`` (``"user/project"``, ``"user.project"`` or a bare project
of the default owner; None means runlane's default project). With ``experiment_id`` it
attaches to that run. No server is involved: everything lands in the local runlane store.

Lifecycle, as in Polyaxon: the run is ``running`` once created, ``succeeded`` when the
interpreter exits, ``failed`` on an uncaught exception; the first terminal status
(``log_succeeded``/``log_failed``/``log_stopped`` or the automatic ones) wins and later ones
are ignored. Data logged after the end is still stored.

``POLYAXON_NO_OP=true`` (or 1) turns every method, the constructor included, into a no-op
returning None. Where the seed and the client differ both are accepted: ``track_git`` (the
seed) and ``track_code`` (the client) mean the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import runlane
from runlane.compat._polyaxon import (
    TERMINAL,
    check_status,
    data_hash,
    no_op,
    skip_when_no_op,
)
from runlane.compat._runs import reopen
from runlane.errors import InvalidArgumentError, InvalidValueError
from runlane.sdk.capture.env import capture_env
from runlane.sdk.capture.git import capture_git
from runlane.sdk.run import Run

__all__ = ["Experiment"]


def _split_project(project: str | None) -> str | None:
    """``"user/project"`` and ``"user.project"`` → ``"user/project"``; a bare name as is."""
    if project is None or "/" in project or "." not in project:
        return project
    owner, name = project.split(".", 1)
    return f"{owner}/{name}"


def _check_tags(tags: str | Iterable[str]) -> list[str]:
    """Polyaxon's ``validate_tags``: a string splits on ``,``; every tag is a non-empty str."""
    items = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else list(tags)
    for tag in items:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidArgumentError(
                f"tag {tag!r} is invalid: Polyaxon tags are non-empty strings"
            )
    return [t.strip() for t in items]


def _check_number(key: str, value: object) -> Any:
    """Polyaxon v0 metrics are numbers: int, float, None, numpy scalars, ``.item()`` objects."""
    if value is None or isinstance(value, int | float):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", ()) == ():
        plain = item()
        if isinstance(plain, int | float):
            return plain
    raise InvalidValueError(
        f"Client could not parse the value {value!r} of metric {key!r} "
        f"({type(value).__name__}): Polyaxon metrics are numbers (int, float, numpy scalars)"
    )


def _capture(flag: bool) -> bool | None:
    """``track_*=False`` turns a capture off; True leaves it to runlane's settings."""
    return None if flag else False


class Experiment:
    """A Polyaxon v0 experiment backed by a runlane run (see the module docstring).

    ``client`` and ``outputs_store`` are accepted for compatibility; runlane keeps outputs
    in the run folder. ``track_logs``/``track_env``/``track_code`` (alias ``track_git``)
    False turn off runlane's stdout/stderr, environment and git captures.
    """

    @skip_when_no_op
    def __init__(
        self,
        project: str | None = None,
        experiment_id: str | int | None = None,
        group_id: str | int | None = None,
        client: object = None,
        track_logs: bool = True,
        track_code: bool = True,
        track_env: bool = True,
        outputs_store: object = None,
        *,
        track_git: bool | None = None,
    ) -> None:
        self.project = _split_project(project)
        self.group_id = group_id
        self.track_logs = track_logs
        self.track_code = track_code if track_git is None else track_git
        self.track_env = track_env
        self.last_status: str | None = None
        self._run: Run | None = None
        self._data_refs: dict[str, str] | None = None
        if experiment_id is not None:
            self._run = runlane.init(
                self.project,
                id=str(experiment_id),
                capture_git=False,
                capture_env=False,
                capture_stdio=False,
                system_metrics=False,
            )
            self.last_status = self._run.status

    @property
    def experiment_id(self) -> str | None:
        """The runlane run id (None before :meth:`create`)."""
        return None if no_op() or self._run is None else self._run.id

    def _live(self) -> Run:
        if self._run is None:
            self.create()
        assert self._run is not None
        self._run = reopen(self._run)
        return self._run

    # --- creation and run information -------------------------------------------------
    @skip_when_no_op
    def create(
        self,
        name: str | None = None,
        framework: str | None = None,
        backend: str | None = None,
        tags: str | Iterable[str] | None = None,
        description: str | None = None,
        content: object = None,
        build_id: object = None,
        base_outputs_path: object = None,
    ) -> Experiment:
        """Start a new run (each call starts another, as Polyaxon creates another experiment)
        and mark it running. ``content``, ``build_id`` and ``base_outputs_path`` are accepted
        and ignored. Returns self."""
        self._run = runlane.init(
            self.project,
            name=name,
            group=None if self.group_id is None else str(self.group_id),
            description=description,
            tags=None if tags is None else _check_tags(tags),
            framework=framework,
            backend=backend or "other",
            capture_git=_capture(self.track_code),
            capture_env=_capture(self.track_env),
            capture_stdio=_capture(self.track_logs),
            system_metrics=False,
        )
        self._data_refs = None
        self.last_status = "running"
        return self

    @skip_when_no_op
    def set_name(self, name: str) -> None:
        self._live().set_name(name)

    @skip_when_no_op
    def set_description(self, description: str) -> None:
        self._live().set_description(description)

    @skip_when_no_op
    def log_tags(self, tags: str | Iterable[str], reset: bool = False) -> None:
        """Add tags (a string splits on ``,``); ``reset=True`` replaces the existing ones.
        A tag that is not a non-empty string raises InvalidArgumentError."""
        self._live().add_tags(_check_tags(tags), reset=reset)

    @skip_when_no_op
    def log_framework(self, framework: str) -> None:
        self._live().set_framework(framework)

    @skip_when_no_op
    def log_backend(self, backend: str) -> None:
        self._live().set_backend(backend)

    @skip_when_no_op
    def log_run_env(self) -> None:
        """Record the run environment (pid, host, os, python, packages, argv) as the run's
        ``env`` metadata document."""
        self._live().update_metadata("env", capture_env())

    @skip_when_no_op
    def log_code_ref(self) -> None:
        """Record the git commit, branch, remote and dirty flag of the working directory in
        the run's ``extra.git`` (nothing when it is not a git work tree)."""
        info = capture_git()
        if info is not None:
            self._live().set_extra(git=info.to_dict())

    # --- statuses ---------------------------------------------------------------------
    @skip_when_no_op
    def log_status(
        self, status: str, message: str | None = None, traceback: str | None = None
    ) -> None:
        """Record a Polyaxon status (kept as ``extra.polyaxon_status``). Terminal ones
        (succeeded, failed, stopped, done, skipped, upstream_failed) end the run; others show
        as running. Once a terminal status is recorded, later ones are ignored. Raises
        InvalidArgumentError for a status Polyaxon does not know."""
        text = check_status(status)
        if self.last_status in TERMINAL:
            return
        run = self._live()
        run.set_extra(polyaxon_status=text)
        if text in TERMINAL:
            if traceback is not None:
                run.set_extra(error={"message": message, "traceback": traceback})
            run.finish(TERMINAL[text], message)
        else:
            run.set_status("running", message)
        self.last_status = text

    @skip_when_no_op
    def log_stopped(self) -> None:
        self.log_status("stopped")

    @skip_when_no_op
    def log_succeeded(self) -> None:
        self.log_status("succeeded")

    @skip_when_no_op
    def log_failed(self, message: str | None = None, traceback: str | None = None) -> None:
        self.log_status("failed", message, traceback)

    succeeded = log_succeeded
    stop = log_stopped
    failed = log_failed

    # --- data -------------------------------------------------------------------------
    @skip_when_no_op
    def log_metrics(self, **metrics: Any) -> None:
        """Log one row of numbers to the run's default stream. A ``step`` metric that is a
        non-negative int is also the row's runlane step. A value that is not a number raises
        InvalidValueError (a TypeError)."""
        row = {key: _check_number(key, value) for key, value in metrics.items()}
        step = row.get("step")
        valid_step = isinstance(step, int) and not isinstance(step, bool) and step >= 0
        self._live().log(row, step=step if valid_step else None)

    @skip_when_no_op
    def log_params(self, reset: bool = False, **params: Any) -> None:
        """Merge params into the run's (``reset=True`` replaces them)."""
        self._live().params.set(reset=reset, **params)

    @skip_when_no_op
    def log_data_ref(self, data: object, data_name: str = "data", reset: bool = False) -> None:
        """Reference a dataset: a lineage input record (runlane's content hash) and the
        run's ``data_refs`` metadata document ``{name: Polyaxon md5 hash}``, which
        ``reset=True`` empties first."""
        run = self._live()
        if self._data_refs is None:
            doc = run.metadata().get("data_refs")
            self._data_refs = dict(doc["value"]) if doc else {}
        refs = {} if reset else dict(self._data_refs)
        refs[data_name] = data_hash(data)
        run.log_data_ref(data_name, data)
        run.update_metadata("data_refs", refs)
        self._data_refs = refs

    @skip_when_no_op
    def log_artifact(self, file_path: str) -> None:
        """Copy a file into the run's ``outputs/`` and record it."""
        self._live().log_artifact(file_path)

    @skip_when_no_op
    def log_artifacts(self, dir_path: str) -> None:
        """Copy a folder into the run's ``outputs/`` and record it."""
        self._live().log_artifact(dir_path)

    log_output = log_artifact
    log_outputs = log_artifacts

    # --- environment ------------------------------------------------------------------
    @skip_when_no_op
    def get_log_level(self) -> str | None:
        """``POLYAXON_LOG_LEVEL`` (set by a polyaxonfile), else None."""
        return os.environ.get("POLYAXON_LOG_LEVEL")

    @skip_when_no_op
    def get_outputs_path(self) -> str:
        """The run's ``outputs/`` folder (created if missing)."""
        return str(self._live().get_outputs_path(is_dir=True))
