"""Periodic system metrics (CPU, memory, disk, network, NVIDIA GPUs) for a run.

Contract
--------
:class:`SystemSampler` samples the machine and one process and hands each sample to a callback::

    sampler = SystemSampler(emit=lambda fields: ..., interval=10.0)
    sampler.start()          # one daemon thread "runlane-system"; first sample right away
    ...
    sampler.stop()           # wakes and joins the thread; stop(final_sample=True) adds one more

* ``emit(fields)`` is called once per sample with a flat ``dict[str, float | int]``. Exceptions
  raised by ``emit`` are caught and counted in :attr:`SystemSampler.errors` (the last one is kept
  in :attr:`SystemSampler.last_error`); they never propagate and never stop the thread.
* :meth:`SystemSampler.sample` takes one sample synchronously and returns it without emitting.
  It never raises for environmental reasons: a group of fields that cannot be read is left out.
* Fields (names are lower_snake, groups joined by dots):

  ``cpu.percent``            system-wide CPU use since the previous sample, 0..100
  ``cpu.process_percent``    CPU use of the process (children not included), 0..100*cpu_count
  ``memory.used``            bytes; ``memory.total`` bytes; ``memory.percent`` 0..100
  ``memory.process_rss``     resident set size of the process, bytes
  ``disk.read_bytes``        bytes read by all disks since the sampler started (also
  ``disk.write_bytes``       written); left out where the OS has no disk counters
  ``disk.used_percent``      use of the filesystem holding the working directory (else ``/``)
  ``net.sent_bytes``         bytes sent / received on all interfaces since the sampler
  ``net.recv_bytes``         started; left out where the OS has no network counters
  ``gpu.{i}.utilization``    percent; ``gpu.{i}.memory_used`` / ``gpu.{i}.memory_total`` bytes;
  ``gpu.{i}.temperature``    degrees C; ``gpu.{i}.power_watts`` watts (NVML reports mW)

* GPUs are read through NVML (``pynvml`` from the ``nvidia-ml-py`` package), imported lazily.
  Whether NVML is usable is decided once, at :meth:`~SystemSampler.start` (or at the first
  :meth:`~SystemSampler.sample`); without the package, a driver or a GPU the ``gpu.*`` fields are
  simply absent, silently. A single failing GPU query drops only that field.
* Cost: a sample reads a few ``/proc`` files and makes at most four NVML calls per GPU; it starts
  no subprocess and reuses one :class:`psutil.Process`. ``cpu.percent`` relies on psutil's
  module-level state for ``psutil.cpu_percent(interval=None)``: another caller of that function in
  the same process shortens the window the value covers, but it remains a valid percentage.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import psutil

from runlane.errors import InvalidArgumentError, RunStateError

__all__ = ["Fields", "SystemSampler"]

Fields = dict[str, float | int]
"""One sample: a flat mapping of field name to number."""

THREAD_NAME = "runlane-system"
DEFAULT_JOIN_TIMEOUT = 5.0


class _Gpu:
    """An initialised NVML module and the device handles opened once at detection."""

    def __init__(self, nvml: ModuleType, handles: list[tuple[int, Any]]) -> None:
        self.nvml = nvml
        self.handles = handles

    def sample(self, fields: Fields) -> None:
        nvml = self.nvml
        for index, handle in self.handles:
            prefix = f"gpu.{index}."
            with contextlib.suppress(Exception):
                fields[prefix + "utilization"] = int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            try:
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                used, total = int(mem.used), int(mem.total)
            except Exception:
                pass
            else:
                fields[prefix + "memory_used"] = used
                fields[prefix + "memory_total"] = total
            with contextlib.suppress(Exception):
                fields[prefix + "temperature"] = int(
                    nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
                )
            with contextlib.suppress(Exception):
                fields[prefix + "power_watts"] = (
                    float(nvml.nvmlDeviceGetPowerUsage(handle)) / 1000.0
                )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()


def _open_gpu() -> _Gpu | None:
    """Initialise NVML and open every device; ``None`` (silently) when that is not possible."""
    try:
        nvml = importlib.import_module("pynvml")
    except Exception:  # ImportError, or a broken install
        return None
    try:
        nvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound / NVMLError_DriverNotLoaded / OSError ...
        return None
    handles: list[tuple[int, Any]] = []
    try:
        count = int(nvml.nvmlDeviceGetCount())
        for index in range(count):
            try:
                handles.append((index, nvml.nvmlDeviceGetHandleByIndex(index)))
            except Exception:
                continue
    except Exception:
        handles = []
    gpu = _Gpu(nvml, handles)
    if not handles:
        gpu.close()
        return None
    return gpu


def _io_totals(counters: Any, read_attr: str, write_attr: str) -> tuple[int, int] | None:
    if counters is None:
        return None
    return int(getattr(counters, read_attr)), int(getattr(counters, write_attr))


def _disk_totals() -> tuple[int, int] | None:
    try:
        return _io_totals(psutil.disk_io_counters(), "read_bytes", "write_bytes")
    except Exception:  # no /proc/diskstats in some containers
        return None


def _net_totals() -> tuple[int, int] | None:
    try:
        return _io_totals(psutil.net_io_counters(), "bytes_sent", "bytes_recv")
    except Exception:
        return None


class SystemSampler:
    """Sample system metrics every ``interval`` seconds on a daemon thread; see the module doc.

    :param emit: called with each sample's fields from the sampler thread (and from the caller's
        thread for ``stop(final_sample=True)``). Its exceptions are counted, never raised.
    :param interval: seconds between samples (> 0). Samples keep a fixed cadence; a sample that
        overruns makes the sampler skip to the next slot rather than bunch up.
    :param pid: process whose CPU and RSS are reported; the current process by default.
    :param gpu: ``False`` skips NVML entirely.
    :raises InvalidArgumentError: bad ``emit``/``interval``, or no process with ``pid``.
    """

    def __init__(
        self,
        emit: Callable[[Fields], None],
        interval: float = 10.0,
        pid: int | None = None,
        gpu: bool = True,
    ) -> None:
        if not callable(emit):
            raise InvalidArgumentError(f"emit must be callable, got {type(emit).__name__}")
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not math.isfinite(interval)
            or interval <= 0
        ):
            raise InvalidArgumentError(f"interval must be a finite number > 0, got {interval!r}")
        try:
            self._process = psutil.Process(pid)
        except (psutil.Error, ValueError) as exc:
            raise InvalidArgumentError(f"no process with pid {pid!r}") from exc
        self._emit = emit
        self.interval = float(interval)
        self.gpu_enabled = gpu
        self.errors = 0
        """Number of samples whose ``emit`` raised (or, defensively, whose sampling failed)."""
        self.last_error: BaseException | None = None
        """The most recent exception counted in :attr:`errors`."""
        self.samples = 0
        """Number of samples handed to ``emit`` (successfully or not)."""

        self._lock = threading.Lock()  # guards sampling state and the counters
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._gpu: _Gpu | None = None
        self._gpu_checked = False
        self._disk_path = self._pick_disk_path()
        self._disk_base: tuple[int, int] | None = None
        self._net_base: tuple[int, int] | None = None
        self._prime()

    # -- public API -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the sampler thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Prime the counters, detect GPUs once and start the sampler thread.

        Disk and network totals restart from zero. :raises RunStateError: already running.
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RunStateError("system sampler is already running")
            self._prime()
            self._ensure_gpu()
            self._stop_event = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(self._stop_event,), name=THREAD_NAME, daemon=True
            )
            self._thread = thread
        thread.start()

    def stop(
        self, final_sample: bool = False, timeout: float | None = DEFAULT_JOIN_TIMEOUT
    ) -> bool:
        """Wake the thread and join it for at most ``timeout`` seconds; safe to call twice.

        With ``final_sample=True`` one more sample is emitted from the calling thread after the
        join. NVML is shut down. Returns ``True`` when the thread has ended (or never ran), and
        ``False`` when it is still stuck, e.g. in a slow ``emit``; it is a daemon thread and will
        not keep the interpreter alive.
        """
        self._stop_event.set()
        thread = self._thread
        stopped = True
        if thread is threading.current_thread():  # called from emit: the loop ends after it
            stopped = False
        elif thread is not None:
            thread.join(timeout)
            stopped = not thread.is_alive()
        if final_sample:
            self._emit_once()
        with self._lock:
            if stopped:
                self._thread = None
            if self._gpu is not None:
                self._gpu.close()
            self._gpu = None
            self._gpu_checked = False
        return stopped

    def sample(self) -> Fields:
        """Take one sample now and return its fields (``emit`` is not called). Never raises."""
        fields: Fields = {}
        with self._lock:
            self._ensure_gpu()
            self._sample_cpu_memory(fields)
            self._sample_process(fields)
            self._sample_disk_net(fields)
            if self._gpu is not None:
                self._gpu.sample(fields)
        return fields

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _pick_disk_path() -> str:
        try:
            path = os.getcwd()
            psutil.disk_usage(path)
            return path
        except Exception:
            return os.path.abspath(os.sep)

    def _prime(self) -> None:
        """Start the CPU windows and take the disk/network baselines."""
        with contextlib.suppress(Exception):
            psutil.cpu_percent(interval=None)
        with contextlib.suppress(Exception):
            self._process.cpu_percent(interval=None)
        self._disk_base = _disk_totals()
        self._net_base = _net_totals()

    def _ensure_gpu(self) -> None:
        if not self._gpu_checked:
            self._gpu_checked = True
            self._gpu = _open_gpu() if self.gpu_enabled else None

    def _sample_cpu_memory(self, fields: Fields) -> None:
        with contextlib.suppress(Exception):
            fields["cpu.percent"] = float(psutil.cpu_percent(interval=None))
        try:
            vm = psutil.virtual_memory()
        except Exception:
            return
        fields["memory.used"] = int(vm.used)
        fields["memory.total"] = int(vm.total)
        fields["memory.percent"] = float(vm.percent)

    def _sample_process(self, fields: Fields) -> None:
        try:
            with self._process.oneshot():
                cpu = float(self._process.cpu_percent(interval=None))
                rss = int(self._process.memory_info().rss)
        except Exception:  # the process is gone or not readable
            return
        fields["cpu.process_percent"] = cpu
        fields["memory.process_rss"] = rss

    def _sample_disk_net(self, fields: Fields) -> None:
        disk = _disk_totals()
        if disk is not None:
            if self._disk_base is None:  # counters appeared after start: count from here
                self._disk_base = disk
            fields["disk.read_bytes"] = max(0, disk[0] - self._disk_base[0])
            fields["disk.write_bytes"] = max(0, disk[1] - self._disk_base[1])
        with contextlib.suppress(Exception):
            fields["disk.used_percent"] = float(psutil.disk_usage(self._disk_path).percent)
        net = _net_totals()
        if net is not None:
            if self._net_base is None:
                self._net_base = net
            fields["net.sent_bytes"] = max(0, net[0] - self._net_base[0])
            fields["net.recv_bytes"] = max(0, net[1] - self._net_base[1])

    def _count_error(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = exc

    def _emit_once(self) -> None:
        try:
            fields = self.sample()
        except Exception as exc:  # defensive: sample() guards every group itself
            self._count_error(exc)
            return
        with self._lock:
            self.samples += 1
        try:
            self._emit(fields)
        except Exception as exc:
            self._count_error(exc)

    def _run(self, stop_event: threading.Event) -> None:
        interval = self.interval
        next_at = time.monotonic()
        while not stop_event.is_set():
            self._emit_once()
            next_at += interval
            now = time.monotonic()
            if next_at <= now:  # overran one or more slots: skip them, keep the cadence
                next_at += math.ceil((now - next_at) / interval) * interval
                if next_at <= now:
                    next_at += interval
            if stop_event.wait(next_at - now):
                break
