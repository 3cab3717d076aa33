"""Tests of the ``runlane`` command line, run in-process through ``main([...])``.

Runs are made through the SDK in a tmp folder; every command is read back through its text
or ``--json`` output. One test runs the installed console script to prove the entry point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.cli import logs as cli_logs
from runlane.cli.common import fmt_duration
from runlane.cli.main import main
from runlane.sdk.run import Run
from runlane.store.registry import forget_stores

NO_CAPTURE: dict[str, Any] = {
    "capture_git": False,
    "capture_env": False,
    "capture_stdio": False,
    "system_metrics": False,
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("RUNLANE_OWNER", "alice")
    monkeypatch.setenv("RUNLANE_DIR", str(tmp_path / "env-default"))
    monkeypatch.chdir(tmp_path)
    yield
    forget_stores()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def start(root: Path, project: str = "vision", name: str | None = None, **kw: Any) -> Run:
    return runlane.init(project, name, dir=root, **NO_CAPTURE, **kw)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def three_runs(root: Path) -> dict[str, Run]:
    """``fast`` (lr 0.1, succeeded), ``slow`` (lr 0.001, succeeded), ``wild`` (lr 0.5,
    failed, in another project)."""
    runs: dict[str, Run] = {}
    for name, lr, project, status in (
        ("fast", 0.1, "vision", "succeeded"),
        ("slow", 0.001, "vision", "succeeded"),
        ("wild", 0.5, "nlp", "failed"),
    ):
        run = start(
            root, project, name, config={"lr": lr, "opt": {"momentum": 0.9}}, tags=["sweep", name]
        )
        for step in range(4):
            run.log({"loss": lr * 10 / (step + 1)})
        run.metrics("val").log(loss=lr, acc=1 - lr, epoch=1)
        run.set_extra(kind=f"kind-{name}")
        run.finish(status)
        runs[name] = run
    return runs


# --- basics ---------------------------------------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"runlane {runlane.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        [],
        ["ls", "--limit", "0"],
        ["ls", "--columns", "loss"],
        ["metrics", "abcdef", "--start", "-1"],
        ["export", "abcdef", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "usage: runlane" in err


def test_missing_data_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = cli(capsys, "ls", "--dir", str(tmp_path / "nowhere"))
    assert code == 1
    assert out == ""
    nowhere = tmp_path / "nowhere"
    assert err == (
        f"runlane: error: no runlane data folder at {nowhere}: pass --dir PATH or set RUNLANE_DIR\n"
    )
    assert not (tmp_path / "nowhere").exists()


def test_unknown_run_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    for command in ("show", "metrics", "logs", "export", "rm"):
        code, out, err = cli(capsys, command, "no-such-run", "--dir", str(root))
        assert code == 1, command
        assert out == ""
        assert err.startswith("runlane: error: no run 'no-such-run'")
        assert err.count("\n") == 1
        assert "Traceback" not in err


def test_duration_format() -> None:
    assert fmt_duration(None) == "-"
    assert fmt_duration(0.5) == "0.50s"
    assert fmt_duration(42.25) == "42.2s"
    assert fmt_duration(125) == "2m05s"
    assert fmt_duration(2 * 3600 + 180) == "2h03m"
    assert fmt_duration(3 * 86400 + 4 * 3600) == "3d04h"


# --- ls -------------------------------------------------------------------------------------
def test_ls_table(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    code, out, err = cli(capsys, "ls", "--dir", str(root))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["id", "project", "name", "status", "tags", "created", "duration"]
    body = [line.split() for line in lines[2:]]
    assert [row[0] for row in body] == [three_runs[n].id[:8] for n in ("wild", "slow", "fast")]
    assert body[0][1:5] == ["alice/nlp", "wild", "failed", "sweep,wild"]
    assert body[2][1:5] == ["alice/vision", "fast", "succeeded", "sweep,fast"]
    created = time.strftime("%Y-%m-%d", time.localtime(three_runs["fast"].info.created_at))
    assert body[2][5] == created
    assert re.fullmatch(r"\d+\.\d+s", body[2][7])


def test_ls_json_with_columns(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    rows = cli_json(
        capsys,
        "ls",
        "--dir",
        str(root),
        "--columns",
        "params.lr,params.opt.momentum,metrics.loss,metrics.val.acc,meta.kind,params.missing",
    )
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"fast", "slow", "wild"}
    fast = by_name["fast"]
    assert fast["id"] == three_runs["fast"].id
    assert fast["status"] == "succeeded"
    assert fast["tags"] == ["sweep", "fast"]
    assert fast["duration"] >= 0
    assert fast["columns"] == {
        "params.lr": 0.1,
        "params.opt.momentum": 0.9,
        "metrics.loss": pytest.approx(0.25),
        "metrics.val.acc": pytest.approx(0.9),
        "meta.kind": "kind-fast",
        "params.missing": None,
    }


def test_ls_where_filters(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    rows = cli_json(
        capsys, "ls", "--dir", str(root), "--where", "params.lr > 0.01 and status = 'succeeded'"
    )
    assert [row["id"] for row in rows] == [three_runs["fast"].id]
    rows = cli_json(capsys, "ls", "--dir", str(root), "--where", "tags contains 'wild'")
    assert [row["name"] for row in rows] == ["wild"]
    code, out, _ = cli(capsys, "ls", "--dir", str(root), "--where", "params.lr > 100")
    assert code == 0
    assert out == "no runs matching 'params.lr > 100'\n"


def test_ls_project_sort_limit(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    rows = cli_json(capsys, "ls", "vision", "--dir", str(root), "--sort", "params.lr")
    assert [row["name"] for row in rows] == ["slow", "fast"]
    rows = cli_json(capsys, "ls", "alice/nlp", "--dir", str(root))
    assert [row["name"] for row in rows] == ["wild"]
    rows = cli_json(capsys, "ls", "--dir", str(root), "--sort", "-params.lr", "--limit", "2")
    assert [row["name"] for row in rows] == ["wild", "fast"]


def test_ls_survives_a_folder_deleted_behind_its_back(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    shutil.rmtree(three_runs["slow"].path or "")
    rows = cli_json(capsys, "ls", "--dir", str(root), "--columns", "params.lr")
    assert {row["name"]: row["columns"]["params.lr"] for row in rows} == {
        "fast": 0.1,
        "slow": None,
        "wild": 0.5,
    }


@pytest.mark.parametrize(
    ("option", "text", "column"),
    [("--where", "params.lr >", 12), ("--where", "status = 'x' and", 17), ("--sort", "-", 2)],
)
def test_ls_bad_filter_names_the_position(
    capsys: pytest.CaptureFixture[str],
    root: Path,
    three_runs: dict[str, Run],
    option: str,
    text: str,
    column: int,
) -> None:
    code, out, err = cli(capsys, "ls", "--dir", str(root), option, text)
    assert code == 1
    assert out == ""
    assert err.startswith(f"runlane: error: bad {option} {text!r}: ")
    assert f"at column {column}" in err
    assert err.count("\n") == 1


def test_default_dir_comes_from_runlane_dir(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "from-env"
    run = start(other, name="envrun")
    run.finish()
    monkeypatch.setenv("RUNLANE_DIR", str(other))
    rows = cli_json(capsys, "ls")
    assert [row["id"] for row in rows] == [run.id]


# --- show -----------------------------------------------------------------------------------
def test_show(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    run = start(
        root,
        name="detail",
        config={"lr": 0.01, "opt": {"name": "adam"}},
        tags="a,b",
        description="a careful run",
    )
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    run.metrics("val").log(acc=0.7)
    run.tracks("weights/norm").append(norm=1.5)
    run.update_metadata("model", {"kind": "mlp"})
    run.log_data_ref("train-set", b"0123456789")
    run.log_message("hello")
    run.log_event("begin")
    run.set_extra(git={"commit": "0123456789abcdef", "branch": "main", "is_dirty": True})
    run.finish("stopped", "by hand")

    doc = cli_json(capsys, "show", run.id[:8], "--dir", str(root))
    assert doc["run"]["id"] == run.id
    assert [c["status"] for c in doc["run"]["statusHistory"]] == ["created", "running", "stopped"]
    assert doc["run"]["statusHistory"][-1]["message"] == "by hand"
    assert doc["params"] == {"lr": 0.01, "opt.name": "adam"}
    assert {s["name"]: s["count"] for s in doc["streams"]} == {"default": 2, "val": 1}
    assert doc["tracks"] == ["weights/norm"]
    assert doc["metadata"] == ["model"]
    assert (doc["lineage"], doc["logs"], doc["events"]) == (1, 1, 1)

    code, out, err = cli(capsys, "show", "alice/vision/detail", "--dir", str(root))
    assert code == 0, err
    header = out.split("\n\n", 1)[0].splitlines()
    fields = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in header)
    assert fields["id"] == run.id
    assert fields["status"] == "stopped"
    assert fields["history"].split("  →  ")[-1].startswith("stopped ")
    assert fields["history"].endswith("(by hand)")
    assert fields["tags"] == "a, b"
    assert fields["description"] == "a careful run"
    assert fields["git"] == "0123456789ab on main (dirty)"
    assert fields["folder"] == str(root / "alice" / "vision" / "detail")
    assert re.search(r"opt\.name\s+adam", out)
    assert re.search(r"default\s+2\s+loss", out)
    assert "tracks: weights/norm" in out
    assert "metadata: model" in out
    assert "lineage: 1 reference\n" in out


# --- metrics --------------------------------------------------------------------------------
@pytest.fixture
def metric_run(root: Path) -> Run:
    run = start(root, name="metrics")
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 10})
    stream = run.metrics("mixed")
    stream.log(x=1, label='a,b "quoted"')
    stream.log(x=2.5, flag=True)
    stream.log(y=float("nan"), label="")
    stream.log(x=-0.0, y=float("inf"))
    run.finish()
    return run


def test_metrics_lists_streams(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    streams = {s["name"]: s for s in cli_json(capsys, "metrics", metric_run.id, "--dir", str(root))}
    assert streams["default"]["count"] == 5
    assert {"loss", "acc", "_step"} <= set(streams["default"]["fields"])
    assert streams["mixed"]["count"] == 4
    code, out, _ = cli(capsys, "metrics", metric_run.id, "--dir", str(root))
    assert code == 0
    assert re.search(r"default\s+5\s+loss, acc", out)
    assert re.search(r"mixed\s+4\s+x, label, flag, y", out)


def test_metrics_rows_table_and_json(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    code, out, _ = cli(
        capsys,
        "metrics",
        metric_run.id,
        "default",
        "--start",
        "1",
        "--limit",
        "2",
        "--dir",
        str(root),
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "default: rows 1..2"
    assert lines[1].split() == ["index", "step", "loss", "acc"]
    assert [line.split() for line in lines[3:]] == [
        ["1", "1", "0.5", "0.1"],
        ["2", "2", "0.333333", "0.2"],
    ]
    rows = cli_json(capsys, "metrics", metric_run.id, "default", "--start", "3", "--dir", str(root))
    assert [r["index"] for r in rows] == [3, 4]
    assert rows[1]["data"]["loss"] == pytest.approx(0.2)
    assert rows[1]["data"]["_step"] == 4


def test_metrics_csv_to_stdout(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    code, out, _ = cli(capsys, "metrics", metric_run.id, "mixed", "--csv", "--dir", str(root))
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["index", "x", "label", "flag", "y", "_ts"]
    assert table[1][:5] == ["0", "1", 'a,b "quoted"', "", ""]
    assert table[2][:5] == ["1", "2.5", "", "true", ""]
    assert table[3][:5] == ["2", "", "", "", "nan"]
    assert table[4][:5] == ["3", "-0.0", "", "", "inf"]
    assert len(table) == 5


def test_metrics_unknown_stream(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    code, out, err = cli(capsys, "metrics", metric_run.id, "nope", "--dir", str(root))
    assert code == 1
    assert out == ""
    assert err == (
        f"runlane: error: run {metric_run.id} has no metric stream 'nope'; "
        "its streams are: default, mixed\n"
    )


def test_metrics_csv_needs_a_stream_and_one_format(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    code, _, err = cli(capsys, "metrics", metric_run.id, "--csv", "--dir", str(root))
    assert code == 2
    assert "--csv prints one stream's rows" in err
    code, _, err = cli(
        capsys, "metrics", metric_run.id, "mixed", "--csv", "--json", "--dir", str(root)
    )
    assert code == 2
    assert "choose one" in err


# --- logs -----------------------------------------------------------------------------------
LOG_LINE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] (\w+) +(.*)")


def test_logs(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    run = start(root, name="chatty")
    t0 = time.mktime((2024, 3, 1, 12, 30, 45, 0, 0, -1)) + 0.25
    run.log_message("starting", timestamp=t0)
    run.log_message("careful", "warning", {"epoch": 3}, timestamp=t0 + 1)
    run.log_message("broken", "error", timestamp=t0 + 2)
    run.log_message("detail", "debug", timestamp=t0 + 3)
    run.finish()

    code, out, _ = cli(capsys, "logs", run.id, "--dir", str(root))
    assert code == 0
    parsed = [LOG_LINE.fullmatch(line) for line in out.splitlines()]
    assert all(parsed)
    assert [(m[2], m[3]) for m in parsed if m] == [
        ("INFO", "starting"),
        ("WARN", 'careful {"epoch":3}'),
        ("ERROR", "broken"),
        ("DEBUG", "detail"),
    ]
    assert parsed[0] is not None and parsed[0][1] == "2024-03-01 12:30:45.250"

    code, out, _ = cli(capsys, "logs", run.id, "--level", "warning", "--dir", str(root))
    assert [line.split()[2] for line in out.splitlines()] == ["WARN", "ERROR"]
    records = cli_json(capsys, "logs", run.id, "--limit", "2", "--dir", str(root))
    assert [(r["seq"], r["level"], r["message"]) for r in records] == [
        (0, "info", "starting"),
        (1, "warn", "careful"),
    ]
    assert records[1]["metadata"] == {"epoch": 3}
    code, _, err = cli(capsys, "logs", run.id, "--level", "loud", "--dir", str(root))
    assert code == 1
    assert err.startswith("runlane: error: log level 'loud' is not one of")


def test_logs_follow_until_the_run_ends(
    capsys: pytest.CaptureFixture[str], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_logs, "POLL_SECONDS", 0.05)
    run = start(root, name="live")
    run.log_message("first")
    run.flush()

    def later() -> None:
        time.sleep(0.3)
        run.log_message("second")
        run.flush()
        time.sleep(0.2)
        run.log_message("last words")
        run.finish()

    worker = threading.Thread(target=later)
    worker.start()
    started = time.monotonic()
    code, out, _ = cli(capsys, "logs", run.id, "--follow", "--json", "--dir", str(root))
    worker.join()
    assert code == 0
    assert time.monotonic() - started >= 0.4
    messages = [json.loads(line)["message"] for line in out.splitlines()]
    assert messages == ["first", "second", "last words"]


# --- export ---------------------------------------------------------------------------------
def test_export_json(capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path) -> None:
    run = start(root, name="full", config={"lr": 0.1})
    run.log({"loss": 0.5})
    run.metrics("val").log(acc=0.9, epoch=1)
    run.log_message("hi", metadata={"k": 1})
    run.log_event("best", metadata={"epoch": 1})
    run.tracks("weights/norm").append(_ts=100.0, norm=2.0)
    run.update_metadata("model", {"kind": "mlp"})
    run.log_data_ref("data", b"abc")
    run.finish()

    doc = cli_json(capsys, "export", run.id, "--dir", str(root))
    out_file = tmp_path / "out" / "run.json"
    code, out, _ = cli(capsys, "export", run.id, "-o", str(out_file), "--dir", str(root))
    assert code == 0
    assert out == f"wrote {out_file}\n"
    assert json.loads(out_file.read_text()) == doc
    assert set(doc) == {
        "run",
        "params",
        "metadata",
        "streams",
        "logs",
        "events",
        "tracks",
        "lineage",
    }
    assert doc["run"]["id"] == run.id and doc["run"]["status"] == "succeeded"
    assert doc["params"] == {"lr": 0.1}
    assert doc["metadata"]["model"]["value"] == {"kind": "mlp"}
    assert doc["streams"]["default"][0]["index"] == 0
    assert doc["streams"]["default"][0]["data"]["loss"] == 0.5
    assert doc["streams"]["val"][0]["data"]["acc"] == 0.9
    assert [(r["message"], r["metadata"]) for r in doc["logs"]] == [("hi", {"k": 1})]
    assert [(e["name"], e["metadata"]) for e in doc["events"]] == [("best", {"epoch": 1})]
    assert doc["tracks"] == {"weights/norm": [{"timestamp": 100.0, "norm": 2.0}]}
    assert [(r["name"], r["size"], r["isInput"]) for r in doc["lineage"]] == [("data", 3, True)]


def test_export_csv_round_trip(
    capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path, metric_run: Run
) -> None:
    folder = tmp_path / "csv"
    result = cli_json(
        capsys, "export", metric_run.id, "--format", "csv", "-o", str(folder), "--dir", str(root)
    )
    assert result["files"] == [str(folder / "default.csv"), str(folder / "mixed.csv")]
    for stream in ("default", "mixed"):
        with (folder / f"{stream}.csv").open(newline="") as fh:
            read_back = list(csv.DictReader(fh))
        logged = metric_run.history(stream)
        assert len(read_back) == len(logged)
        for got, want in zip(read_back, logged, strict=True):
            assert int(got.pop("index")) == want.pop("_index")
            for key, text in got.items():
                assert _from_cell(text, want.get(key)) is True, (stream, key, text, want)


def _from_cell(text: str, want: Any) -> bool:
    if want is None:
        return text == ""
    if isinstance(want, bool):
        return text == ("true" if want else "false")
    if isinstance(want, float):
        value = float(text)
        return (math.isnan(value) and math.isnan(want)) or (
            value == want and math.copysign(1, value) == math.copysign(1, want)
        )
    if isinstance(want, int):
        return int(text) == want
    return bool(text == want)


def test_export_parquet(
    capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path, metric_run: Run
) -> None:
    import pyarrow.parquet as pq

    folder = tmp_path / "pq"
    code, out, _ = cli(
        capsys,
        "export",
        metric_run.id,
        "--format",
        "parquet",
        "-o",
        str(folder),
        "--dir",
        str(root),
    )
    assert code == 0
    assert out.splitlines() == [
        f"wrote {folder / 'default.parquet'}",
        f"wrote {folder / 'mixed.parquet'}",
    ]
    table = pq.read_table(folder / "default.parquet").to_pydict()
    assert table["index"] == [0, 1, 2, 3, 4]
    assert table["loss"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
    mixed = pq.read_table(folder / "mixed.parquet").to_pydict()
    assert mixed["x"] == [1.0, 2.5, None, -0.0]
    assert mixed["label"] == ['a,b "quoted"', None, "", None]
    assert mixed["flag"] == [None, True, None, None]


def test_export_streams_need_an_output_folder(
    capsys: pytest.CaptureFixture[str], root: Path, metric_run: Run
) -> None:
    code, out, err = cli(capsys, "export", metric_run.id, "--format", "csv", "--dir", str(root))
    assert code == 2
    assert out == ""
    assert "give -o FOLDER" in err


# --- rm, reindex ----------------------------------------------------------------------------
def test_rm_yes(capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]) -> None:
    victim = three_runs["slow"]
    folder = Path(victim.path or "")
    assert folder.is_dir()
    result = cli_json(capsys, "rm", victim.id, "--yes", "--dir", str(root))
    assert result["deleted"] == victim.id
    assert not folder.exists()
    names = [row["name"] for row in cli_json(capsys, "ls", "--dir", str(root))]
    assert names == ["wild", "fast"]
    code, _, err = cli(capsys, "show", victim.id, "--dir", str(root))
    assert code == 1
    assert "no run" in err


def test_rm_refuses_without_yes_when_stdin_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
    root: Path,
    three_runs: dict[str, Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    victim = three_runs["fast"]
    code, out, err = cli(capsys, "rm", victim.id, "--dir", str(root))
    assert code == 1
    assert out == ""
    assert err.startswith(f"runlane: error: refusing to delete run {victim.id}")
    assert Path(victim.path or "").is_dir()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rm_asks_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    root: Path,
    three_runs: dict[str, Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = three_runs["fast"]
    folder = Path(victim.path or "")
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, err = cli(capsys, "rm", victim.id, "--dir", str(root))
    assert (code, out) == (0, "not deleted\n")
    assert f"delete run {victim.id}" in err and err.endswith("[y/N] ")
    assert folder.is_dir()
    monkeypatch.setattr(sys, "stdin", _Terminal("yes\n"))
    code, out, _ = cli(capsys, "rm", victim.id, "--dir", str(root))
    assert code == 0
    assert out == f"deleted run {victim.id} (alice/vision/fast)\n"
    assert not folder.exists()


def test_reindex_rebuilds_a_deleted_catalog(
    capsys: pytest.CaptureFixture[str], root: Path, three_runs: dict[str, Run]
) -> None:
    forget_stores()  # a fresh process: no open connection to the old catalog
    for path in (root / ".runlane").glob("catalog.sqlite*"):
        path.unlink()
    assert cli_json(capsys, "ls", "--dir", str(root)) == []
    result = cli_json(capsys, "reindex", "--dir", str(root))
    assert result == {"runs": 3, "root": str(root)}
    rows = cli_json(
        capsys, "ls", "--dir", str(root), "--where", "params.lr > 0.01", "--columns", "metrics.loss"
    )
    assert sorted(row["name"] for row in rows) == ["fast", "wild"]
    assert {row["name"]: row["columns"]["metrics.loss"] for row in rows}["fast"] == (
        pytest.approx(0.25)
    )
    code, out, _ = cli(capsys, "reindex", "--dir", str(root))
    assert (code, out) == (0, f"indexed 3 runs in {root}\n")


# --- demo -----------------------------------------------------------------------------------
def _check_demo_run(view: runlane.RunView, epochs: int) -> None:
    assert view.status == "succeeded"
    streams = {s.name: s.count for s in view.streams()}
    assert set(streams) == {"default", "train", "val"}
    assert streams["train"] == streams["val"] == epochs
    assert streams["default"] == epochs * math.ceil(455 / 32)
    params = view.params.get()
    assert params["lr"] == 0.1 and params["epochs"] == epochs and params["batch_size"] == 32
    assert params["optimizer.momentum"] == 0.9
    assert view.params.get(flatten=False)["optimizer"]["name"] == "sgd"
    val = view.history("val")
    assert [row["epoch"] for row in val] == list(range(1, epochs + 1))
    assert val[-1]["accuracy"] > 0.9
    train_loss = [row["loss"] for row in view.history("train")]
    assert train_loss[-1] < train_loss[0]
    events = [e.name for e in view.events()]
    assert events[0] == "training_started"
    assert "best_model" in events
    assert len(view.tracks("weights/norm").read()) == epochs
    assert [(r.name, r.kind, r.is_input) for r in view.lineage()] == [
        ("breast_cancer", "data", True),
        ("breast-cancer-logreg", "model", False),
    ]
    assert any(r.message.startswith(f"epoch {epochs}/{epochs}:") for r in view.logs())
    # assets for the UI: a weights histogram per checkpointed epoch, curves, a model
    assert [a.step for a in view.assets("weights")] == sorted({1, *range(5, epochs, 5), epochs})
    assert {a.kind for n in ("val_roc", "val_pr") for a in view.assets(n)} == {"curve"}
    (matrix,) = view.assets("val_confusion")
    assert matrix.kind == "confusion"
    model = runlane.models(f"{view.info.owner}/{view.info.project}", dir=view.store.root)
    assert model.version("breast-cancer-logreg", "best").framework == "numpy"


def test_demo_command(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    result = cli_json(capsys, "demo", "--dir", str(root), "--epochs", "3", "--project", "demo-p")
    assert result["status"] == "succeeded"
    assert result["project"] == "alice/demo-p"
    assert result["hint"] == f"runlane show {result['id']} --dir {root}"
    _check_demo_run(runlane.open(result["id"], dir=root), 3)
    code, out, _ = cli(capsys, "demo", "--dir", str(root), "--epochs", "2")
    assert code == 0
    run_id = out.split()[2]
    assert out.splitlines()[1] == f"folder: {runlane.open(run_id, dir=root).path}"
    assert out.splitlines()[2] == f"next:   runlane show {run_id} --dir {root}"


def test_python_m_runlane_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runlane.demo", "--epochs", "2", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]
    _check_demo_run(runlane.open(run_id, dir=tmp_path / "d"), 2)


def test_console_script_help() -> None:
    script = Path(sys.executable).parent / "runlane"
    assert script.is_file(), f"no console script at {script}: pip install -e ."
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: runlane")
    for command in ("ls", "show", "metrics", "logs", "export", "rm", "reindex", "demo"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command
