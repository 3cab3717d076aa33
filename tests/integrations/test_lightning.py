"""RunlaneLogger with the real PyTorch Lightning trainer, a tiny model, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import runlane
from runlane.integrations.lightning import RunlaneLogger

pytestmark = pytest.mark.integration


class Tiny(pl.LightningModule):
    def __init__(self, hidden: int = 4, lr: float = 0.05, fail_at: int = -1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: Any) -> Any:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("boom at step 3")
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> DataLoader[Any]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=gen)
    y = x.sum(dim=1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=8)


def trainer(tmp_path: Path, logger: RunlaneLogger, **kw: Any) -> pl.Trainer:
    kw.setdefault("max_epochs", 2)
    return pl.Trainer(
        logger=logger,
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=1,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kw,
    )


def test_fit_logs_hparams_metrics_with_trainer_step_and_checkpoints(
    tmp_path: Path, root: Path
) -> None:
    logger = RunlaneLogger("tester/pl", name="tiny", dir=root, log_model=True)
    ckpt = ModelCheckpoint(
        dirpath=tmp_path / "ckpt", monitor="val_loss", save_top_k=1, save_last=True
    )
    trainer(tmp_path, logger, callbacks=[ckpt]).fit(Tiny(hidden=5), loader(), loader())

    run = runlane.open(logger.version, dir=root)
    assert run.status == "succeeded"
    assert run.info.framework == "pytorch-lightning"
    assert run.name == "tiny" and logger.name == "pl"
    assert run.params.get() == {"hidden": 5, "lr": 0.05, "fail_at": -1}

    rows = run.history()
    train = [r for r in rows if "train_loss" in r]
    assert [r["_step"] for r in train] == list(range(8))  # 4 batches x 2 epochs
    assert all(isinstance(r["train_loss"], float) for r in train)
    val = [r for r in rows if "val_loss" in r]
    assert [(r["_step"], r["epoch"]) for r in val] == [(3, 0), (7, 1)]  # global step at the end

    model = runlane.models("tester/pl", dir=root).get(f"model-{run.id}")
    versions = model.versions()
    # best (epoch 0 or 1) and last (step 8); one version per step they were saved at
    best_step = 4 if Path(ckpt.best_model_path).name == "epoch=0-step=4.ckpt" else 8
    assert [v.step for v in versions] == sorted({best_step, 8})
    for version in versions:
        assert version.run_id == run.id and version.framework == "pytorch"
        assert version.size > 0 and version.sha256
        assert version.summary is not None
        assert version.summary["checkpoint"]["monitor"] == "val_loss"
    best = next(v for v in versions if v.step == best_step)
    assert model.aliases["best"] == best.version and "best" in (best.summary or {})["roles"]
    assert (best.summary or {})["score"] == pytest.approx(float(ckpt.best_model_score))
    assert model.aliases["latest"] == versions[-1].version
    assert "last.ckpt" in (versions[-1].summary or {})["files"]
    loaded = torch.load(versions[-1].download(tmp_path / "dl"), weights_only=False)
    assert loaded["global_step"] == 8
    assert any(rec.kind == "model" and not rec.is_input for rec in run.lineage())


def test_test_after_fit_goes_on_in_the_same_run(tmp_path: Path, root: Path) -> None:
    logger = RunlaneLogger("tester/pl", dir=root)
    t = trainer(tmp_path, logger, max_epochs=1)
    model = Tiny()
    t.fit(model, loader())
    run_id = logger.version
    t.test(model, loader())
    assert logger.version == run_id
    run = runlane.open(run_id, dir=root)
    assert run.status == "succeeded"
    assert [r["_step"] for r in run.history() if "train_loss" in r] == [0, 1, 2, 3]
    assert [r for r in run.history() if "test_loss" in r]
    assert runlane.models("tester/pl", dir=root).names() == []  # log_model off by default


def test_failure_in_training_step_fails_the_run_with_the_traceback(
    tmp_path: Path, root: Path
) -> None:
    logger = RunlaneLogger("tester/pl", dir=root)
    with pytest.raises(RuntimeError, match="boom"):
        trainer(tmp_path, logger).fit(Tiny(fail_at=3), loader())
    run = runlane.open(logger.version, dir=root)
    assert run.status == "failed"
    assert run.info.extra["error"]["type"] == "RuntimeError"
    assert "boom at step 3" in run.info.extra["error"]["traceback"]
    assert [r["_step"] for r in run.history() if "train_loss" in r] == [0, 1, 2]


def test_borrowed_run_is_flushed_not_finished(tmp_path: Path, root: Path) -> None:
    own = runlane.init("tester/pl", dir=root)
    logger = RunlaneLogger(run=own, prefix="pl")
    trainer(tmp_path, logger, max_epochs=1).fit(Tiny(), loader())
    assert not own.finished and logger.version == own.id
    assert runlane.open(own.id, dir=root).history()[0].keys() >= {"pl/train_loss", "pl/epoch"}
    own.log({"after": 1.0})
    own.finish()
    assert runlane.open(own.id, dir=root).status == "succeeded"


def test_log_model_all_logs_every_checkpoint(tmp_path: Path, root: Path) -> None:
    logger = RunlaneLogger("tester/pl", dir=root, log_model="all", model_name="tiny-net")
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    trainer(tmp_path, logger, callbacks=[ckpt]).fit(Tiny(), loader())
    versions = runlane.models("tester/pl", dir=root).get("tiny-net").versions()
    assert [(v.step, (v.summary or {})["files"]) for v in versions] == [
        (4, ["epoch=0-step=4.ckpt"]),
        (8, ["epoch=1-step=8.ckpt"]),
    ]
    assert {v.run_id for v in versions} == {logger.version}
    with pytest.raises(runlane.InvalidArgumentError, match="log_model"):
        RunlaneLogger(log_model="best")  # type: ignore[arg-type]
