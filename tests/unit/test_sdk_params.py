"""``run.params``: sources, flattening, merge vs reset, versions and nested reads."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.errors import InvalidNameError, InvalidValueError
from runlane.sdk.run import Run

NewRun = Callable[..., Run]


def test_keyword_params_and_nested_flatten(new_run: NewRun) -> None:
    run = new_run()
    assert run.params.set(lr=0.1, model={"name": "resnet", "depth": 50}) is not None
    assert run.params.get() == {"lr": 0.1, "model.name": "resnet", "model.depth": 50}
    assert run.params.get(flatten=False) == {"lr": 0.1, "model": {"name": "resnet", "depth": 50}}


def test_dict_source_and_keywords_together(new_run: NewRun) -> None:
    run = new_run()
    run.params.set({"a": {"b": {"c": 1}}, "x": 1}, x=2)  # keywords win over the source
    assert run.params.get() == {"a.b.c": 1, "x": 2}


def test_argparse_namespace(new_run: NewRun) -> None:
    run = new_run()
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    run.params.set(parser.parse_args(["--lr", "0.5"]))
    assert run.params.get() == {"lr": 0.5, "layers": [1, 2]}


def test_dataclass_with_nested_dataclass(new_run: NewRun) -> None:
    @dataclasses.dataclass
    class Optim:
        name: str = "adam"
        betas: tuple[float, float] = (0.9, 0.999)

    @dataclasses.dataclass
    class Config:
        lr: float = 0.001
        optim: Optim = dataclasses.field(default_factory=Optim)

    run = new_run()
    run.params.set(Config())
    assert run.params.get() == {"lr": 0.001, "optim.name": "adam", "optim.betas": [0.9, 0.999]}


def test_json_and_yaml_files(new_run: NewRun, tmp_path: Path) -> None:
    json_file = tmp_path / "config.json"
    json_file.write_text('{"lr": 0.1, "data": {"path": "/d", "shuffle": true}}')
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text("epochs: 10\ndata:\n  workers: 4\n")
    run = new_run()
    run.params.set(str(json_file))
    run.params.set(yaml_file)  # a PathLike works too
    assert run.params.get() == {
        "lr": 0.1,
        "data.path": "/d",
        "data.shuffle": True,
        "epochs": 10,
        "data.workers": 4,
    }


def test_config_argument_of_init(new_run: NewRun, tmp_path: Path) -> None:
    run = new_run(config={"lr": 0.3, "opt": {"name": "sgd"}})
    assert run.params.get() == {"lr": 0.3, "opt.name": "sgd"}
    assert run.params.version == 1


def test_merge_reset_and_version_counter(new_run: NewRun) -> None:
    run = new_run()
    assert run.params.version == 0
    assert run.params.get() == {}
    run.params.set(a=1, b=2)
    run.params.set(b=3, c=4)
    assert run.params.get() == {"a": 1, "b": 3, "c": 4}
    assert run.params.version == 2
    run.params.set(reset=True, z=0)
    assert run.params.get() == {"z": 0}
    assert run.params.version == 3
    run.params.update(y=1)  # aliases of set
    run.params.log(x=2)
    assert run.params.get() == {"z": 0, "y": 1, "x": 2}
    assert run.params.version == 5


def test_scalar_and_nested_prefix_collision_reads_without_crashing(new_run: NewRun) -> None:
    run = new_run()
    run.params.set(optimizer="adam")
    run.params.set(optimizer={"type": "sgd", "lr": 0.1})
    assert run.params.get() == {"optimizer": "adam", "optimizer.type": "sgd", "optimizer.lr": 0.1}
    assert run.params.get(flatten=False) == {"optimizer": {"": "adam", "type": "sgd", "lr": 0.1}}


def test_params_are_readable_after_the_run(new_run: NewRun) -> None:
    run = new_run()
    run.params.set(lr=0.1, tags=("a", "b"))
    run.finish()
    view = runlane.open(run.id)
    assert view.params.get() == {"lr": 0.1, "tags": ["a", "b"]}
    assert view.params.version == 1


def test_bad_params_raise_at_the_call_and_keep_nothing(new_run: NewRun, tmp_path: Path) -> None:
    run = new_run()
    with pytest.raises(InvalidValueError, match=r"'model\.weights'"):
        run.params.set(model={"weights": object()})
    with pytest.raises(InvalidNameError):
        run.params.set({"": 1})
    with pytest.raises(InvalidValueError, match="int"):
        run.params.set(42)
    with pytest.raises(FileNotFoundError):
        run.params.set(str(tmp_path / "missing.json"))
    assert run.params.get() == {}
    assert run.params.version == 0
