"""End to end: real Python processes log runs and end in every way a process can end.

Each test starts ``sys.executable`` with ``RUNLANE_DIR`` pointing at the test's data root and
captures off, then reads the result back through the public API and the files on disk.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import runlane

pytestmark = pytest.mark.slow


def child_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLANE_")}
    env["RUNLANE_DIR"] = str(root)
    env["RUNLANE_CAPTURE"] = "none"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(root: Path, code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=child_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_child(
    root: Path, code: str, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=child_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"child printed nothing; stderr:\n{err}")
    return line


def parse_jsonl_files(run_dir: Path) -> None:
    """Every line of every JSONL file parses, except possibly a torn last line."""
    files = list(run_dir.rglob("*.jsonl"))
    assert files
    for path in files:
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        complete = lines[:-1]  # the part after the last newline is empty or torn
        for line in complete:
            json.loads(line)  # NaN tokens are valid for Python's json


def indices_on_disk(stream_dir: Path) -> list[int]:
    raw = (stream_dir / "data.jsonl").read_bytes()
    return [json.loads(line)["index"] for line in raw.split(b"\n")[:-1]]


# --- normal endings ---------------------------------------------------------------------------


def test_normal_exit_marks_the_run_succeeded(root: Path) -> None:
    result = run_child(
        root,
        """
        import runlane
        run = runlane.init("e2e/proc", name="ok", config={"lr": 0.1})
        for i in range(100):
            run.log({"i": i})
        print(run.id)
        """,
    )
    assert result.returncode == 0, result.stderr
    view = runlane.open(result.stdout.strip(), dir=root)
    assert view.status == "succeeded"
    assert [h["i"] for h in view.history()] == list(range(100))
    assert view.params.get() == {"lr": 0.1}


def test_uncaught_exception_marks_the_run_failed(root: Path) -> None:
    result = run_child(
        root,
        """
        import sys
        def user_hook(kind, exc, tb):
            print("USER HOOK CALLED", file=sys.stderr)
            sys.__excepthook__(kind, exc, tb)
        sys.excepthook = user_hook

        import runlane
        run = runlane.init("e2e/proc", name="boom")
        print(run.id, flush=True)
        run.log({"i": 1})

        def train():
            raise RuntimeError("loss is NaN at step 7")

        train()
        """,
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: loss is NaN at step 7" in result.stderr
    assert "USER HOOK CALLED" in result.stderr
    view = runlane.open(result.stdout.strip(), dir=root)
    info = view.info
    assert info.status == "failed"
    assert info.status_history[-1].message == "RuntimeError: loss is NaN at step 7"
    assert info.extra["error"]["message"] == "loss is NaN at step 7"
    assert "in train" in info.extra["error"]["traceback"]
    assert [h["i"] for h in view.history()] == [1]


def test_sigterm_marks_the_run_stopped_and_the_process_dies_by_the_signal(root: Path) -> None:
    proc = start(
        root,
        """
        import time, runlane
        run = runlane.init("e2e/proc", name="term")
        run.log({"i": 0})
        run.flush()
        print(run.id, flush=True)
        i = 1
        while True:
            run.log({"i": i})
            i += 1
            time.sleep(0.001)
        """,
    )
    run_id = first_line(proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM
    view = runlane.open(run_id, dir=root)
    info = view.info
    assert info.status == "stopped"
    assert info.status_history[-1].message == "SIGTERM"
    values = [h["i"] for h in view.history()]
    assert values == list(range(len(values))) and values


def test_keyboard_interrupt_marks_the_run_stopped(root: Path) -> None:
    proc = start(
        root,
        """
        import time, runlane
        run = runlane.init("e2e/proc", name="ctrl-c")
        run.flush()
        print(run.id, flush=True)
        while True:
            run.log({"x": 1.0})
            time.sleep(0.001)
        """,
    )
    run_id = first_line(proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    info = runlane.open(run_id, dir=root).info
    assert info.status == "stopped"
    assert info.status_history[-1].message == "KeyboardInterrupt"


# --- kill -9 --------------------------------------------------------------------------------

KILL_CHILD = """
import sys, runlane
run = runlane.init("e2e/crash", name="victim")
print(run.id, flush=True)
stream = run.metrics("fast")
i = 0
while True:
    run.log({"i": i, "loss": 1.0 / (i + 1)})
    stream.log(i=i)
    if i % 97 == 0:
        run.log_message(f"at {i}")
    i += 1
    if i % 500 == 0:
        run.flush()
        print(i, flush=True)
