"""Seed 003 (Polyaxon v1 tracking artifacts) on ``runlane.compat.polyaxon.tracking``: every
example with only the import changed (the seed's ``...`` placeholders filled in), then the
run folder, lineage records, versioned asset paths and ``.plx`` event files it describes."""

# ruff: noqa: E501, UP032 - the seed's examples are kept as the seed writes them
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import runlane
from runlane.compat.polyaxon import tracking
from runlane.compat.polyaxon.tracking import V1ArtifactKind


@pytest.fixture(autouse=True)
def started(workdir: Path) -> Iterator[None]:
    """``tracking.init()`` as the seed does, plus the seed's source files."""
    (workdir / "path/from").mkdir(parents=True)
    (workdir / "path/from/file.csv").write_text("a,b\n1,2\n")
    (workdir / "path/from/model.h5").write_bytes(b"h5 weights")
    tracking.init()
    yield
    tracking.TRACKING_RUN = None


def run_dir() -> Path:
    return Path(tracking.get_artifacts_path())


def view() -> runlane.RunView:
    run = tracking.TRACKING_RUN
    assert run is not None
    run.flush()
    return runlane.open(run.id)


def plx_rows(path: Path) -> list[list[str]]:
    """A pipe-separated event file: header ``step|timestamp|<kind>``, no trailing newline."""
    text = path.read_text()
    assert not text.endswith("\n")
    header, *rows = text.split("\n")
    assert header == f"step|timestamp|{path.parent.name}"
    parsed = [row.split("|", 2) for row in rows]
    for _, stamp, _ in parsed:
        assert datetime.fromisoformat(stamp).tzinfo is not None  # str(datetime) in UTC
    return parsed


def test_seed_artifacts_and_outputs_paths() -> None:
    root = Path(tracking.get_artifacts_path())
    assert root == Path(view().path or "")
    assert tracking.get_outputs_path() == str(root / "outputs")
    assert tracking.get_artifacts_path("code/file.py") == str(root / "code/file.py")
    model_file = tracking.get_outputs_path("model/model.h5")
    assert model_file == str(root / "outputs/model/model.h5")
    assert (root / "outputs/model").is_dir() and not Path(model_file).exists()
    folder = tracking.get_outputs_path("sub-folder", is_dir=True)
    assert Path(folder).is_dir()


def test_seed_reference_logging_of_a_saved_output() -> None:
    def custom_logic_to_save_the_file(path: str) -> None:
        Path(path).write_text("custom")

    asset_path = tracking.get_outputs_path("custom_artifacts/filename.ext")
    custom_logic_to_save_the_file(asset_path)

    # This is optional, it tracks lineage only
    tracking.log_artifact_ref(path=asset_path, kind=V1ArtifactKind.FILE)
    (record,) = view().lineage()
    assert (record.name, record.kind, record.path, record.is_input) == (
        "filename.ext",
        "file",
        "outputs/custom_artifacts/filename.ext",
        False,
    )
    assert record.summary == {"path": asset_path}


def test_seed_reference_logging_of_an_s3_object() -> None:
    S3_URI = "s3://my-bucket/experiments"
    saved = []

    def custom_logic_to_save_in_s3(path: str) -> None:
        saved.append(path)

    # fmt: off
    asset_path = "{}/file.ext".format(S3_URI)
    custom_logic_to_save_in_s3(asset_path)

    # This is optional, it tracks lineage only
    tracking.log_artifact_ref(path=asset_path, name="myfile", summary={"extra_key": "extra_value"})
    # fmt: on
    (record,) = view().lineage()
    assert (record.name, record.kind, record.path) == (
        "myfile",
        "artifact",
        "s3://my-bucket/experiments/file.ext",
    )
    assert record.summary == {
        "extra_key": "extra_value",
        "path": "s3://my-bucket/experiments/file.ext",
    }
    assert saved == [asset_path]
    assert not (run_dir() / "outputs").exists()  # nothing was copied


def test_seed_saving_a_model_reference() -> None:
    class LinearClassifier:  # stands in for tf.estimator.LinearClassifier
        def __init__(self, model_dir: str, feature_columns: list[Any], n_classes: int) -> None:
            Path(model_dir, "checkpoint").write_text(f"classes={n_classes}")

    tf = SimpleNamespace(estimator=SimpleNamespace(LinearClassifier=LinearClassifier))

    # fmt: off
    tracking.init()
    model_dir = tracking.get_outputs_path("model", is_dir=True)
    classifier = tf.estimator.LinearClassifier(
        model_dir=model_dir,
        feature_columns=[],
        n_classes=2
    )
    tracking.log_model_ref(model_dir, framework="tensorflow", summary={"n_classes": 2})
    # fmt: on
    assert classifier is not None
    (record,) = view().lineage()
    assert (record.name, record.kind, record.path) == ("model", "model", "outputs/model")
    assert record.summary == {"n_classes": 2, "framework": "tensorflow", "path": model_dir}


