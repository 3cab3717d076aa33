"""Tests of runlane.sdk.capture.system.SystemSampler."""

from __future__ import annotations

import os
import sys
import threading
import time
import types
import warnings
from collections import namedtuple
from typing import Any

import psutil
import pytest

from runlane.errors import InvalidArgumentError, RunStateError
from runlane.sdk.capture import system
from runlane.sdk.capture.system import Fields, SystemSampler

BASE_FIELDS = {
    "cpu.percent",
    "cpu.process_percent",
    "memory.used",
    "memory.total",
    "memory.percent",
    "memory.process_rss",
    "disk.used_percent",
}


class Recorder:
    """Thread-safe emit callback that remembers every sample."""

    def __init__(self, fail_every: int = 0) -> None:
        self.fields: list[Fields] = []
        self.calls = 0
        self.fail_every = fail_every
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        self.cond = threading.Condition(self._lock)

    def __call__(self, fields: Fields) -> None:
        with self.cond:
            self.calls += 1
            self.fields.append(fields)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()
            calls = self.calls
        if self.fail_every and calls % self.fail_every == 0:
            raise RuntimeError(f"emit failure #{calls}")

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.calls >= n, timeout)


# -- a real in-memory fake of pynvml -----------------------------------------------------------


class FakeNVMLError(Exception):
    pass


class FakeNVMLLibraryNotFound(FakeNVMLError):
    pass


Utilization = namedtuple("Utilization", "gpu memory")
Memory = namedtuple("Memory", "total free used")


class FakeDevice:
    def __init__(
        self, util: int, used: int, total: int, temp: int, power_mw: int, broken: set[str]
    ) -> None:
        self.util = util
        self.used = used
        self.total = total
        self.temp = temp
        self.power_mw = power_mw
        self.broken = broken


