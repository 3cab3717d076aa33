"""Capture of the environment a run executes in: interpreter, platform, host, hardware, packages.

:func:`capture_env` is fast (typically well under 150 ms, most of it spent listing installed
packages) and never raises for environmental reasons: every probe that fails (no user name in
a container, deleted cwd, no psutil, no GPU driver) yields ``None`` or an empty list.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import importlib
import os
import platform
import shutil
import socket
import subprocess
import sys
from typing import Any

__all__ = ["capture_env", "detect_gpus", "installed_packages"]

NVIDIA_SMI_TIMEOUT = 3.0
"""Seconds granted to ``nvidia-smi`` when it is the GPU probe of last resort."""


def capture_env(include_packages: bool = True) -> dict[str, object]:
    """Return a JSON-safe description of the current process's environment.

    Keys (a failed probe gives ``None``, or ``[]`` for ``gpus``):

    - ``python``: version string (``"3.11.7"``); ``python_implementation`` (``"CPython"``);
      ``executable``: ``sys.executable``;
    - ``platform``: :func:`platform.platform`; ``system`` (``"Linux"``); ``machine``
      (``"x86_64"``); ``hostname``; ``pid``; ``user``; ``cwd``; ``argv`` (list of str);
    - ``cpu_count``: logical CPUs; ``memory_total``: physical memory in bytes (psutil when
      importable, else ``sysconf`` where available);
    - ``gpus``: list of GPU names (see :func:`detect_gpus`);
    - ``packages``: ``{distribution name: version}`` sorted by name, only when
      ``include_packages`` is true;
    - ``started_at``: the capture time, ISO 8601 in UTC (``2024-01-01T12:00:00.000000+00:00``).
    """
    started_at = _dt.datetime.now(_dt.UTC).isoformat()
    info: dict[str, object] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable or None,
        "platform": _safe(platform.platform),
        "system": _safe(platform.system),
        "machine": _safe(platform.machine),
        "hostname": _safe(socket.gethostname),
        "pid": os.getpid(),
        "user": _safe(getpass.getuser),
        "cwd": _safe(os.getcwd),
        "argv": [str(a) for a in sys.argv],
        "cpu_count": os.cpu_count(),
        "memory_total": _memory_total(),
        "gpus": detect_gpus(),
    }
    if include_packages:
        info["packages"] = installed_packages()
    info["started_at"] = started_at
    return info


def _safe(fn: Any) -> str | None:
    try:
        value = fn()
    except Exception:
        return None
    return str(value) if value else None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def detect_gpus() -> list[str]:
    """Return the names of the NVIDIA GPUs visible to this process, ``[]`` when none.

    Uses ``pynvml`` (from ``nvidia-ml-py``) when it imports and the driver initialises;
    otherwise runs ``nvidia-smi --query-gpu=name --format=csv,noheader`` if that binary is on
    ``PATH`` (with a timeout). Every failure is silent and yields ``[]``.
    """
    names = _gpus_nvml()
    if names is not None:
        return names
    return _gpus_nvidia_smi()


def _gpus_nvml() -> list[str] | None:
    """GPU names via NVML; ``None`` when NVML is unavailable (not importable or no driver)."""
    try:
        nvml: Any = importlib.import_module("pynvml")
    except Exception:
        return None
    try:
        nvml.nvmlInit()
    except Exception:
        return None
    try:
        names: list[str] = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(index))
            names.append(name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name))
        return names
    except Exception:
        return []
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def _gpus_nvidia_smi() -> list[str]:
    try:
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return []
        proc = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=NVIDIA_SMI_TIMEOUT,
            check=False,
        )
        if proc.returncode != 0:
            return []
        text = proc.stdout.decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()]
    except Exception:
        return []


def installed_packages() -> dict[str, str]:
    """Return ``{distribution name: version}`` of every importable distribution, sorted by name.

    Names are as declared in the distribution's metadata. When a name is installed more than
    once on ``sys.path`` the first one wins, as for :func:`importlib.metadata.version`.
    Distributions whose metadata cannot be read are skipped.
    """
    from importlib import metadata

    packages: dict[str, str] = {}
    seen: set[str] = set()
    try:
        dists = metadata.distributions()
        for dist in dists:
            try:
                name, version = _name_version(dist)
            except Exception:
                continue
            if not name or version is None:
                continue
            key = _canonical(name)
            if key in seen:
                continue
            seen.add(key)
            packages[name] = version
    except Exception:
        pass
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


def _name_version(dist: Any) -> tuple[str | None, str | None]:
    """Read Name and Version from the metadata header only (much faster than email parsing)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    name: str | None = None
    version: str | None = None
    if text:
        for line in text.splitlines():
            if not line.strip():
                break  # end of the header block
            if name is None and line.startswith("Name:"):
                name = line[5:].strip()
            elif version is None and line.startswith("Version:"):
                version = line[8:].strip()
            if name is not None and version is not None:
                return name, version
    meta = dist.metadata  # unusual layout: let importlib parse it
    return meta["Name"], meta["Version"]


def _canonical(name: str) -> str:
    out = []
    prev_sep = False
    for ch in name.lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)
