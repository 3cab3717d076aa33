"""``runlane.init`` and the run handle: names, identity, tags, metadata, data references,
status lifecycle, git and environment capture, disabled mode, module-level calls, ``open``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import runlane
from runlane.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    RunStateError,
)
from runlane.sdk.run import Run

NewRun = Callable[..., Run]


def run_count(root: Path) -> int:
    return len(list(root.rglob("experiment.json"))) if root.exists() else 0


# --- init and names -------------------------------------------------------------------------------


def test_init_creates_a_running_run_in_the_data_root(root: Path) -> None:
    run = runlane.init("alice/vision", name="baseline", description="d", framework="torch")
    info = run.info
    assert (info.owner, info.project, info.name) == ("alice", "vision", "baseline")
    assert info.status == "running"
    assert [c.status for c in info.status_history] == ["created", "running"]
    assert info.description == "d" and info.framework == "torch"
    assert run.existed is False
    assert run.path is not None
    assert Path(run.path) == root / "alice" / "vision" / "baseline"
    assert (Path(run.path) / "experiment.json").is_file()
    assert runlane.current_run() is run


def test_owner_and_project_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLANE_OWNER", "team")
    monkeypatch.setenv("RUNLANE_PROJECT", "speech")
    run = runlane.init()
    assert (run.info.owner, run.info.project) == ("team", "speech")
    other = runlane.init("vision", owner="bob", folder="sweeps/lr")
    assert (other.info.owner, other.info.project, other.info.folder) == (
        "bob",
        "vision",
        "sweeps/lr",
    )
    assert other.info.prefix.startswith("bob/vision/sweeps/lr/")


def test_taken_names_get_suffixes_and_resume_rejoins(new_run: NewRun) -> None:
    first = new_run(name="exp")
    second = new_run(name="exp")
    assert (first.name, second.name) == ("exp", "exp-2")
    again = new_run(name="exp", resume=True)
    assert again.existed is True
    assert again.id == first.id


@pytest.mark.parametrize(
    ("kwargs", "what", "rule"),
    [
        ({"name": ""}, "run name", "may not be empty"),
        ({"name": "a" * 200}, "run name", "limit is 128"),
        ({"name": "bad\tname"}, "run name", "control characters"),
        ({"name": "../escape"}, "run name", "'/'"),
        ({"name": "a..b"}, "run name", "'..'"),
        ({"name": "a/b"}, "run name", "'/'"),
        ({"folder": "/etc"}, "folder", "must be relative"),
        ({"folder": "x/../../y"}, "folder", "'..'"),
        ({"project": "a/b/c"}, "project", "'/'"),
        ({"project": "ok", "owner": ".."}, "owner", "'..'"),
    ],
)
def test_invalid_names_raise_before_anything_is_created(
    root: Path, kwargs: dict[str, str], what: str, rule: str
) -> None:
    kwargs.setdefault("project", "alice/vision")
    with pytest.raises(InvalidNameError) as info:
        runlane.init(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert what in message
    assert rule in message
    assert run_count(root) == 0
    assert runlane.current_run() is None


def test_external_id_is_create_or_get(new_run: NewRun) -> None:
    first = new_run(external_id="slurm-1234", name="first")
    assert first.existed is False
    again = new_run(external_id="slurm-1234", name="ignored")
    assert again.existed is True
    assert again.id == first.id
    assert again.name == "first"
    other = new_run(external_id="slurm-9999")
    assert other.existed is False


def test_join_by_id(new_run: NewRun) -> None:
    first = new_run()
    first.log({"a": 1})
    joined = new_run(id=first.id)
    assert joined.existed is True
    joined.log({"a": 2})
    joined.flush()
    assert [h["a"] for h in first.history()] == [1, 2]


# --- run fields, tags, metadata -------------------------------------------------------------------


def test_setters_update_the_run(new_run: NewRun) -> None:
    run = new_run(name="before")
    run.set_name("after")
    run.set_description("a description")
    run.set_framework("jax")
    run.set_backend("tpu")
    run.set_group("sweep/1")
    run.set_extra(seed=3, dataset={"name": "imagenet"})
    run.set_extra(seed=4)
    info = run.info
    assert (info.name, info.description, info.framework, info.backend, info.group) == (
        "after",
        "a description",
        "jax",
        "tpu",
        "sweep/1",
    )
    assert info.extra == {"seed": 4, "dataset": {"name": "imagenet"}}
    assert Path(run.path or "").name == "before"  # the folder keeps its first name
    with pytest.raises(InvalidNameError):
        run.set_name("no/slash")


def test_tags_add_reset_and_comma_strings(new_run: NewRun) -> None:
    run = new_run(tags="a, b")
    assert run.info.tags == ("a", "b")
    run.add_tags("c,  d ,")
    run.add_tags(["b", "e"])
    assert run.info.tags == ("a", "b", "c", "d", "e")
    run.add_tags("only", reset=True)
    assert run.info.tags == ("only",)
    assert [r.id for r in runlane.runs(where="tags contains 'only'")] == [run.id]


def test_update_metadata_returns_updated_at(new_run: NewRun) -> None:
    run = new_run()
    at = run.update_metadata("dataset", {"name": "cifar", "splits": ("train", "test")})
    meta = run.metadata()
    assert meta["dataset"]["value"] == {"name": "cifar", "splits": ["train", "test"]}
    assert meta["dataset"]["updated_at"] == pytest.approx(at)
    later = run.update_metadata("dataset", {"name": "cifar100"})
    assert later >= at
    assert run.metadata()["dataset"]["value"] == {"name": "cifar100"}
    with pytest.raises(InvalidValueError, match="dict"):
        run.update_metadata("x", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError, match="metadata key"):
        run.update_metadata("a/b", {})


def test_init_metadata_argument(new_run: NewRun) -> None:
    run = new_run(metadata={"hw": {"gpus": 2}})
    assert run.metadata()["hw"]["value"] == {"gpus": 2}


# --- data references ------------------------------------------------------------------------------


def test_data_ref_of_a_file(new_run: NewRun, tmp_path: Path) -> None:
    file = tmp_path / "train.csv"
    file.write_bytes(b"a,b\n1,2\n")
    run = new_run()
    record = run.log_data_ref("train", path=file, summary={"rows": 1})
    assert record.hash == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert record.size == 8
    assert record.path == str(file.resolve())
    assert record.is_input is True and record.kind == "data"
    (stored,) = run.lineage()
    assert stored.name == "train"
    assert stored.hash == record.hash
    assert stored.summary == {"rows": 1}


def test_data_ref_of_a_folder_depends_on_names_and_contents(
    new_run: NewRun, tmp_path: Path
) -> None:
    folder = tmp_path / "dataset"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("one")
    (folder / "sub" / "b.txt").write_text("two")
    run = new_run()
    first = run.log_data_ref("ds", path=folder)
    same = run.log_data_ref("ds-again", str(folder))  # a path given as data works too
    (folder / "sub" / "b.txt").write_text("TWO")
    changed = run.log_data_ref("ds-changed", path=folder)
    assert first.hash == same.hash
    assert first.hash != changed.hash
    assert first.size == 6
    assert [r.name for r in run.lineage()] == ["ds", "ds-again", "ds-changed"]


def test_data_ref_of_bytes_and_arrays(new_run: NewRun) -> None:
    run = new_run()
    raw = run.log_data_ref("raw", b"payload", is_input=False)
    assert raw.hash == hashlib.sha256(b"payload").hexdigest()
    assert raw.size == 7 and raw.is_input is False and raw.path is None
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    one = run.log_data_ref("arr", arr)
    two = run.log_data_ref("arr", arr.copy())
    reshaped = run.log_data_ref("arr", arr.reshape(3, 2))
    other_dtype = run.log_data_ref("arr", arr.astype(np.float64))
    assert one.hash == two.hash
    assert len({one.hash, reshaped.hash, other_dtype.hash}) == 3


def test_data_ref_of_a_missing_path_is_recorded_without_hash(
    new_run: NewRun, tmp_path: Path
) -> None:
    run = new_run()
    missing = run.log_data_ref("gone", path=tmp_path / "nope.bin")
    remote = run.log_data_ref("remote", path="s3://bucket/key.parquet")
    assert (missing.hash, missing.size) == (None, None)
    assert missing.path == str(tmp_path / "nope.bin")
    assert (remote.hash, remote.path) == (None, "s3://bucket/key.parquet")
    assert [r.path for r in run.lineage()] == [missing.path, remote.path]
    with pytest.raises(InvalidArgumentError, match="needs data or a path"):
        run.log_data_ref("nothing")


# --- status lifecycle -----------------------------------------------------------------------------


def test_status_created_running_succeeded(new_run: NewRun) -> None:
    run = new_run()
    assert run.status == "running"
    run.finish()
    assert run.finished is True
    info = runlane.open(run.id).info
    assert info.status == "succeeded"
    assert [c.status for c in info.status_history] == ["created", "running", "succeeded"]
    run.finish("failed")  # idempotent
    assert runlane.open(run.id).status == "succeeded"
    assert runlane.current_run() is None


def test_terminal_status_is_sticky_when_rejoined(new_run: NewRun) -> None:
    run = new_run()
    run.finish("stopped", "by hand")
    rejoined = new_run(id=run.id)
    assert rejoined.existed is True
    assert rejoined.status == "stopped"
    rejoined.log({"late": 1})
    rejoined.finish("failed")
    info = runlane.open(run.id).info
    assert info.status == "stopped"
    assert info.status_history[-1].message == "by hand"


def test_set_status(new_run: NewRun) -> None:
    run = new_run()
    run.set_status("running", "still going")
    assert run.status == "running"
    run.set_status("COMPLETED")  # an alias of a terminal status ends the run
    assert run.finished
    assert runlane.open(run.id).status == "succeeded"
    other = new_run()
    with pytest.raises(InvalidArgumentError, match="bogus"):
        other.set_status("bogus")
    with pytest.raises(InvalidArgumentError, match="crashed"):
        other.set_status("crashed")


def test_context_manager_success(new_run: NewRun) -> None:
    with new_run() as run:
        run.log({"a": 1})
    assert runlane.open(run.id).status == "succeeded"


def test_context_manager_failure_keeps_message_and_traceback(new_run: NewRun) -> None:
    def train(run: Run) -> None:
        run.log({"a": 1})
        raise ValueError("diverged at step 3")

    with pytest.raises(ValueError, match="diverged"), new_run() as run:
        train(run)
    info = runlane.open(run.id).info
    assert info.status == "failed"
    assert info.status_history[-1].message == "ValueError: diverged at step 3"
    error = info.extra["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "diverged at step 3"
    assert "Traceback (most recent call last)" in error["traceback"]
    assert "in train" in error["traceback"]
    fatal = runlane.open(run.id).logs(level="fatal")
    assert [r.message for r in fatal] == ["ValueError: diverged at step 3"]


def test_context_manager_keyboard_interrupt_stops(new_run: NewRun) -> None:
    with pytest.raises(KeyboardInterrupt), new_run() as run:
        raise KeyboardInterrupt
    info = runlane.open(run.id).info
    assert info.status == "stopped"
    assert info.status_history[-1].message == "KeyboardInterrupt"


def test_fail_with_an_exception(new_run: NewRun) -> None:
    run = new_run()
    try:
        raise RuntimeError("out of memory")
    except RuntimeError as exc:
        run.fail(exc)
    assert run.failure is not None and run.failure["type"] == "RuntimeError"
    assert runlane.open(run.id).info.extra["error"]["message"] == "out of memory"


# --- git and environment capture ------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_capture_records_commit_and_diff(
    new_run: NewRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.py").write_text("lr = 0.2\n")
    head = _git(repo, "rev-parse", "HEAD")
    monkeypatch.chdir(repo)
    run = new_run(capture_git=True)
    git = run.info.extra["git"]
    assert git["commit"] == head
    assert git["branch"] == "main"
    assert git["is_dirty"] is True
    assert git["has_diff"] is True
    diff = (Path(run.path or "") / "code" / "git.diff").read_text()
    assert "-lr = 0.1" in diff and "+lr = 0.2" in diff


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_capture_off_and_outside_a_repository(
    new_run: NewRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert "git" not in new_run(capture_git=True).info.extra
    assert "git" not in new_run().info.extra  # RUNLANE_CAPTURE=none


def test_env_capture_writes_a_metadata_document(new_run: NewRun) -> None:
    run = new_run(capture_env=True)
    env = run.metadata()["env"]["value"]
    assert env["pid"] == os.getpid()
    assert env["python"].count(".") == 2
    assert isinstance(env["packages"], dict) and "numpy" in env["packages"]
    assert "env" not in new_run().metadata()


# --- disabled mode, module-level API --------------------------------------------------------------


def test_disabled_mode_writes_nothing(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLANE_MODE", "disabled")
    monkeypatch.setenv("RUNLANE_CAPTURE", "git,env,stdio,system")
    run = runlane.init("alice/vision", name="x", config={"lr": 1})
    run.log({"loss": 1.0})
    run.log_message("hello")
    assert run.store.uri.startswith("memory://")
    assert run.path is None
    assert [h["loss"] for h in run.history()] == [1.0]
    run.finish()
    assert run_count(root) == 0


def test_module_level_log_finish_and_current_run() -> None:
    assert runlane.current_run() is None
    with pytest.raises(RunStateError, match="init"):
        runlane.log({"a": 1})
    runlane.finish()  # no current run: nothing to do
    run = runlane.init("alice/vision")
    assert runlane.current_run() is run
    runlane.log({"a": 1})
    runlane.log({"a": 2}, step=5)
    runlane.log({"b": 1}, commit=False)
    runlane.log({"a": 3})
    runlane.finish()
    assert runlane.current_run() is None
    rows = runlane.open(run.id).history()
    assert [(r["a"], r["_step"]) for r in rows] == [(1, 0), (2, 5), (3, 1)]
    assert rows[2]["b"] == 1
    assert runlane.open(run.id).status == "succeeded"


def test_current_run_is_the_latest_init(new_run: NewRun) -> None:
    first = new_run()
    second = new_run()
    assert runlane.current_run() is second
    second.finish()
    assert runlane.current_run() is None
    assert not first.finished


# --- open and runs --------------------------------------------------------------------------------


def test_open_by_id_prefix_name_and_folder(new_run: NewRun, root: Path) -> None:
    run = new_run(name="target", folder="grid")
    run.log({"a": 1})
    run.finish()
    for ref in (run.id, run.id[:8], "tester/tests/grid/target", run.path, Path(run.path or "")):
        view = runlane.open(ref)  # type: ignore[arg-type]
        assert view.id == run.id
        assert view.history()[0]["a"] == 1
        assert not hasattr(view, "log")
    assert runlane.open(run.id, dir=root).id == run.id


def test_open_a_run_folder_of_another_root(tmp_path: Path) -> None:
    other_root = tmp_path / "elsewhere"
    run = runlane.init("alice/vision", name="far", dir=other_root)
    run.log({"a": 1})
    run.finish()
    view = runlane.open(str(other_root / "alice" / "vision" / "far"))
    assert view.id == run.id
    assert view.status == "succeeded"
    with pytest.raises(NotFoundError):
        runlane.open(run.id)  # not in RUNLANE_DIR


def test_open_unknown_raises_not_found(new_run: NewRun) -> None:
    new_run()
    with pytest.raises(NotFoundError, match="nosuchrun"):
        runlane.open("nosuchrun")
    with pytest.raises(KeyError):
        runlane.open("tester/tests/missing")


def test_runs_lists_views(new_run: NewRun) -> None:
    a = new_run(name="a", config={"lr": 0.1})
    b = new_run(name="b", config={"lr": 0.01})
    new_run("other/project", name="c")
    a.finish()
    b.finish()
    assert {v.id for v in runlane.runs("tester/tests")} == {a.id, b.id}
    assert [v.id for v in runlane.runs(where="params.lr < 0.05")] == [b.id]
    assert len(runlane.runs(limit=2)) == 2


def test_a_process_joining_a_running_run_does_not_end_it(root: Path) -> None:
    import runlane

    creator = runlane.init("tester/tests", "shared", dir=root)
    worker = runlane.init("tester/tests", dir=root, id=creator.id)
    assert worker.existed and worker.joined and not creator.joined
    worker.log({"loss": 1.0}, source="rank1")
    worker.finish()
    assert runlane.open(creator.id, dir=root).status == "running"
    creator.finish()
    assert runlane.open(creator.id, dir=root).status == "succeeded"
