"""``runlane.compat.fedml`` artifacts: seed 000's ``log_artifact``/``Artifact``/``log_model``
examples and FedML's documented behaviour (seed-systems.md §1.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

import runlane
from runlane.compat import fedml


def make_files(folder: Path) -> None:
    """The files the seed's examples point at, except ``./mnist.dataset`` and ``./cv-model``:
    FedML ignores missing paths and the seed relies on it."""
    (folder / "requirements.txt").write_text("numpy\n")
    (folder / "config").mkdir()
    (folder / "config" / "train.yaml").write_text("lr: 0.1\n")
    (folder / "log_file").write_text("epoch 1\n")
    (folder / "log_dir").mkdir()
    (folder / "log_dir" / "rank0.log").write_text("ok\n")
    (folder / "run.py").write_text("print('train')\n")
    (folder / "src").mkdir()
    (folder / "src" / "model.py").write_text("class Net: ...\n")
    (folder / "dataset").mkdir()
    (folder / "dataset" / "train.csv").write_text("x,y\n1,2\n")
    (folder / "model_dir").mkdir()
    (folder / "model_dir" / "weights.bin").write_bytes(b"\x00" * 16)


def files_of(name: str) -> list[str]:
    return [f.path for f in runlane.artifact(name, fedml.PROJECT).files]


def test_seed_log_artifact_examples(workdir: Path) -> None:
    make_files(workdir)

    artifact = fedml.Artifact(name="general-file", type=fedml.ARTIFACT_TYPE_NAME_GENERAL)
    artifact.add_file("./requirements.txt")
    artifact.add_dir("./config")
    fedml.log_artifact(artifact)

    artifact = fedml.Artifact(name="log-file", type=fedml.ARTIFACT_TYPE_NAME_LOG)
    artifact.add_file("./log_file")
    artifact.add_dir("./log_dir")
    fedml.log_artifact(artifact)

    artifact = fedml.Artifact(name="source-file", type=fedml.ARTIFACT_TYPE_NAME_SOURCE)
    artifact.add_file("./run.py")
    artifact.add_dir("./src")
    fedml.log_artifact(artifact)

    artifact = fedml.Artifact(name="dataset-file", type=fedml.ARTIFACT_TYPE_NAME_DATASET)
    artifact.add_file("./mnist.dataset")
    artifact.add_dir("./dataset")
    fedml.log_artifact(artifact)

    artifact = fedml.Artifact(name="model-file", type=fedml.ARTIFACT_TYPE_NAME_MODEL)
    artifact.add_file("./cv-model")
    artifact.add_dir("./model_dir")
    fedml.log_artifact(artifact)

    assert files_of("general-file") == ["config/train.yaml", "requirements.txt"]
    assert files_of("log-file") == ["log_dir/rank0.log", "log_file"]
    assert files_of("source-file") == ["run.py", "src/model.py"]
    assert files_of("dataset-file") == ["dataset/train.csv"]  # ./mnist.dataset ignored
    assert files_of("model-file") == ["model_dir/weights.bin"]  # ./cv-model ignored
    types = {
        n: runlane.artifact(n, fedml.PROJECT).type
        for n in ("general-file", "log-file", "source-file", "dataset-file", "model-file")
    }
    assert types == {
        "general-file": "general",
        "log-file": "log",
        "source-file": "source code",
        "dataset-file": "dataset",
        "model-file": "model",
    }
    run = runlane.current_run()
    assert run is not None
    assert [(r.name, r.mode, r.version) for r in run.artifacts] == [
        ("general-file", "version", "v0"),
        ("log-file", "version", "v0"),
        ("source-file", "version", "v0"),
        ("dataset-file", "version", "v0"),
        ("model-file", "version", "v0"),
    ]
    downloaded = runlane.artifact("general-file", fedml.PROJECT).download(workdir / "out")
    assert (downloaded / "config" / "train.yaml").read_text() == "lr: 0.1\n"


def test_seed_log_model_example(workdir: Path) -> None:
    (workdir / "cv-model.bin").write_bytes(b"weights")
    fedml.log_model("cv-model", "./cv-model.bin")
    run = runlane.current_run()
    assert run is not None
    version = runlane.models(fedml.PROJECT).version("cv-model")
    assert (version.version, version.run_id, version.path) == (
        "v0",
        run.id,
        "outputs/model/cv-model.bin",
    )
    assert Path(run.get_outputs_path("model/cv-model.bin")).read_bytes() == b"weights"


def test_log_model_with_a_missing_file_is_ignored(root: Path) -> None:
    fedml.log_model("cv-model", "./nope.bin")
    assert runlane.runs() == []


def test_type_constants_ids_and_unknown_types() -> None:
    assert (
        fedml.ARTIFACT_TYPE_NAME_GENERAL,
        fedml.ARTIFACT_TYPE_NAME_MODEL,
        fedml.ARTIFACT_TYPE_NAME_DATASET,
        fedml.ARTIFACT_TYPE_NAME_SOURCE,
        fedml.ARTIFACT_TYPE_NAME_LOG,
    ) == ("general", "model", "dataset", "source code", "log")
    ids = [
        fedml.Artifact("a", t).artifact_type
        for t in (
            fedml.ARTIFACT_TYPE_NAME_GENERAL,
            fedml.ARTIFACT_TYPE_NAME_MODEL,
            fedml.ARTIFACT_TYPE_NAME_DATASET,
            fedml.ARTIFACT_TYPE_NAME_SOURCE,
            fedml.ARTIFACT_TYPE_NAME_LOG,
        )
    ]
    assert (
        ids
        == [
            fedml.ARTIFACT_TYPE_GENERAL,
            fedml.ARTIFACT_TYPE_MODEL,
            fedml.ARTIFACT_TYPE_DATASET,
            fedml.ARTIFACT_TYPE_SOURCE,
            fedml.ARTIFACT_TYPE_LOG,
        ]
        == [1, 2, 3, 4, 5]
    )
    with pytest.raises(KeyError, match="image"):
        fedml.Artifact("a", "image")


def test_artifact_attributes_as_fedml_names_them(workdir: Path) -> None:
    (workdir / "f.txt").write_text("x")
    (workdir / "d").mkdir()
    artifact = fedml.Artifact(name="bundle", type=fedml.ARTIFACT_TYPE_NAME_LOG)
    artifact.add_file("f.txt")
    artifact.add_file("missing.txt")
    artifact.add_dir("d")
    artifact.add_dir("missing-dir")
    artifact.set_ext_info({"round": 3})
    assert (artifact.artifact_name, artifact.artifact_type_name, artifact.artifact_desc) == (
        "bundle",
        "log",
        "",
    )
    assert [Path(p).name for p in artifact.artifact_files] == ["f.txt"]
    assert [Path(p).name for p in artifact.artifact_dirs] == ["d"]
    assert artifact.ext_info == {"round": 3}


def test_same_name_makes_new_versions_and_identical_content_reuses_one(workdir: Path) -> None:
    data = workdir / "data.txt"
    data.write_text("one")
    for text in ("one", "two", "two"):
        data.write_text(text)
        artifact = fedml.Artifact("data", fedml.ARTIFACT_TYPE_NAME_DATASET)
        artifact.add_file(str(data))
        fedml.log_artifact(artifact, version="release", edge_id=5)
    versions = runlane.artifact("data", fedml.PROJECT)
    assert versions.version == "v1"  # latest; the third log matched v1's content
    assert versions.metadata == {"edge_id": "5"}


def test_run_id_picks_the_run_that_logs_the_artifact(workdir: Path) -> None:
    (workdir / "f.txt").write_text("x")
    artifact = fedml.Artifact("a", fedml.ARTIFACT_TYPE_NAME_GENERAL)
    artifact.add_file("f.txt")
    fedml.log_artifact(artifact, run_id="fl-run-9")
    assert runlane.artifact("a", fedml.PROJECT).run_id == "fl-run-9"
