"""Seed 004 (ML-Dash data tracking): every example, run on ``runlane.compat.mldash`` with only
the import changed, then read back through ``runlane.open``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.compat.mldash import Experiment

PREFIX = "alice/vision/sweeps/resnet-1"


@pytest.fixture
def experiment() -> Iterator[Experiment]:
    """The experiment the seed's examples log into, opened as ML-Dash documents it."""
    with Experiment(prefix=PREFIX, dash_root=".dash").run as exp:
        yield exp


def view() -> runlane.RunView:
    """The experiment's run, read through runlane's own API (after the experiment ended)."""
    return runlane.open(PREFIX, dir=".dash")


def rows(stream: str) -> list[dict[str, Any]]:
    points = view().metrics(stream).read(0, 1000)["data"]
    for point in points:
        assert isinstance(point["data"].pop("_ts"), float)  # every row gets its wallclock
    return [p["data"] for p in points]


# --- parameters -------------------------------------------------------------------------------


def test_params_basic_usage(experiment: Experiment) -> None:
    # fmt: off
    experiment.params.set(
        learning_rate=0.001,
        batch_size=32,
        optimizer="adam",
        epochs=100
    )
    # fmt: on
    experiment.run.complete()
    assert view().params.get() == {
        "learning_rate": 0.001,
        "batch_size": 32,
        "optimizer": "adam",
        "epochs": 100,
    }


def test_params_nested_are_flattened(experiment: Experiment) -> None:
    # fmt: off
    experiment.params.set(**{
        "model": {
            "architecture": "resnet50",
            "pretrained": True
        },
        "optimizer": {
            "type": "adam",
            "lr": 0.001
        }
    })
    # Stored as: model.architecture, model.pretrained, optimizer.type, etc.
    # fmt: on
    experiment.run.complete()
    assert view().params.get() == {
        "model.architecture": "resnet50",
        "model.pretrained": True,
        "optimizer.type": "adam",
        "optimizer.lr": 0.001,
    }
    assert view().params.get(flatten=False) == {
        "model": {"architecture": "resnet50", "pretrained": True},
        "optimizer": {"type": "adam", "lr": 0.001},
    }
    saved = json.loads(Path(".dash", PREFIX, "parameters.json").read_text())
    assert saved["version"] == 1
    assert saved["data"]["optimizer.lr"] == 0.001


def test_params_from_config_files(experiment: Experiment) -> None:
    Path("config.json").write_text('{"lr": 0.01, "model": {"depth": 50}}')
    # fmt: off
    import json
    with open("config.json") as f:
        config = json.load(f)
    experiment.params.set(**config)
    # fmt: on
    experiment.run.complete()
    assert view().params.get() == {"lr": 0.01, "model.depth": 50}


def test_params_from_argparse(experiment: Experiment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.05"])
    # fmt: off
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.001)
    args = parser.parse_args()
    experiment.params.set(**vars(args))
    # fmt: on
    experiment.run.complete()
    assert view().params.get() == {"lr": 0.05}


# --- metrics ----------------------------------------------------------------------------------


def test_metrics_basic_usage(experiment: Experiment) -> None:
    # Log metrics with keyword arguments
    experiment.metrics("train").log(loss=0.5, epoch=1)
    experiment.metrics("eval").log(accuracy=0.85, step=100, epoch=1)
    experiment.run.complete()
    assert rows("train") == [{"loss": 0.5, "epoch": 1}]
    assert rows("eval") == [{"accuracy": 0.85, "step": 100, "epoch": 1}]


def test_metrics_multiple_fields_per_point(experiment: Experiment) -> None:
    # fmt: off
    experiment.metrics("metrics").log(
        loss=0.5,
        accuracy=0.85,
        learning_rate=0.001,
        epoch=1
    )
    # fmt: on
    experiment.run.complete()
    assert rows("metrics") == [{"loss": 0.5, "accuracy": 0.85, "learning_rate": 0.001, "epoch": 1}]


def test_metrics_multiple_streams(experiment: Experiment) -> None:
    for epoch in range(5):
        experiment.metrics("train").log(loss=0.5 - epoch * 0.1, epoch=epoch)
        experiment.metrics("eval").log(loss=0.6 - epoch * 0.1, epoch=epoch)
    experiment.run.complete()
    assert rows("train") == [{"loss": 0.5 - e * 0.1, "epoch": e} for e in range(5)]
    assert rows("eval") == [{"loss": 0.6 - e * 0.1, "epoch": e} for e in range(5)]
    assert [p["index"] for p in view().metrics("train").read(0, 10)["data"]] == [0, 1, 2, 3, 4]


def test_metrics_flexible_schema(experiment: Experiment) -> None:
    # Schema can vary between data points
    experiment.metrics("flexible").log(field_a=1, field_b=2)
    experiment.metrics("flexible").log(field_a=3, field_c=4)
    experiment.metrics("flexible").log(field_a=5, field_b=6, field_c=7)
    experiment.run.complete()
    assert rows("flexible") == [
        {"field_a": 1, "field_b": 2},
        {"field_a": 3, "field_c": 4},
        {"field_a": 5, "field_b": 6, "field_c": 7},
    ]


