"""The peer benchmark driver's pure parts: arguments, schedule, medians, ratios, table.

No peer is installed or run here; ``bench/peers/run.py`` imports nothing from them at load.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

RUN_PY = Path(__file__).resolve().parents[2] / "bench" / "peers" / "run.py"


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peers_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["peers_run"] = module
    spec.loader.exec_module(module)
    return module


def test_defaults_run_every_tool_three_times(peers: ModuleType) -> None:
    opts = peers.parse_args([])
    assert opts.tools == peers.TOOLS
    assert opts.workloads == peers.WORKLOADS
    assert opts.repeats == 3
    assert opts.quick is False and opts.scale == 1.0


def test_quick_mode_shrinks_sizes_and_repeats(peers: ModuleType) -> None:
    opts = peers.parse_args(["--quick"])
    assert opts.repeats == 1
    assert peers.size_for("runlane", "w1", opts.scale) == 10_000
    assert peers.size_for("runlane", "w2", opts.scale) == 1_000
    assert peers.parse_args(["--quick", "--repeats", "4"]).repeats == 4


def test_tool_and_workload_lists_are_checked(
    peers: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = peers.parse_args(["--tools", "runlane, aim", "--workloads", "w1,w6"])
    assert opts.tools == ("runlane", "aim")
    assert opts.workloads == ("w1", "w6")
    with pytest.raises(SystemExit):
        peers.parse_args(["--tools", "runlane,comet"])
    assert "comet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        peers.parse_args(["--repeats", "0"])


def test_median_of_odd_and_even_counts(peers: ModuleType) -> None:
    assert peers.median([5.0, 1.0, 3.0]) == 3.0
    assert peers.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        peers.median([])


def test_schedule_interleaves_and_rotates_tools(peers: ModuleType) -> None:
    tools = ("a", "b", "c")
    order = peers.schedule(tools, ("w1", "w2"), 3)
    assert len(order) == 3 * 2 * 3
    assert Counter((w, t) for _, w, t in order) == {(w, t): 3 for w in ("w1", "w2") for t in tools}
    # one repeat finishes before the next starts
    reps = [rep for rep, _, _ in order]
    assert reps == sorted(reps)
    firsts = [order[rep * 6][2] for rep in range(3)]
    assert firsts == ["a", "b", "c"]  # each tool leads one repeat


def test_slow_tools_use_fewer_calls(peers: ModuleType) -> None:
    assert peers.size_for("mlflow-sqlite", "w1", 1.0) == 2_000
    assert peers.size_for("runlane", "w1", 1.0) == 100_000
    assert peers.size_for("mlflow-sqlite", "w4", 1.0) == 100_000


def test_metrics_are_normalised_per_call(peers: ModuleType) -> None:
    assert peers.to_metrics("w1", {"seconds": 0.2, "n": 100_000}) == {"w1_us": pytest.approx(2.0)}
    assert peers.to_metrics("w2", {"seconds": 0.5, "n": 10_000}) == {
        "w2_vps": pytest.approx(200_000)
    }
    assert peers.to_metrics("w4", {"seconds": 0.012, "n": 100_000}) == {
        "w4_ms": pytest.approx(12.0)
    }
    with pytest.raises(ValueError, match="w9"):
        peers.to_metrics("w9", {"seconds": 1, "n": 1})


def test_ratio_is_a_cost_below_one_when_runlane_is_ahead(peers: ModuleType) -> None:
    assert peers.ratio(2.0, 10.0, False) == pytest.approx(0.2)
    # throughput: runlane 2M values/s vs peer 0.5M → runlane costs a quarter
    assert peers.ratio(2e6, 5e5, True) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        peers.ratio(0.0, 1.0, False)


def test_table_shows_values_notes_and_ratios(peers: ModuleType) -> None:
    medians = {
        "runlane": {"w1_us": 2.0, "w2_vps": 2_000_000.0, "w6_ms": 100.0},
        "mlflow-sqlite": {"w1_us": 5600.0, "w2_vps": 1_000.0, "w6_ms": 1_000.0},
    }
    notes = {("mlflow-sqlite", "w1_us"): "2,000 calls", ("mlflow-sqlite", "w4_ms"): "failed"}
    table = peers.format_table(medians, ("runlane", "mlflow-sqlite"), notes)
    lines = table.splitlines()
    assert lines[0].startswith("| tool | W1 µs/call")
    assert len(lines) == 4
    assert "| runlane | 2.00 | 2,000,000 |" in lines[2]
    assert "5,600.00 (2,000 calls)" in lines[3]
    assert "| failed |" in lines[3]
    ratios = peers.format_ratios(medians, ("runlane", "mlflow-sqlite")).splitlines()
    assert len(ratios) == 3
    assert ratios[2].startswith("| MLflow SQLite | 0.000357 | 0.0005 |")
