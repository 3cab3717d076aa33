"""RunlaneOptunaCallback with a real Optuna study: one run per trial."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import runlane
from runlane.integrations.optuna import RunlaneOptunaCallback

pytestmark = pytest.mark.integration


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if trial.number == 2:
        raise optuna.TrialPruned()
    if trial.number == 3:
        raise ValueError("bad trial")
    for step in range(3):
        trial.report((x - 1.0) ** 2 + step, step)
    return (x - 1.0) ** 2 + (0.5 if kind == "b" else 0.0)


def test_one_run_per_trial(root: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    callback = RunlaneOptunaCallback("tester/optuna", metric_name="loss", dir=root, tags="hpo")
    study = optuna.create_study(study_name="search", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=5, callbacks=[callback], catch=(ValueError,))

    assert len(callback.runs) == 5
    views = [runlane.open(rid, dir=root) for rid in callback.runs]
    assert [v.name for v in views] == [f"trial-{i}" for i in range(5)]
    assert [v.status for v in views] == ["succeeded", "succeeded", "stopped", "failed", "succeeded"]
    for view, trial in zip(views, study.trials, strict=True):
        info = view.info
        assert info.group == "search" and info.framework == "optuna"
        assert {"hpo", "optuna", trial.state.name.lower()} == set(info.tags)
        assert view.params.get() == trial.params
        assert info.extra["optuna"]["number"] == trial.number
        assert info.extra["optuna"]["state"] == trial.state.name
    first = views[0].history()
    trial0 = study.trials[0]
    assert [(r["_step"], r["intermediate"]) for r in first[:3]] == sorted(
        trial0.intermediate_values.items()
    )
    assert first[3]["_step"] == 3 and first[3]["loss"] == pytest.approx(trial0.value)
    assert views[2].history() == [] and views[3].history() == []
    assert len(runlane.runs("tester/optuna", "status = 'succeeded'", dir=root)) == 3