def make_fake_pynvml(
    devices: list[FakeDevice], init_error: type[Exception] | None = None
) -> types.ModuleType:
    mod = types.ModuleType("pynvml")
    state: dict[str, Any] = {"inits": 0, "shutdowns": 0}
    mod.state = state  # type: ignore[attr-defined]
    mod.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    mod.NVMLError_LibraryNotFound = FakeNVMLLibraryNotFound  # type: ignore[attr-defined]
    mod.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]

    def check(dev: FakeDevice, what: str) -> None:
        if state["inits"] <= state["shutdowns"]:
            raise FakeNVMLError("Uninitialized")
        if what in dev.broken:
            raise FakeNVMLError(f"{what}: Not Supported")

    def nvmlInit() -> None:
        if init_error is not None:
            raise init_error("NVML Shared Library Not Found")
        state["inits"] += 1

    def nvmlShutdown() -> None:
        state["shutdowns"] += 1

    def nvmlDeviceGetCount() -> int:
        return len(devices)

    def nvmlDeviceGetHandleByIndex(i: int) -> FakeDevice:
        if not 0 <= i < len(devices):
            raise FakeNVMLError("Invalid Argument")
        return devices[i]

    def nvmlDeviceGetUtilizationRates(dev: FakeDevice) -> Utilization:
        check(dev, "util")
        return Utilization(gpu=dev.util, memory=dev.util // 2)

    def nvmlDeviceGetMemoryInfo(dev: FakeDevice) -> Memory:
        check(dev, "memory")
        return Memory(total=dev.total, free=dev.total - dev.used, used=dev.used)

    def nvmlDeviceGetTemperature(dev: FakeDevice, sensor: int) -> int:
        check(dev, "temp")
        if sensor != 0:
            raise FakeNVMLError("Invalid Argument")
        return dev.temp

    def nvmlDeviceGetPowerUsage(dev: FakeDevice) -> int:
        check(dev, "power")
        return dev.power_mw

    for fn in (
        nvmlInit,
        nvmlShutdown,
        nvmlDeviceGetCount,
        nvmlDeviceGetHandleByIndex,
        nvmlDeviceGetUtilizationRates,
        nvmlDeviceGetMemoryInfo,
        nvmlDeviceGetTemperature,
        nvmlDeviceGetPowerUsage,
    ):
        setattr(mod, fn.__name__, fn)
    return mod


def gpu_fields(fields: Fields) -> dict[str, float | int]:
    return {k: v for k, v in fields.items() if k.startswith("gpu.")}


# -- fields ------------------------------------------------------------------------------------


def test_fields_present_and_sane() -> None:
    sampler = SystemSampler(emit=lambda f: None, gpu=False)
    time.sleep(0.05)
    sum(i * i for i in range(200_000))  # some CPU for the process window
    fields = sampler.sample()

    assert fields.keys() >= BASE_FIELDS
    for key, value in fields.items():
        assert key == key.lower() and " " not in key
        assert isinstance(value, int | float) and not isinstance(value, bool), key

    ncpu = psutil.cpu_count() or 1
    assert 0.0 <= fields["cpu.percent"] <= 100.0
    assert 0.0 <= fields["cpu.process_percent"] <= 100.0 * ncpu
    assert 0 < fields["memory.used"] <= fields["memory.total"]
    assert 0.0 <= fields["memory.percent"] <= 100.0
    assert 0 < fields["memory.process_rss"] <= fields["memory.total"]
    assert 0.0 <= fields["disk.used_percent"] <= 100.0
    for key in ("disk.read_bytes", "disk.write_bytes", "net.sent_bytes", "net.recv_bytes"):
        if key in fields:
            assert isinstance(fields[key], int) and fields[key] >= 0, key
    assert not gpu_fields(fields)


def test_disk_and_net_are_deltas_since_start(monkeypatch: pytest.MonkeyPatch) -> None:
    Disk = namedtuple("Disk", "read_bytes write_bytes")
    Net = namedtuple("Net", "bytes_sent bytes_recv")
    disk = [Disk(1000, 5000)]
    net = [Net(70, 900)]
    monkeypatch.setattr(psutil, "disk_io_counters", lambda: disk[0])
    monkeypatch.setattr(psutil, "net_io_counters", lambda: net[0])

    sampler = SystemSampler(emit=lambda f: None, gpu=False)
    first = sampler.sample()
    assert first["disk.read_bytes"] == 0 and first["disk.write_bytes"] == 0
    assert first["net.sent_bytes"] == 0 and first["net.recv_bytes"] == 0

    disk[0] = Disk(1600, 5010)
    net[0] = Net(100, 2900)
    second = sampler.sample()
    assert (second["disk.read_bytes"], second["disk.write_bytes"]) == (600, 10)
    assert (second["net.sent_bytes"], second["net.recv_bytes"]) == (30, 2000)

    disk[0] = Disk(10, 10)  # counters reset under us: never negative
    assert sampler.sample()["disk.read_bytes"] == 0


def test_missing_io_counters_skip_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise FileNotFoundError("/proc/diskstats")

    monkeypatch.setattr(psutil, "disk_io_counters", lambda: None)
    monkeypatch.setattr(psutil, "net_io_counters", boom)
    fields = SystemSampler(emit=lambda f: None, gpu=False).sample()
    assert not {"disk.read_bytes", "disk.write_bytes", "net.sent_bytes", "net.recv_bytes"} & set(
        fields
    )
    assert fields.keys() >= BASE_FIELDS


def test_sampling_another_pid_and_vanished_process(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = SystemSampler(emit=lambda f: None, pid=os.getpid(), gpu=False)
    assert "memory.process_rss" in sampler.sample()

    def gone() -> None:
        raise psutil.NoSuchProcess(12345)

    monkeypatch.setattr(sampler._process, "memory_info", gone)
    fields = sampler.sample()
    assert "memory.process_rss" not in fields and "cpu.process_percent" not in fields
    assert "memory.used" in fields


def test_invalid_arguments() -> None:
    for interval in (0, -1.0, float("nan"), float("inf"), True, "10"):
        with pytest.raises(InvalidArgumentError):
            SystemSampler(emit=lambda f: None, interval=interval)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        SystemSampler(emit="not callable")  # type: ignore[arg-type]
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid += 1
    with pytest.raises(InvalidArgumentError):
        SystemSampler(emit=lambda f: None, pid=pid)


# -- thread ------------------------------------------------------------------------------------


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == system.THREAD_NAME]


def test_start_stop_emits_several_and_joins() -> None:
    rec = Recorder()
    sampler = SystemSampler(emit=rec, interval=0.05, gpu=False)
    sampler.start()
    try:
        assert rec.wait_for(1, timeout=2.0)  # first sample right away
        threads = sampler_threads()
        assert len(threads) == 1 and threads[0].daemon
        assert rec.wait_for(4, timeout=10.0)
        assert sampler.running
        with pytest.raises(RunStateError):
            sampler.start()
    finally:
        assert sampler.stop() is True
    thread = threads[0]
    assert not thread.is_alive() and not sampler.running
    assert rec.threads == {system.THREAD_NAME}
    assert all(f.keys() >= BASE_FIELDS for f in rec.fields)
    calls = rec.calls
    time.sleep(0.2)
    assert rec.calls == calls  # nothing after stop
    assert sampler.stop() is True  # idempotent
    assert sampler.errors == 0 and sampler.samples == calls


def test_stop_wakes_a_long_interval_promptly() -> None:
    rec = Recorder()
    sampler = SystemSampler(emit=rec, interval=3600.0, gpu=False)
    sampler.start()
    assert rec.wait_for(1, timeout=2.0)
    t0 = time.monotonic()
    assert sampler.stop() is True
    assert time.monotonic() - t0 < 1.0
    assert rec.calls == 1


def test_final_sample_only_when_asked() -> None:
    rec = Recorder()
    sampler = SystemSampler(emit=rec, interval=3600.0, gpu=False)
    sampler.start()
    assert rec.wait_for(1)
    sampler.stop()
    assert rec.calls == 1

    sampler.start()  # restartable
    assert rec.wait_for(2)
    sampler.stop(final_sample=True)
    assert rec.calls == 3
    assert threading.current_thread().name in rec.threads


def test_emit_exceptions_counted_and_sampling_continues(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rec = Recorder(fail_every=2)
    sampler = SystemSampler(emit=rec, interval=0.05, gpu=False)
    sampler.start()
    try:
        assert rec.wait_for(6, timeout=10.0)
        assert sampler.running
    finally:
        sampler.stop()
    assert sampler.errors == rec.calls // 2 >= 3
    assert isinstance(sampler.last_error, RuntimeError)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_emit_always_failing_never_kills_thread() -> None:
    def bad(fields: Fields) -> None:
        raise ValueError("nope")

    sampler = SystemSampler(emit=bad, interval=0.02, gpu=False)
    sampler.start()
    deadline = time.monotonic() + 10.0
    while sampler.errors < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sampler.running
    sampler.stop()
    assert sampler.errors >= 5 and sampler.errors == sampler.samples


def test_stop_from_inside_emit_does_not_deadlock() -> None:
    done = threading.Event()
    holder: list[SystemSampler] = []

    def emit(fields: Fields) -> None:
        holder[0].stop()
        done.set()

    sampler = SystemSampler(emit=emit, interval=0.05, gpu=False)
    holder.append(sampler)
    sampler.start()
    assert done.wait(5.0)
    deadline = time.monotonic() + 5.0
    while sampler.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sampler.running
    assert sampler.errors == 0


# -- GPU ---------------------------------------------------------------------------------------


def assert_silent(
    capsys: pytest.CaptureFixture[str], caught: list[warnings.WarningMessage]
) -> None:
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert not caught


def test_no_pynvml_module_is_silent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    rec = Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = SystemSampler(emit=rec, interval=0.05, gpu=True)
        sampler.start()
        assert rec.wait_for(2)
        sampler.stop(final_sample=True)
        fields = sampler.sample()
    assert not gpu_fields(fields)
    assert not any(gpu_fields(f) for f in rec.fields)
    assert fields.keys() >= BASE_FIELDS
    assert_silent(capsys, caught)


def test_nvml_library_not_found_is_silent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = make_fake_pynvml([], init_error=FakeNVMLLibraryNotFound)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = SystemSampler(emit=lambda f: None, gpu=True)
        sampler.start()
        sampler.stop()
        fields = sampler.sample()
    assert not gpu_fields(fields)
    assert_silent(capsys, caught)


def test_nvml_oserror_and_zero_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_pynvml([], init_error=OSError))
    assert not gpu_fields(SystemSampler(emit=lambda f: None).sample())

    fake = make_fake_pynvml([])  # driver present, no GPU
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert not gpu_fields(SystemSampler(emit=lambda f: None).sample())
    assert fake.state["shutdowns"] == fake.state["inits"] == 1


def test_real_environment_gpu_detection_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever this machine has (real pynvml, no driver, a GPU): no output, sane gpu fields."""
    sampler = SystemSampler(emit=lambda f: None, gpu=True)
    fields = sampler.sample()
    sampler.stop()
    for key, value in gpu_fields(fields).items():
        assert value >= 0, key
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_fake_pynvml_gpu_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [
        FakeDevice(
            util=87, used=3 * 2**30, total=80 * 2**30, temp=61, power_mw=254_321, broken=set()
        ),
        FakeDevice(util=5, used=2**20, total=16 * 2**30, temp=33, power_mw=41_000, broken={"temp"}),
    ]
    fake = make_fake_pynvml(devices)
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    rec = Recorder()
    sampler = SystemSampler(emit=rec, interval=3600.0, gpu=True)
    sampler.start()
    assert rec.wait_for(1)
    fields = sampler.sample()
    sampler.stop()

    assert gpu_fields(fields) == {
        "gpu.0.utilization": 87,
        "gpu.0.memory_used": 3 * 2**30,
        "gpu.0.memory_total": 80 * 2**30,
        "gpu.0.temperature": 61,
        "gpu.0.power_watts": pytest.approx(254.321),
        "gpu.1.utilization": 5,
        "gpu.1.memory_used": 2**20,
        "gpu.1.memory_total": 16 * 2**30,
        "gpu.1.power_watts": pytest.approx(41.0),
    }  # gpu.1.temperature failed: only that field is dropped
    assert gpu_fields(rec.fields[0]) == gpu_fields(fields)
    assert fields.keys() >= BASE_FIELDS
    assert fake.state["inits"] == 1  # detected once, not per sample
    assert fake.state["shutdowns"] == 1


def test_fake_pynvml_failing_queries_drop_only_their_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev = FakeDevice(util=1, used=2, total=3, temp=4, power_mw=5000, broken={"util", "power"})
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_pynvml([dev]))
    fields = SystemSampler(emit=lambda f: None).sample()
    assert gpu_fields(fields) == {
        "gpu.0.memory_used": 2,
        "gpu.0.memory_total": 3,
        "gpu.0.temperature": 4,
    }


def test_gpu_false_never_imports_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake_pynvml([FakeDevice(1, 2, 3, 4, 5, set())])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    fields = SystemSampler(emit=lambda f: None, gpu=False).sample()
    assert not gpu_fields(fields)
    assert fake.state["inits"] == 0


# -- overhead ----------------------------------------------------------------------------------


def test_sample_cost_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    sampler = SystemSampler(emit=lambda f: None, gpu=True)
    sampler.sample()  # warm-up (GPU detection happens here)
    n = 200
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for _ in range(n):
        sampler.sample()
    wall = (time.perf_counter() - wall0) / n
    cpu = (time.thread_time() - cpu0) / n
    sampler.stop()
    core_fraction = cpu / 10.0  # one sample every 10 s
    with capsys.disabled():
        print(
            f"\n[system sampler] mean per sample: {wall * 1e3:.3f} ms wall, {cpu * 1e3:.3f} ms CPU;"
            f" at a 10 s interval that is {core_fraction:.2e} of one core"
            f" ({core_fraction * 100:.5f}%)"
        )
    assert wall < 0.050
