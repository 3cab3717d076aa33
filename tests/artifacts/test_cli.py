"""``runlane artifacts``, ``runlane get``, ``runlane models`` and ``runlane lineage``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.cli.main import main
from runlane.sdk.run import Run

Write = Callable[..., Path]


@pytest.fixture
def logged(new_run: Callable[..., Run], write: Write, src: Path) -> tuple[Run, Run]:
    source = write("weights.bin", b"one")
    first = new_run("tester/arts", name="first")
    first.log_artifact(source, step=1)
    source.write_bytes(b"two")
    first.log_artifact(source, step=2)
    first.log_model(source, name="net", aliases=["production"])
    first.log_artifact(runlane.Artifact("ds", "dataset").add_file(source))
    first.log_text("notes", "hi", step=0)
    second = new_run("tester/arts", name="second")
    second.use_model("net", "production")
    first.finish()
    second.finish()
    return first, second


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_artifacts_lists_a_run(
    logged: tuple[Run, Run], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "artifacts", "tester/arts/first", "--dir", str(root))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "MODE", "SIZE", "SHA256", "PATH", "LOGGED"]
    labels = [line.split()[0] for line in lines[2:]]
    assert labels == ["weights.bin@1", "weights.bin@2", "net:v0", "ds:v0", "notes@0"]
    code, out, _ = run_cli(
        capsys, "artifacts", "tester/arts/first", "--dir", str(root), "--json", "--kind", "dataset"
    )
    [doc] = json.loads(out)
    assert (doc["name"], doc["version"], doc["mode"]) == ("ds", "v0", "version")


def test_get_by_step_version_and_default(
    logged: tuple[Run, Run], root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--dir", str(root)]
    code, out, _ = run_cli(
        capsys,
        "get",
        "tester/arts/first",
        "weights.bin",
        "--step",
        "1",
        "-o",
        str(tmp_path / "a"),
        *base,
    )
    assert code == 0 and Path(out.strip()).read_bytes() == b"one"
    code, out, _ = run_cli(
        capsys,
        "get",
        "tester/arts/first",
        "ds",
        "--version",
        "latest",
        "-o",
        str(tmp_path / "b"),
        *base,
    )
    assert code == 0 and (Path(out.strip()) / "weights.bin").read_bytes() == b"two"
    code, out, _ = run_cli(
        capsys,
        "get",
        "tester/arts/first",
        "net",
        "--version",
        "v0",
        "-o",
        str(tmp_path / "c"),
        *base,
    )
    assert Path(out.strip()) == tmp_path / "c" / "weights.bin"
    code, _, err = run_cli(
        capsys, "get", "tester/arts/first", "weights.bin", "--step", "9", "-o", str(tmp_path), *base
    )
    assert code == 1 and "has no step 9" in err and "steps: 1, 2" in err
    code, _, err = run_cli(
        capsys, "get", "tester/arts/first", "x", "--step", "1", "--version", "v0", *base
    )
    assert code == 2 and "not allowed with" in err


def test_models_lists_the_registry(
    logged: tuple[Run, Run], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "models", "--dir", str(root))
    assert code == 0
    row = out.splitlines()[2].split()
    assert row[:5] == ["tester/arts", "net", "1", "v0", "production=v0"]
    code, out, _ = run_cli(capsys, "models", "net", "--dir", str(root), "--json")
    [version] = json.loads(out)
    assert (version["version"], version["run"], version["aliases"]) == (
        "v0",
        "tester/arts/first",
        ["latest", "production"],
    )
    code, _, err = run_cli(capsys, "models", "nope", "--dir", str(root))
    assert code == 1 and "no model 'nope'; known: net" in err


def test_lineage_prints_both_directions(
    logged: tuple[Run, Run], root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = logged
    code, out, _ = run_cli(capsys, "lineage", "net:v0", "--dir", str(root))
    assert code == 0
    assert out.splitlines() == [
        "model net:v0",
        "upstream:",
        f"  <- run tester/arts/first ({first.id[:8]})",
        "downstream:",
        f"  -> run tester/arts/second ({second.id[:8]})",
    ]
    code, out, _ = run_cli(
        capsys, "lineage", "tester/arts/second", "--up", "--json", "--dir", str(root)
    )
    doc = json.loads(out)
    assert doc["downstream"] is None
    assert doc["upstream"]["children"][0]["node"]["id"] == "model:net:v0"
    assert doc["upstream"]["children"][0]["children"][0]["node"]["id"] == f"run:{first.id}"
    code, _, err = run_cli(capsys, "lineage", "ghost", "--dir", str(root))
    assert code == 1 and "no lineage node 'ghost'" in err