def test_reading_metrics(experiment: Experiment, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        experiment.metrics("loss").log(value=1.0 / (i + 1))
    # fmt: off
    result = experiment.metrics("loss").read(start_index=0, limit=10)
    for point in result['data']:
        print(f"Index {point['index']}: {point['data']}")
    # fmt: on
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Index 0", "Index 1", "Index 2"]
    assert (result["startIndex"], result["endIndex"], result["total"], result["hasMore"]) == (
        0,
        2,
        3,
        False,
    )
    assert [p["data"]["value"] for p in result["data"]] == [1.0, 0.5, 1.0 / 3]


def test_reading_a_metric_never_logged_gives_the_empty_shape(experiment: Experiment) -> None:
    result = experiment.metrics("loss").read(start_index=0, limit=10)
    assert result == {"data": [], "startIndex": 0, "endIndex": -1, "total": 0, "hasMore": False}


def test_get_stats(experiment: Experiment, capsys: pytest.CaptureFixture[str]) -> None:
    for epoch in range(4):
        experiment.metrics("train").log(loss=1.0 - epoch / 10, epoch=epoch)
    stats = experiment.metrics("train").stats()
    print(f"Total points: {stats['totalDataPoints']}")
    assert capsys.readouterr().out == "Total points: 4\n"
    assert stats["totalDataPoints"] == "4"  # a string, as ML-Dash returns it
    assert stats["metricId"] == "local-metric-train"
    assert (stats["bufferedDataPoints"], stats["chunkedDataPoints"]) == ("4", "0")
    assert (stats["totalChunks"], stats["chunkSize"]) == (0, 10000)
    experiment.run.complete()
    assert view().metrics("train").stats()["totalDataPoints"] == 4


# --- logging ----------------------------------------------------------------------------------


def test_logging_basic_usage(experiment: Experiment, capsys: pytest.CaptureFixture[str]) -> None:
    experiment.log("Training started")
    experiment.log("Model: ResNet-50", level="info")
    experiment.log("GPU memory low", level="warn")
    experiment.log("Failed to load", level="error")
    printed = capsys.readouterr()
    assert (
        printed.out == "[INFO] Training started\n[INFO] Model: ResNet-50\n[WARN] GPU memory low\n"
    )
    assert printed.err == "[ERROR] Failed to load\n"
    experiment.run.complete()
    logs = view().logs()
    assert [(r.seq, r.level, r.message, r.metadata) for r in logs] == [
        (0, "info", "Training started", None),
        (1, "info", "Model: ResNet-50", None),
        (2, "warn", "GPU memory low", None),
        (3, "error", "Failed to load", None),
    ]


def test_logging_structured_metadata(
    experiment: Experiment, capsys: pytest.CaptureFixture[str]
) -> None:
    # fmt: off
    experiment.log(
        "Epoch completed",
        level="info",
        metadata={
            "epoch": 5,
            "train_loss": 0.234,
            "val_loss": 0.456
        }
    )
    # fmt: on
    assert capsys.readouterr().out == (
        "[INFO] Epoch completed [epoch=5, train_loss=0.234, val_loss=0.456]\n"
    )
    experiment.run.complete()
    (record,) = view().logs()
    assert record.metadata == {"epoch": 5, "train_loss": 0.234, "val_loss": 0.456}


def test_logging_error_tracking(experiment: Experiment) -> None:
    def risky_operation() -> None:
        raise FileNotFoundError("weights.pt")

    with pytest.raises(FileNotFoundError):
        # fmt: off
        try:
            result = risky_operation()  # noqa: F841
        except Exception as e:
            experiment.log(
                f"Operation failed: {e}",
                level="error",
                metadata={"error_type": type(e).__name__}
            )
            raise
        # fmt: on
    experiment.run.complete()
    (record,) = view().logs()
    assert (record.level, record.message, record.metadata) == (
        "error",
        "Operation failed: weights.pt",
        {"error_type": "FileNotFoundError"},
    )


# --- storage format ---------------------------------------------------------------------------


def test_local_storage_format(experiment: Experiment) -> None:
    experiment.params.set(lr=0.1)
    experiment.metrics("train").log(loss=0.5)
    experiment.log("hello")
    experiment.tracks("robot/position").append(x=1.0, _ts=2.0)
    experiment.run.complete()
    run_dir = Path(".dash", PREFIX)
    assert json.loads((run_dir / "parameters.json").read_text())["data"] == {"lr": 0.1}
    (line,) = (run_dir / "metrics/train/data.jsonl").read_text().splitlines()
    assert json.loads(line)["index"] == 0
    assert json.loads(line)["data"]["loss"] == 0.5
    (log_line,) = (run_dir / "logs/logs.jsonl").read_text().splitlines()
    assert json.loads(log_line)["message"] == "hello"
    (track_line,) = (run_dir / "tracks/robot_position/data.jsonl").read_text().splitlines()
    assert json.loads(track_line) == {"timestamp": 2.0, "x": 1.0}
    assert view().tracks("robot/position").read() == [{"timestamp": 2.0, "x": 1.0}]
