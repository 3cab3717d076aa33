"""``import runlane.compat.wandb as wandb`` running typical W&B training scripts; what they
stored is read back through ``runlane.open``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlane
import runlane.compat.wandb as wandb


@pytest.fixture(autouse=True)
def _no_active_wandb_run() -> Any:
    yield
    wandb.finish()


def train_script(root: Path) -> str:
    """What a W&B user writes, unchanged but for the import."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args([])
    run = wandb.init(
        project="mnist",
        entity="alice",
        name="baseline run",
        config=args,
        tags=["cnn", "test"],
        notes="first try",
        group="sweep-1",
        job_type="train",
        dir=root,
    )
    wandb.config.update({"epochs": 3, "optimizer": {"name": "sgd", "momentum": 0.9}})
    wandb.config.batch_size = 16
    rng = np.random.default_rng(0)
    w = 0.0
    for epoch in range(wandb.config.epochs):
        for _ in range(4):
            w += wandb.config.lr * (1.0 - w)
            wandb.log({"train/loss": (1.0 - w) ** 2, "w": np.float32(w)})
        wandb.log({"val": {"loss": (1.0 - w) ** 2 / 2, "acc": w}}, commit=False)
        wandb.log({"epoch": epoch})
    table = wandb.Table(columns=["id", "pred"])
    table.add_data(0, "cat")
    table.add_data(1, "dog")
    wandb.log({"samples": wandb.Image(rng.random((4, 5, 3))), "preds": table})
    wandb.summary["best_w"] = w
    run_id = run.id
    wandb.finish()
    return run_id


def test_typical_training_script(root: Path) -> None:
    run_id = train_script(root)
    assert wandb.run is None
    view = runlane.open(run_id, dir=root)
    info = view.info
    assert (info.owner, info.project, info.name) == ("alice", "mnist", "baseline run")
    assert info.status == "succeeded" and set(info.tags) == {"cnn", "test"}
    assert info.description == "first try" and info.group == "sweep-1"
    assert info.extra["job_type"] == "train"
    assert view.params.get() == {
        "lr": 0.1,
        "epochs": 3,
        "optimizer.name": "sgd",
        "optimizer.momentum": 0.9,
        "batch_size": 16,
    }

    rows = view.history()
    assert [r["_step"] for r in rows] == list(range(15))  # 3 x (4 + 1); step 15 holds media only
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 12 and losses == sorted(losses, reverse=True)
    epochs = [r for r in rows if "epoch" in r]
    assert [(r["_step"], r["epoch"]) for r in epochs] == [(4, 0), (9, 1), (14, 2)]
    assert all("val.loss" in r and "val.acc" in r for r in epochs)  # commit=False merged in
    assert not any("samples" in r or "preds" in r for r in rows)  # media are not fields

    summary = view.metadata()["summary"]["value"]
    last_w = [r["w"] for r in rows if "w" in r][-1]
    assert summary["w"] == pytest.approx(last_w) and summary["best_w"] == pytest.approx(last_w)
    assert summary["epoch"] == 2 and summary["_step"] == 14
    assert summary["train/loss"] == pytest.approx(losses[-1])

    table = view.asset("preds", step=15, kind="dataframe").dataframe()
    assert table.to_dict("list") == {"id": [0, 1], "pred": ["cat", "dog"]}
    image = view.asset("samples", kind="image")
    assert image.step == 15
    pixels = image.image()
    assert pixels.shape == (4, 5, 3) and pixels.dtype == np.uint8
    assert np.array_equal(
        pixels, (np.random.default_rng(0).random((4, 5, 3)) * 255).astype(np.uint8)
    )


