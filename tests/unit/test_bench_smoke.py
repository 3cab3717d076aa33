"""Smoke test of the core benchmark: ``bench/core.py --quick --json`` runs every workload
end to end (real runs in a temporary RUNLANE_DIR, each in its own process) and reports a
number for each. No timing is asserted: this machine's speed is not the code's behaviour.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "core.py"
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out), "--tmp", str(tmp)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout}\n{proc.stderr}"
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    doc["_stdout"] = proc.stdout
    doc["_leftovers"] = sorted(p.name for p in tmp.iterdir())
    return doc


@pytest.mark.slow
def test_every_workload_has_numeric_results(report: dict[str, Any]) -> None:
    assert set(report["workloads"]) == set(WORKLOADS)
    for name, result in report["workloads"].items():
        for key in ("runlane", "raw", "ratio"):
            assert _number(result[key]) and result[key] > 0, (name, key, result[key])
        assert isinstance(result["passed"], bool), name
        assert result["samples"]["runlane"] and result["samples"]["raw"], name
    assert isinstance(report["all_passed"], bool)


@pytest.mark.slow
def test_secondary_numbers_are_reported(report: dict[str, Any]) -> None:
    w = report["workloads"]
    assert _number(w["W1"]["extra"]["runlane"]["finish_ms"])
    assert _number(w["W4"]["extra"]["runlane"]["with_import_ms"])
    assert _number(w["W4"]["extra"]["raw"]["jsonl_parse_ms"])
    assert _number(w["W4"]["extra"]["runlane"]["points"])
    assert w["W4"]["extra"]["runlane"]["points"] == report["settings"]["sizes"]["w1_calls"]
    for key in ("ready_off", "ready_default", "wall_difference_ms"):
        assert _number(w["W6"]["extra"]["runlane"][key]), key
    disk = w["W5"]["extra"]["runlane"]
    assert disk["total"] == w["W5"]["runlane"] == disk["jsonl"] + disk["cache"] + disk["other"]
    assert disk["jsonl"] > 0 and disk["cache"] > 0


@pytest.mark.slow
def test_quick_run_prints_the_table_and_cleans_up(report: dict[str, Any]) -> None:
    out = report["_stdout"]
    assert "numpy" in out and "orjson" in out and "cpu:" in out
    for name in WORKLOADS:
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    assert report["settings"] == {
        "repeat": 1,
        "quick": True,
        "sizes": {"w1_calls": 10_000, "w2_calls": 1_000, "w3_params": 100},
    }
    assert report["_leftovers"] == ["quick.json"]  # every temporary run folder was removed
