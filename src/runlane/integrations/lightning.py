"""PyTorch Lightning logger: ``Trainer(logger=RunlaneLogger(...))``.

    from lightning.pytorch import Trainer
    from runlane.integrations.lightning import RunlaneLogger

    logger = RunlaneLogger(project="alice/mnist", name="baseline", log_model=True)
    Trainer(max_epochs=3, logger=logger).fit(model, data)

What it records, on global rank 0 only (other ranks log nothing):

* hyperparameters (``self.save_hyperparameters()``, or ``logger.log_hyperparams``) as params,
  nested dicts flattened to dotted keys; values runlane cannot store (modules, callables) are
  kept as their ``str`` (see :func:`runlane.integrations.config.sanitize`);
* every ``self.log(...)`` metric as a row of the default stream at the trainer's step
  (``trainer.global_step`` as Lightning reports it), ``epoch`` included when Lightning adds it;
* checkpoints, when ``log_model`` is set: ``True`` logs the checkpoints that
  :class:`~lightning.pytorch.callbacks.ModelCheckpoint` kept (top-k, best and last) when
  training ends, ``"all"`` logs each new checkpoint as soon as it is saved. Each becomes a
  version of registry model ``model_name`` (default ``model-<run id>``) through
  ``run.log_model``, stored as the asset ``assets/model/<name>_<step>.ckpt`` at the trainer
  step it was saved at (files of one step, e.g. ``last.ckpt`` and the top-k file, make one
  version). The version's summary holds the monitored score, the file's roles and the
  checkpoint settings; the best checkpoint gets the alias ``best``;
* the end of training: ``finalize("success")`` finishes a run the logger created as
  ``succeeded``, ``finalize("failed")`` as ``failed``. A run passed in (``run=``) or already
  current is flushed, never finished. Logging after ``finalize`` (``trainer.test`` after
  ``trainer.fit``) goes on in the same run.

Needs the ``lightning`` package (2.x; ``lightning.pytorch``), not the older
``pytorch_lightning`` import name. Everything logged is durable once ``finalize`` returns (or
after ``logger.experiment.flush()``).
Arguments other than ``run``, ``log_model``, ``model_name`` and ``prefix`` are passed to
:func:`runlane.init` when the logger creates its run, on first use.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from runlane.errors import InvalidArgumentError
from runlane.integrations._runs import RunSlot, log_checkpoint
from runlane.integrations.config import sanitize, to_params
from runlane.sdk.run import Run

__all__ = ["RunlaneLogger"]

_CHECKPOINT_SETTINGS = ("monitor", "mode", "save_last", "save_top_k", "save_weights_only")


class RunlaneLogger(Logger):  # type: ignore[misc]
    """A Lightning ``Logger`` writing to a runlane run; see the module doc.

    :param run: log to this run (never finished by the logger).
    :param log_model: ``False`` (default), ``True`` (kept checkpoints at the end) or ``"all"``.
    :param model_name: model name for checkpoints; default ``model-<run id>``.
    :param prefix: prepended to every metric name, joined with ``/``.
    :raises InvalidArgumentError: ``log_model`` is not ``True``, ``False`` or ``"all"``.
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        *,
        run: Run | None = None,
        log_model: bool | Literal["all"] = False,
        model_name: str | None = None,
        prefix: str = "",
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            raise InvalidArgumentError(
                f"log_model={log_model!r}: use False, True (kept checkpoints at the end) or 'all'"
            )
        kwargs = dict(init_kwargs)
        if project is not None:
            kwargs["project"] = project
        if name is not None:
            kwargs["name"] = name
        self._slot = RunSlot(run, kwargs, framework="pytorch-lightning")
        self._project = project.split("/")[-1] if project else None
        self._log_model = log_model
        self._model_name = model_name
        self._prefix = prefix
        self._seen: dict[str, tuple[tuple[int, int] | None, int | None]] = {}
        self._logged: dict[str, tuple[int, int] | None] = {}
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._last_step: int | None = None

    # --- identity -------------------------------------------------------------------------
    @property
    @rank_zero_experiment  # type: ignore[untyped-decorator]
    def experiment(self) -> Run:
        """The runlane run (created on first access, on rank 0)."""
        return self._slot.get()

    @property
    def run(self) -> Run:
        """The runlane run; like :attr:`experiment` but also on other ranks."""
        return self._slot.get()

    @property
    def name(self) -> str | None:
        """The project name (Lightning shows it as the experiment name)."""
        run = self._slot.peek()
        return run.info.project if run is not None else self._project

    @property
    def version(self) -> str | None:
        """The run id (the run is created when Lightning first asks)."""
        return self.experiment.id if rank_zero_only.rank == 0 else None

    @property
    def save_dir(self) -> str | None:
        """``None``: checkpoints stay under the trainer's ``default_root_dir``."""
        return None

    # --- logging --------------------------------------------------------------------------
    @rank_zero_only  # type: ignore[untyped-decorator]
    def log_hyperparams(
        self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Merge ``params`` into the run's params (flattened, sanitized)."""
        self.experiment.params.set(to_params(params))

    @rank_zero_only  # type: ignore[untyped-decorator]
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log one row of ``metrics`` at ``step`` (the trainer's global step)."""
        row: dict[str, Any] = {}
        for key, value in metrics.items():
            plain = sanitize(value)
            name = f"{self._prefix}/{key}" if self._prefix else str(key)
            row[name] = plain if isinstance(plain, int | float | bool | None) else str(plain)
        if step is not None:
            step = self._last_step = int(step)
        self.experiment.log(row, step=step)

    @rank_zero_only  # type: ignore[untyped-decorator]
    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        """Called by Lightning after each checkpoint; logs or remembers it per ``log_model``."""
        if not self._log_model:
            return
        self._note_saved(checkpoint_callback)
        every = self._log_model == "all" or getattr(checkpoint_callback, "save_top_k", 1) == -1
        if every:
            self._log_checkpoints(checkpoint_callback)
        else:
            self._checkpoint_callback = checkpoint_callback

    @rank_zero_only  # type: ignore[untyped-decorator]
    def finalize(self, status: str) -> None:
        """End of fit/test: log remembered checkpoints, then finish an owned run (``success`` →
        succeeded; ``failed`` → failed with the exception being handled, or stopped for a
        KeyboardInterrupt) or flush a borrowed one."""
        if self._slot.peek() is None:
            return
        if self._checkpoint_callback is not None:
            self._log_checkpoints(self._checkpoint_callback)
            self._checkpoint_callback = None
        if status == "failed":  # Lightning calls this inside its ``except`` block
            self._slot.fail(sys.exc_info()[1], "the trainer stopped on an exception")
        else:
            self._slot.end("succeeded")

    # --- checkpoints ----------------------------------------------------------------------
    def _kept(self, callback: ModelCheckpoint) -> dict[str, tuple[Any, list[str]]]:
        """The checkpoint files the callback keeps now: path → (score, roles)."""
        found: dict[str, tuple[Any, list[str]]] = {}
        for path, score in getattr(callback, "best_k_models", {}).items():
            found[str(path)] = (score, ["top_k"])
        last = getattr(callback, "last_model_path", "")
        if last:
            entry = found.setdefault(str(last), (getattr(callback, "current_score", None), []))
            entry[1].append("last")
        best = getattr(callback, "best_model_path", "")
        if best:
            entry = found.setdefault(str(best), (getattr(callback, "best_model_score", None), []))
            entry[1].append("best")
        return {p: v for p, v in found.items() if Path(p).is_file()}

    def _note_saved(self, callback: ModelCheckpoint) -> None:
        """Remember the trainer step at which each kept file was (re)written."""
        step = getattr(callback, "_last_global_step_saved", None)
        step = step if isinstance(step, int) and step >= 0 else self._last_step
        for path in self._kept(callback):
            stamp = _stamp(path)
            if self._seen.get(path, (None, None))[0] != stamp:
                self._seen[path] = (stamp, step)

    def _log_checkpoints(self, callback: ModelCheckpoint) -> None:
        """Log the kept files not logged yet, one model version per trainer step (``last``
        and the top-k file of the same step hold the same weights)."""
        run = self.experiment
        settings = {
            k: sanitize(getattr(callback, k)) for k in _CHECKPOINT_SETTINGS if hasattr(callback, k)
        }
        by_step: dict[int | None, list[tuple[str, Any, list[str]]]] = {}
        for path, (score, roles) in self._kept(callback).items():
            stamp, step = self._seen.get(path, (_stamp(path), self._last_step))
            if self._logged.get(path) == stamp:
                continue
            self._logged[path] = stamp
            by_step.setdefault(step, []).append((path, score, roles))
        name = self._model_name or f"model-{run.id}"
        for step in sorted(by_step, key=lambda s: -1 if s is None else s):
            files = sorted(by_step[step], key=lambda f: "last" in f[2])  # a named file first
            path, score = files[0][0], files[0][1]
            roles = sorted({r for f in files for r in f[2]})
            summary = {
                "score": sanitize(score),
                "roles": roles,
                "files": [Path(f[0]).name for f in files],
                "checkpoint": settings,
            }
            aliases = ["best"] if "best" in roles else []
            log_checkpoint(
                run, path, name, framework="pytorch", step=step, summary=summary, aliases=aliases
            )


def _stamp(path: str) -> tuple[int, int]:
    info = Path(path).stat()
    return info.st_mtime_ns, info.st_size
