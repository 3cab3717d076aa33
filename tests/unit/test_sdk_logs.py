"""Logs (levels, sequence numbers, metadata, echo, logging handler, stdout/stderr capture),
events and tracks."""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Callable, Iterator

import pytest

import runlane
from runlane.errors import InvalidArgumentError, InvalidNameError, InvalidValueError
from runlane.sdk.run import Run

NewRun = Callable[..., Run]


# --- log messages ---------------------------------------------------------------------------------


def test_levels_sequence_numbers_and_metadata(new_run: NewRun) -> None:
    run = new_run()
    run.log_message("starting")
    run.log_message("details", level="debug", metadata={"batch": 3, "shape": (2, 2)})
    run.log_message("careful", level="warning")
    run.log_message("careful too", level="WARN")
    run.log_message("broken", level="error", code=7)  # extra keywords join the metadata
    run.log_message(RuntimeError("fatal thing"), level="fatal")
    logs = run.logs()
    assert [(r.seq, r.level, r.message) for r in logs] == [
        (0, "info", "starting"),
        (1, "debug", "details"),
        (2, "warn", "careful"),
        (3, "warn", "careful too"),
        (4, "error", "broken"),
        (5, "fatal", "fatal thing"),
    ]
    assert logs[1].metadata == {"batch": 3, "shape": [2, 2]}
    assert logs[4].metadata == {"code": 7}
    assert logs[0].metadata is None
    assert abs(logs[0].timestamp - time.time()) < 60
    assert [r.message for r in run.logs(level="warn")] == [
        "careful",
        "careful too",
        "broken",
        "fatal thing",
    ]
    assert [r.seq for r in run.logs(start=4)] == [4, 5]
    assert [r.level for r in run.logs(level="warning")] == ["warn", "warn", "error", "fatal"]
    assert [r.level for r in run.logs(level="ERROR")] == ["error", "fatal"]
    assert [r.seq for r in run.logs(start=1, limit=2, level="debug")] == [1, 2]
    with pytest.raises(InvalidArgumentError, match="verbose"):
        run.logs(level="verbose")


def test_explicit_timestamp_and_source(new_run: NewRun) -> None:
    run = new_run(source="rank3")
    run.log_message("a", timestamp=1_700_000_000.0)
    run.log_message("b", source="rank9")
    first, second = run.logs()
    assert first.timestamp == pytest.approx(1_700_000_000.0, abs=1e-3)
    assert (first.source, second.source) == ("rank3", "rank9")


@pytest.mark.parametrize("level", ["verbose", "", "trace", 3])
def test_invalid_level_is_refused(new_run: NewRun, level: object) -> None:
    run = new_run()
    with pytest.raises(InvalidArgumentError, match="warning"):
        run.log_message("x", level=level)  # type: ignore[arg-type]
    assert run.logs() == []


def test_bad_metadata_is_refused_before_queueing(new_run: NewRun) -> None:
    run = new_run()
    with pytest.raises(InvalidValueError, match="'obj'"):
        run.log_message("x", metadata={"obj": object()})
    with pytest.raises(InvalidNameError):
        run.log_message("x", metadata={"": 1})
    assert run.logs() == []


def test_echo_prints_to_the_console(new_run: NewRun, capsys: pytest.CaptureFixture[str]) -> None:
    run = new_run()
    run.log_message("quiet")
    run.log_message("loud", echo=True, metadata={"k": 1})
    run.log_message("bad", level="error", echo=True)
    out, err = capsys.readouterr()
    assert "quiet" not in out + err
    assert "[INFO] loud [k=1]" in out
    assert "[ERROR] bad" in err
    echoing = new_run(echo_logs=True)
    echoing.log_message("by default")
    assert "[INFO] by default" in capsys.readouterr().out


def test_module_level_log_message(new_run: NewRun) -> None:
    run = new_run()
    runlane.log_message("via module", level="warning")
    assert [(r.level, r.message) for r in run.logs()] == [("warn", "via module")]


# --- logging handler ------------------------------------------------------------------------------


@pytest.fixture
def py_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("runlane-tests.handler")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.handlers.clear()


def test_logging_handler_routes_records(new_run: NewRun, py_logger: logging.Logger) -> None:
    run = new_run()
    py_logger.addHandler(runlane.logging_handler())
    py_logger.debug("d %d", 1)
    py_logger.info("i")
    py_logger.warning("w", extra={"epoch": 3})
    try:
        raise ValueError("boom")
    except ValueError:
        py_logger.exception("failed")
    py_logger.critical("c")
    logs = run.logs()
    assert [(r.level, r.message) for r in logs] == [
        ("debug", "d 1"),
        ("info", "i"),
        ("warn", "w"),
        ("error", "failed"),
        ("fatal", "c"),
    ]
    meta = logs[2].metadata or {}
    assert meta["logger"] == "runlane-tests.handler"
    assert meta["epoch"] == 3
    assert meta["func"] == "test_logging_handler_routes_records"
    assert "ValueError: boom" in str((logs[3].metadata or {})["exception"])


