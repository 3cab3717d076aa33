"""RunlaneCallback with the real transformers Trainer: a tiny BERT built from a config (no hub
download, no tokenizer), on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import runlane
from runlane.integrations.transformers import RunlaneCallback

pytestmark = pytest.mark.integration


class Pairs(torch.utils.data.Dataset[dict[str, Any]]):
    """Token id sequences labelled by whether token 7 occurs: learnable, made up here."""

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 20, (n, 8), generator=gen)
        self.labels = (self.ids == 7).any(dim=1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


def tiny_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def arguments(tmp_path: Path, **kw: Any) -> TrainingArguments:
    base: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "num_train_epochs": 2,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "seed": 0,
    }
    base.update(kw)
    return TrainingArguments(**base)


def test_trainer_logs_args_model_config_losses_and_evals(tmp_path: Path, root: Path) -> None:
    callback = RunlaneCallback("tester/hf", name="bert-tiny", dir=root)
    trainer = Trainer(
        model=tiny_bert(),
        args=arguments(tmp_path),
        train_dataset=Pairs(32, 0),
        eval_dataset=Pairs(16, 1),
        callbacks=[callback],
    )
    trainer.train()
    assert callback.run is not None
    run = runlane.open(callback.run.id, dir=root)
    assert run.status == "succeeded" and run.name == "bert-tiny"
    assert run.info.framework == "transformers"

    params = run.params.get()
    assert params["args.learning_rate"] == 1e-3
    assert params["args.num_train_epochs"] == 2
    assert params["model.hidden_size"] == 16 and params["model.model_type"] == "bert"
    assert params["model.id2label.1"] == "LABEL_1"  # int keys of the config made strings
    assert params["model.num_parameters"] == sum(p.numel() for p in trainer.model.parameters())

    rows = run.history()
    train = [r for r in rows if "loss" in r]
    assert [r["_step"] for r in train] == list(range(1, 9))  # 4 steps per epoch, logged each
    assert all(r["loss"] > 0 and "learning_rate" in r for r in train)
    evals = [r for r in rows if "eval_loss" in r]
    assert [(r["_step"], r["epoch"]) for r in evals] == [(4, 1.0), (8, 2.0)]
    assert any("train_runtime" in r for r in rows)

    trainer.evaluate()  # after training ended: the same run goes on
    trainer.predict(Pairs(8, 2))
    again = runlane.open(callback.run.id, dir=root)
    assert len([r for r in again.history() if "eval_loss" in r]) == 3
    assert [r["_step"] for r in again.history() if "test_loss" in r] == [8]
    assert again.status == "succeeded"


def test_checkpoints_are_logged_as_model_versions(tmp_path: Path, root: Path) -> None:
    callback = RunlaneCallback(
        "tester/hf", dir=root, log_model="checkpoint", model_name="bert-tiny"
    )
    args = arguments(tmp_path, save_strategy="epoch", eval_strategy="no")
    Trainer(model=tiny_bert(), args=args, train_dataset=Pairs(32, 0), callbacks=[callback]).train()
    assert callback.run is not None
    versions = runlane.models("tester/hf", dir=root).get("bert-tiny").versions()
    assert [(v.step, v.is_dir, v.run_id) for v in versions] == [
        (4, True, callback.run.id),
        (8, True, callback.run.id),
    ]
    for version in versions:
        assert version.framework == "transformers" and version.sha256 and version.size > 0
        assert {f.path.split("/")[-1] for f in version.files} >= {"config.json"}
    restored = version.download(tmp_path / "dl")
    again = BertForSequenceClassification.from_pretrained(restored)
    assert again.config.hidden_size == 16


def test_log_model_end_saves_the_final_model(tmp_path: Path, root: Path) -> None:
    callback = RunlaneCallback("tester/hf", dir=root, log_model="end")
    Trainer(
        model=tiny_bert(),
        args=arguments(tmp_path, num_train_epochs=1, eval_strategy="no"),
        train_dataset=Pairs(16, 0),
        callbacks=[callback],
    ).train()
    assert callback.run is not None
    (version,) = runlane.models("tester/hf", dir=root).get(f"model-{callback.run.id}").versions()
    assert version.step == 2 and version.is_dir
    assert (version.summary or {})["tags"] == ["end"]
    assert (tmp_path / "out" / "runlane-final" / "config.json").is_file()


def test_current_run_is_borrowed_and_left_open(tmp_path: Path, root: Path) -> None:
    own = runlane.init("tester/hf", dir=root)
    callback = RunlaneCallback()
    Trainer(
        model=tiny_bert(),
        args=arguments(tmp_path, num_train_epochs=1, eval_strategy="no"),
        train_dataset=Pairs(16, 0),
        callbacks=[callback],
    ).train()
    assert callback.run is own and not own.finished
    assert [r["_step"] for r in own.history() if "loss" in r] == [1, 2]
    own.finish()
    with pytest.raises(runlane.InvalidArgumentError, match="log_model"):
        RunlaneCallback(log_model="all")  # type: ignore[arg-type]
