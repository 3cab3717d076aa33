"""Files written by ``runlane.compat.mldash`` are read back by the real ``ml-dash`` 0.11
package (local mode), and what ``ml-dash`` adds to them stays readable by runlane."""

from __future__ import annotations

from pathlib import Path

import ml_dash  # the real package, a dev dependency (ml-dash==0.11.0)
import pytest

import runlane
from runlane.compat import mldash

PREFIX = "carol/nlp/sweep-3/bert-base"


@pytest.fixture(autouse=True)
def _unbuffered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ML_DASH_BUFFER_ENABLED", "false")


def write_with_runlane(root: Path) -> None:
    with mldash.Experiment(
        prefix=PREFIX, dash_root=str(root), readme="bert", tags=["nlp"]
    ).run as exp:
        exp.params.set(model={"name": "bert", "layers": 12}, lr=3e-5, tags_list=["a", "b"])
        for step in range(3):
            exp.metrics("train").log(loss=1.0 / (step + 1), step=step)
        exp.metrics.log(epoch=1, eval=dict(acc=0.9))
        exp.log("Epoch completed", level="info", metadata={"epoch": 1})
        exp.log("GPU memory low", level="warn")
        exp.tracks("robot/position").append(q=[0.1, 0.2], _ts=1.5)


def test_mldash_reads_params_metrics_logs_and_tracks_written_by_the_facade(
    tmp_path: Path,
) -> None:
    root = tmp_path / "dash"
    write_with_runlane(root)

    reader = ml_dash.Experiment(prefix=PREFIX, dash_root=str(root))
    with reader.run as exp:
        assert exp.params.get() == {
            "model.name": "bert",
            "model.layers": 12,
            "lr": 3e-5,
            "tags_list": ["a", "b"],
        }
        assert exp.params.get(flatten=False) == {
            "model": {"name": "bert", "layers": 12},
            "lr": 3e-5,
            "tags_list": ["a", "b"],
        }
        page = exp.metrics("train").read(start_index=1, limit=10)
        assert [p["index"] for p in page["data"]] == [1, 2]
        assert [p["data"]["loss"] for p in page["data"]] == [0.5, 1.0 / 3]
        assert all("_ts" in p["data"] for p in page["data"])
        assert (page["startIndex"], page["endIndex"], page["total"], page["hasMore"]) == (
            1,
            2,
            2,
            False,
        )
        stats = exp.metrics("train").stats()
        assert (stats["metricId"], stats["totalDataPoints"]) == ("local-metric-train", "3")
        names = {m["name"]: m["totalDataPoints"] for m in exp.metrics("train").list_all()}
        assert names == {"train": "3", "None": "1", "eval": "1"}
        assert exp.metrics("eval").read()["data"][0]["data"]["acc"] == 0.9
        track = exp.tracks("robot/position").read(format="json")
        assert track["entries"] == [{"timestamp": 1.5, "q": [0.1, 0.2]}]
        exp.log("appended by ml-dash", level="info")
        exp.metrics("train").log(loss=0.1, step=3)

    # ML-Dash has no log reader: its logs.jsonl lines are read as ML-Dash writes them
    import json

    lines = [json.loads(x) for x in (root / PREFIX / "logs/logs.jsonl").read_text().splitlines()]
    assert [(x["sequenceNumber"], x["level"], x["message"]) for x in lines] == [
        (0, "info", "Epoch completed"),
        (1, "warn", "GPU memory low"),
        (2, "info", "appended by ml-dash"),
    ]
    assert lines[0]["metadata"] == {"epoch": 1}

    # ... and runlane still reads the run, with ML-Dash's appends
    view = runlane.open(PREFIX, dir=root)
    assert [p["data"]["loss"] for p in view.metrics("train").read()["data"]] == [
        1.0,
        0.5,
        1.0 / 3,
        0.1,
    ]
    assert [r.message for r in view.logs()][-1] == "appended by ml-dash"
    assert view.info.description == "bert"


def test_the_facade_continues_an_experiment_written_by_mldash(tmp_path: Path) -> None:
    root = tmp_path / "dash"
    with ml_dash.Experiment(prefix=PREFIX, dash_root=str(root)).run as exp:
        exp.params.set(lr=0.1)
        exp.metrics("train").log(loss=2.0)
        exp.log("from ml-dash")
    with mldash.Experiment(prefix=PREFIX, dash_root=str(root)).run as exp2:
        assert exp2.params.get() == {"lr": 0.1}
        exp2.params.set(epochs=2)
        exp2.metrics("train").log(loss=1.0)
        exp2.log("from runlane")
        assert exp2.metrics("train").read()["total"] == 2
    view = runlane.open(PREFIX, dir=root)
    assert view.params.get() == {"lr": 0.1, "epochs": 2}
    assert [p["data"]["loss"] for p in view.metrics("train").read()["data"]] == [2.0, 1.0]
    assert [r.message for r in view.logs()] == ["from ml-dash", "from runlane"]


def test_stream_description_tags_and_metadata_reach_mldash(tmp_path: Path) -> None:
    root = tmp_path / "dash"
    with mldash.Experiment(prefix=PREFIX, dash_root=str(root)).run as exp:
        exp.metrics("train", description="training loss", tags=["core"], metadata={"unit": "nats"})
        exp.metrics("train").log(loss=0.5, step=0)
        mine = {m["name"]: m for m in exp.metrics.list_all()}
    assert (mine["train"]["description"], mine["train"]["tags"]) == ("training loss", ["core"])
    (info,) = runlane.open(PREFIX, dir=root).streams()
    assert (info.description, info.tags, info.metadata) == (
        "training loss",
        ("core",),
        {"unit": "nats"},
    )
    reader = ml_dash.Experiment(prefix=PREFIX, dash_root=str(root))
    with reader.run as exp2:
        theirs = {m["name"]: m for m in exp2.metrics("train").list_all()}
    assert (theirs["train"]["description"], theirs["train"]["tags"]) == ("training loss", ["core"])