def test_seed_log_artifact_copies_under_outputs_with_lineage() -> None:
    # fmt: off
    tracking.log_artifact(name="file", path="path/from/file.csv", kind=V1ArtifactKind.CSV)
    tracking.log_artifact(name="file", path="path/from/file.csv", kind=V1ArtifactKind.CSV, rel_path="csv_files/new/")
    # fmt: on
    root = run_dir()
    assert (root / "outputs/file.csv").read_text() == "a,b\n1,2\n"
    assert (root / "outputs/csv_files/new/file.csv").read_text() == "a,b\n1,2\n"
    assert Path("path/from/file.csv").exists()  # copied, as Polyaxon does despite "move"
    records = view().lineage()
    assert [(r.name, r.kind, r.path) for r in records] == [
        ("file", "csv", "outputs/file.csv"),
        ("file", "csv", "outputs/csv_files/new/file.csv"),
    ]
    assert all(r.hash and r.size == 8 for r in records)


def test_seed_log_model_saves_under_outputs_model() -> None:
    # fmt: off
    tracking.log_model(name="file", path="path/from/model.h5", framework="scikit", summary={"additional_key": "value"})
    tracking.log_model(name="file", path="path/from/model.h5", framework="scikit", summary={"additional_key": "value"}, rel_path="different_folder")
    # fmt: on
    root = run_dir()
    assert (root / "outputs/model/model.h5").read_bytes() == b"h5 weights"
    assert (root / "outputs/different_folder/model.h5").read_bytes() == b"h5 weights"
    records = view().lineage()
    assert [(r.name, r.kind, r.path) for r in records] == [
        ("file", "model", "outputs/model/model.h5"),
        ("file", "model", "outputs/different_folder/model.h5"),
    ]
    assert all(
        r.summary and r.summary["framework"] == "scikit" and r.summary["additional_key"] == "value"
        for r in records
    )


def test_seed_versioned_curve() -> None:
    x_array, y_array = [0.0, 0.5, 1.0], [0.0, 0.8, 1.0]
    tracking.log_curve("custom-curve", x_array, y_array, step=14)
    tracking.log_curve("custom-curve", x_array, y_array, step=140)
    rows = plx_rows(run_dir() / "events/curve/custom-curve.plx")
    assert [r[0] for r in rows] == ["14", "140"]
    assert rows[0][2] == '{"kind":"custom","x":[0.0,0.5,1.0],"y":[0.0,0.8,1.0],"annotation":null}'
    assets = view().assets("custom-curve")
    assert [a.step for a in assets] == [14, 140]
    x, y, _ = assets[1].curve()
    assert list(x) == x_array and list(y) == y_array


def test_seed_model_for_every_checkpoint() -> None:
    model_path = "path/from/model.h5"
    tracking.log_model(model_path, name="model", framework="tensorflow", step=3)
    tracking.log_model(model_path, name="model", framework="tensorflow", step=140)
    root = run_dir()
    assert (root / "assets/model/model_3.h5").read_bytes() == b"h5 weights"
    assert (root / "assets/model/model_140.h5").read_bytes() == b"h5 weights"
    rows = plx_rows(root / "events/model/model.plx")
    assert [r[0] for r in rows] == ["3", "140"]
    assert rows[0][2] == '{"framework":"tensorflow","spec":null,"path":"assets/model/model_3.h5"}'
    assert [a.step for a in view().assets("model")] == [3, 140]


def test_seed_generic_artifact_several_times() -> None:
    artifact_path = "path/from/file.csv"
    tracking.log_artifact(artifact_path, kind=V1ArtifactKind.DATAFRAME, name="df-pickle", step=3)
    tracking.log_artifact(artifact_path, kind=V1ArtifactKind.DATAFRAME, name="df-pickle", step=140)
    root = run_dir()
    assert (root / "assets/dataframe/df-pickle_3.csv").is_file()
    assert (root / "assets/dataframe/df-pickle_140.csv").is_file()
    rows = plx_rows(root / "events/dataframe/df-pickle.plx")
    assert [(r[0], r[2]) for r in rows] == [
        ("3", '{"kind":"dataframe","path":"assets/dataframe/df-pickle_3.csv"}'),
        ("140", '{"kind":"dataframe","path":"assets/dataframe/df-pickle_140.csv"}'),
    ]
    assert view().lineage() == []  # versioned assets are not lineage entries
    assert view().asset("df-pickle", 140).read_bytes() == b"a,b\n1,2\n"
