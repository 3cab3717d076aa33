"""Artifact kinds, names, extensions and path checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import runlane
from runlane.artifacts.errors import UnsafePathError
from runlane.artifacts.kinds import (
    FEDML_TYPES,
    POLYAXON_KINDS,
    ArtifactKind,
    fedml_type_id,
    normalize_kind,
)
from runlane.artifacts.paths import (
    asset_file_name,
    check_artifact_name,
    clean_rel_path,
    safe_join,
    split_ext,
)
from runlane.errors import InvalidArgumentError, InvalidNameError


def test_every_polyaxon_kind_and_fedml_type_is_a_kind() -> None:
    assert len(POLYAXON_KINDS) == 32  # 31 V1ArtifactKind values + span
    for kind in (*POLYAXON_KINDS, *FEDML_TYPES):
        assert normalize_kind(kind) == kind
        assert ArtifactKind(kind) == kind
    assert runlane.ArtifactKind.SOURCE_CODE == "source code"
    assert normalize_kind("DOCKER_IMAGE") == "docker_image"
    assert normalize_kind(ArtifactKind.TENSORBOARD) == "tensorboard"


def test_fedml_type_ids_round_trip() -> None:
    assert [fedml_type_id(k) for k in ("general", "model", "dataset", "source code", "log")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert normalize_kind(4) == "source code"
    assert fedml_type_id("image") == 1


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'weights' is not one of .*'model'"):
        normalize_kind("weights")
    with pytest.raises(InvalidArgumentError):
        normalize_kind(9)


@pytest.mark.parametrize(
    ("basename", "stem", "ext"),
    [
        ("model.tar.gz", "model", "tar.gz"),
        ("data.v2.CSV", "data.v2", "csv"),
        ("weights.pt", "weights", "pt"),
        ("README", "README", ""),
        (".hidden", ".hidden", ""),
        ("run.2024", "run.2024", ""),
        ("archive.tar", "archive", "tar"),
    ],
)
def test_split_ext(basename: str, stem: str, ext: str) -> None:
    assert split_ext(basename) == (stem, ext)


def test_asset_file_name_keeps_the_extension_after_the_step() -> None:
    assert asset_file_name("model.tar.gz", 3, "tar.gz") == "model_3.tar.gz"
    assert asset_file_name("ckpt", 3, "tar.gz") == "ckpt_3.tar.gz"
    assert asset_file_name("img", None, "png") == "img.png"
    assert asset_file_name("folder", 7, "") == "folder_7"


@pytest.mark.parametrize("bad", ["..", "../x", "a/../b", "/etc/passwd", "a/b", "C:\\x"])
def test_names_that_escape_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePathError, match=repr(bad).replace("\\", "\\\\")):
        check_artifact_name(bad)


def test_other_bad_names_raise_invalid_name() -> None:
    with pytest.raises(InvalidNameError):
        check_artifact_name("")
    with pytest.raises(InvalidNameError):
        check_artifact_name("tab\there")
    assert check_artifact_name("model.tar.gz") == "model.tar.gz"


def test_rel_path_normalization() -> None:
    assert clean_rel_path("csv_files/new/") == "csv_files/new"
    assert clean_rel_path("./a//b") == "a/b"
    assert clean_rel_path("") is None
    assert clean_rel_path(".") is None
    for bad in ("../up", "a/../../b", "/abs/path"):
        with pytest.raises(UnsafePathError):
            clean_rel_path(bad)


def test_safe_join_refuses_symlinks_out_of_the_base(tmp_path: Path) -> None:
    base = tmp_path / "run"
    (base / "outputs").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (base / "outputs" / "link").symlink_to(outside, target_is_directory=True)
    (base / "outputs" / "inner").symlink_to(base / "outputs", target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        safe_join(base, "outputs/link/file.txt")
    assert safe_join(base, "outputs/inner/x") == base / "outputs/inner/x"
