"""A local run whose disk fills up, then gets space back.

Two ways to run out of space, both real (no mocks):

* ``tmpfs``: a 16 MiB tmpfs mounted for the test (needs root, as CI and this machine have),
  filled with a ballast file until ~600 KB are left: writes fail with ENOSPC;
* ``fsize``: the logging process lowers its own RLIMIT_FSIZE (any user): writes past the
  limit fail with EFBIG, as on a full quota. Always run, so the suite covers the case even
  where mounting is not allowed.

The contract this checks (documented in docs/reliability.md):

* ``run.log`` never raises because the disk is full: the training loop goes on;
* ``run.flush()`` (and ``finish()``) raise :class:`~runlane.errors.WriteFailedError` whose
  message names the file that could not be written and the OS error;
* no file is corrupt: every JSON file parses, no JSONL file keeps a torn line, the column
  cache agrees with the JSONL, the catalog passes SQLite's integrity check;
* rows acknowledged before the disk filled are all there, and rows logged while it was full
  are either there or counted as dropped in the error — never doubled or out of order;
* when space returns, logging resumes in the same run with no restart: every later row is
  there, indices stay contiguous.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support_checks import check_catalog, check_rows, check_run_files, read_stream, value_of
from support_procs import Counters, child_env, spawn, tail

from runlane.store.local.store import LocalStore

pytestmark = pytest.mark.reliability

TMPFS_SIZE = 16 * 1024 * 1024
LEFT_FREE = 600_000


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/runlane-tmpfs-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=False)
        return True
    finally:
        probe.rmdir()


MODES = ["fsize", *(["tmpfs"] if _can_mount() else [])]


@pytest.fixture
def volume(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(mode, folder)``: where the run's data root goes."""
    mode = request.param
    folder = tmp_path / "volume"
    folder.mkdir()
    if mode == "tmpfs":
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder)], check=True
        )
    try:
        yield mode, folder
    finally:
        if mode == "tmpfs":
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _line(proc: subprocess.Popen[str], prefix: str, log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith(prefix):
        proc.kill()
        raise AssertionError(f"expected {prefix!r}, got {line!r}{tail(log)}")
    parsed: dict[str, Any] = json.loads(line[len(prefix) :])
    return parsed


@pytest.mark.parametrize("volume", MODES, indirect=True)
def test_disk_full_gives_a_clear_error_and_logging_resumes(
    volume: tuple[str, Path], tmp_path: Path, figures: Any
) -> None:
    mode, folder = volume
    root = folder / "data"
    counters = Counters(tmp_path / "counters", create=True)
    log = tmp_path / "child.log"
    proc = spawn(
        "fill", "disk/full", "filler", counters.path, mode,
        env=child_env(root), stdin=subprocess.PIPE, log=log,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, f"the child did not start{tail(log)}"
    ballast = folder / "ballast"
    if mode == "tmpfs":
        stat = os.statvfs(folder)
        with open(ballast, "wb") as fh:
            fh.truncate(0)
            fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - LEFT_FREE))
    proc.stdin.write("FILL\n")
    proc.stdin.flush()
    full = _line(proc, "FULL ", log)

    # the error is clear: which file, which OS error
    error = full["error"]
    assert error.startswith("WriteFailedError: "), error
    assert str(root) in error, error  # the path of the file that could not be written
    reason = "No space left on device" if mode == "tmpfs" else "File too large"
    assert reason in error, error

    ballast.unlink(missing_ok=True)  # space returns
    proc.stdin.write("GO\n")
    proc.stdin.flush()
    done = _line(proc, "RESUMED ", log)
    assert done["late_error"] is None, done["late_error"]

    # a blip: full in the middle of a batch, space back before the writer gives it up
    proc.stdin.write("BLIP\n")
    proc.stdin.flush()
    blip = _line(proc, "OK ", log)
    assert proc.wait(60) == 0, tail(log)
    proc.stdout.close()
    proc.stdin.close()
    assert log.read_text().count("will retry") >= 2, "the blip never made a write fail"

    store = LocalStore(root)
    try:
        run_dir = Path(store.run_path(run_id) or "")
        parsed = check_run_files(run_dir)
        assert parsed["torn"] == 0, "a torn line was left behind"
        rows = read_stream(store, run_id)
        indices = [index for index, _ in rows]
        assert indices == list(range(len(rows))), "indices are not contiguous"
        logged = [data["i"] for _, data in rows]
        assert logged == sorted(set(logged)), "rows were doubled or reordered"
        assert all(data["v"] == value_of(data["i"]) for _, data in rows)
        acked, resumed, total = full["acked"], done["resumed"], blip["logged"]
        assert logged[:acked] == list(range(acked)), "acknowledged rows are missing"
        assert logged[-(total - resumed) :] == list(range(resumed, total)), "rows after space"
        # the batch of the blip was half written: its retry wrote the other half only
        assert check_rows(read_stream(store, run_id, "side"), "side stream") == 10
        columns = store.read_columns(run_id, "default", ["i", "v"])
        np.testing.assert_array_equal(columns["i"], np.array(logged, dtype=float))
        np.testing.assert_array_equal(columns["v"], [value_of(i) for i in logged])
        messages = [r.message for r in store.read_logs(run_id)]
        assert messages[0] == "started" and messages[-1] == "resumed"
        seqs = [r.seq for r in store.read_logs(run_id)]
        assert seqs == list(range(len(seqs)))
        assert store.get_run(run_id).status == "succeeded"
        assert check_catalog(root) == 1
    finally:
        store.close()
        counters.close()
    figures.record(
        f"disk_full.{mode}",
        rows_logged=total,
        rows_acked_before_full=acked,
        rows_logged_while_full=resumed - acked,
        rows_dropped_and_reported=total - len(rows),
        rows_doubled=len(logged) - len(set(logged)),
        rows_logged_after_space_returned=total - resumed,
        blip_rows_kept=len([i for i in logged if i >= blip["blip"]]),
        error=error.replace(str(root), "<root>"),
    )
