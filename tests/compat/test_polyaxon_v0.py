"""Seed 001 (Polyaxon v0 ``polyaxon_client.tracking.Experiment``) on
``runlane.compat.polyaxon_client.tracking``: every example, then v0's documented behaviour
(seed-systems.md §2), read back through ``runlane.open``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlane
from runlane.compat.polyaxon_client.tracking import Experiment
from runlane.errors import InvalidArgumentError, InvalidValueError


def seed_experiment() -> Experiment:
    """The seed's constructor call, verbatim."""
    # fmt: off
    experiment = Experiment(
        project=None,
        experiment_id=None,
        group_id=None,
        client=None,
        track_logs=True,
        track_git=True,
        track_env=True,
        outputs_store=None)
    # fmt: on
    return experiment


def view(experiment: Experiment) -> runlane.RunView:
    """The experiment's run read through runlane, after the live run handed over its writes."""
    assert experiment.experiment_id is not None
    live = runlane.current_run()
    if live is not None:
        live.flush()
    return runlane.open(experiment.experiment_id)


def md5_12(data: object) -> str:
    return hashlib.md5(str(data).encode()).hexdigest()[:12]


# --- the seed's examples ----------------------------------------------------------------------


def test_seed_constructor_accepts_track_git_and_creates_nothing_yet(root: Path) -> None:
    experiment = seed_experiment()
    assert experiment.track_code is True
    assert experiment.experiment_id is None
    assert runlane.runs() == []


def test_seed_create_examples() -> None:
    experiment = seed_experiment()
    # Example created with tags and description
    experiment.create(tags=["tensorflow", "nlp"], description="My first Polyaxon experiment")
    first = view(experiment).info
    # Example created with a name (must be a slug)
    experiment.create(name="experiment_name")
    second = view(experiment).info
    experiment.create()
    third = view(experiment).info

    assert first.tags == ("tensorflow", "nlp")
    assert first.description == "My first Polyaxon experiment"
    assert first.status == "running"
    assert first.backend == "other"  # Polyaxon's default backend
    assert second.name == "experiment_name"
    assert len({first.id, second.id, third.id}) == 3  # each create() is a new experiment
    assert third.project == "default"


def test_seed_set_name_and_description() -> None:
    experiment = seed_experiment()
    experiment.create()
    experiment.set_name("new_name")
    experiment.set_description("New description ...")
    info = view(experiment).info
    assert (info.name, info.description) == ("new_name", "New description ...")


def test_seed_log_tags() -> None:
    experiment = seed_experiment()
    experiment.create(tags=["start"])
    tags = ["first"]
    experiment.log_tags(tags, reset=False)
    # Example appending two new tags
    experiment.log_tags(["tag1", "tag2"])
    assert view(experiment).info.tags == ("start", "first", "tag1", "tag2")
    # Example resetting tags
    experiment.log_tags("tag3", reset=True)
    assert view(experiment).info.tags == ("tag3",)


def test_seed_framework_backend_and_run_env() -> None:
    experiment = seed_experiment()
    experiment.create()
    experiment.log_framework("tensorflow")
    experiment.log_backend("spark")
    experiment.log_run_env()
    info = view(experiment).info
    assert (info.framework, info.backend) == ("tensorflow", "spark")
    env = view(experiment).metadata()["env"]["value"]
    assert env["pid"] == os.getpid()
    assert env["python"].count(".") == 2
    assert isinstance(env["packages"], dict)


