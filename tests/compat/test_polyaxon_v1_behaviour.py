"""``runlane.compat.polyaxon.tracking`` beyond the seed: Polyaxon v1's documented behaviour
(seed-systems.md §4): metrics and their event files, tags, inputs/outputs, statuses and the
lifecycle, names, the asset helpers, ``V1ArtifactKind`` and the no-op switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runlane
from runlane.artifacts.kinds import POLYAXON_KINDS
from runlane.compat.polyaxon import V1ArtifactKind, tracking
from runlane.errors import InvalidArgumentError


@pytest.fixture(autouse=True)
def _reset_tracking_run() -> Iterator[None]:
    tracking.TRACKING_RUN = None
    yield
    tracking.TRACKING_RUN = None


def view() -> runlane.RunView:
    run = tracking.TRACKING_RUN
    assert run is not None
    if not run.finished:
        run.flush()
    return runlane.open(run.id)


def folder() -> Path:
    return Path(tracking.get_artifacts_path())


def test_v1_artifact_kind_has_every_polyaxon_value() -> None:
    assert [k.value for k in V1ArtifactKind] == list(POLYAXON_KINDS)
    assert len(V1ArtifactKind) == 32
    assert V1ArtifactKind.CSV == "csv" and V1ArtifactKind.DOCKER_IMAGE == "docker_image"
    assert tracking.V1ArtifactKind is V1ArtifactKind


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("loss", "loss"),
        ("train/loss", "train__loss"),
        ("a.b  c", "a-b-c"),
        ("acc@top-1!", "acctop-1"),
        ("x\\y", "x__y"),
    ],
)
def test_names_are_sanitised_as_polyaxon_does(raw: str, clean: str) -> None:
    assert tracking.to_fqn_name(raw) == clean


def test_init_names_the_run_and_run_uuid_rejoins_it() -> None:
    run = tracking.init(
        owner="alice", project="vision", name="first try", description="d", tags="a, b,,"
    )
    info = view().info
    assert (info.owner, info.project, info.name, info.description, info.tags) == (
        "alice",
        "vision",
        "first-try",
        "d",
        ("a", "b"),
    )
    again = tracking.init(owner="alice", project="vision", run_uuid=run.id)
    assert again.id == run.id and again.existed
    dotted = tracking.init(project="bob.nlp")
    assert (dotted.info.owner, dotted.info.project) == ("bob", "nlp")


def test_functions_before_init_start_a_run() -> None:
    tracking.log_metric("loss", 1.0)
    assert tracking.TRACKING_RUN is not None
    assert view().info.project == "default"


def test_metrics_go_to_the_default_stream_and_metric_event_files() -> None:
    tracking.init()
    tracking.log_metrics(step=1, loss=0.5, **{"train/acc": 0.9})
    tracking.log_metric("loss", 0.25, step=2, timestamp=1_600_000_000.0)
    tracking.log_metric("loss", np.float32(0.125))
    rows = [p["data"] for p in view().metrics().read()["data"]]
    assert [(r.get("loss"), r.get("train__acc"), r["_step"]) for r in rows] == [
        (0.5, 0.9, 1),
        (0.25, None, 2),
        (0.125, None, 0),
    ]
    assert rows[1]["_ts"] == 1_600_000_000.0
    text = (folder() / "events/metric/loss.plx").read_text()
    lines = text.split("\n")
    assert lines[0] == "step|timestamp|metric"
    assert lines[2] == "2|2020-09-13 12:26:40+00:00|0.25"
    assert [line.split("|")[0] for line in lines[1:]] == ["1", "2", ""]  # no step: empty
    assert [line.split("|")[2] for line in lines[1:]] == ["0.5", "0.25", "0.125"]
    assert (folder() / "events/metric/train__acc.plx").is_file()


def test_bad_metric_values_and_steps_raise_and_write_nothing() -> None:
    tracking.init()
    with pytest.raises(TypeError):
        tracking.log_metric("loss", [1, 2])
    with pytest.raises(InvalidArgumentError):
        tracking.log_metric("loss", 1.0, step=-3)
    assert view().metrics().read()["data"] == []
    assert not (folder() / "events/metric/loss.plx").exists()


def test_tags_merge_in_order_drop_invalid_ones_and_reset() -> None:
    tracking.init(tags=["a"])
    tracking.log_tags(["b", "", "a", 3])  # type: ignore[list-item]
    tracking.log_tags("c, d")
    assert view().info.tags == ("a", "b", "c", "d")
    tracking.log_tags(["z"], reset=True)
    assert view().info.tags == ("z",)


def test_inputs_are_params_and_outputs_a_metadata_document() -> None:
    tracking.init()
    tracking.log_inputs(lr=0.1, batch_size=32)
    tracking.log_inputs(dropout=0.5)
    tracking.log_outputs(accuracy=0.9)
    tracking.log_outputs(loss=0.1)
    assert view().params.get() == {"lr": 0.1, "batch_size": 32, "dropout": 0.5}
    assert view().metadata()["outputs"]["value"] == {"accuracy": 0.9, "loss": 0.1}
    tracking.log_inputs(reset=True, lr=0.2)
    tracking.log_outputs(reset=True, accuracy=0.95)
    assert view().params.get() == {"lr": 0.2}
    assert view().metadata()["outputs"]["value"] == {"accuracy": 0.95}


def test_statuses_are_sticky_and_end_finishes_the_run() -> None:
    tracking.init()
    tracking.log_status("queued", message="waiting")
    assert (view().status, view().info.extra["polyaxon_status"]) == ("running", "queued")
    tracking.log_failed(reason="OOM", message="out of memory")
    tracking.log_succeeded()
    tracking.end()
    info = view().info
    assert info.status == "failed"
    assert info.extra["status_reason"] == "OOM"
    assert info.status_history[-1].message == "out of memory"
    with pytest.raises(InvalidArgumentError, match="not one of"):
        tracking.log_status("melted")


def test_end_succeeds_and_later_logging_is_still_stored() -> None:
    tracking.init()
    tracking.end()
    assert view().status == "succeeded"
    tracking.log_metric("late", 1.0)
    assert view().status == "succeeded"
    assert view().metrics().read()["data"][0]["data"]["late"] == 1.0


@pytest.mark.parametrize(
    ("helper", "status", "message"),
    [
        ("log_succeeded", "succeeded", "Operation has succeeded"),
        ("log_stopped", "stopped", "Operation is stopped"),
    ],
)
def test_terminal_helpers_carry_polyaxons_default_messages(
    helper: str, status: str, message: str
) -> None:
    tracking.init()
    getattr(tracking, helper)()
    info = view().info
    assert (info.status, info.status_history[-1].message) == (status, message)


def test_default_artifact_name_is_the_base_name_up_to_the_first_dot(workdir: Path) -> None:
    (workdir / "model.tar.gz").write_bytes(b"tgz")
    tracking.init()
    tracking.log_artifact("model.tar.gz", step=3)
    tracking.log_artifact("model.tar.gz", artifact_kind=V1ArtifactKind.MODEL)
    assert (folder() / "assets/file/model_3.tar.gz").read_bytes() == b"tgz"
    assert (folder() / "outputs/model.tar.gz").read_bytes() == b"tgz"
    (record,) = view().lineage()
    assert (record.name, record.kind) == ("model", "model")


def test_versioned_false_with_a_step_goes_to_outputs(workdir: Path) -> None:
    (workdir / "w.bin").write_bytes(b"w")
    tracking.init()
    tracking.log_artifact("w.bin", name="w", step=5, versioned=False)
    tracking.log_model("w.bin", name="m", step=5, versioned=False)
    assert (folder() / "outputs/w.bin").is_file()
    assert (folder() / "outputs/model/w.bin").is_file()
    assert not (folder() / "assets").exists()


def test_asset_helpers_write_polyaxon_paths_and_read_back() -> None:
    tracking.init()
    image = np.zeros((3, 4, 5), dtype=np.uint8)  # CHW
    image[0] = 255
    tracking.log_image(image, name="sample", step=2, dataformats="CHW")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    tracking.log_dataframe(frame, "table", step=1)
    tracking.log_histogram("weights", np.arange(10.0), bins=2, step=4)
    tracking.log_text("notes", "line 1|with pipe\nline 2", step=1)
    tracking.log_html("report", "<b>ok</b>", step=1)
    root = folder()
    assert (root / "assets/image/sample_2.png").read_bytes()[:4] == b"\x89PNG"
    assert (root / "assets/dataframe/table_1.csv").is_file()
    pixels = view().asset("sample", 2).image()
    assert pixels.shape == (4, 5, 3) and pixels[0, 0].tolist() == [255, 0, 0]
    assert view().asset("table", 1).dataframe().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    edges, counts = view().asset("weights", 4).histogram()
    assert (edges.tolist(), counts.tolist()) == ([0.0, 4.5, 9.0], [5, 5])
    (line,) = (root / "events/text/notes.plx").read_text().splitlines()
    assert json.loads(line)["text"] == "line 1|with pipe\nline 2"
    assert view().asset("report", 1).text() == "<b>ok</b>"


def test_data_and_code_references() -> None:
    tracking.init()
    tracking.log_data_ref("train/set", content="a,b\n1,2\n", path="s3://bucket/train.csv")
    assert (
        tracking.log_code_ref(
            {"commit": "abc123", "branch": "main", "url": "https://example.com/repo"}
        )
        is not None
    )
    data, code = view().lineage()
    assert (data.name, data.kind, data.is_input, data.path) == (
        "train__set",
        "data",
        True,
        "s3://bucket/train.csv",
    )
    assert data.hash
    assert (code.kind, code.is_input) == ("coderef", True)


def test_no_op_mode(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_NO_OP", "true")
    assert tracking.init(project="x") is None
    assert tracking.log_metric("loss", 1.0) is None
    assert tracking.get_outputs_path("a") is None
    assert tracking.log_artifact("does/not/exist") is None
    assert tracking.end() is None
    assert tracking.TRACKING_RUN is None
    assert runlane.runs() == []


SCRIPT = """
import sys
from runlane.compat.polyaxon import tracking
tracking.init(project="alice/life")
tracking.log_metric("loss", 0.5, step=1)
print(tracking.TRACKING_RUN.id, flush=True)
if sys.argv[1] == "raise":
    raise ValueError("bad batch")
"""


def test_lifecycle_succeeded_at_exit_and_failed_on_an_uncaught_exception(root: Path) -> None:
    env = {**os.environ, "RUNLANE_DIR": str(root), "RUNLANE_CAPTURE": "none"}
    ids = {}
    for mode in ("exit", "raise"):
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        ids[mode] = proc.stdout.strip()
        assert proc.returncode == (0 if mode == "exit" else 1)
    assert runlane.open(ids["exit"]).status == "succeeded"
    failed = runlane.open(ids["raise"]).info
    assert failed.status == "failed"
    assert "ValueError: bad batch" in str(failed.status_history[-1].message)