"""


def test_kill_9_leaves_parseable_files_and_every_flushed_row(root: Path) -> None:
    rng = random.Random(1234)
    for trial in range(5):
        proc = start(root, KILL_CHILD)
        run_id = first_line(proc)
        acknowledged = int(first_line(proc))  # the child is in its loop and has flushed
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()  # SIGKILL at a random moment: no handler, no atexit, no flush
        proc.wait(timeout=10)
        assert proc.stdout is not None
        for line in proc.stdout.read().split():  # every count the child reported
            acknowledged = max(acknowledged, int(line))
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()

        view = runlane.open(run_id, dir=root)
        run_dir = Path(view.path or "")
        parse_jsonl_files(run_dir)
        for stream in ("default", "fast"):
            on_disk = indices_on_disk(run_dir / "metrics" / stream)
            assert on_disk == list(range(len(on_disk))), f"trial {trial}: gap in {stream}"
            values = [h["i"] for h in view.history(stream)]
            assert values == list(range(len(values))), f"trial {trial}: {stream} not contiguous"
            assert len(values) >= acknowledged, (
                f"trial {trial}: {stream} has {len(values)} rows, {acknowledged} were flushed"
            )
        seqs = [r.seq for r in view.logs()]
        assert seqs == list(range(len(seqs)))
        assert view.status == "crashed", f"trial {trial}"
        assert any(r.id == run_id and r.status == "crashed" for r in runlane.runs(dir=root))


def test_a_crashed_run_resumed_by_external_id_is_running_again(root: Path) -> None:
    crashed = run_child(
        root,
        """
        import os, runlane
        run = runlane.init("e2e/requeue", external_id="slurm-42")
        run.log({"i": 0})
        run.flush()
        print(run.id, flush=True)
        os._exit(0)  # preempted: no finish, no atexit
        """,
    )
    run_id = crashed.stdout.strip()
    assert runlane.open(run_id, dir=root).status == "crashed"
    resumed = run_child(
        root,
        """
        import runlane
        run = runlane.init("e2e/requeue", external_id="slurm-42")
        print(run.id, run.existed, run.status)
        print(runlane.runs("e2e/requeue")[0].status)
        run.log({"i": 1})
        """,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split() == [run_id, "True", "running", "running"]
    view = runlane.open(run_id, dir=root)
    assert view.status == "succeeded"
    assert [h["i"] for h in view.history()] == [0, 1]


# --- many processes, one run ---------------------------------------------------------------------

RANK_CHILD = """
import sys, runlane
rank = int(sys.argv[1])
run = runlane.init("e2e/multi", id=sys.argv[2], source=str(rank))
for i in range(2000):
    run.log({"rank": rank, "i": i})
run.log_message(f"rank {rank} done")
"""


def test_four_processes_log_to_one_run(root: Path) -> None:
    run_id = "shared0run0001"
    procs = [start(root, RANK_CHILD, str(rank), run_id) for rank in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    view = runlane.open(run_id, dir=root)
    rows: list[dict[str, Any]] = []
    start_index = 0
    while True:
        page = view.metrics().read(start_index, 5000)
        rows.extend({**p["data"], "_index": p["index"]} for p in page["data"])
        if not page["hasMore"]:
            break
        start_index = page["endIndex"] + 1
    assert len(rows) == 8000
    assert [r["_index"] for r in rows] == list(range(8000))
    for rank in range(4):
        mine = [r for r in rows if r["rank"] == rank]
        assert [r["i"] for r in mine] == list(range(2000))
        assert {r["_source"] for r in mine} == {str(rank)}
    logs = view.logs()
    assert [r.seq for r in logs] == [0, 1, 2, 3]
    assert sorted(r.message for r in logs) == [f"rank {r} done" for r in range(4)]
    assert view.status == "succeeded"
    assert len(runlane.runs("e2e/multi", dir=root)) == 1


# --- fork -----------------------------------------------------------------------------------


def test_forked_child_rows_are_present(root: Path) -> None:
    result = run_child(
        root,
        """
        import os, runlane
        run = runlane.init("e2e/fork", name="forky")
        for i in range(10):
            run.log({"who": "parent", "i": i})
        pid = os.fork()
        if pid == 0:
            for i in range(300):
                run.log({"who": "child", "i": i})
            run.flush()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        for i in range(10, 20):
            run.log({"who": "parent", "i": i})
        print(run.id)
        """,
    )
    assert result.returncode == 0, result.stderr
    view = runlane.open(result.stdout.strip(), dir=root)
    rows = view.history()
    assert [r["_index"] for r in rows] == list(range(320))
    assert [r["i"] for r in rows if r["who"] == "child"] == list(range(300))
    assert [r["i"] for r in rows if r["who"] == "parent"] == list(range(20))
    assert view.status == "succeeded"
