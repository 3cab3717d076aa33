"""run.log_artifact of files and folders: outputs, versioned assets, event files, lineage,
paths, and the refusals of bad input."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    FileChangedError,
    SourceNotFoundError,
    UnsafePathError,
)
from runlane.artifacts.events import read_events
from runlane.artifacts.kinds import ArtifactKind
from runlane.errors import InvalidArgumentError, RunStateError
from runlane.sdk.run import Run

Write = Callable[..., Path]


def run_dir(run: Run) -> Path:
    assert run.path is not None
    return Path(run.path)


def test_file_without_step_is_copied_under_outputs_with_lineage(run: Run, write: Write) -> None:
    source = write("model.tar.gz", b"weights")
    record = run.log_artifact(source)
    assert (record.name, record.kind, record.mode, record.path) == (
        "model.tar.gz",
        "file",
        "output",
        "outputs/model.tar.gz",
    )
    assert record.sha256 == hashlib.sha256(b"weights").hexdigest() and record.size == 7
    assert (run_dir(run) / "outputs/model.tar.gz").read_bytes() == b"weights"
    assert source.read_bytes() == b"weights"  # copied, not moved
    [lineage] = run.lineage()
    assert (lineage.name, lineage.kind, lineage.path, lineage.is_input) == (
        "model.tar.gz",
        "file",
        "outputs/model.tar.gz",
        False,
    )
    assert lineage.hash == record.sha256
    assert lineage.summary is not None
    assert lineage.summary["path"] == str(run_dir(run) / "outputs/model.tar.gz")


def test_rel_path_and_name_and_kind(run: Run, write: Write) -> None:
    source = write("file.csv", "a,b\n1,2\n")
    record = run.log_artifact(
        source, name="file", kind=ArtifactKind.CSV, rel_path="csv_files/new/", summary={"rows": 1}
    )
    assert record.path == "outputs/csv_files/new/file.csv"
    assert (record.name, record.kind, record.summary) == ("file", "csv", {"rows": 1})
    assert (run_dir(run) / "outputs/csv_files/new/file.csv").is_file()


def test_folder_artifact_lists_every_file(run: Run, write: Write, src: Path) -> None:
    write("data/a.txt", "a")
    write("data/sub/b.txt", "bb")
    record = run.log_artifact(src / "data")
    assert (record.kind, record.is_dir, record.path) == ("dir", True, "outputs/data")
    assert [(f.path, f.size) for f in record.files] == [("a.txt", 1), ("sub/b.txt", 2)]
    assert (run_dir(run) / "outputs/data/sub/b.txt").read_text() == "bb"


def test_step_makes_a_versioned_asset_and_event_rows(run: Run, write: Write) -> None:
    source = write("model.tar.gz", b"v1")
    first = run.log_artifact(source, kind="model", step=3)
    source.write_bytes(b"v2")
    second = run.log_artifact(source, kind="model", step=140, timestamp=1_614_852_672.5)
    assert first.path == "assets/model/model_3.tar.gz"
    assert second.path == "assets/model/model_140.tar.gz"
    assert (run_dir(run) / first.path).read_bytes() == b"v1"
    assert (run_dir(run) / second.path).read_bytes() == b"v2"
    events = run_dir(run) / "events/model/model.tar.gz.plx"
    text = events.read_text()
    lines = text.split("\n")
    assert lines[0] == "step|timestamp|model"
    assert lines[2] == (
        "140|2021-03-04 10:11:12.500000+00:00|"
        '{"kind":"model","path":"assets/model/model_140.tar.gz"}'
    )
    assert not text.endswith("\n")  # Polyaxon's format: rows are prefixed, not terminated
    rows = read_events(events, "model")
    assert [r.step for r in rows] == [3, 140]
    assert run.lineage() == []  # versioned assets are not lineage


def test_step_with_versioned_false_goes_to_outputs(run: Run, write: Write) -> None:
    record = run.log_artifact(write("x.bin"), step=5, versioned=False)
    assert (record.mode, record.path, record.step) == ("output", "outputs/x.bin", 5)


def test_every_kind_can_be_logged(run: Run, write: Write) -> None:
    source = write("blob.bin", b"k")
    for kind in ArtifactKind:
        record = run.log_artifact(source, name=f"n-{kind.name.lower()}", kind=kind, step=1)
        assert record.kind == kind.value
        assert (run_dir(run) / record.path).is_file()  # type: ignore[operator]
    assert len(run.artifacts) == len(ArtifactKind)


def test_paths_helpers(run: Run) -> None:
    base = run_dir(run)
    assert run.get_artifacts_path() == str(base)
    assert run.get_artifacts_path("code/file.py") == str(base / "code/file.py")
    model_path = run.get_outputs_path("model/model.h5")
    assert model_path == str(base / "outputs/model/model.h5")
    assert (base / "outputs/model").is_dir() and not Path(model_path).exists()
    folder = run.get_outputs_path("sub-folder", is_dir=True)
    assert Path(folder).is_dir()
    assert run.get_outputs_path() == str(base / "outputs")
    with pytest.raises(UnsafePathError):
        run.get_outputs_path("../escape")


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "../evil"},
        {"name": "a/b"},
        {"rel_path": "../up"},
        {"rel_path": "/etc"},
        {"name": ".."},
    ],
)
def test_names_and_rel_paths_escaping_the_run_are_refused(
    run: Run, write: Write, bad: dict[str, str]
) -> None:
    with pytest.raises(UnsafePathError):
        run.log_artifact(write("f.txt"), **bad)
    assert not (run_dir(run) / "outputs").exists()
    assert len(run.artifacts) == 0


def test_symlinked_output_folder_pointing_outside_is_refused(
    run: Run, write: Write, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (run_dir(run) / "outputs").mkdir()
    (run_dir(run) / "outputs" / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symlink"):
        run.log_artifact(write("f.txt"), rel_path="linked")
    assert list(outside.iterdir()) == []


def test_missing_file_raises_a_clear_file_not_found(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "not-there.pt"
    with pytest.raises(FileNotFoundError, match=r"not-there.pt' does not exist") as caught:
        run.log_artifact(missing)
    assert isinstance(caught.value, SourceNotFoundError)
    with pytest.raises(InvalidArgumentError, match="file or folder path"):
        run.log_artifact(42)  # type: ignore[call-overload]


def test_file_changing_during_the_copy_records_nothing(run: Run, src: Path) -> None:
    source = src / "live.bin"
    source.write_bytes(os.urandom(9 << 20))
    os.utime(source, (1_000_000_000, 1_000_000_000))
    changed = threading.Event()

    def writer_progress(done: int) -> None:
        if not changed.is_set():
            changed.set()
            with open(source, "r+b") as fh:
                fh.write(b"X")

    with pytest.raises(FileChangedError):
        run.log_artifact(source, progress=writer_progress)
    assert len(run.artifacts) == 0 and run.lineage() == []
    leftovers = list((run_dir(run) / "outputs").iterdir())
    assert leftovers == []


def test_logging_after_finish_is_refused(run: Run, write: Write) -> None:
    run.finish()
    with pytest.raises(RunStateError, match="finished"):
        run.log_artifact(write("late.txt"))


def test_listing_and_download_through_open(
    run: Run, write: Write, tmp_path: Path, root: Path
) -> None:
    source = write("weights.bin", b"one")
    run.log_artifact(source, step=1)
    source.write_bytes(b"two")
    run.log_artifact(source, step=2)
    run.log_artifact(source)
    run.finish()
    view = runlane.open(run.id, dir=root)
    assert [r.label for r in view.artifacts] == ["weights.bin@1", "weights.bin@2", "weights.bin"]
    assert view.artifacts.names() == ["weights.bin"]
    first = view.artifacts.download("weights.bin", step=1, dest=tmp_path / "dl1")
    assert first == tmp_path / "dl1" / "weights_1.bin" and first.read_bytes() == b"one"
    last = view.artifacts.download("weights.bin", dest=tmp_path / "dl2")
    assert last.read_bytes() == b"two" and last.name == "weights.bin"
    with pytest.raises(ArtifactNotFoundError, match="no step 9 in run tester/arts/r1; steps: 1, 2"):
        view.artifacts.download("weights.bin", step=9, dest=tmp_path)
    with pytest.raises(ArtifactNotFoundError, match=r"known: weights.bin"):
        view.artifacts.get("other")


def test_memory_store_runs_keep_artifacts_in_a_scratch_folder(write: Write, tmp_path: Path) -> None:
    with runlane.init("tester/mem", store="memory://arts") as run:
        record = run.log_artifact(write("m.bin", b"abc"))
        assert record.path == "outputs/m.bin"
        out = run.artifacts.download("m.bin", dest=tmp_path / "dl")
        assert out.read_bytes() == b"abc"


def test_folder_at_a_step_is_a_versioned_folder_asset(run: Run, write: Write, src: Path) -> None:
    write("ckpt/weights.bin", b"w")
    write("ckpt/meta/info.json", "{}")
    record = run.log_artifact(src / "ckpt", kind="model", step=7)
    assert (record.path, record.is_dir) == ("assets/model/ckpt_7", True)
    assert (run_dir(run) / "assets/model/ckpt_7/meta/info.json").read_text() == "{}"
    assert run.asset("ckpt", 7).value == {"kind": "model", "path": "assets/model/ckpt_7"}
