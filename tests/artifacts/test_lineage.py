"""Reference-only lineage and the graph walked both ways:
dataset v3 → run A → model v2 → run B."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import runlane
from runlane.artifacts.errors import ArtifactNotFoundError, UnsafePathError
from runlane.sdk.run import Run

Write = Callable[..., Path]


def test_refs_record_without_copying(run: Run, tmp_path: Path) -> None:
    outside = tmp_path / "datasets" / "train.csv"
    outside.parent.mkdir()
    outside.write_text("x\n1\n")
    s3 = run.log_artifact_ref(
        "s3://bucket/models/file.ext",
        kind="model",
        name="myfile",
        summary={"extra_key": "extra_value"},
    )
    local = run.log_artifact_ref(outside, kind="data", is_input=True, content=b"abc")
    inside = run.log_artifact_ref(run.get_outputs_path("custom_artifacts/filename.ext"))
    model = run.log_model_ref("gs://b/model", framework="tensorflow", summary={"k": 1})
    [a, b, c, d] = run.lineage()
    assert (a.name, a.kind, a.path, a.is_input) == (
        "myfile",
        "model",
        "s3://bucket/models/file.ext",
        False,
    )
    assert a.summary == {"extra_key": "extra_value", "path": "s3://bucket/models/file.ext"}
    assert (b.path, b.is_input, b.size) == (str(outside), True, 4)
    assert (
        b.hash == local.hash == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert c.path == "outputs/custom_artifacts/filename.ext" == inside.path
    assert (d.kind, d.summary) == (
        "model",
        {"k": 1, "framework": "tensorflow", "path": "gs://b/model"},
    )
    assert s3.name == "myfile" and model.name == "model"
    assert not list((Path(run.path or "")).glob("outputs/custom_artifacts/*"))
    with pytest.raises(UnsafePathError):
        run.log_artifact_ref("x", rel_path="../../etc")


def test_code_ref_explicit_and_from_git(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = run.log_code_ref(
        {"commit": "abc123", "branch": "main", "url": "https://github.com/x/y"}
    )
    assert given is not None
    assert (given.kind, given.name, given.is_input) == ("coderef", "abc123", True)
    assert given.summary and given.summary["node"] == "code:https://github.com/x/y@abc123"
    monkeypatch.chdir(tmp_path)  # not a git checkout
    assert run.log_code_ref() is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run([*git[:5], "init", "-q", str(repo)], check=True)
    (repo / "f.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "f.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    captured = run.log_code_ref()
    assert captured is not None and captured.name == head


def test_graph_walks_both_ways(
    new_run: Callable[..., Run], write: Write, src: Path, root: Path
) -> None:
    write("train.csv", "1\n")
    builder = new_run("tester/arts", name="build-data")
    for content in ("1\n", "1\n2\n", "1\n2\n3\n", "1\n2\n3\n4\n"):
        write("train.csv", content)
        builder.log_artifact(runlane.Artifact("dataset", "dataset").add_file(src / "train.csv"))
    run_a = new_run("tester/arts", name="run-a")
    assert run_a.use_artifact("dataset:v3").version == "v3"
    run_a.log_artifact_ref("s3://raw/extra.parquet", kind="data", is_input=True)
    for epoch in range(3):
        run_a.log_model(write("net.pt", f"w{epoch}"), name="net", framework="pytorch")
    run_b = new_run("tester/arts", name="run-b")
    run_b.use_model("net", "v2")
    run_b.log_artifact(write("predictions.csv", "p\n"))
    for live in (builder, run_a, run_b):
        live.finish()

    graph = runlane.lineage("tester/arts", dir=root)
    down = [(s.depth, s.node.id) for s in graph.downstream("dataset:v3")]
    assert down[:3] == [(1, f"run:{run_a.id}"), (2, "model:net:v0"), (2, "model:net:v1")]
    assert (2, "model:net:v2") in down and (3, f"run:{run_b.id}") in down
    predictions = str(Path(run_b.path or "") / "outputs/predictions.csv")
    assert (4, predictions) in down
    up = [(s.depth, s.node.id) for s in graph.upstream(predictions)]
    assert up == [
        (1, f"run:{run_b.id}"),
        (2, "model:net:v2"),
        (3, f"run:{run_a.id}"),
        (4, "artifact:dataset:v3"),
        (4, "s3://raw/extra.parquet"),
        (5, f"run:{builder.id}"),
    ]
    # every way of naming a node resolves
    assert graph.resolve("net@latest") == "model:net:v2"
    assert graph.resolve("model:net:2") == "model:net:v2"
    assert graph.resolve("tester/arts/run-b") == f"run:{run_b.id}"
    assert graph.resolve(run_a.id[:8]) == f"run:{run_a.id}"
    assert graph.upstream("dataset:v3", depth=1)[0].node.id == f"run:{builder.id}"
    tree = graph.tree(f"run:{run_a.id}", "upstream")
    assert {c["node"]["id"] for c in tree["children"]} == {
        "artifact:dataset:v3",
        "s3://raw/extra.parquet",
    }
    with pytest.raises(ArtifactNotFoundError, match="no lineage node 'nothing-here'"):
        graph.resolve("nothing-here")


def test_output_of_one_run_meets_the_input_of_another_by_path(
    new_run: Callable[..., Run], write: Write, root: Path
) -> None:
    producer = new_run("tester/arts", name="producer")
    record = producer.log_artifact(write("features.npy", b"\x00"))
    produced = Path(producer.path or "") / (record.path or "")
    consumer = new_run("tester/arts", name="consumer")
    consumer.log_artifact_ref(produced, kind="data", is_input=True)
    producer.finish()
    consumer.finish()
    graph = runlane.lineage("tester/arts", dir=root)
    assert [s.node.id for s in graph.downstream(f"run:{producer.id}")] == [
        str(produced),
        f"run:{consumer.id}",
    ]
