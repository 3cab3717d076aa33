"""run.log_model, the model registry (versions, aliases, tags, metadata) and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.events import read_events
from runlane.errors import InvalidArgumentError
from runlane.sdk.run import Run

Write = Callable[..., Path]


def test_log_model_without_step_goes_under_outputs_model(
    run: Run, write: Write, root: Path
) -> None:
    record = run.log_model(
        write("model.h5", b"h5"),
        name="file",
        framework="scikit",
        summary={"additional_key": "value"},
    )
    assert record.path == "outputs/model/model.h5" and record.version == "v0"
    assert Path(run.path or "", "outputs/model/model.h5").read_bytes() == b"h5"
    other = run.log_model(write("model.h5", b"h6"), name="file", rel_path="different_folder")
    assert other.path == "outputs/different_folder/model.h5" and other.version == "v1"
    [first, second] = run.lineage()
    assert second.summary is not None and second.summary["node"] == "model:file:v1"
    assert (first.kind, first.path, first.summary["framework"]) == (  # type: ignore[index]
        "model",
        "outputs/model/model.h5",
        "scikit",
    )
    assert first.summary["node"] == "model:file:v0"  # type: ignore[index]
    assert first.summary["additional_key"] == "value"  # type: ignore[index]
    model = runlane.models("tester/arts", dir=root).get("file")
    assert model.version_count == 2 and model.aliases == {"latest": "v1"}


def test_log_model_at_steps_writes_assets_and_events(run: Run, write: Write) -> None:
    source = write("model.tar.gz", b"e3")
    at3 = run.log_model(source, name="model", framework="tensorflow", step=3)
    source.write_bytes(b"e140")
    at140 = run.log_model(source, name="model", framework="tensorflow", step=140)
    assert (at3.path, at140.path) == (
        "assets/model/model_3.tar.gz",
        "assets/model/model_140.tar.gz",
    )
    rows = read_events(Path(run.path or "") / "events/model/model.plx", "model")
    assert [(r.step, r.value) for r in rows] == [
        (3, {"framework": "tensorflow", "spec": None, "path": "assets/model/model_3.tar.gz"}),
        (140, {"framework": "tensorflow", "spec": None, "path": "assets/model/model_140.tar.gz"}),
    ]
    assert [v.step for v in run.assets("model")] == [3, 140]


def test_registry_versions_aliases_tags_metadata(
    run: Run, write: Write, root: Path, tmp_path: Path
) -> None:
    for epoch in range(3):
        run.log_model(
            write("net.pt", f"weights-{epoch}"),
            name="net",
            framework="pytorch",
            tags=["resnet"],
            metadata={"epoch": epoch},
        )
    registry = runlane.models("tester/arts", dir=root)
    assert [m.name for m in registry.all()] == ["net"]
    versions = registry.versions("net")
    assert [(v.version, v.metadata["epoch"], v.tags) for v in versions] == [
        ("v0", 0, ("resnet",)),
        ("v1", 1, ("resnet",)),
        ("v2", 2, ("resnet",)),
    ]
    assert all(v.run_id == run.id and v.run == "tester/arts/r1" for v in versions)
    registry.set_alias("net", "production", "v1")
    assert registry.version("net", "production").version == "v1"
    registry.set_alias("net", "production", 2)  # moves
    assert registry.get("net").aliases == {"latest": "v2", "production": "v2"}
    registry.update("net", description="a classifier", tags=["vision"], metadata={"owner": "ml"})
    model = registry.get("net")
    assert (model.description, model.tags, model.metadata) == (
        "a classifier",
        ("vision",),
        {"owner": "ml"},
    )
    updated = registry.update_version("net", "v0", tags=["baseline"], metadata={"auc": 0.9})
    assert updated.tags == ("resnet", "baseline") and updated.metadata == {"epoch": 0, "auc": 0.9}
    path = registry.version("net", "production").download(tmp_path / "dl")
    assert path == tmp_path / "dl" / "net.pt" and path.read_text() == "weights-2"
    with pytest.raises(ArtifactNotFoundError, match="no version or alias 'staging'"):
        registry.version("net", "staging")
    with pytest.raises(ArtifactNotFoundError, match=r"no model 'other'.*known: net"):
        registry.get("other")
    assert model.id == registry.create("net").id  # create-or-get


def test_model_folder_and_use_model(
    new_run: Callable[..., Run], write: Write, src: Path, tmp_path: Path
) -> None:
    write("bert/config.json", "{}")
    write("bert/weights.bin", b"w" * 10)
    trainer = new_run("tester/arts", name="train")
    record = trainer.log_model(src / "bert", framework="transformers", aliases=["production"])
    assert record.path == "outputs/model/bert" and record.version == "v0"
    server = new_run("tester/arts", name="serve")
    used = server.use_model("bert", "production")
    assert (used.version, used.is_dir) == ("v0", True)
    out = used.download(tmp_path / "dl")
    assert out == tmp_path / "dl" / "bert" and (out / "weights.bin").read_bytes() == b"w" * 10
    [edge] = server.lineage()
    assert edge.is_input and edge.summary and edge.summary["node"] == "model:bert:v0"


def test_register_false_is_a_plain_artifact(run: Run, write: Write, root: Path) -> None:
    record = run.log_model(write("tmp.bin"), register=False)
    assert record.version is None and record.mode == "output"
    assert runlane.models("tester/arts", dir=root).all() == []


def test_checkpoints_keep_epoch_and_metrics(run: Run, write: Write, root: Path) -> None:
    first = run.log_checkpoint(1, {"loss": 0.5, "acc": 0.7})
    run.log_checkpoint(2, {"loss": 0.3}, path=write("ckpt.pt", b"c2"))
    run.log_checkpoint(1, {"loss": 0.45})  # re-logged epoch replaces the first
    run.finish()
    checkpoints = runlane.open(run.id, dir=root).checkpoints()
    assert [(c.epoch, c.metrics) for c in checkpoints] == [(1, {"loss": 0.45}), (2, {"loss": 0.3})]
    assert checkpoints[0].id == first.id  # sha1(run id + epoch), as ModelBox
    assert checkpoints[1].artifact == "outputs/checkpoints/epoch-2/ckpt.pt"


def test_checkpoint_arguments_are_checked(run: Run) -> None:
    with pytest.raises(InvalidArgumentError, match="'low' is not a number"):
        run.log_checkpoint(3, {"loss": "low"})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="epoch -1 must be an int"):
        run.log_checkpoint(-1)
    assert run.checkpoints() == []
