"""``runlane.compat.fedml.log``/``log_metric``: seed 000's examples and FedML's algorithm
(seed-systems.md §1.2), read back through ``runlane.open``."""

from __future__ import annotations

from typing import Any

import pytest

import runlane
from runlane.errors import InvalidArgumentError, InvalidValueError


def rows(run_id: str) -> list[dict[str, Any]]:
    """The default stream's rows without their wallclock (asserted separately)."""
    runlane.finish()
    view = runlane.open(run_id)
    out = []
    for point in view.metrics().read(0, 1000)["data"]:
        data = dict(point["data"])
        assert isinstance(data.pop("_ts"), float)
        out.append(data)
    return out


def current_id() -> str:
    run = runlane.current_run()
    assert run is not None
    return run.id


def test_seed_log_example() -> None:
    from runlane.compat import fedml

    fedml.log({"ACC": 0.1})
    fedml.log({"acc": 0.11})
    fedml.log({"acc": 0.2})
    fedml.log({"acc": 0.3})

    fedml.log({"acc": 0.31}, step=1)
    fedml.log({"acc": 0.32, "x_index": 2}, step=2, customized_step_key="x_index")
    fedml.log({"loss": 0.33}, customized_step_key="x_index", commit=False)
    fedml.log({"acc": 0.34}, step=4, customized_step_key="x_index", commit=True)

    run = runlane.current_run()
    assert run is not None
    assert run.step == 4  # four calls without a step; explicit steps did not move it
    assert run.info.project == fedml.PROJECT
    plain = {"x_axis_keys": "step,timestamp", "y_axis_keys": "acc"}
    assert rows(run.id) == [
        {"acc": 0.1, **plain, "_step": 0},
        {"acc": 0.11, **plain, "_step": 1},
        {"acc": 0.2, **plain, "_step": 2},
        {"acc": 0.3, **plain, "_step": 3},
        {"acc": 0.31, **plain, "_step": 1},
        {
            "acc": 0.32,
            "x_index": 2,
            "x_axis_keys": "step,timestamp,x_index",
            "y_axis_keys": "acc",
            "_step": 2,
            "_x": "x_index",
        },
        # the buffered loss merged into the next commit, which chose the step
        {
            "loss": 0.33,
            "acc": 0.34,
            "x_axis_keys": "step,timestamp",
            "y_axis_keys": "loss,acc",
            "_step": 4,
        },
    ]


def test_keys_are_lower_cased_and_slashes_become_dashes() -> None:
    from runlane.compat import fedml

    fedml.log({"Train/Loss": 1.5, "ACC": 0.5, "Round/Idx": 3}, customized_step_key="ROUND/idx")
    assert rows(current_id()) == [
        {
            "train-loss": 1.5,
            "acc": 0.5,
            "round-idx": 3,
            "x_axis_keys": "step,timestamp,round-idx",
            "y_axis_keys": "train-loss,acc",
            "_step": 0,
            "_x": "round-idx",
        }
    ]


def test_axis_names_are_x_keys_and_the_custom_key_is_never_a_y_key() -> None:
    from runlane.compat import fedml

    fedml.log({"epoch": 1, "round": 2, "iteration": 7, "loss": 0.5})
    fedml.log({"loss": 0.4, "my_x": 9}, customized_step_key="my_x")
    fedml.log({"loss": 0.3}, customized_step_key="my_x")  # key absent: not an x key here
    got = [(r["x_axis_keys"], r["y_axis_keys"], r.get("_x")) for r in rows(current_id())]
    assert got == [
        ("step,timestamp,epoch,round,iteration", "loss", None),
        ("step,timestamp,my_x", "loss", "my_x"),
        ("step,timestamp", "loss", None),
    ]


def test_buffered_fields_merge_into_the_next_commit_later_values_winning() -> None:
    from runlane.compat import fedml

    fedml.log({"a": 1, "b": 1}, commit=False)
    fedml.log({"b": 2, "epoch": 5}, customized_step_key="c", commit=False)
    fedml.log({"c": 3}, customized_step_key="c")
    fedml.log({"d": 4})
    assert rows(current_id()) == [
        {
            "a": 1,
            "b": 2,
            "epoch": 5,
            "c": 3,
            "x_axis_keys": "step,timestamp,epoch,c",
            "y_axis_keys": "a,b",
            "_step": 0,
            "_x": "c",
        },
        {"d": 4, "x_axis_keys": "step,timestamp", "y_axis_keys": "d", "_step": 1},
    ]


def test_logs_into_the_current_run_when_there_is_one() -> None:
    from runlane.compat import fedml

    run = runlane.init("alice/federated", name="fl-1")
    fedml.log({"acc": 0.5})
    fedml.log_metric({"acc": 0.6}, step=10)
    assert runlane.current_run() is run
    assert [(r["acc"], r["_step"]) for r in rows(run.id)] == [(0.5, 0), (0.6, 10)]


def test_run_id_selects_a_run_and_edge_id_becomes_the_source() -> None:
    from runlane.compat import fedml

    fedml.log_metric({"acc": 0.1}, run_id=1234, edge_id=7)
    fedml.log_metric({"acc": 0.2}, run_id="1234", edge_id="8")
    info = runlane.open("1234").info
    assert (info.id, info.project) == ("1234", fedml.PROJECT)
    assert [(r["acc"], r["_source"]) for r in rows("1234")] == [(0.1, "7"), (0.2, "8")]


def test_fedml_environment_variables_pick_run_and_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    from runlane.compat import fedml

    monkeypatch.setenv("FEDML_CURRENT_RUN_ID", "777")
    monkeypatch.setenv("FEDML_CURRENT_EDGE_ID", "3")
    fedml.log({"loss": 1.0})
    fedml.log({"loss": 0.5})
    assert current_id() == "777"
    assert [(r["loss"], r["_step"], r["_source"]) for r in rows("777")] == [
        (1.0, 0, "3"),
        (0.5, 1, "3"),
    ]


def test_without_platform_or_environment_a_run_is_created_on_first_use() -> None:
    from runlane.compat import fedml

    assert runlane.current_run() is None
    fedml.log({"acc": 1})
    run = runlane.current_run()
    assert run is not None
    assert run.info.project == "fedml"
    assert run.info.status == "running"


def test_bad_arguments_raise_before_anything_is_logged() -> None:
    from runlane.compat import fedml

    fedml.log({"ok": 1})
    with pytest.raises(InvalidValueError, match="dict"):
        fedml.log([("acc", 1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="step"):
        fedml.log({"acc": 1}, step=-1)
    with pytest.raises(InvalidValueError, match="acc"):
        fedml.log({"acc": object()})
    assert [r["ok"] for r in rows(current_id())] == [1]
