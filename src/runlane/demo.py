"""A small, real training run that exercises the whole SDK: ``runlane demo`` or
``python -m runlane.demo``.

Logistic regression in numpy on scikit-learn's breast-cancer data set (569 rows, 30 features,
shipped with scikit-learn, no download): a seeded train/validation split, standardisation
with the training statistics, mini-batch gradient descent with momentum, L2 and a cosine
learning-rate schedule. It logs params (a nested optimizer dict included), the loss and
learning rate per step (``run.log``), loss and accuracy per epoch to the streams ``train``
and ``val``, a log message per epoch, events at the start and at each new best validation
loss, the weight norm as the track ``weights/norm``, a data reference to the feature array,
a histogram of the weights every 5 epochs (a versioned asset: the UI's step slider), ROC and
precision-recall curves and a confusion matrix of the validation set, the weights as a
registered model (``breast-cancer-logreg``, alias ``best``) and a ``model`` metadata
document. Needs the ``demo`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from runlane.errors import RunlaneError

if TYPE_CHECKING:
    from runlane.sdk.run import Run

DEFAULT_PROJECT = "runlane-demo"
DEFAULT_EPOCHS = 30
PATIENCE = 5  # epochs without a better validation loss before a warning is logged
Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Hyper-parameters of the demo, logged as the run's params."""

    epochs: int = DEFAULT_EPOCHS
    lr: float = 0.1
    batch_size: int = 32
    l2: float = 1e-3
    momentum: float = 0.9
    val_fraction: float = 0.2
    seed: int = 0

    def params(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "l2": self.l2,
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "model": "logistic_regression",
            "optimizer": {"name": "sgd", "momentum": self.momentum, "schedule": "cosine"},
        }


@dataclass(frozen=True, slots=True)
class Split:
    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array


def load_data(config: DemoConfig) -> tuple[Array, Array, Split]:
    """The raw features and labels, and the standardised train/validation split.
    Raises RunlaneError when scikit-learn is not installed."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as exc:
        raise RunlaneError("the demo needs scikit-learn: pip install 'runlane[demo]'") from exc
    bunch: Any = load_breast_cancer()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    order = np.random.default_rng(config.seed).permutation(len(y))
    n_val = max(1, round(len(y) * config.val_fraction))
    val, train = order[:n_val], order[n_val:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0
    scaled = (x - mean) / std
    return x, y, Split(scaled[train], y[train], scaled[val], y[val])


def _sigmoid(z: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def evaluate(w: Array, b: float, x: Array, y: Array, l2: float) -> tuple[float, float]:
    """(regularised binary cross-entropy, accuracy) of the model on ``x, y``."""
    p = np.clip(_sigmoid(x @ w + b), 1e-12, 1 - 1e-12)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.5 * l2 * float(w @ w)
    accuracy = float(np.mean((p >= 0.5) == (y == 1.0)))
    return float(loss), accuracy


def train(run: Run, config: DemoConfig) -> dict[str, Any]:
    """Train and log into ``run``; returns the best epoch's summary."""
    x_raw, y_raw, data = load_data(config)
    n_train, n_features = data.x_train.shape
    run.params.set(config.params(), n_train=n_train, n_val=len(data.y_val), n_features=n_features)
    run.log_data_ref(
        "breast_cancer",
        x_raw,
        summary={
            "source": "sklearn.datasets.load_breast_cancer",
            "rows": len(y_raw),
            "features": n_features,
            "positives": int(y_raw.sum()),
        },
    )
    run.log_message(
        f"loaded breast_cancer: {n_train} train / {len(data.y_val)} validation rows, "
        f"{n_features} features"
    )
    run.log_event("training_started", metadata={"epochs": config.epochs, "train_rows": n_train})
    rng = np.random.default_rng(config.seed + 1)
    w = np.zeros(n_features)
    b = 0.0
    velocity_w = np.zeros(n_features)
    velocity_b = 0.0
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    step = 0
    best: dict[str, Any] = {"epoch": 0, "val_loss": math.inf, "val_accuracy": 0.0}
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(n_train)
        for start in range(0, n_train, config.batch_size):
            batch = order[start : start + config.batch_size]
            xb, yb = data.x_train[batch], data.y_train[batch]
            lr = config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
            p = _sigmoid(xb @ w + b)
            eps = 1e-12
            loss = -np.mean(yb * np.log(p + eps) + (1 - yb) * np.log(1 - p + eps))
            loss += 0.5 * config.l2 * float(w @ w)
            error = p - yb
            grad_w = xb.T @ error / len(yb) + config.l2 * w
            grad_b = float(error.mean())
            velocity_w = config.momentum * velocity_w - lr * grad_w
            velocity_b = config.momentum * velocity_b - lr * grad_b
            w = w + velocity_w
            b += velocity_b
            run.log({"loss": float(loss), "lr": lr, "epoch": epoch})
            step += 1
        train_loss, train_acc = evaluate(w, b, data.x_train, data.y_train, config.l2)
        val_loss, val_acc = evaluate(w, b, data.x_val, data.y_val, config.l2)
        run.metrics("train").log(epoch=epoch, loss=train_loss, accuracy=train_acc)
        run.metrics("val").log(epoch=epoch, loss=val_loss, accuracy=val_acc)
        run.tracks("weights/norm").append(norm=float(np.linalg.norm(w)), bias=b, epoch=epoch)
        if epoch == 1 or epoch % 5 == 0 or epoch == config.epochs:
            run.log_histogram("weights", w, bins=20, step=epoch)
        run.log_message(
            f"epoch {epoch}/{config.epochs}: train_loss={train_loss:.4f} "
            f"val_loss={val_loss:.4f} val_accuracy={val_acc:.4f}",
            metadata={"epoch": epoch},
        )
        if val_loss < best["val_loss"]:
            best = {"epoch": epoch, "val_loss": val_loss, "val_accuracy": val_acc}
            run.log_event("best_model", metadata=best)
        elif epoch - best["epoch"] == PATIENCE:
            run.log_message(f"validation loss has not improved for {PATIENCE} epochs", "warn")
    log_evaluation(run, w, b, data)
    run.update_metadata(
        "model",
        {
            "kind": "logistic_regression",
            "features": n_features,
            "best_epoch": best["epoch"],
            "best_val_loss": best["val_loss"],
            "best_val_accuracy": best["val_accuracy"],
            "weight_norm": float(np.linalg.norm(w)),
        },
    )
    run.log_message(
        f"best validation loss {best['val_loss']:.4f} (accuracy {best['val_accuracy']:.4f}) "
        f"at epoch {best['epoch']}"
    )
    return best


