"""System metrics through the SDK: ``runlane.init`` starts the sampler, which fills the run's
``system`` stream; on by default, off by ``system_metrics=False``, interval ``system_interval``
(default 10 s). Also measures what the sampler thread costs."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import psutil
import pytest

import runlane
from runlane import settings
from runlane.sdk.capture.system import THREAD_NAME

NO_OTHER_CAPTURES = {"capture_git": False, "capture_env": False, "capture_stdio": False}


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def wait_rows(run: runlane.Run, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        total = len(run.metrics("system").read(0, 10_000)["data"])
        if total >= count:
            return total
        time.sleep(0.05)
    return len(run.metrics("system").read(0, 10_000)["data"])


def test_fast_interval_fills_the_system_stream(root: Path) -> None:
    run = runlane.init(
        "tester/sys", dir=root, system_metrics=True, system_interval=0.1, **NO_OTHER_CAPTURES
    )
    assert len(sampler_threads()) == 1
    assert wait_rows(run, 4) >= 4
    run.finish()
    assert sampler_threads() == []  # stopped at finish

    view = runlane.open(run.id, dir=root)
    rows = view.history("system")
    assert len(rows) >= 4
    total = psutil.virtual_memory().total
    for row in rows:
        assert 0.0 <= row["cpu.percent"] <= 100.0
        assert row["cpu.process_percent"] >= 0.0
        assert 0 < row["memory.used"] <= row["memory.total"] == total
        assert 0 < row["memory.process_rss"] <= total
        assert 0.0 <= row["memory.percent"] <= 100.0
        assert row["_ts"] > 0
    stamps = [r["_ts"] for r in rows]
    assert stamps == sorted(stamps)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # paced by the interval, not a busy loop (one late sample shortens the next gap, so the
    # mean is checked, not each gap)
    assert min(gaps) > 0
    assert (stamps[-1] - stamps[0]) / len(gaps) > 0.07
    assert "system" in {s.name for s in view.streams()}
    assert view.history() == []  # nothing leaks into the default stream


def test_on_by_default_with_a_ten_second_interval(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNLANE_CAPTURE", raising=False)  # the suite turns captures off
    assert settings.Capture.from_env().system and settings.Capture.from_env().system_interval == 10
    run = runlane.init("tester/sys", dir=root, **NO_OTHER_CAPTURES)
    assert len(sampler_threads()) == 1
    assert wait_rows(run, 1) == 1  # the first sample right away...
    time.sleep(0.5)
    assert wait_rows(run, 2, timeout=0.2) == 1  # ...the next one only after 10 s
    run.finish()
    assert sampler_threads() == []


def test_off_by_flag(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNLANE_CAPTURE", raising=False)
    with runlane.init("tester/sys", dir=root, system_metrics=False, **NO_OTHER_CAPTURES) as run:
        assert sampler_threads() == []
        time.sleep(0.2)
    assert "system" not in {s.name for s in runlane.open(run.id, dir=root).streams()}


def thread_cpu_seconds(native_id: int) -> float:
    for info in psutil.Process().threads():
        if info.id == native_id:
            return float(info.user_time + info.system_time)
    raise AssertionError(f"no thread {native_id}")


def test_sampler_overhead(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CPU time of the sampler thread per sample, measured from outside (per-thread CPU
    counters), including handing each row to the run; scaled to the default 10 s interval."""
    run = runlane.init(
        "tester/sys", dir=root, system_metrics=True, system_interval=0.05, **NO_OTHER_CAPTURES
    )
    thread = sampler_threads()[0]
    assert thread.native_id is not None
    wait_rows(run, 2)
    rows0, cpu0, wall0 = wait_rows(run, 2), thread_cpu_seconds(thread.native_id), time.monotonic()
    time.sleep(2.0)
    cpu1, wall1 = thread_cpu_seconds(thread.native_id), time.monotonic()
    rows1 = len(run.metrics("system").read(0, 100_000)["data"])
    run.finish()
    samples = rows1 - rows0
    assert samples >= 10
    per_sample = (cpu1 - cpu0) / samples
    at_fast = (cpu1 - cpu0) / (wall1 - wall0)
    at_default = per_sample / 10.0
    with capsys.disabled():
        print(
            f"\n[system stream] {samples} samples at 0.05 s: {per_sample * 1e3:.2f} ms CPU each "
            f"(thread CPU clock, 10 ms ticks); {at_fast:.2%} of one core at 0.05 s, "
            f"{at_default:.4%} of one core at the default 10 s"
        )
    assert per_sample < 0.05  # sanity bound: well under the 1%-of-a-core budget at 10 s


def test_bad_interval_raises_before_any_run_exists(root: Path) -> None:
    for bad in (0, -1.0, float("nan"), float("inf"), True, "10"):
        with pytest.raises(runlane.InvalidArgumentError, match="system_interval"):
            runlane.init("tester/sys", dir=root, system_metrics=True, system_interval=bad)
    assert runlane.runs("tester/sys", dir=root) == []
    assert sampler_threads() == []
