"""runlane's core benchmark: six workloads, each against the raw limit of doing the same job
with orjson and a plain file, each in a fresh process.

    python bench/core.py [--repeat 3] [--json out.json] [--quick] [--only W1,W4] [--tmp DIR]

Every measurement runs in its own subprocess (``bench/workloads.py`` or a ``python -c``
snippet), so imports, caches and GC state never leak from one to the next. Each repeat round
uses a fresh temporary ``RUNLANE_DIR``; inside a round the runlane and raw processes alternate,
and the order flips every round. The table shows medians over the rounds. See
``bench/README.md`` for what each line measures.

Exit status: 0 when every measurement ran (whether or not targets were met; use ``--strict``
to exit 1 on a missed target), 1 when a workload process failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKLOADS_PY = HERE / "workloads.py"
IMPLS = ("runlane", "raw")
ALL = ("W1", "W2", "W3", "W4", "W5", "W6")
IMPORT_SAMPLES_PER_ROUND = 5
CHILD_TIMEOUT_S = 600

_CAPTURES_OFF = "capture_git=False, capture_env=False, capture_stdio=False, system_metrics=False"
_TIMED = "import time; _t = time.perf_counter()\n"
_SNIPPETS = {
    "import_runlane": _TIMED + "import runlane\nprint((time.perf_counter() - _t) * 1e3)",
    "import_orjson": _TIMED + "import orjson\nprint((time.perf_counter() - _t) * 1e3)",
    "ready_off": _TIMED + "import runlane\n"
    f"run = runlane.init(project='bench/w6', {_CAPTURES_OFF})\n"
    "_ms = (time.perf_counter() - _t) * 1e3\nrun.finish()\nprint(_ms)",
    "ready_default": _TIMED + "import runlane\n"
    "run = runlane.init(project='bench/w6')\n"
    "_ms = (time.perf_counter() - _t) * 1e3\nrun.finish()\nprint(_ms)",
}


class ChildFailed(RuntimeError):
    """A workload process exited non-zero or printed no result."""


@dataclass(frozen=True)
class Spec:
    """One workload line of the table."""

    key: str
    title: str
    unit: str
    target: float
    higher_is_better: bool = False
    target_on_ratio: bool = False  # W5: the target bounds runlane ÷ raw, not runlane alone

    def target_text(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        if self.target_on_ratio:
            return f"{sign} {self.target:g}×"
        return f"{sign} {_fmt(self.target)}"

    def ratio(self, runlane: float, raw: float) -> float:
        """Runlane's cost in units of the raw limit's cost (1.0 = as cheap as the limit)."""
        if self.higher_is_better:
            return raw / runlane if runlane else float("inf")
        return runlane / raw if raw else float("inf")

    def passed(self, runlane: float, ratio: float) -> bool:
        value = ratio if self.target_on_ratio else runlane
        return value >= self.target if self.higher_is_better else value <= self.target


@dataclass(frozen=True)
class Sizes:
    w1_calls: int
    w2_calls: int
    w3_params: int

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        return cls(10_000, 1_000, 100) if quick else cls(100_000, 10_000, 1_000)


@dataclass
class Samples:
    """Per workload and implementation: the child results of every round."""

    by_key: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, workload: str, impl: str, result: dict[str, Any]) -> None:
        self.by_key.setdefault((workload, impl), []).append(result)

    def get(self, workload: str, impl: str) -> list[dict[str, Any]]:
        return self.by_key.get((workload, impl), [])


def specs(sizes: Sizes) -> dict[str, Spec]:
    return {
        "W1": Spec("W1", f"run.log 1 field × {sizes.w1_calls:,} + finish", "µs/call", 3.0),
        "W2": Spec(
            "W2",
            f"run.log 10 fields × {sizes.w2_calls:,} + finish",
            "values/s",
            2_000_000.0,
            higher_is_better=True,
        ),
        "W3": Spec("W3", f"params.set {sizes.w3_params:,} nested → get", "ms", 5.0),
        "W4": Spec("W4", f"open().metrics().arrays, {sizes.w1_calls:,} pts", "ms", 20.0),
        "W5": Spec("W5", "disk: W1 run folder vs raw JSONL", "bytes", 2.0, target_on_ratio=True),
        "W6": Spec("W6", "import runlane (fresh interpreter)", "ms", 150.0),
    }


# --- running children ------------------------------------------------------------------------
def _last_line(out: str) -> str:
    lines = [line for line in out.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _spawn(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise ChildFailed(
            f"{' '.join(argv[1:3])} exited {proc.returncode}:\n{proc.stderr.strip()[-4000:]}"
        )
    line = _last_line(proc.stdout)
    if not line:
        raise ChildFailed(f"{' '.join(argv[1:3])} printed no result; stderr:\n{proc.stderr}")
    return line


def settle_disk() -> None:
    """Write back every dirty page before a measurement (untimed), so that one workload's
    fsync never waits behind the megabytes the previous one left in the page cache."""
    if hasattr(os, "sync"):
        os.sync()


def run_workload(
    name: str, impl: str, params: dict[str, Any], env: dict[str, str], cwd: Path
) -> dict[str, Any]:
    argv = [sys.executable, str(WORKLOADS_PY), name, impl, json.dumps(params)]
    settle_disk()
    result: dict[str, Any] = json.loads(_spawn(argv, env, cwd))
    return result


def run_snippet(name: str, env: dict[str, str], cwd: Path) -> float:
    """Run one of ``_SNIPPETS`` in a fresh interpreter; returns the ms it printed."""
    return float(_spawn([sys.executable, "-c", _SNIPPETS[name]], env, cwd))


def wall_ms(code: str, env: dict[str, str], cwd: Path) -> float:
    """Wall-clock ms of ``python -c code``, interpreter start and exit included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1e3


