"""``runlane.compat.modelbox`` models, model versions and checkpoints in local mode: ModelBox's
ids and create-or-get (seed-systems.md §3.1), stored in runlane's model registry and run
checkpoints."""

from __future__ import annotations

import hashlib

import pytest

import runlane
from runlane.compat.modelbox import MLFramework, ModelBox
from runlane.errors import InvalidArgumentError


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@pytest.fixture
def mbox() -> ModelBox:
    return ModelBox()


def test_new_model_is_a_registry_model_with_modelbox_id(mbox: ModelBox) -> None:
    model = mbox.new_model(
        "resnet",
        "foo@bar.com",
        "cv",
        "classification",
        "image classifier",
        metadata={"arch": "resnet50"},
    )
    assert model.id == sha1("resnet" + "cv")
    assert (model.owner, model.namespace, model.task, model.description, model.exists) == (
        "foo@bar.com",
        "cv",
        "classification",
        "image classifier",
        False,
    )
    registered = runlane.models("foo@bar.com/cv").get("resnet")
    assert (registered.id, registered.description) == (model.id, "image classifier")
    assert registered.metadata == {"arch": "resnet50"}
    again = mbox.new_model("resnet", "foo@bar.com", "cv", "other", "other")
    assert (again.id, again.exists, again.description) == (model.id, True, "image classifier")


def test_models_of_a_namespace_across_owners(mbox: ModelBox) -> None:
    mbox.new_model("a", "alice", "cv", "t", "")
    mbox.new_model("b", "bob", "cv", "t", "")
    mbox.new_model("c", "alice", "nlp", "t", "")
    assert sorted((m.owner, m.name) for m in mbox.models("cv").models) == [
        ("alice", "a"),
        ("bob", "b"),
    ]
    assert mbox.models("audio").models == []


def test_model_and_version_metadata_upsert(mbox: ModelBox) -> None:
    model = mbox.new_model("resnet", "o", "cv", "t", "", metadata={"a": 1})
    model.update_metadata("b", [1, 2])
    model.update_metadata("a", {"x": 2})
    assert model.metadata().metadata == {"a": {"x": 2}, "b": [1, 2]}
    version = model.new_model_version("1.0", name="first")
    version.update_metadata("eval", {"top1": 0.76})
    assert version.metadata().metadata == {"eval": {"top1": 0.76}}
    assert runlane.models("o/cv").version("resnet", "1.0").metadata == {"eval": {"top1": 0.76}}


def test_model_versions_are_create_or_get_with_modelbox_ids(mbox: ModelBox) -> None:
    model = mbox.new_model("resnet", "o", "cv", "t", "")
    v1 = model.new_model_version(
        "1.0",
        name="first",
        description="baseline",
        unique_tags=["prod"],
        framework=MLFramework.TENSORFLOW,
    )
    assert v1.id == sha1(model.id + "1.0" + "first")
    assert (v1.version, v1.name, v1.description, v1.unique_tags, v1.framework, v1.exists) == (
        "1.0",
        "first",
        "baseline",
        ["prod"],
        MLFramework.TENSORFLOW,
        False,
    )
    again = model.new_model_version("1.0", name="first")
    assert (again.id, again.exists) == (v1.id, True)
    v2 = model.new_model_version("2.0", name="second")
    assert [(v.version, v.id) for v in model.model_versions()] == [("1.0", v1.id), ("2.0", v2.id)]
    registry = runlane.models("o/cv")
    assert [v.version for v in registry.versions("resnet")] == ["v0", "v1"]
    assert registry.version("resnet", "latest").label == "2.0"


def test_checkpoints_are_run_checkpoints_with_modelbox_ids(mbox: ModelBox) -> None:
    experiment = mbox.new_experiment("yolo", "o", "cv", "", MLFramework.PYTORCH)
    first = experiment.new_checkpoint(1, {"loss": 0.9})
    experiment.new_checkpoint(2, {"loss": 0.5, "acc": 0.7})
    assert first.id == sha1(experiment.id + "1")
    assert (first.experiment_id, first.epoch, first.metrics, first.exists) == (
        experiment.id,
        1,
        {"loss": 0.9},
        False,
    )
    again = experiment.new_checkpoint(1, {"loss": 0.1})
    assert (again.id, again.exists, again.metrics) == (first.id, True, {"loss": 0.9})
    assert [(c.epoch, c.metrics) for c in experiment.checkpoints()] == [
        (1, {"loss": 0.9}),
        (2, {"loss": 0.5, "acc": 0.7}),
    ]
    stored = runlane.open(experiment.id).checkpoints()
    assert [(c.id, c.epoch) for c in stored] == [(first.id, 1), (sha1(experiment.id + "2"), 2)]


def test_metrics_and_events_of_models_versions_and_checkpoints_are_refused(
    mbox: ModelBox,
) -> None:
    model = mbox.new_model("m", "o", "cv", "t", "")
    version = model.new_model_version("1")
    checkpoint = mbox.new_experiment("e", "o", "cv", "", MLFramework.UNKNOWN).new_checkpoint(0)
    for parent in (model, version, checkpoint):
        with pytest.raises(InvalidArgumentError, match="experiment"):
            parent.log_metrics({"loss": 1.0})
        with pytest.raises(InvalidArgumentError, match="experiment"):
            parent.events()
    with pytest.raises(InvalidArgumentError, match="checkpoint"):
        checkpoint.update_metadata("k", 1)
