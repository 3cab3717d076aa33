"""Benchmark runlane beside its peers (MLflow, Aim, Trackio, ML-Dash, W&B offline) and the raw
limits, on this machine, in one run.

    python bench/peers/setup.py                 # once: creates bench/peers/.venv
    bench/peers/.venv/bin/python bench/peers/run.py [--quick] [--repeats 3] [--tools a,b]

Every (tool, workload, repeat) runs in a fresh subprocess with its own empty data folder; the
order of tools rotates from one repeat to the next (interleaved), so machine drift hits all
alike; the table shows medians. Results go to ``bench/peers/results/peers-<time>.json`` and
the markdown table is printed. The pure parts (arguments, schedule, medians, table) are
importable without any peer installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

TOOLS: tuple[str, ...] = (
    "runlane",
    "mldash",
    "trackio",
    "aim",
    "wandb",
    "mlflow-sqlite",
    "mlflow-batch",
    "mlflow-file",
    "raw-orjson",
    "raw-sqlite",
    "raw-numpy",
)
WORKLOADS: tuple[str, ...] = ("w1", "w2", "w3", "w4", "w6")
LABELS: dict[str, str] = {
    "runlane": "runlane",
    "mldash": "ML-Dash",
    "trackio": "Trackio",
    "aim": "Aim",
    "wandb": "W&B offline",
    "mlflow-sqlite": "MLflow SQLite",
    "mlflow-batch": "MLflow log_batch",
    "mlflow-file": "MLflow file store",
    "raw-orjson": "raw: orjson lines + 1 fsync",
    "raw-sqlite": "raw: SQLite executemany",
    "raw-numpy": "raw: numpy array + tofile",
}
PACKAGES: dict[str, str] = {
    "runlane": "runlane",
    "mldash": "ml-dash",
    "trackio": "trackio",
    "aim": "aim",
    "wandb": "wandb",
    "mlflow-sqlite": "mlflow",
    "mlflow-batch": "mlflow",
    "mlflow-file": "mlflow",
    "raw-orjson": "orjson",
    "raw-sqlite": "sqlite3",
    "raw-numpy": "numpy",
}
# Full sizes; tools too slow for them use fewer calls (the per-call figure is extrapolated).
FULL_W1 = 100_000
FULL_W2 = 10_000
REDUCED: dict[tuple[str, str], int] = {
    ("mlflow-sqlite", "w1"): 2_000,
    ("mlflow-file", "w1"): 10_000,
    ("mlflow-sqlite", "w2"): 500,
    ("mlflow-file", "w2"): 2_000,
}
# Workloads a tool cannot do; the cell says why.
MISSING: dict[tuple[str, str], str] = {
    ("wandb", "w4"): "no offline read API",
    ("mlflow-batch", "w3"): "= MLflow SQLite",
    ("mlflow-batch", "w4"): "= MLflow SQLite",
    ("raw-numpy", "w3"): "n/a",
}
OFFLINE_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ALLOW_FILE_STORE": "true",
    "AIM_UI_TELEMETRY_ENABLED": "0",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_CONSOLE": "off",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_DISABLE_CODE": "true",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RUNLANE_CAPTURE": "0",
}


@dataclass(frozen=True)
class Options:
    """Parsed command line."""

    tools: tuple[str, ...]
    workloads: tuple[str, ...]
    repeats: int
    quick: bool
    python: str
    out: Path | None
    scale: float = 1.0
    render: Path | None = None


@dataclass
class Results:
    """Raw samples per (tool, metric); ``info`` holds versions, machine and sizes."""

    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, tool: str, metric: str, value: float) -> None:
        self.samples.setdefault(tool, {}).setdefault(metric, []).append(value)

    def medians(self) -> dict[str, dict[str, float]]:
        return {tool: {m: median(v) for m, v in per.items()} for tool, per in self.samples.items()}


def _csv(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [item for item in items if item not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"{what} {text!r}: each must be one of {', '.join(allowed)}"
        )
    return items


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Parse the driver's command line; raises ``SystemExit`` (argparse) on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1/10 sizes and one repeat (a smoke run, not for publishing)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per (tool, workload); the median is reported (default 3)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), type=lambda s: _csv(s, TOOLS, "--tools")
    )
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), type=lambda s: _csv(s, WORKLOADS, "--workloads")
    )
    parser.add_argument(
        "--python",
        default=None,
        help="interpreter with the peers (default bench/peers/.venv, else this)",
    )
    parser.add_argument("--out", type=Path, default=None, help="results JSON path")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="print the tables of a saved results JSON and exit (runs nothing)",
    )
    ns = parser.parse_args(argv)
    repeats = ns.repeats if ns.repeats is not None else (1 if ns.quick else 3)
    if repeats < 1:
        parser.error(f"--repeats {repeats}: must be ≥ 1")
    venv_python = HERE / ".venv" / "bin" / "python"
    python = ns.python or (str(venv_python) if venv_python.exists() else sys.executable)
    return Options(
        tools=ns.tools,
        workloads=ns.workloads,
        repeats=repeats,
        quick=ns.quick,
        python=python,
        out=ns.out,
        scale=0.1 if ns.quick else 1.0,
        render=ns.render,
    )


def median(values: Sequence[float]) -> float:
    """The median; raises ``ValueError`` on no values."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def schedule(
    tools: Sequence[str], workloads: Sequence[str], repeats: int
) -> list[tuple[int, str, str]]:
    """(repeat, workload, tool) in run order: all tools per workload per repeat, the tool
    order rotated by one each repeat so no tool always runs first or last."""
    order: list[tuple[int, str, str]] = []
    for rep in range(repeats):
        shift = rep % len(tools) if tools else 0
        rotated = list(tools[shift:]) + list(tools[:shift])
        for workload in workloads:
            order.extend((rep, workload, tool) for tool in rotated)
    return order


