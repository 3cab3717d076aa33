"""RunlaneKerasCallback with real Keras 3 (torch backend), a tiny model, on the CPU."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import runlane
from runlane.integrations.keras import RunlaneKerasCallback

pytestmark = pytest.mark.integration


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)],
        name="tiny",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_fit_logs_params_epochs_and_batches(root: Path) -> None:
    assert keras.backend.backend() == "torch"
    callback = RunlaneKerasCallback("tester/keras", name="tiny", dir=root, log_every_n_batches=2)
    x, y = data()
    model = tiny_model()
    history = model.fit(
        x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, callbacks=[callback]
    )
    run = runlane.open(callback.run.id, dir=root)
    assert run.status == "succeeded" and run.info.framework == "keras"

    params = run.params.get()
    assert params["fit.epochs"] == 3 and params["fit.steps"] == 3  # 24 training rows / 8
    assert params["model.name"] == "tiny"
    assert params["model.num_parameters"] == model.count_params() == 3 * 4 + 4 + 4 + 1
    assert params["optimizer.learning_rate"] == pytest.approx(0.05)

    rows = run.history()
    assert [(r["_step"], r["epoch"]) for r in rows] == [(0, 0), (1, 1), (2, 2)]
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [r[key] for r in rows] == pytest.approx(history.history[key])
    batches = run.history("batch")
    assert [r["step"] for r in batches] == [0, 2, 4, 6, 8]  # 9 batches, every 2nd
    assert all("loss" in r and "mae" in r for r in batches)


def test_borrowed_run_stays_open_and_bad_argument(root: Path) -> None:
    own = runlane.init("tester/keras", dir=root)
    callback = RunlaneKerasCallback()
    x, y = data()
    tiny_model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callback])
    assert callback.run is own and not own.finished
    assert [r["epoch"] for r in own.history()] == [0, 1]
    assert own.metrics("batch").read()["data"] == []
    own.finish()
    for bad in (-1, 1.5, True):
        with pytest.raises(runlane.InvalidArgumentError, match="log_every_n_batches"):
            RunlaneKerasCallback(log_every_n_batches=bad)  # type: ignore[arg-type]