def test_logging_handler_for_an_explicit_run_and_after_finish(
    new_run: NewRun, py_logger: logging.Logger
) -> None:
    first = new_run()
    second = new_run()  # now the current run
    py_logger.addHandler(runlane.logging_handler(first))
    py_logger.info("to first")
    first.finish()
    py_logger.info("after finish")  # dropped, never raises
    assert [r.message for r in runlane.open(first.id).logs()] == ["to first"]
    assert second.logs() == []


def test_logging_handler_without_a_run_raises() -> None:
    with pytest.raises(runlane.RunStateError, match="init"):
        runlane.logging_handler()


# --- stdout / stderr capture ----------------------------------------------------------------------


def test_stdio_capture_logs_lines_and_keeps_console_output(
    new_run: NewRun, capsys: pytest.CaptureFixture[str]
) -> None:
    run = new_run(capture_stdio=True)
    print("hello stdout")
    print("two", "words")
    print("oops", file=sys.stderr)
    sys.stdout.write("no newline yet")
    run.finish()
    out, err = capsys.readouterr()
    assert out == "hello stdout\ntwo words\nno newline yet"
    assert err == "oops\n"
    logs = runlane.open(run.id).logs()
    captured = [(r.level, r.message, (r.metadata or {}).get("stream")) for r in logs]
    assert ("info", "hello stdout", "stdout") in captured
    assert ("info", "two words", "stdout") in captured
    assert ("error", "oops", "stderr") in captured
    assert ("info", "no newline yet", "stdout") in captured
    print("after the run")
    assert "after the run" not in [r.message for r in runlane.open(run.id).logs()]
    assert capsys.readouterr().out == "after the run\n"


def test_stdio_capture_off_by_default_in_tests(
    new_run: NewRun, capsys: pytest.CaptureFixture[str]
) -> None:
    run = new_run()
    print("not captured")
    assert run.logs() == []
    assert capsys.readouterr().out == "not captured\n"


def test_stdio_capture_from_environment(
    new_run: NewRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLANE_CAPTURE", "stdio")
    run = new_run()
    print("via env")
    explicit_off = new_run(capture_stdio=False)
    run.finish()
    assert [r.message for r in runlane.open(run.id).logs()] == ["via env"]
    assert explicit_off.logs() == []


# --- events ---------------------------------------------------------------------------------------


def test_events(new_run: NewRun) -> None:
    run = new_run(source="host-a")
    before = time.time()
    run.log_event("epoch_end", metadata={"epoch": 1, "path": ("a", "b")})
    run.log_event("checkpoint", source="saver", wallclock=1_700_000_000.5)
    events = run.events()
    assert [e.name for e in events] == ["epoch_end", "checkpoint"]
    assert events[0].source == "host-a"
    assert events[0].metadata == {"epoch": 1, "path": ["a", "b"]}
    assert events[0].wallclock >= before
    assert (events[1].source, events[1].wallclock) == ("saver", 1_700_000_000.5)
    assert events[1].metadata is None
    assert [e.name for e in run.events(since=before)] == ["epoch_end"]
    with pytest.raises(InvalidArgumentError):
        run.log_event("x", wallclock="yesterday")  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError):
        run.log_event("")


# --- tracks ---------------------------------------------------------------------------------------


def test_tracks_timestamps_merge_and_flatten(new_run: NewRun) -> None:
    run = new_run()
    track = run.tracks("robot/arm")
    assert track.append(pos={"x": 1.0, "y": 2.0}, gripper="open") is track
    track.append(_ts=-1, speed=0.5)  # same timestamp as the previous entry: merged
    track.append(_ts=100.0, speed=0.1)
    track.append(_ts=100.0, pos={"x": 9.0})
    track.append(torque=3)
    entries = run.tracks("robot/arm").read()
    assert entries[0] == {"timestamp": 100.0, "speed": 0.1, "pos.x": 9.0}
    first = entries[1]
    assert first["pos.x"] == 1.0 and first["pos.y"] == 2.0
    assert first["gripper"] == "open" and first["speed"] == 0.5
    assert entries[2]["torque"] == 3
    assert entries[2]["timestamp"] > first["timestamp"]
    assert run.track_topics() == ["robot/arm"]
    assert [e["timestamp"] for e in run.tracks("robot/arm").read(start=50.0, end=150.0)] == [100.0]
    assert run.tracks("robot/arm").find(120.0) == entries[0]
    assert run.tracks("robot/arm").find(50.0) is None


def test_track_timestamps_without_ts_increase(new_run: NewRun) -> None:
    run = new_run()
    track = run.tracks("t")
    for i in range(50):
        track.append(i=i)
    entries = track.read()
    assert [e["i"] for e in entries] == list(range(50))
    stamps = [e["timestamp"] for e in entries]
    assert all(a < b for a, b in itertools.pairwise(stamps))


@pytest.mark.parametrize("topic", ["", "/abs", "a/../b", "a//b"])
def test_invalid_topics_are_refused(new_run: NewRun, topic: str) -> None:
    run = new_run()
    with pytest.raises(InvalidNameError, match="track topic"):
        run.tracks(topic)