def test_explicit_steps_follow_wandb_rules(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = wandb.init(project="steps", dir=root)
    wandb.log({"a": 1}, step=5)
    wandb.log({"b": 2}, step=5)  # same step: merged, not yet written
    wandb.log({"c": 3}, step=7)  # a higher step commits step 5
    wandb.log({"d": 4}, step=6)  # lower than the current step: dropped with a warning
    wandb.log({"e": 5})  # no step: joins step 7 and commits it
    assert run.step == 8
    wandb.log({"f": 6}, step=9, commit=True)
    wandb.log({"g": 7}, commit=False)  # pending at step 10, committed by finish
    wandb.finish()
    rows = runlane.open(run.id, dir=root).history()
    assert [
        {k: v for k, v in r.items() if not k.startswith("_") or k == "_step"} for r in rows
    ] == [
        {"a": 1, "b": 2, "_step": 5},
        {"c": 3, "e": 5, "_step": 7},
        {"f": 6, "_step": 9},
        {"g": 7, "_step": 10},
    ]
    assert "step 6 < current step 7" in capsys.readouterr().err


def test_config_access_and_init_variants(root: Path) -> None:
    run = wandb.init(
        project="cfg",
        config={"lr": 0.1, "layers": [8, 4]},
        dir=root,
        config_exclude_keys=["secret"],
    )
    assert wandb.run is run and wandb.config is run.config
    assert wandb.config.lr == 0.1 and wandb.config["layers"] == [8, 4] and "lr" in wandb.config
    wandb.config.setdefaults({"lr": 9.0, "seed": 3})
    assert wandb.config.as_dict() == {"lr": 0.1, "layers": [8, 4], "seed": 3}
    with pytest.raises(AttributeError):
        _ = wandb.config.missing
    with pytest.raises(KeyError):
        _ = wandb.config["missing"]
    assert wandb.init(project="cfg", dir=root) is run  # active run returned, as W&B does
    again = wandb.init(project="cfg", dir=root, reinit=True)  # finishes the previous one
    assert again is not run and runlane.open(run.id, dir=root).status == "succeeded"
    resumed = wandb.init(project="cfg", id=run.id, resume="allow", dir=root, reinit=True)
    assert resumed.id == run.id and resumed.resumed
    resumed.finish(exit_code=1)
    assert runlane.open(run.id, dir=root).params.get()["seed"] == 3


def test_disabled_mode_writes_nothing_to_disk(root: Path) -> None:
    with wandb.init(project="off", mode="disabled", dir=root) as run:
        wandb.log({"x": 1})
    assert run.core.finished and run.core.path is None
    assert not root.exists() or not list(root.rglob("off"))


def test_exception_in_context_fails_the_run(root: Path) -> None:
    with pytest.raises(ValueError), wandb.init(project="ctx", dir=root) as run:
        wandb.log({"x": 1})
        raise ValueError("diverged")
    view = runlane.open(run.id, dir=root)
    assert view.status == "failed" and view.info.extra["error"]["message"] == "diverged"
    assert [r["x"] for r in view.history()] == [1]


def test_artifacts_are_versioned_and_used(root: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00" * 64)

    producer = wandb.init(project="art", entity="alice", dir=root)
    artifact = wandb.Artifact("net", type="model", metadata={"acc": 0.9})
    artifact.add_dir(model_dir)
    artifact.add_reference("s3://bucket/raw/train.parquet")
    wandb.log_artifact(artifact, aliases=["best"])
    assert artifact.version == "v0" and set(artifact.aliases) == {"latest", "best"}
    logged = wandb.log_artifact(data, type="raw_data")  # a W&B type runlane does not know
    assert logged.core.type == "artifact" and logged.metadata["wandb_type"] == "raw_data"
    with pytest.raises(runlane.RunlaneError):
        artifact.add_file(tmp_path / "nope.bin")
    wandb.finish()

    consumer = wandb.init(project="art", entity="alice", dir=root)
    used = wandb.use_artifact("alice/art/net:best")
    assert (used.name, used.version, used.type) == ("net", "v0", "model")
    assert used.metadata == {"acc": 0.9}
    folder = Path(used.download(tmp_path / "dl"))
    assert (folder / "model" / "weights.bin").read_bytes() == b"\x00" * 64
    assert wandb.use_artifact("data.csv:v0").size == data.stat().st_size
    wandb.finish()

    out = runlane.open(producer.id, dir=root).lineage()
    assert {(r.name, r.is_input) for r in out} >= {("net", False), ("train.parquet", False)}
    inputs = [r for r in runlane.open(consumer.id, dir=root).lineage() if r.is_input]
    assert [r.name for r in inputs] == ["net", "data.csv"]
    graph = runlane.lineage("alice/art", dir=root)
    reached = {step.node.id for step in graph.downstream(f"run:{producer.id}")}
    assert f"run:{consumer.id}" in reached  # producer → net:v0 → consumer


def test_image_layouts_and_bad_values_fail_at_the_call(root: Path) -> None:
    run = wandb.init(project="media", dir=root)
    chw = np.zeros((3, 4, 5), dtype=np.float32)
    chw[0] = 1.0  # red
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    wandb.log({"eval/grid": [wandb.Image(chw, caption="red"), wandb.Image(gray)]})
    with pytest.raises(runlane.InvalidValueError, match="'vec'"):
        wandb.log({"vec": np.ones(3)})
    with pytest.raises(runlane.InvalidArgumentError, match="'_private'"):
        wandb.log({"_private": 1})
    wandb.log({"ok": 1})
    wandb.finish()
    view = runlane.open(run.id, dir=root)
    red = view.asset("eval.grid.0", kind="image").image()
    assert red.shape == (4, 5, 3) and (red[..., 0] == 255).all() and (red[..., 1:] == 0).all()
    assert np.array_equal(view.asset("eval.grid.1", kind="image").image()[..., 0], gray)
    assert [(r["_step"], r["ok"]) for r in view.history()] == [(1, 1)]  # failed calls: no rows


def test_log_before_init_is_a_clear_error() -> None:
    with pytest.raises(runlane.RunStateError, match=r"wandb.init\(\)"):
        wandb.log({"x": 1})
    assert wandb.login() is True
    wandb.watch(object())
