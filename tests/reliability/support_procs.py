"""Child processes of the reliability suite: how they are started and how they report.

A child is ``python tests/reliability/support_child.py MODE ARGS...`` with captures off and
``RUNLANE_DIR`` set. It reports through :class:`Counters`, a small file mapped into memory:
what it wrote there before a SIGKILL is still there after it (the page cache survives the
process), so the parent knows exactly how many rows the child had logged and how many a
returned ``run.flush()`` had acknowledged at the moment it died.
"""

from __future__ import annotations

import mmap
import os
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "support_child.py"

#: Counter slots.
LOGGED, ACKED, PHASE, EXTRA = range(4)
SLOTS = 8


class Counters:
    """``SLOTS`` int64 values in a file shared by a parent and a child."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if create:
            path.write_bytes(b"\0" * 8 * SLOTS)
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, 8 * SLOTS)

    def __getitem__(self, slot: int) -> int:
        return int(struct.unpack_from("<q", self._map, 8 * slot)[0])

    def __setitem__(self, slot: int, value: int) -> None:
        struct.pack_into("<q", self._map, 8 * slot, value)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


def child_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a child: this one without RUNLANE_*, captures off, ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLANE_")}
    env.update(RUNLANE_DIR=str(root), RUNLANE_CAPTURE="none", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def spawn(
    mode: str,
    *args: object,
    env: dict[str, str],
    stdin: int | None = None,
    log: Path | None = None,
) -> subprocess.Popen[str]:
    """Start a child in its own session; stdout is a pipe, stderr goes to ``log``."""
    err = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, str(CHILD), mode, *map(str, args)],
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    finally:
        if log is not None and not isinstance(err, int):
            err.close()


def finish(proc: subprocess.Popen[str], timeout: float, log: Path | None = None) -> str:
    """Wait for a child that should exit 0; return its stdout."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"child {proc.args} ran past {timeout} s{tail(log)}") from None
    assert proc.returncode == 0, f"child {proc.args} exited {proc.returncode}{tail(log)}"
    return out


def tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- child stderr ---\n" + "\n".join(text)