def test_seed_log_code_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        [
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "first",
        ],
    ):
        subprocess.run(["git", *args], check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    experiment = seed_experiment()
    experiment.create()
    experiment.log_code_ref()
    git = view(experiment).info.extra["git"]
    assert (git["commit"], git["branch"], git["is_dirty"]) == (head, "main", False)


def test_log_code_ref_outside_a_repository_records_nothing_and_does_not_fail(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    experiment = seed_experiment()
    experiment.create()
    experiment.log_code_ref()  # Polyaxon v0 crashed here (#285)
    assert "git" not in view(experiment).info.extra


def test_seed_log_status_and_terminal_helpers() -> None:
    experiment = seed_experiment()
    experiment.create()
    status = "running"
    experiment.log_status(status, message=None)
    # Example
    experiment.log_status("starting")
    info = view(experiment).info
    assert info.status == "running"
    assert info.extra["polyaxon_status"] == "starting"

    experiment.log_stopped()
    experiment.log_succeeded()  # terminal statuses are sticky: ignored
    experiment.log_failed()
    info = view(experiment).info
    assert info.status == "stopped"
    assert info.extra["polyaxon_status"] == "stopped"
    assert [c.status for c in info.status_history] == ["created", "running", "stopped"]


@pytest.mark.parametrize("helper", ["log_succeeded", "log_failed", "log_stopped"])
def test_each_terminal_helper(helper: str) -> None:
    experiment = seed_experiment()
    experiment.create()
    getattr(experiment, helper)()
    expected = helper.removeprefix("log_")
    assert view(experiment).status == expected
    assert experiment.last_status == expected


def test_log_failed_keeps_message_and_traceback() -> None:
    experiment = seed_experiment()
    experiment.create()
    experiment.log_failed(message="diverged", traceback="Traceback ...")
    info = view(experiment).info
    assert info.status == "failed"
    assert info.status_history[-1].message == "diverged"
    assert info.extra["error"] == {"message": "diverged", "traceback": "Traceback ..."}


def test_seed_log_metrics() -> None:
    experiment = seed_experiment()
    experiment.create()
    experiment.log_metrics(step=123, loss=0.023, accuracy=0.91)
    experiment.log_metrics(loss=0.02, accuracy=np.float32(0.5), extra=None)
    rows = [p["data"] for p in view(experiment).metrics().read()["data"]]
    assert [{k: v for k, v in r.items() if k != "_ts"} for r in rows] == [
        {"step": 123, "loss": 0.023, "accuracy": 0.91, "_step": 123},
        {"loss": 0.02, "accuracy": 0.5, "extra": None, "_step": 0},
    ]


@pytest.mark.parametrize("value", ["0.1", [1, 2], {"a": 1}, b"x", 1j, np.zeros(3)])
def test_log_metrics_takes_numbers_only(value: Any) -> None:
    experiment = seed_experiment()
    experiment.create()
    with pytest.raises(InvalidValueError, match="could not parse the value") as err:
        experiment.log_metrics(loss=value)
    assert isinstance(err.value, TypeError)
    assert view(experiment).metrics().read()["data"] == []


def test_seed_log_params() -> None:
    experiment = seed_experiment()
    experiment.create()
    # Example logging params
    experiment.log_params(activation="sigmoid", lr=0.001)
    # Example appending more params
    experiment.log_params(dropout=0.5)
    assert view(experiment).params.get() == {"activation": "sigmoid", "lr": 0.001, "dropout": 0.5}
    # Example logging and resetting params
    experiment.log_params(activation="sigmoid", learning_rate=0.001, reset=True)
    params = view(experiment).params
    assert params.get() == {"activation": "sigmoid", "learning_rate": 0.001}
    assert params.version == 3


def test_seed_log_data_ref() -> None:
    dataset1, dataset2, dataset3 = [1, 2, 3], "s3://bucket/train.csv", {"rows": 10}
    experiment = seed_experiment()
    experiment.create()
    # Example logging multiple datasets used for the experiment
    experiment.log_data_ref(data=dataset1, data_name="my_dataset")
    experiment.log_data_ref(data=dataset2, data_name="my_dataset2")
    assert view(experiment).metadata()["data_refs"]["value"] == {
        "my_dataset": md5_12(dataset1),
        "my_dataset2": md5_12(dataset2),
    }
    # Example resetting the datasets logged
    experiment.log_data_ref(data=dataset3, data_name="my_dataset3", reset=True)
    assert view(experiment).metadata()["data_refs"]["value"] == {"my_dataset3": md5_12(dataset3)}
    lineage = view(experiment).lineage()
    assert [(r.name, r.kind, r.is_input) for r in lineage] == [
        ("my_dataset", "data", True),
        ("my_dataset2", "data", True),
        ("my_dataset3", "data", True),
    ]
    assert all(r.hash for r in lineage)


def test_data_refs_hash_length_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HASH_LENGTH", "6")
    experiment = seed_experiment()
    experiment.create()
    experiment.log_data_ref(data="abc")
    assert view(experiment).metadata()["data_refs"]["value"] == {"data": md5_12("abc")[:6]}


def test_seed_get_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = seed_experiment()
    assert experiment.get_log_level() is None
    monkeypatch.setenv("POLYAXON_LOG_LEVEL", "DEBUG")
    assert experiment.get_log_level() == "DEBUG"


# --- beyond the examples ----------------------------------------------------------------------


def test_project_spellings_and_experiment_id_attach() -> None:
    dotted = Experiment(project="alice.vision", track_logs=False).create(name="a")
    slashed = Experiment(project="alice/vision").create(name="b")
    bare = Experiment(project="vision").create(name="c")
    assert (view(dotted).info.owner, view(dotted).info.project) == ("alice", "vision")
    assert (view(slashed).info.owner, view(slashed).info.project) == ("alice", "vision")
    assert view(bare).info.project == "vision"

    again = Experiment(project="alice/vision", experiment_id=dotted.experiment_id)
    again.log_metrics(loss=1.0)
    assert again.experiment_id == dotted.experiment_id
    assert view(dotted).metrics().read()["data"][0]["data"]["loss"] == 1.0


def test_calls_before_create_create_the_experiment() -> None:
    experiment = Experiment(project="alice/lazy")
    experiment.log_params(lr=0.1)
    assert experiment.experiment_id is not None
    assert view(experiment).params.get() == {"lr": 0.1}
    assert view(experiment).info.project == "lazy"


def test_group_id_becomes_the_run_group() -> None:
    experiment = Experiment(project="alice/g", group_id=42).create()
    assert view(experiment).info.group == "42"


def test_invalid_tags_and_statuses_raise() -> None:
    experiment = seed_experiment()
    experiment.create()
    with pytest.raises(InvalidArgumentError, match="tag"):
        experiment.log_tags(["ok", ""])
    with pytest.raises(InvalidArgumentError, match="tag"):
        experiment.log_tags(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="not one of"):
        experiment.log_status("exploded")
    experiment.log_tags(" a , b ")
    assert view(experiment).info.tags == ("a", "b")


def test_logging_after_the_end_is_still_stored() -> None:
    experiment = seed_experiment()
    experiment.create()
    experiment.log_succeeded()
    experiment.log_metrics(loss=0.5)
    experiment.log_params(late=True)
    assert view(experiment).status == "succeeded"
    assert view(experiment).params.get() == {"late": True}
    assert view(experiment).metrics().read()["data"][0]["data"]["loss"] == 0.5


def test_tracking_flags_turn_runlane_captures_off(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLANE_CAPTURE", "env")
    on = Experiment(project="alice/cap").create(name="on")
    off = Experiment(
        project="alice/cap", track_env=False, track_code=False, track_logs=False
    ).create(name="off")
    assert "env" in view(on).metadata()
    assert "env" not in view(off).metadata()


def test_no_op_mode_makes_every_call_return_none(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_NO_OP", "true")
    experiment = seed_experiment()
    assert experiment.create(name="x") is None
    assert experiment.log_metrics(loss=1.0) is None
    assert experiment.log_params(lr=0.1) is None
    assert experiment.log_status("bogus-but-ignored") is None
    assert experiment.log_tags([""]) is None
    assert experiment.get_outputs_path() is None
    assert experiment.get_log_level() is None
    assert experiment.experiment_id is None
    monkeypatch.setenv("POLYAXON_NO_OP", "1")
    assert experiment.log_succeeded() is None
    assert runlane.runs() == []


SCRIPT = """
import sys
from runlane.compat.polyaxon_client.tracking import Experiment
ids = []
for i in range(int(sys.argv[2])):
    experiment = Experiment(project="alice/life")
    experiment.create(name="loop")
    experiment.log_metrics(step=1, loss=0.5)
    ids.append(experiment.experiment_id)
print(",".join(ids), flush=True)
if sys.argv[1] == "manual":
    experiment.log_failed(message="by hand")
if sys.argv[1] == "raise":
    raise RuntimeError("boom")
"""


def run_script(mode: str, count: int, root: Path) -> tuple[list[str], int]:
    env = {**os.environ, "RUNLANE_DIR": str(root), "RUNLANE_CAPTURE": "none"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout.strip().split(","), proc.returncode


def test_lifecycle_succeeded_at_exit_failed_on_exception_manual_status_wins(root: Path) -> None:
    ok, code = run_script("exit", 2, root)
    assert code == 0
    boom, code = run_script("raise", 1, root)
    assert code == 1
    manual, code = run_script("manual", 1, root)
    assert code == 0
    status = {i: runlane.open(i).status for i in ok + boom + manual}
    assert [status[i] for i in ok] == ["succeeded", "succeeded"]  # loop: each ends at exit
    assert status[boom[0]] == "failed"
    assert "RuntimeError: boom" in str(runlane.open(boom[0]).info.status_history[-1].message)
    assert status[manual[0]] == "failed"
    assert runlane.open(manual[0]).info.status_history[-1].message == "by hand"


def test_seed_log_artifact_and_log_artifacts(workdir: Path) -> None:
    (workdir / "metrics.csv").write_text("step,loss\n1,0.5\n")
    (workdir / "plots").mkdir()
    (workdir / "plots" / "loss.svg").write_text("<svg/>")
    experiment = seed_experiment()
    experiment.create()
    file_path, dir_path = "metrics.csv", "plots"
    experiment.log_artifact(file_path)
    experiment.log_artifacts(dir_path)
    outputs = Path(view(experiment).path or "") / "outputs"
    assert (outputs / "metrics.csv").read_text() == "step,loss\n1,0.5\n"
    assert (outputs / "plots" / "loss.svg").read_text() == "<svg/>"
    records = view(experiment).lineage()
    assert [(r.name, r.kind, r.path) for r in records] == [
        ("metrics.csv", "file", "outputs/metrics.csv"),
        ("plots", "dir", "outputs/plots"),
    ]
    with pytest.raises(FileNotFoundError):
        experiment.log_artifact("missing.csv")


def test_seed_get_outputs_path() -> None:
    experiment = seed_experiment()
    experiment.create()
    path = Path(experiment.get_outputs_path())
    assert path == Path(view(experiment).path or "") / "outputs"
    assert path.is_dir()
