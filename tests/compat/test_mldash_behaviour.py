"""``runlane.compat.mldash`` beyond the seed: ML-Dash 0.11's documented behaviour
(seed-systems.md §5) and where the facade deliberately does better."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import runlane
from runlane.compat.mldash import Experiment
from runlane.errors import InvalidArgumentError

PREFIX = "bob/rl/runs/a1"


def view(root: str = ".dash", prefix: str = PREFIX) -> runlane.RunView:
    return runlane.open(prefix, dir=root)


def data(stream: str) -> list[dict[str, object]]:
    points = view().metrics(stream).read(0, 100)["data"]
    return [{k: v for k, v in p["data"].items() if k != "_ts"} for p in points]


# --- lifecycle --------------------------------------------------------------------------------


def test_context_manager_completes_and_fails() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.log("ok")
    assert view().status == "succeeded"
    with pytest.raises(RuntimeError), Experiment(prefix="bob/rl/runs/a2").run as exp2:
        exp2.log("about to fail")
        raise RuntimeError("boom")
    failed = view(prefix="bob/rl/runs/a2").info
    assert failed.status == "failed"
    assert failed.extra["error"]["message"] == "boom"


@pytest.mark.parametrize(
    ("method", "status"), [("complete", "succeeded"), ("fail", "failed"), ("cancel", "stopped")]
)
def test_explicit_start_and_end(method: str, status: str) -> None:
    exp = Experiment(prefix=PREFIX)
    assert exp.run.start() is exp
    exp.params.set(a=1)
    getattr(exp.run, method)()
    assert view().status == status
    assert view().params.get() == {"a": 1}


def test_the_run_folder_is_dash_root_slash_prefix_and_reopening_resumes(tmp_path: Path) -> None:
    root = tmp_path / "elsewhere"
    exp = Experiment(
        prefix="o/p/f1/f2/name",
        dash_root=str(root),
        readme="first",
        tags=["a"],
        bindrs=["b1"],
        metadata={"gpu": "a100"},
    )
    with exp.run:
        exp.metrics("m").log(v=1)
    first = runlane.open(str(root / "o/p/f1/f2/name")).info
    assert (first.owner, first.project, first.folder, first.name) == ("o", "p", "f1/f2", "name")
    assert first.description == "first"
    assert first.tags == ("a",)
    assert first.extra == {"bindrs": ["b1"], "metadata": {"gpu": "a100"}}
    again = Experiment(prefix="o/p/f1/f2/name", dash_root=str(root), readme="second", tags=["c"])
    with again.run:
        again.metrics("m").log(v=2)
        assert again.id == first.id
    info = runlane.open(str(root / "o/p/f1/f2/name")).info
    assert (info.description, info.tags) == ("second", ("c",))
    assert [p["data"]["v"] for p in runlane.open(first.path or "").metrics("m").read()["data"]] == [
        1,
        2,
    ]


def test_default_dash_root_is_dot_dash_in_the_working_folder(workdir: Path) -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.params.set(x=1)
    assert (workdir / ".dash" / PREFIX / "experiment.json").is_file()
    with Experiment(prefix=PREFIX, local_path="legacy").run as old:  # deprecated spelling
        old.params.set(x=2)
    assert (workdir / "legacy" / PREFIX / "parameters.json").is_file()


def test_an_experiment_opens_itself_on_first_use() -> None:
    exp = Experiment(prefix=PREFIX)
    exp.params.set(lr=0.1)  # ML-Dash raises here until run.start()
    exp.run.complete()
    assert view().params.get() == {"lr": 0.1}
    assert view().status == "succeeded"


def test_bad_prefixes_and_remote_mode_raise() -> None:
    with pytest.raises(InvalidArgumentError, match="3 segments"):
        Experiment(prefix="owner/project")
    with pytest.raises(InvalidArgumentError, match="prefix"):
        Experiment()
    with pytest.raises(InvalidArgumentError, match="dash_url"):
        Experiment(prefix=PREFIX, dash_url="https://api.dash.ml")
    with pytest.raises(InvalidArgumentError, match="dash_url"):
        Experiment(prefix=PREFIX, remote="https://api.dash.ml")


def test_prefix_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_DASH_PREFIX", "env/proj/exp")
    with Experiment().run as exp:
        exp.params.set(a=1)
    assert view(prefix="env/proj/exp").params.get() == {"a": 1}


# --- params -----------------------------------------------------------------------------------


def test_params_always_merge_and_bump_the_version() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.params.set(model={"lr": 0.001, "batch_size": 32}, optimizer="adam")
        exp.params.set(model={"lr": 0.0001})
        exp.params.log(epochs=3)
        assert exp.params.get() == {
            "model.lr": 0.0001,
            "model.batch_size": 32,
            "optimizer": "adam",
            "epochs": 3,
        }
    doc = json.loads(Path(".dash", PREFIX, "parameters.json").read_text())
    assert doc["version"] == 3
    assert view().params.version == 3


def test_params_edge_cases_lists_empty_dicts_dots_classes_and_reset_name() -> None:
    class Args:
        batch_size = 64
        lr = 0.001
        _private = 1

        def method(self) -> None:
            pass

    with Experiment(prefix=PREFIX).run as exp:
        exp.params.set(layers=[64, 32], empty={}, **{"a.b": 1}, Args=Args, reset=True)
    assert view().params.get() == {
        "layers": [64, 32],
        "a.b": 1,
        "Args.batch_size": 64,
        "Args.lr": 0.001,
        "reset": True,
    }


def test_params_get_nested_survives_a_prefix_collision() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.params.set(optimizer="adam")
        exp.params.set(optimizer={"type": "sgd"})
        nested = exp.params.get(flatten=False)  # ML-Dash raises TypeError here
    assert nested == {"optimizer": {"": "adam", "type": "sgd"}}


# --- metrics ----------------------------------------------------------------------------------


def test_unnamed_metrics_and_dict_arguments() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.metrics.log(
            epoch=100, train=dict(loss=0.142, accuracy=0.80), eval=dict(loss=0.201, accuracy=0.76)
        )
        exp.metrics.log(epoch=101).flush()
        exp.metrics.log(lr=0.1, _flush=True)
    assert Path(".dash", PREFIX, "metrics/None/data.jsonl").is_file()
    assert data("None") == [{"epoch": 100}, {"epoch": 101}, {"lr": 0.1}]
    assert data("train") == [{"epoch": 100, "loss": 0.142, "accuracy": 0.80}]
    assert data("eval") == [{"epoch": 100, "loss": 0.201, "accuracy": 0.76}]


def test_ts_is_consumed_and_minus_one_reuses_the_previous_timestamp() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.metrics("a").log(x=1, _ts=1000.5)
        exp.metrics("b").log(y=2, _ts=-1)
        exp.metrics.log(z=3, _ts=2000.0, nested=dict(w=4))
    stamps = [
        p["data"] for s in ("a", "b", "None", "nested") for p in view().metrics(s).read()["data"]
    ]
    assert stamps == [
        {"x": 1, "_ts": 1000.5},
        {"y": 2, "_ts": 1000.5},
        {"z": 3, "_ts": 2000.0},
        {"z": 3, "w": 4, "_ts": 2000.0},
    ]


def test_read_pages_by_index() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        for i in range(5):
            exp.metrics("m").log(i=i)
        page = exp.metrics("m").read(start_index=1, limit=2)
        assert [p["index"] for p in page["data"]] == [1, 2]
        assert (page["startIndex"], page["endIndex"], page["total"], page["hasMore"]) == (
            1,
            2,
            2,
            True,
        )
        last = exp.metrics("m").read(start_index=4, limit=10)
        assert (last["endIndex"], last["total"], last["hasMore"]) == (4, 1, False)
        assert all(p["createdAt"].endswith("Z") for p in page["data"])


def test_stats_of_an_unknown_metric_raises_and_list_all_has_mldash_shape() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        with pytest.raises(FileNotFoundError, match="nope"):
            exp.metrics("nope").stats()
        exp.metrics("train").log(loss=1)
        exp.metrics("train").log(loss=2)
        exp.metrics("eval").log(loss=3)
        listed = sorted(exp.metrics("train").list_all(), key=lambda m: str(m["name"]))
    assert [(m["metricId"], m["name"], m["totalDataPoints"]) for m in listed] == [
        ("local-metric-eval", "eval", "1"),
        ("local-metric-train", "train", "2"),
    ]
    assert all(str(m["createdAt"]).endswith("Z") and m["tags"] == [] for m in listed)


# --- logs -------------------------------------------------------------------------------------


def test_levels_are_validated_case_insensitively_and_warning_is_accepted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.log("a", level="DEBUG")
        exp.log("b", level="warning")
        exp.log("c", level="Fatal", extra_key=1)
        with pytest.raises(ValueError, match="log level"):
            exp.log("d", level="verbose")
    assert [(r.level, r.message, r.metadata) for r in view().logs()] == [
        ("debug", "a", None),
        ("warn", "b", None),
        ("fatal", "c", {"extra_key": 1}),
    ]
    printed = capsys.readouterr()
    assert printed.out == "[DEBUG] a\n[WARN] b\n"
    assert printed.err == "[FATAL] c [extra_key=1]\n"


def test_fluent_logs_and_the_deprecated_builder() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.logs.info("started", epoch=1)
        exp.logs.warn("careful")
        exp.logs.error("bad", code=500)
        exp.logs.debug("dbg")
        exp.logs.fatal("dead")
        builder = exp.log(metadata={"run": 7})
        assert builder is not None
        builder.info("with builder metadata", more=True)
    assert [(r.level, r.message, r.metadata) for r in view().logs()] == [
        ("info", "started", {"epoch": 1}),
        ("warn", "careful", None),
        ("error", "bad", {"code": 500}),
        ("debug", "dbg", None),
        ("fatal", "dead", None),
        ("info", "with builder metadata", {"run": 7, "more": True}),
    ]
    lines = Path(".dash", PREFIX, "logs/logs.jsonl").read_text().splitlines()
    assert "metadata" not in json.loads(lines[1])  # omitted when empty, as ML-Dash does
    assert [json.loads(line)["sequenceNumber"] for line in lines] == [0, 1, 2, 3, 4, 5]


# --- tracks -----------------------------------------------------------------------------------


def test_tracks_merge_same_timestamps_flatten_and_sanitise_the_topic() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        exp.tracks("camera/rgb").append(frame_id=0, _ts=0.0)
        exp.tracks("camera/rgb").append(path="frame_0.png", _ts=0.0)
        exp.tracks("camera/rgb").append(pose={"x": 1.0, "y": 2.0}, _ts=1.0)
        exp.tracks("camera/rgb").flush()
        exp.tracks.flush()
        assert exp.tracks("camera/rgb").read(0.5) == [
            {"timestamp": 1.0, "pose.x": 1.0, "pose.y": 2.0}
        ]
    assert view().tracks("camera/rgb").read() == [
        {"timestamp": 0.0, "frame_id": 0, "path": "frame_0.png"},
        {"timestamp": 1.0, "pose.x": 1.0, "pose.y": 2.0},
    ]
    meta = json.loads(Path(".dash", PREFIX, "tracks/camera_rgb/metadata.json").read_text())
    assert meta["topic"] == "camera/rgb"
    assert meta["trackId"] == "local-track-camera_rgb"


def test_auto_timestamps_are_strictly_increasing() -> None:
    with Experiment(prefix=PREFIX).run as exp:
        for i in range(50):
            exp.tracks("t").append(i=i)
        exp.flush()
    stamps = [e["timestamp"] for e in view().tracks("t").read()]
    assert len(stamps) == 50
    assert all(b > a for a, b in itertools.pairwise(stamps))
