"""runlane.Artifact: versions v0, v1, ..., content addressing, aliases, reading back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    ChecksumMismatchError,
    SourceNotFoundError,
)
from runlane.errors import InvalidArgumentError
from runlane.sdk.run import Run

Write = Callable[..., Path]


def blobs(root: Path) -> list[Path]:
    return sorted(
        p for p in (root / "tester/arts/.artifacts/blobs/sha256").rglob("*") if p.is_file()
    )


def test_versions_are_numbered_and_list_their_files(
    run: Run, write: Write, src: Path, root: Path
) -> None:
    write("requirements.txt", "numpy\n")
    write("config/a.yaml", "a: 1\n")
    write("config/deep/b.yaml", "b: 2\n")
    artifact = runlane.Artifact("general-file", runlane.ArtifactKind.GENERAL)
    artifact.add_file(src / "requirements.txt").add_dir(src / "config")
    v0 = run.log_artifact(artifact)
    assert (v0.name, v0.type, v0.version, v0.aliases) == (
        "general-file",
        "general",
        "v0",
        ("latest",),
    )
    assert [(f.path, f.size, f.sha256) for f in v0.files] == [
        ("config/a.yaml", 5, hashlib.sha256(b"a: 1\n").hexdigest()),
        ("config/deep/b.yaml", 5, hashlib.sha256(b"b: 2\n").hexdigest()),
        ("requirements.txt", 6, hashlib.sha256(b"numpy\n").hexdigest()),
    ]
    write("requirements.txt", "numpy\npandas\n")
    v1 = run.log_artifact(artifact, aliases=["candidate"])
    assert v1.version == "v1" and set(v1.aliases) == {"latest", "candidate"}
    from runlane.artifacts.api import artifact_versions

    store = artifact_versions("tester/arts", dir=root)
    assert [v.version for v in store.versions("general-file")] == ["v0", "v1"]
    assert store.get("general-file", "v0").aliases == ()
    assert runlane.artifact("general-file", "tester/arts", dir=root).version == "v1"
    assert runlane.artifact("general-file:0", "tester/arts", dir=root).version == "v0"
    assert runlane.artifact("general-file@candidate", "tester/arts", dir=root).version == "v1"
    # the run lists both versions and its lineage names them
    assert [r.label for r in run.artifacts] == ["general-file:v0", "general-file:v1"]
    assert [rec.path for rec in run.lineage()] == ["general-file:v0", "general-file:v1"]


def test_identical_content_stores_no_new_bytes(
    run: Run, write: Write, src: Path, root: Path
) -> None:
    write("data/x.bin", b"x" * 1000)
    write("data/y.bin", b"y" * 1000)
    first = run.log_artifact(runlane.Artifact("ds", "dataset").add_dir(src / "data"))
    stored = blobs(root)
    sizes = sum(p.stat().st_size for p in stored)
    again = run.log_artifact(
        runlane.Artifact("ds", "dataset").add_dir(src / "data"), aliases=["again"]
    )
    assert again.version == first.version == "v0"
    assert blobs(root) == stored and sum(p.stat().st_size for p in stored) == sizes == 2000
    assert run.artifacts[-1].extra == {"created": False, "new_bytes": 0}
    # one changed file: a new version, one new blob
    write("data/y.bin", b"z" * 1000)
    changed = run.log_artifact(runlane.Artifact("ds", "dataset").add_dir(src / "data"))
    assert changed.version == "v1" and len(blobs(root)) == 3
    assert run.artifacts[-1].extra == {"created": True, "new_bytes": 1000}


def test_aliases_move(run: Run, write: Write, src: Path, root: Path) -> None:
    from runlane.artifacts.api import artifact_versions

    for content in ("a", "b", "c"):
        write("f.txt", content)
        run.log_artifact(runlane.Artifact("thing").add_file(src / "f.txt"), aliases=["best"])
    store = artifact_versions("tester/arts", dir=root)
    assert store.get("thing", "best").version == "v2"
    store.set_alias("thing", "best", "v0")
    assert store.get("thing", "best").version == "v0"
    assert store.get("thing", "latest").version == "v2"
    store.remove_alias("thing", "best")
    with pytest.raises(ArtifactNotFoundError, match=r"no version or alias 'best'.*v0, v1, v2"):
        store.get("thing", "best")


def test_download_a_version_verifies_hashes(
    run: Run, write: Write, src: Path, root: Path, tmp_path: Path
) -> None:
    write("w/a.txt", "alpha")
    write("b.txt", "beta")
    version = run.log_artifact(
        runlane.Artifact("pkg")
        .add_dir(src / "w", name=".")
        .add_file(src / "b.txt", name="docs/b.txt")
    )
    run.finish()
    out = runlane.artifact("pkg:v0", "tester/arts", dir=root).download(tmp_path / "dl")
    assert (out / "a.txt").read_text() == "alpha" and (out / "docs/b.txt").read_text() == "beta"
    view = runlane.open(run.id, dir=root)
    folder = view.artifacts.download("pkg", version="latest", dest=tmp_path / "dl2")
    assert folder == tmp_path / "dl2" / "pkg" and (folder / "docs/b.txt").is_file()
    blob = next(p for p in blobs(root) if p.name == version.files[0].sha256)
    blob.write_bytes(b"rotted")
    with pytest.raises(ChecksumMismatchError):
        version.download(tmp_path / "dl3")


def test_use_artifact_records_an_input(
    new_run: Callable[..., Run], write: Write, src: Path
) -> None:
    producer = new_run("tester/arts", name="producer")
    write("d.csv", "1,2\n")
    made = producer.log_artifact(runlane.Artifact("table", "dataset").add_file(src / "d.csv"))
    consumer = new_run("tester/arts", name="consumer")
    used = consumer.use_artifact("table:latest")
    assert used.ref == made.ref == "table:v0"
    [record] = consumer.lineage()
    assert record.is_input and record.summary and record.summary["node"] == "artifact:table:v0"
    with pytest.raises(ArtifactNotFoundError, match=r"no artifact 'nope'.*known: table"):
        consumer.use_artifact("nope")


def test_missing_paths_raise_unless_not_strict(src: Path, write: Write) -> None:
    with pytest.raises(SourceNotFoundError, match="cv-model"):
        runlane.Artifact("m", "model").add_file(src / "cv-model")
    lenient = runlane.Artifact("model-file", runlane.ArtifactKind.MODEL, strict=False)
    lenient.add_file(src / "cv-model").add_dir(src / "model_dir")
    assert lenient.artifact_files == [] and lenient.artifact_dirs == []
    assert (lenient.artifact_name, lenient.artifact_type_name, lenient.artifact_type) == (
        "model-file",
        "model",
        2,
    )
    write("f.txt")
    with pytest.raises(InvalidArgumentError, match="is a file; use add_file"):
        runlane.Artifact("x").add_dir(src / "f.txt")
    with pytest.raises(InvalidArgumentError, match="kind 'weights' is not one of"):
        runlane.Artifact("x", "weights")


def test_two_files_with_one_path_are_refused(src: Path, write: Write, run: Run) -> None:
    write("one/same.txt", "1")
    write("two/same.txt", "2")
    artifact = (
        runlane.Artifact("clash").add_file(src / "one/same.txt").add_file(src / "two/same.txt")
    )
    with pytest.raises(InvalidArgumentError, match=r"both be stored as 'same.txt'"):
        run.log_artifact(artifact)


def test_a_failed_upload_leaves_no_version(run: Run, write: Write, src: Path, root: Path) -> None:
    write("keep.txt", "k")
    doomed = write("doomed.txt", "d")
    artifact = runlane.Artifact("partial").add_file(src / "keep.txt").add_file(doomed)
    doomed.unlink()  # vanishes between add_file and log_artifact
    with pytest.raises(SourceNotFoundError):
        run.log_artifact(artifact)
    assert not list((root / "tester/arts/.artifacts/names").glob("partial/v*.json"))
    assert len(run.artifacts) == 0
    with pytest.raises(ArtifactNotFoundError):
        runlane.artifact("partial", "tester/arts", dir=root)


def test_artifact_object_takes_no_path_arguments(run: Run) -> None:
    with pytest.raises(InvalidArgumentError, match="set them on the Artifact"):
        run.log_artifact(runlane.Artifact("a"), step=1)  # type: ignore[call-overload]