def size_for(tool: str, workload: str, scale: float) -> int:
    """Calls for W1/W2 (reduced for slow tools), points for W4."""
    full = FULL_W2 if workload == "w2" else FULL_W1
    n = REDUCED.get((tool, workload), full) if workload in ("w1", "w2") else full
    return max(int(n * scale), 1)


def skipped(tool: str, workload: str) -> str | None:
    return MISSING.get((tool, workload))


# ----------------------------------------------------------------------------- table

METRICS: tuple[tuple[str, str, str, bool], ...] = (
    # key, column title, format, higher is better
    ("w1_us", "W1 µs/call", "{:,.2f}", False),
    ("w2_vps", "W2 values/s", "{:,.0f}", True),
    ("w3_ms", "W3 ms", "{:,.2f}", False),
    ("w4_ms", "W4 read ms", "{:,.1f}", False),
    ("w5_mb", "W5 disk MB", "{:,.2f}", False),
    ("w6_ms", "W6 import ms", "{:,.0f}", False),
)


def _cell(value: float | None, fmt: str, note: str | None) -> str:
    if value is None:
        return note or "—"
    text = fmt.format(value)
    return f"{text} ({note})" if note else text


def format_table(
    medians: dict[str, dict[str, float]],
    tools: Sequence[str],
    notes: dict[tuple[str, str], str] | None = None,
) -> str:
    """A markdown table: one row per tool, one column per metric; missing cells show the
    note for (tool, metric) or a dash."""
    notes = notes or {}
    head = "| tool | " + " | ".join(title for _, title, _, _ in METRICS) + " |"
    rule = "|---|" + "|".join("---:" for _ in METRICS) + "|"
    rows = [head, rule]
    for tool in tools:
        per = medians.get(tool, {})
        cells = [_cell(per.get(key), fmt, notes.get((tool, key))) for key, _, fmt, _ in METRICS]
        rows.append(f"| {LABELS.get(tool, tool)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def ratio(runlane: float, peer: float, higher_is_better: bool) -> float:
    """runlane ÷ peer as a cost (time or bytes): below 1 means runlane is ahead. For a
    throughput (higher is better) the cost is its inverse, so the ratio is peer ÷ runlane."""
    if runlane <= 0 or peer <= 0:
        raise ValueError(f"ratio({runlane!r}, {peer!r}): both must be > 0")
    return peer / runlane if higher_is_better else runlane / peer


def format_ratios(medians: dict[str, dict[str, float]], tools: Sequence[str]) -> str:
    """A markdown table of runlane/peer cost ratios (below 1: runlane ahead)."""
    base = medians.get("runlane", {})
    head = "| runlane ÷ peer (cost) | " + " | ".join(t for _, t, _, _ in METRICS) + " |"
    rows = [head, "|---|" + "|".join("---:" for _ in METRICS) + "|"]
    for tool in tools:
        if tool == "runlane":
            continue
        per = medians.get(tool, {})
        cells = []
        for key, _, _, higher in METRICS:
            if key in base and key in per and base[key] > 0 and per[key] > 0:
                cells.append(f"{ratio(base[key], per[key], higher):.3g}")
            else:
                cells.append("—")
        rows.append(f"| {LABELS.get(tool, tool)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def to_metrics(workload: str, result: dict[str, Any]) -> dict[str, float]:
    """One worker result → the table's metrics."""
    seconds, n = float(result["seconds"]), int(result["n"])
    if workload == "w1":
        return {"w1_us": seconds / n * 1e6}
    if workload == "w2":
        return {"w2_vps": n * 10 / seconds if seconds > 0 else 0.0}
    if workload == "w3":
        return {"w3_ms": seconds * 1e3}
    if workload == "w4":
        return {"w4_ms": seconds * 1e3}
    if workload == "w6":
        return {"w6_ms": seconds * 1e3}
    raise ValueError(f"unknown workload {workload!r}")


# ----------------------------------------------------------------------------- running


def tool_env(root: Path, tool: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OFFLINE_ENV)
    env.update(
        {
            "TRACKIO_DIR": str(root / "trackio"),
            "HF_HOME": str(root / "hf"),
            "WANDB_DIR": str(root),
            "WANDB_CONFIG_DIR": str(root / "wandb-config"),
            "WANDB_CACHE_DIR": str(root / "wandb-cache"),
            "WANDB_DATA_DIR": str(root / "wandb-data"),
            "RUNLANE_DIR": str(root),
            "PYTHONPATH": str(HERE),
        }
    )
    for key in ("MLFLOW_TRACKING_URI", "TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL", "WANDB_API_KEY"):
        env.pop(key, None)  # local stores only
    return env


def _worker(python: str, tool: str, action: str, root: Path, n: int) -> dict[str, Any]:
    out = root.parent / f"{root.name}.result.json"
    cmd = [python, str(HERE / "run.py"), "--worker", tool, action, str(root), str(n), str(out)]
    proc = subprocess.run(
        cmd, cwd=root, env=tool_env(root, tool), capture_output=True, text=True, timeout=1200
    )
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError(f"{tool} {action} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _import_time(python: str, tool: str, root: Path) -> float:
    from tools import IMPORTS  # type: ignore[import-not-found]

    code = (
        "import time; t = time.perf_counter(); "
        + IMPORTS[tool]
        + "; print(time.perf_counter() - t)"
    )
    proc = subprocess.run(
        [python, "-c", code],
        cwd=root,
        env=tool_env(root, tool),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} import failed: {proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def versions(python: str) -> dict[str, str]:
    code = (
        "import json, sqlite3, sys\n"
        "from importlib.metadata import version, PackageNotFoundError\n"
        "out = {'python': sys.version.split()[0], 'sqlite3': sqlite3.sqlite_version}\n"
        "for p in ['runlane','ml-dash','trackio','aim','wandb','mlflow','orjson','numpy']:\n"
        "    try: out[p] = version(p)\n"
        "    except PackageNotFoundError: out[p] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(proc.stdout)
    return found


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "system": platform.platform()}


def run_all(opts: Options, log: Any = print) -> Results:
    """Run the schedule; W4 data is written once per tool (``prepare``, untimed) and read
    back once per repeat in a fresh process; W5 is the disk used by that prepared data."""
    results = Results(
        info={
            "versions": versions(opts.python),
            "machine": machine(),
            "repeats": opts.repeats,
            "quick": opts.quick,
            "sizes": {},
        }
    )
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="runlane-peers-") as tmp:
        base = Path(tmp)
        prepared: dict[str, Path] = {}
        for rep, workload, tool in schedule(opts.tools, opts.workloads, opts.repeats):
            if skipped(tool, workload) is not None:
                continue
            root = base / f"{tool}-{workload}-{rep}"
            root.mkdir()
            try:
                if workload == "w6":
                    value = to_metrics(
                        "w6", {"seconds": _import_time(opts.python, tool, root), "n": 1}
                    )
                elif workload == "w4":
                    n = size_for(tool, "w4", opts.scale)
                    if tool not in prepared:
                        prepared[tool] = base / f"{tool}-data"
                        prepared[tool].mkdir()
                        _worker(opts.python, tool, "prepare", prepared[tool], n)
                        used = _disk(prepared[tool])
                        results.add(tool, "w5_mb", used / 1e6)
                        results.info["sizes"][f"{tool}/w5_bytes"] = used
                    if tool in READABLE:
                        value = to_metrics(
                            "w4", _worker(opts.python, tool, "read", prepared[tool], n)
                        )
                    else:
                        continue
                else:
                    n = size_for(tool, workload, opts.scale)
                    results.info["sizes"][f"{tool}/{workload}"] = n
                    value = to_metrics(workload, _worker(opts.python, tool, workload, root, n))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                notes[f"{tool}/{workload}"] = str(exc).splitlines()[-1][:300]
                log(f"  {tool:14} {workload}  FAILED: {notes[f'{tool}/{workload}']}")
                continue
            for key, v in value.items():
                results.add(tool, key, v)
                log(f"  rep {rep} {tool:14} {key:7} {v:,.3f}")
    results.info["failures"] = notes
    return results


READABLE: frozenset[str] = frozenset(t for t in TOOLS if (t, "w4") not in MISSING)


def _disk(root: Path) -> int:
    from tools import disk_bytes

    used: int = disk_bytes(root) - (root / "info.json").stat().st_size
    return used


def table_notes(results: Results) -> dict[tuple[str, str], str]:
    notes: dict[tuple[str, str], str] = {}
    keys = {"w1": "w1_us", "w2": "w2_vps", "w3": "w3_ms", "w4": "w4_ms"}
    for (tool, workload), why in MISSING.items():
        notes[(tool, keys.get(workload, workload))] = why
    for (tool, workload), n in REDUCED.items():
        notes[(tool, keys[workload])] = f"{n:,} calls"
    for where in results.info.get("failures", {}):
        tool, workload = where.split("/")
        notes[(tool, keys.get(workload, workload + "_ms"))] = "failed"
    return notes


def report(results: Results, tools: Iterable[str]) -> str:
    tools = tuple(tools)
    meds = results.medians()
    return format_table(meds, tools, table_notes(results)) + "\n\n" + format_ratios(meds, tools)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        from tools import run_workload

        tool, action, root, n, out = argv[1:6]
        result = run_workload(tool, action, Path(root), int(n))
        Path(out).write_text(json.dumps(result))
        return 0
    opts = parse_args(argv)
    if opts.render is not None:
        saved = json.loads(opts.render.read_text())
        loaded = Results(samples=saved["samples"], info=saved["info"])
        print(report(loaded, [t for t in TOOLS if t in loaded.samples]))
        return 0
    started = time.time()
    print(
        f"peers benchmark: {len(opts.tools)} tools, repeats={opts.repeats}, python={opts.python}",
        flush=True,
    )
    results = run_all(opts, log=lambda line: print(line, flush=True))
    results.info["wall_s"] = round(time.time() - started, 1)
    out = opts.out or HERE / "results" / time.strftime("peers-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"samples": results.samples, "medians": results.medians(), "info": results.info},
            indent=2,
        )
    )
    print()
    print(report(results, opts.tools))
    print(f"\nversions: {results.info['versions']}\nmachine: {results.info['machine']}")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