def log_evaluation(run: Run, w: Array, b: float, data: Split) -> None:
    """Validation curves, the confusion matrix, and the final weights as a model."""
    import tempfile

    scores = _sigmoid(data.x_val @ w + b)
    run.log_roc_curve_from_scores("val_roc", data.y_val, scores)
    run.log_pr_curve_from_scores("val_pr", data.y_val, scores)
    predicted = scores >= 0.5
    actual = data.y_val.astype(bool)
    counts = [
        [int(np.sum(~actual & ~predicted)), int(np.sum(~actual & predicted))],
        [int(np.sum(actual & ~predicted)), int(np.sum(actual & predicted))],
    ]
    run.log_confusion_matrix(
        "val_confusion", ["benign", "malignant"], ["benign", "malignant"], counts
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "weights.npz")
        np.savez(path, w=w, b=np.array([b]))
        run.log_model(
            path,
            name="breast-cancer-logreg",
            framework="numpy",
            summary={"features": len(w), "val_rows": len(data.y_val)},
            aliases=["best"],
        )


def run_demo(
    project: str = DEFAULT_PROJECT,
    epochs: int = DEFAULT_EPOCHS,
    *,
    dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> Run:
    """Start a run in ``project``, train, finish it; returns the finished run (its data is
    durable on return). A failure inside training ends the run ``failed`` and re-raises."""
    import runlane

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise runlane.InvalidArgumentError(f"epochs {epochs!r} must be an integer ≥ 1")
    config = DemoConfig(epochs=epochs, seed=seed)
    with runlane.init(
        project,
        dir=dir,
        tags=["demo", "logistic-regression"],
        description="numpy logistic regression on scikit-learn's breast-cancer data set",
        framework="numpy",
        capture_git=False,
        capture_stdio=False,
        system_metrics=False,
    ) as run:
        train(run, config)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m runlane.demo [--project P] [--epochs N] [--dir PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m runlane.demo", description=__doc__)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--dir", help="local data root (default: $RUNLANE_DIR or ./runlane-data)")
    args = parser.parse_args(argv)
    try:
        run = run_demo(args.project, args.epochs, dir=args.dir)
    except RunlaneError as exc:
        print(f"runlane: error: {exc}", file=sys.stderr)
        return 1
    print(f"run {run.id} {run.status}")
    print(f"folder: {run.path}")
    print(f"next: runlane show {run.id}" + (f" --dir {args.dir}" if args.dir else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