def folder_bytes(path: Path) -> dict[str, int]:
    """Sum of file sizes under ``path``: total, ``data.jsonl`` files, the column cache."""
    total = jsonl = cache = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            size = os.lstat(os.path.join(folder, name)).st_size
            total += size
            if name == "data.jsonl":
                jsonl += size
            elif os.sep + ".columns" in folder:
                cache += size
    return {"total": total, "jsonl": jsonl, "cache": cache, "other": total - jsonl - cache}


# --- one round -------------------------------------------------------------------------------
def child_env(session: Path) -> dict[str, str]:
    """The environment of every measured process: this one's, minus runlane's own settings,
    with bytecode caching on. ``PYTHONDONTWRITEBYTECODE`` would make each fresh interpreter
    recompile every module it imports (installed packages ship compiled), so it is dropped
    and the caches go to a private ``PYTHONPYCACHEPREFIX`` (unless one is set) rather than
    into the source tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLANE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(session / "pycache"))
    return env


def one_round(
    round_no: int,
    wanted: Sequence[str],
    sizes: Sizes,
    session: Path,
    base_env: dict[str, str],
    samples: Samples,
    say: Callable[[str], None],
    import_samples: int = IMPORT_SAMPLES_PER_ROUND,
) -> None:
    """Run every wanted workload once per implementation (W6: ``import_samples`` times) in a
    fresh ``RUNLANE_DIR``."""
    root = Path(tempfile.mkdtemp(prefix=f"round{round_no}-", dir=session))
    env = {**base_env, "RUNLANE_DIR": str(root / "data")}
    order = IMPLS if round_no % 2 == 0 else IMPLS[::-1]
    raw_jsonl = root / "raw-w1.jsonl"
    try:
        params: dict[str, dict[str, Any]] = {
            "W1": {"n": sizes.w1_calls, "out": str(raw_jsonl)},
            "W2": {"n": sizes.w2_calls, "out": str(root / "raw-w2.jsonl")},
            "W3": {"n": sizes.w3_params, "out": str(root / "raw-w3.json")},
        }
        need_w1 = any(w in wanted for w in ("W1", "W4", "W5"))
        for name in ("W1", "W2", "W3"):
            if name not in wanted and not (name == "W1" and need_w1):
                continue
            for impl in order:
                say(f"round {round_no + 1}: {name} {impl}")
                samples.add(name, impl, run_workload(name, impl, params[name], env, root))
        w1 = samples.get("W1", "runlane")[-1] if need_w1 else None
        if "W4" in wanted and w1 is not None:
            p4 = {
                "n": sizes.w1_calls,
                "run_id": w1["extra"]["run_id"],
                "jsonl": str(raw_jsonl),
                "column": str(root / "raw-w1-loss.f8"),
            }
            for impl in order:
                say(f"round {round_no + 1}: W4 {impl}")
                samples.add("W4", impl, run_workload("W4", impl, p4, env, root))
        if "W5" in wanted and w1 is not None:
            used = folder_bytes(Path(w1["extra"]["run_path"]))
            samples.add("W5", "runlane", {"value": float(used["total"]), "extra": used})
            raw_size = raw_jsonl.stat().st_size
            samples.add("W5", "raw", {"value": float(raw_size), "extra": {"total": raw_size}})
        if "W6" in wanted:
            say(f"round {round_no + 1}: W6 ×{import_samples}")
            settle_disk()
            for _ in range(import_samples):
                for impl in order:
                    snippet = "import_runlane" if impl == "runlane" else "import_orjson"
                    samples.add("W6", impl, {"value": run_snippet(snippet, env, root), "extra": {}})
                samples.add("W6x", "ready_off", {"value": run_snippet("ready_off", env, root)})
                samples.add(
                    "W6x", "ready_default", {"value": run_snippet("ready_default", env, root)}
                )
                samples.add("W6x", "python_pass", {"value": wall_ms("pass", env, root)})
                samples.add(
                    "W6x", "python_import_runlane", {"value": wall_ms("import runlane", env, root)}
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- summary ---------------------------------------------------------------------------------
def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _median_extras(results: list[dict[str, Any]]) -> dict[str, float]:
    keys: dict[str, None] = {}
    for result in results:
        for key, value in result.get("extra", {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                keys[key] = None
    return {
        k: _median([float(r["extra"][k]) for r in results if k in r.get("extra", {})]) for k in keys
    }


def summarize(wanted: Sequence[str], sizes: Sizes, samples: Samples) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, spec in specs(sizes).items():
        if key not in wanted:
            continue
        rl = samples.get(key, "runlane")
        raw = samples.get(key, "raw")
        runlane_v = _median([float(r["value"]) for r in rl])
        raw_v = _median([float(r["value"]) for r in raw])
        ratio = spec.ratio(runlane_v, raw_v)
        extra = {"runlane": _median_extras(rl), "raw": _median_extras(raw)}
        if key == "W6":
            extra["runlane"].update(
                {
                    name: _median([float(r["value"]) for r in samples.get("W6x", name)])
                    for name in (
                        "ready_off",
                        "ready_default",
                        "python_pass",
                        "python_import_runlane",
                    )
                }
            )
            extra["runlane"]["wall_difference_ms"] = (
                extra["runlane"]["python_import_runlane"] - extra["runlane"]["python_pass"]
            )
        out[key] = {
            "title": spec.title,
            "unit": spec.unit,
            "runlane": runlane_v,
            "raw": raw_v,
            "ratio": ratio,
            "target": spec.target_text() + ("" if spec.target_on_ratio else f" {spec.unit}"),
            "passed": spec.passed(runlane_v, ratio),
            "extra": extra,
            "samples": {"runlane": [r["value"] for r in rl], "raw": [r["value"] for r in raw]},
        }
    return out


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def notes(results: dict[str, Any]) -> list[str]:
    """One line of secondary numbers per workload, under the table."""
    lines = []
    if "W1" in results:
        x = results["W1"]["extra"]["runlane"]
        lines.append(
            f"W1  runlane: log loop {_fmt(x['loop_us_per_call'])} µs/call, "
            f"finish {_fmt(x['finish_ms'])} ms"
        )
    if "W2" in results:
        x, y = results["W2"]["extra"]["runlane"], results["W2"]["extra"]["raw"]
        lines.append(f"W2  total {x['seconds'] * 1e3:.1f} ms (raw {y['seconds'] * 1e3:.1f} ms)")
    if "W4" in results:
        x, y = results["W4"]["extra"]["runlane"], results["W4"]["extra"]["raw"]
        lines.append(
            f"W4  runlane incl. import {_fmt(x['with_import_ms'])} ms "
            f"(import {_fmt(x['import_ms'])} ms; read incl. lazy SDK load "
            f"{_fmt(x['read_with_sdk_load_ms'])} ms), second read {_fmt(x['second_read_ms'])} ms;"
            f"  raw: np.fromfile "
            f"{_fmt(results['W4']['raw'])} ms, incl. import numpy {_fmt(y['with_import_ms'])} ms, "
            f"orjson-parse JSONL → arrays {_fmt(y['jsonl_parse_ms'])} ms"
        )
    if "W5" in results:
        x = results["W5"]["extra"]["runlane"]
        lines.append(
            f"W5  runlane {results['W5']['runlane']:,.0f} bytes (data.jsonl {_mb(x['jsonl'])}, "
            f"column cache {_mb(x['cache'])}, other {x['other']:,.0f} B) vs raw JSONL "
            f"{results['W5']['raw']:,.0f} bytes"
        )
    if "W6" in results:
        x = results["W6"]["extra"]["runlane"]
        lines.append(
            f"W6  import + init ready (captures off) {_fmt(x['ready_off'])} ms, with default "
            f"captures {_fmt(x['ready_default'])} ms; wall `python -c 'import runlane'` − "
            f"`python -c pass` = {_fmt(x['wall_difference_ms'])} ms; raw = import orjson"
        )
    return lines


def table(results: dict[str, Any]) -> list[str]:
    head = ("workload", "unit", "runlane", "raw limit", "ratio", "target", "result")
    rows = [head]
    for key, r in results.items():
        rows.append(
            (
                f"{key} {r['title']}",
                r["unit"],
                _fmt(r["runlane"]),
                _fmt(r["raw"]),
                f"{r['ratio']:.2f}×",
                r["target"],
                "pass" if r["passed"] else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    out = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(row[2:5], widths[2:5], strict=True)]
        cells += [row[5].ljust(widths[5]), row[6]]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("-" * len(out[0]))
    return out


# --- machine ---------------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(tmp_parent: str | None) -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "numpy": _version("numpy"),
        "orjson": _version("orjson"),
        "runlane": _version("runlane"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "tmp": tmp_parent or tempfile.gettempdir(),
    }


def header(info: dict[str, Any], args: argparse.Namespace) -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in info["loadavg"]) if info["loadavg"] else "n/a"
    blas = info["OPENBLAS_CORETYPE"]
    return [
        f"runlane core benchmark: {args.repeat} repeat(s), medians"
        + (", --quick (10× smaller sizes)" if args.quick else ""),
        f"cpu: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"load avg {load}",
        f"{info['python']} ({info['platform']}), numpy {info['numpy']}, orjson {info['orjson']}, "
        f"runlane {info['runlane']}" + (f", OPENBLAS_CORETYPE={blas}" if blas else ""),
        f"tmp: {info['tmp']}, bytecode cache: {info['bytecode_cache']}",
    ]


# --- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="rounds to take medians over (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10× smaller sizes and 1 round, for CI smoke runs"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--only", metavar="W1,W4", help="run only these workloads")
    parser.add_argument("--tmp", metavar="DIR", help="parent folder of the temporary data")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: must be ≥ 1")
    wanted = ALL if not args.only else tuple(w.strip().upper() for w in args.only.split(","))
    bad = [w for w in wanted if w not in ALL]
    if bad:
        parser.error(f"--only {args.only!r}: unknown workload(s) {bad}; use {', '.join(ALL)}")
    args.wanted = wanted
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes.pick(args.quick)
    info = machine_info(args.tmp)
    session = Path(tempfile.mkdtemp(prefix="runlane-bench-", dir=args.tmp))
    try:
        env = child_env(session)
        info["bytecode_cache"] = env["PYTHONPYCACHEPREFIX"]
        for line in header(info, args):
            print(line)
        sys.stdout.flush()

        def say(text: str) -> None:
            print(f"  … {text}", file=sys.stderr, flush=True)

        samples = Samples()
        try:
            # An untimed round at 1/100 size compiles and caches every module the workloads
            # import, so that no measured process pays for compiling bytecode.
            one_round(
                0,
                ALL,
                Sizes(100, 10, 100),
                session,
                env,
                Samples(),
                lambda text: say(f"warm-up {text}"),
                import_samples=1,
            )
            for round_no in range(args.repeat):
                one_round(round_no, args.wanted, sizes, session, env, samples, say)
        except ChildFailed as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(session, ignore_errors=True)
    results = summarize(args.wanted, sizes, samples)
    print()
    for line in table(results):
        print(line)
    print()
    for line in notes(results):
        print(line)
    if args.json:
        doc = {
            "machine": info,
            "settings": {"repeat": args.repeat, "quick": args.quick, "sizes": vars(sizes)},
            "workloads": results,
            "all_passed": all(r["passed"] for r in results.values()),
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if args.strict and not all(r["passed"] for r in results.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
