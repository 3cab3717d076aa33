"""Optuna: one runlane run per trial, through a study callback.

    import optuna
    from runlane.integrations.optuna import RunlaneOptunaCallback

    study = optuna.create_study(study_name="lr-search")
    study.optimize(objective, n_trials=20,
                   callbacks=[RunlaneOptunaCallback(project="alice/mnist", metric_name="val_loss")])

Optuna calls the callback after each trial ends. For each trial it creates a run named
``trial-<number>`` in ``group`` = the study name, with:

* params: the trial's suggested params (``trial.params``);
* the default stream: one row per intermediate value (``trial.report(value, step)``) at that
  step, then the final value(s) under ``metric_name`` (a list of names for a multi-objective
  study; default ``value`` / ``value_0``, ``value_1``...);
* tags ``optuna`` and the trial state; ``extra.optuna`` with study, number, state, start/end;
* the status: ``succeeded`` for COMPLETE, ``stopped`` for PRUNED, ``failed`` for FAIL.

Each run is finished (durable) before the callback returns. Captures (git, env, stdout, system
metrics) are off for trial runs unless ``init_kwargs`` turn them on: a trial run is written after
the fact, from the study's process. Note that, as with every ``runlane.init``, the trial run
becomes the current run while it is written, so ``runlane.current_run()`` is ``None`` after the
callback has run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import runlane
from runlane.integrations.config import sanitize
from runlane.sdk.run import Run, split_tags

__all__ = ["RunlaneOptunaCallback"]

_STATUS = {"COMPLETE": "succeeded", "PRUNED": "stopped", "FAIL": "failed"}
_CAPTURES_OFF = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}


class RunlaneOptunaCallback:
    """``study.optimize(..., callbacks=[RunlaneOptunaCallback(...)])``; see the module doc.

    :param project: the project for the trial runs (``owner/project`` allowed).
    :param metric_name: name(s) of the objective value(s).
    :param init_kwargs: more :func:`runlane.init` arguments (``dir``, ``store``, ``tags``...).
    """

    def __init__(
        self,
        project: str | None = None,
        *,
        metric_name: str | Sequence[str] = "value",
        **init_kwargs: Any,
    ) -> None:
        self._project = project
        self._names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
        self._init_kwargs = {**_CAPTURES_OFF, **init_kwargs}
        self.runs: list[str] = []
        """Ids of the runs created, in trial order."""

    def _value_names(self, count: int) -> list[str]:
        if len(self._names) == count:
            return self._names
        base = self._names[0] if self._names else "value"
        return [base] if count == 1 else [f"{base}_{i}" for i in range(count)]

    def __call__(self, study: Any, trial: Any) -> None:
        state = getattr(trial.state, "name", str(trial.state))
        kwargs = dict(self._init_kwargs)
        tags = list(split_tags(kwargs.pop("tags", ()) or ()))
        run: Run = runlane.init(
            self._project,
            name=f"trial-{trial.number}",
            group=str(study.study_name),
            tags=[*tags, "optuna", state.lower()],
            framework="optuna",
            config={k: sanitize(v) for k, v in trial.params.items()},
            **kwargs,
        )
        start, end = trial.datetime_start, trial.datetime_complete
        run.set_extra(
            optuna={
                "study": str(study.study_name),
                "number": int(trial.number),
                "state": state,
                "start": start.isoformat() if start else None,
                "complete": end.isoformat() if end else None,
            }
        )
        for step, value in sorted(trial.intermediate_values.items()):
            run.log({"intermediate": float(value)}, step=int(step))
        values = trial.values or []
        if values:
            last = max(trial.intermediate_values, default=-1) + 1
            row = dict(zip(self._value_names(len(values)), map(float, values), strict=True))
            run.log(row, step=int(last))
        self.runs.append(run.id)
        run.finish(_STATUS.get(state, "stopped"), None if state == "COMPLETE" else state)
