"""``run.log`` and metric streams: steps, buffering, x-axis, time, values, names and reads."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import runlane
from runlane.errors import InvalidArgumentError, InvalidNameError, InvalidValueError
from runlane.sdk.run import Run

NewRun = Callable[..., Run]


def rows(run: runlane.RunView, stream: str = "default") -> list[dict[str, Any]]:
    return [item["data"] for item in run.metrics(stream).read(0, 100_000)["data"]]


# --- steps ------------------------------------------------------------------------------------


def test_global_step_advances_on_committed_calls_only(new_run: NewRun) -> None:
    run = new_run()
    assert run.step == 0
    run.log({"a": 1})
    run.log({"a": 2})
    assert run.step == 2
    run.log({"b": 1}, commit=False)
    assert run.step == 2
    run.log({"a": 3})
    assert run.step == 3
    assert [r["_step"] for r in rows(run)] == [0, 1, 2]


def test_explicit_step_does_not_move_the_counter(new_run: NewRun) -> None:
    run = new_run()
    run.log({"a": 1})
    run.log({"a": 2}, step=100)
    run.log({"a": 3}, step=np.int64(7))
    run.log({"a": 4})
    assert run.step == 2
    assert [(r["a"], r["_step"]) for r in rows(run)] == [(1, 0), (2, 100), (3, 7), (4, 1)]


@pytest.mark.parametrize("step", [-1, 1.5, "3", True, [1]])
def test_invalid_steps_raise(new_run: NewRun, step: object) -> None:
    run = new_run()
    with pytest.raises(InvalidArgumentError, match="step"):
        run.log({"a": 1}, step=step)  # type: ignore[arg-type]
    assert rows(run) == []
    assert run.step == 0


# --- commit=False buffering -------------------------------------------------------------------


def test_uncommitted_fields_merge_into_the_next_committed_row(new_run: NewRun) -> None:
    run = new_run()
    run.log({"a": 1, "b": 1}, commit=False)
    run.log({"b": 2, "c": 2}, commit=False)  # later buffered call wins
    assert rows(run) == []
    run.log({"c": 3, "d": 3})  # the committing call wins over the buffer
    run.log({"e": 5})
    got = rows(run)
    assert len(got) == 2
    assert {k: v for k, v in got[0].items() if not k.startswith("_")} == {
        "a": 1,
        "b": 2,
        "c": 3,
        "d": 3,
    }
    assert got[0]["_step"] == 0
    assert {k for k in got[1] if not k.startswith("_")} == {"e"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"step": -1}, InvalidArgumentError),
        ({"step": "7"}, InvalidArgumentError),
        ({"x_axis": ""}, InvalidNameError),
        ({"timestamp": "now"}, InvalidArgumentError),
    ],
)
def test_a_refused_commit_keeps_the_buffer_and_the_counter(
    new_run: NewRun, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    run = new_run()
    run.log({"a": 1}, commit=False)
    with pytest.raises(error):
        run.log({"b": 2}, **kwargs)
    assert run.step == 0
    run.log({"c": 3})
    (row,) = rows(run)
    assert (row["a"], row["c"], row["_step"]) == (1, 3, 0)
    assert "b" not in row


def test_finish_commits_a_pending_buffer(new_run: NewRun) -> None:
    run = new_run()
    run.log({"a": 1}, commit=False)
    run.finish()
    got = rows(runlane.open(run.id))
    assert [r["a"] for r in got] == [1]


# --- x axis and time --------------------------------------------------------------------------


def test_custom_x_axis_is_recorded_per_row(new_run: NewRun) -> None:
    run = new_run()
    run.log({"loss": 1.0, "epoch": 0.5}, x_axis="epoch")
    run.log({"loss": 0.5})
    first, second = rows(run)
    assert first["_x"] == "epoch"
    assert "_x" not in second


def test_wallclock_is_stamped_and_can_be_overridden(new_run: NewRun) -> None:
    run = new_run()
    before = time.time()
    run.log({"a": 1})
    after = time.time()
    run.log({"a": 2}, timestamp=1_600_000_000.25)
    run.log({"a": 3}, timestamp=1_600_000_001)
    first, second, third = rows(run)
    assert before <= first["_ts"] <= after
    assert second["_ts"] == 1_600_000_000.25
    assert third["_ts"] == 1_600_000_001.0
    with pytest.raises(InvalidArgumentError, match="timestamp"):
        run.log({"a": 4}, timestamp="now")  # type: ignore[arg-type]


def test_source_is_recorded(new_run: NewRun) -> None:
    run = new_run(source="rank0")
    run.log({"a": 1})
    run.log({"a": 2}, source="rank1")
    assert [r["_source"] for r in rows(run)] == ["rank0", "rank1"]


# --- values -------------------------------------------------------------------------------------


def test_value_types_round_trip(new_run: NewRun) -> None:
    run = new_run()
    run.log(
        {
            "int": 3,
            "float": 0.25,
            "nan": math.nan,
            "pinf": math.inf,
            "ninf": -math.inf,
            "bool": False,
            "str": "text",
            "bytes": b"\x00\x01\xff",
            "np32": np.float32(1.5),
            "npint": np.int16(-4),
            "npbool": np.bool_(True),
            "zero_d": np.array(2.5),
            "none": None,
        }
    )
    run.finish()
    (row,) = rows(runlane.open(run.id))
    assert row["int"] == 3 and type(row["int"]) is int
    assert row["float"] == 0.25
    assert math.isnan(row["nan"])
    assert row["pinf"] == math.inf
    assert row["ninf"] == -math.inf
    assert row["bool"] is False
    assert row["str"] == "text"
    assert row["bytes"] == b"\x00\x01\xff"
    assert row["np32"] == 1.5 and type(row["np32"]) is float
    assert row["npint"] == -4 and type(row["npint"]) is int
    assert row["npbool"] is True
    assert row["zero_d"] == 2.5
    assert row["none"] is None


def test_nonfinite_values_read_back_through_columns(new_run: NewRun) -> None:
    run = new_run()
    for value in (1.0, math.nan, math.inf, -math.inf):
        run.log({"v": value})
    values = run.metrics().columns(["v"])["v"]
    assert values[0] == 1.0 and math.isnan(values[1])
    assert values[2:].tolist() == [math.inf, -math.inf]


@pytest.mark.parametrize(
    "bad",
    [object(), [1, 2], {"nested": 1}, np.zeros(3), np.ones((2, 2)), {1, 2}],
    ids=["object", "list", "dict", "array", "matrix", "set"],
)
def test_unstorable_values_raise_type_error_and_queue_nothing(new_run: NewRun, bad: object) -> None:
    run = new_run()
    run.log({"ok": 1}, commit=False)
    with pytest.raises(TypeError) as info:
        run.log({"fine": 1.0, "weights": bad})
    assert isinstance(info.value, InvalidValueError)
    assert "'weights'" in str(info.value)
    assert run.step == 0
    assert rows(run) == []
    with pytest.raises(InvalidValueError, match="'w'"):
        run.metrics("other").log(w=bad)
    assert rows(run, "other") == []
    run.log({"after": 2})  # the earlier buffer is intact, the failed row left nothing
    (row,) = rows(run)
    assert {k for k in row if not k.startswith("_")} == {"ok", "after"}


def test_log_takes_a_mapping(new_run: NewRun) -> None:
    run = new_run()
    with pytest.raises(InvalidValueError, match="list"):
        run.log([("a", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["_step", "_ts", "_x", "_source", "_private"])
def test_reserved_underscore_keys_are_refused(new_run: NewRun, key: str) -> None:
    run = new_run()
    with pytest.raises(InvalidArgumentError, match=f"'{key}'.*reserved"):
        run.log({key: 1})
    with pytest.raises(InvalidArgumentError, match="reserved"):
        run.metrics("s").log(**{"_other": 1})
    assert rows(run) == []


@pytest.mark.parametrize("key", ["", "a\nb", "x" * 300])
def test_invalid_field_names_are_refused(new_run: NewRun, key: str) -> None:
    run = new_run()
    with pytest.raises(InvalidNameError):
        run.log({key: 1})


@pytest.mark.parametrize("name", ["", "a/b", "../up", "a..b", "x" * 129, "bad\x00"])
def test_invalid_stream_names_are_refused(new_run: NewRun, name: str) -> None:
    run = new_run()
    with pytest.raises(InvalidNameError, match="stream name"):
        run.metrics(name)


def test_logging_after_finish_raises(new_run: NewRun) -> None:
    run = new_run()
    run.finish()
    with pytest.raises(runlane.RunStateError, match="finished"):
        run.log({"a": 1})
    with pytest.raises(runlane.RunStateError):
        run.metrics("s").log(a=1)


# --- named streams --------------------------------------------------------------------------------


def test_named_stream_log_and_ts_reuse(new_run: NewRun) -> None:
    run = new_run()
    stream = run.metrics("train")
    assert stream.log(loss=1.0) is stream
    stream.log(loss=0.5, _ts=-1)
    stream.log(loss=0.25, _ts=1234.5, _source="w1")
    run.metrics("eval").append(acc=0.9)
    first, second, third = rows(run, "train")
    assert second["_ts"] == first["_ts"]
    assert third["_ts"] == 1234.5 and third["_source"] == "w1"
    assert "_step" not in first
    assert [r["acc"] for r in rows(run, "eval")] == [0.9]


def test_list_of_streams(new_run: NewRun) -> None:
    run = new_run()
    run.log({"a": 1})
    run.metrics("eval").log(acc=1, note="x")
    streams = {s.name: s for s in run.streams()}
    assert set(streams) == {"default", "eval"}
    assert streams["eval"].count == 1
    assert {"acc", "note", "_ts"} <= set(streams["eval"].fields)


# --- reads --------------------------------------------------------------------------------------


def test_read_shape_follows_ml_dash(new_run: NewRun) -> None:
    run = new_run()
    for i in range(5):
        run.log({"v": i})
    page = run.metrics().read(start_index=1, limit=3)
    assert set(page) == {"data", "startIndex", "endIndex", "total", "hasMore"}
    assert [d["index"] for d in page["data"]] == [1, 2, 3]
    assert all(set(d) == {"index", "data", "createdAt"} for d in page["data"])
    assert (page["startIndex"], page["endIndex"], page["total"], page["hasMore"]) == (1, 3, 3, True)
    rest = run.metrics().read(4, 10)
    assert (rest["endIndex"], rest["total"], rest["hasMore"]) == (4, 1, False)
    with pytest.raises(InvalidArgumentError):
        run.metrics().read(0, -1)


def test_read_on_a_never_logged_stream_is_empty(new_run: NewRun) -> None:
    run = new_run()
    assert run.metrics("never").read() == {
        "data": [],
        "startIndex": 0,
        "endIndex": -1,
        "total": 0,
        "hasMore": False,
    }
    stats = run.metrics("never").stats()
    assert stats["totalDataPoints"] == 0
    assert stats["firstIndex"] is None and stats["lastStep"] is None
    steps, values, times = run.metrics("never").arrays("v")
    assert len(steps) == len(values) == len(times) == 0


def test_stats_shape_and_values(new_run: NewRun) -> None:
    run = new_run()
    run.log({"loss": 3.0, "tag": "a"}, timestamp=1000.0)
    run.log({"loss": 1.0}, step=10, timestamp=1001.0)
    run.log({"acc": 0.5}, timestamp=1002.0)
    stats = run.metrics().stats()
    assert {
        "name",
        "description",
        "tags",
        "metadata",
        "totalDataPoints",
        "firstIndex",
        "lastIndex",
        "firstStep",
        "lastStep",
        "firstDataAt",
        "lastDataAt",
        "createdAt",
        "updatedAt",
        "fields",
    } <= set(stats)
    assert stats["name"] == "default"
    assert stats["totalDataPoints"] == 3
    assert (stats["firstIndex"], stats["lastIndex"]) == (0, 2)
    assert (stats["firstStep"], stats["lastStep"]) == (0.0, 1.0)
    assert stats["firstDataAt"].startswith("1970-01-01T00:16:40")
    assert stats["lastDataAt"].startswith("1970-01-01T00:16:42")
    assert stats["fields"]["loss"] == {"count": 2, "min": 1.0, "max": 3.0, "mean": 2.0, "last": 1.0}
    assert stats["fields"]["acc"]["count"] == 1
    assert stats["fields"]["tag"]["count"] == 0  # not numeric
    assert not any(name.startswith("_") for name in stats["fields"])


def test_arrays_skip_rows_without_the_field(new_run: NewRun) -> None:
    run = new_run()
    run.log({"loss": 1.0}, timestamp=10.0)
    run.log({"acc": 0.1}, timestamp=11.0)
    run.log({"loss": 0.5}, step=7, timestamp=12.0)
    steps, values, times = run.metrics().arrays("loss")
    assert steps.tolist() == [0.0, 7.0]
    assert values.tolist() == [1.0, 0.5]
    assert times.tolist() == [10.0, 12.0]
    # a stream without steps is indexed by row number
    run.metrics("s").log(v=1).log(v=2)
    assert run.metrics("s").arrays("v")[0].tolist() == [0.0, 1.0]


def test_unflushed_rows_are_visible_to_reads_in_process(new_run: NewRun) -> None:
    run = new_run()
    for i in range(3):
        run.log({"v": i})
    assert [r["v"] for r in rows(run)] == [0, 1, 2]  # no flush() called
    assert run.metrics().stats()["totalDataPoints"] == 3


def test_history_gathers_every_row(new_run: NewRun) -> None:
    run = new_run()
    for i in range(25):
        run.log({"v": i})
    history = run.history()
    assert [h["v"] for h in history] == list(range(25))
    assert [h["_index"] for h in history] == list(range(25))
