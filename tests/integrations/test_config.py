"""Config capture helpers: argparse, dataclasses, pydantic-like objects, OmegaConf/Hydra."""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.integrations.config import config_to_dict, log_config, sanitize, to_params


class Opt(enum.Enum):
    ADAM = "adam"


@dataclass
class Optim:
    name: Opt = Opt.ADAM
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class TrainConfig:
    lr: float = 0.01
    layers: list[int] = field(default_factory=lambda: [64, 32])
    optim: Optim = field(default_factory=Optim)
    out: Path = Path("/tmp/out")


def test_argparse_namespace(root: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--name", default=None)
    args = parser.parse_args(["--lr", "0.5"])
    with runlane.init("tester/cfg", dir=root) as run:
        assert log_config(run, args) == {"lr": 0.5, "epochs": 3, "name": None}
        log_config(run, {"seed": 1}, prefix="extra")
    assert runlane.open(run.id, dir=root).params.get() == {
        "lr": 0.5,
        "epochs": 3,
        "name": None,
        "extra.seed": 1,
    }


def test_nested_dataclass_with_enum_path_and_tuple(root: Path) -> None:
    with runlane.init("tester/cfg", dir=root) as run:
        log_config(run, TrainConfig(), prefix="train")
    assert runlane.open(run.id, dir=root).params.get() == {
        "train.lr": 0.01,
        "train.layers": [64, 32],
        "train.optim.name": "adam",
        "train.optim.betas": [0.9, 0.999],
        "train.out": "/tmp/out",
    }


def test_unstorable_values_become_text_and_keys_strings() -> None:
    class Module:
        def __repr__(self) -> str:
            return "Module()"

        __str__ = __repr__

    got = sanitize({1: {"m": Module(), "fn": len, "s": {3, 1}}, "ok": True})
    assert got == {"1": {"m": "Module()", "fn": str(len), "s": [1, 3]}, "ok": True}
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):  # deeper than any config: cut, not a RecursionError
        node["x"] = {}
        node = node["x"]
    assert isinstance(sanitize(deep), dict)


def test_objects_with_attributes_and_model_dump() -> None:
    class Plain:
        def __init__(self) -> None:
            self.a = 1
            self._hidden = 2

    class PydanticLike:
        def model_dump(self) -> dict[str, Any]:
            return {"b": 2}

    assert config_to_dict(Plain()) == {"a": 1}
    assert to_params(PydanticLike(), prefix="p") == {"p": {"b": 2}}
    with pytest.raises(runlane.InvalidValueError, match="config of type int"):
        config_to_dict(3)


@pytest.mark.integration
def test_omegaconf_dictconfig_resolved(root: Path) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {
            "model": {"width": 128, "depth": 4, "dims": [1, 2]},
            "train": {"lr": 0.001, "tag": "w${model.width}", "missing": "???"},
        }
    )
    assert config_to_dict(cfg)["train"]["tag"] == "w128"
    with runlane.init("tester/cfg", dir=root, config=None) as run:
        log_config(run, cfg)
        log_config(run, cfg.model, prefix="again")
        log_config(run, {"nested": cfg.model.dims})
    assert runlane.open(run.id, dir=root).params.get() == {
        "model.width": 128,
        "model.depth": 4,
        "model.dims": [1, 2],
        "train.lr": 0.001,
        "train.tag": "w128",
        "train.missing": "???",
        "again.width": 128,
        "again.depth": 4,
        "again.dims": [1, 2],
        "nested": [1, 2],
    }
