"""Web UI benchmark: the runs table of a 10,000-run project and the run page of a run holding a
1,000,000-point stream, measured in Debian's Chromium driven by Playwright.

    python bench/ui.py [--data DIR] [--repeat 5] [--json out.json]

What it does
* **Data** (cached in ``--data``, default ``$TMPDIR/runlane-bench-ui``; made once, reused while its
  marker file matches): one project ``bench/many`` of 10,000 runs written through the
  LocalStore (three params and a 5-row ``loss`` stream each, status succeeded), the newest of
  which also holds the 1,000,000-point ``loss`` stream. Making it takes ~30 s.
* **Server**: ``runlane ui --dir DATA`` in a subprocess on a free loopback port (the command
  a user runs), stopped by PID at the end.
* **Browser**: ``/usr/bin/chromium`` headless with the flags of
  ``../shared/reference/infrastructure.md`` (never ``playwright install``). Every measurement
  uses a fresh browser context (empty HTTP cache). Times are the page's ``performance.now()``,
  i.e. milliseconds since the navigation started, read the moment the condition holds
  (Playwright polls on animation frames, so a number is at most one frame late).
* One untimed warm-up round, then ``--repeat`` rounds; the table shows the median, min and max.

Measurements
* ``table rows``: navigation → the first row is in the DOM.
* ``table interactive``: navigation → a click on the first row's checkbox, dispatched the
  moment it appears, has selected the run (the table answers input): the issue's "runs table
  interactive".
* ``all runs counted``: navigation → the table knows the project holds 10,000 runs (the
  count is asked for beside the first page; rows show before it arrives).
* ``scroll to row 9,000``: once counted, ``scrollTop`` set to row 9,000 → that row's link is
  rendered.
* ``run page chart``: navigation to the long run's page → the ``loss`` chart holds points,
  plus two animation frames (uPlot has drawn its canvas).
* ``chart bytes``: body bytes of the ``/series`` answers of that stream during the load; ``all
  API bytes``: every ``/api/v1`` answer of the run page load.

Targets (issue 6): table interactive ≤ 1 s, run page chart ≤ 1 s, chart bytes ≤ 200 kB.
Results go to ``bench/results/ui-<time>.json`` unless ``--json`` names a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

RUNS = 10_000
POINTS = 1_000_000
PROJECT = "bench/many"
DATA_VERSION = 1
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TARGETS = {"table_interactive_ms": 1000.0, "run_chart_ms": 1000.0, "chart_bytes": 200_000.0}
SCROLL_TO = 9_000


# --- data -------------------------------------------------------------------------------------
def make_data(root: Path) -> dict[str, Any]:
    """The cached project: reused when the marker says it is complete, made otherwise."""
    marker = root / "bench-ui.json"
    if marker.exists():
        made = json.loads(marker.read_text())
        if made.get("version") == DATA_VERSION and made.get("runs") == RUNS:
            return dict(made)
    from runlane.entities import Batch, ParamsUpdate, RunPatch, RunSpec
    from runlane.store.local import LocalStore

    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} holds other data: pass an empty or missing --data folder")
    started = time.perf_counter()
    store = LocalStore(root)
    long_id = ""
    for i in range(RUNS):
        info, _ = store.create_run(RunSpec(owner="bench", project="many", name=f"run-{i:05d}"))
        at = time.time()
        store.write(
            info.id,
            Batch(
                params=[
                    ParamsUpdate(
                        {"lr": (0.1, 0.01, 0.001)[i % 3], "batch": 32 << (i % 4), "seed": i}, at=at
                    )
                ],
                rows={
                    "default": [
                        {"loss": 1.0 / (k + 1) + i * 1e-5, "_step": k, "_ts": at + k}
                        for k in range(5)
                    ]
                },
                patches=[RunPatch(status="running", at=at)],
            ),
        )
        if i == RUNS - 1:
            long_id = info.id
            write_long_stream(store, info.id)
        store.write(info.id, Batch(patches=[RunPatch(status="succeeded", at=time.time())]))
        if i and i % 1000 == 0:
            print(f"  {i} runs written", flush=True)
    store.close()
    made = {
        "version": DATA_VERSION,
        "runs": RUNS,
        "points": POINTS,
        "long_run": long_id,
        "project": PROJECT,
        "made_s": round(time.perf_counter() - started, 1),
    }
    marker.write_text(json.dumps(made))
    return made


def write_long_stream(store: Any, run_id: str) -> None:
    """1,000,000 more ``loss`` rows: a noisy decay with a few spikes a chart must keep."""
    import numpy as np

    from runlane.entities import Batch

    rng = np.random.default_rng(6)
    start = time.time() - POINTS * 0.01
    chunk = 100_000
    for first in range(0, POINTS, chunk):
        steps = np.arange(first, first + chunk)
        values = 2.0 / np.sqrt(steps + 10) + rng.normal(0, 0.01, chunk)
        values[rng.random(chunk) < 1e-4] += 1.0
        rows = [
            {"loss": float(v), "_step": int(s) + 5, "_ts": start + s * 0.01}
            for s, v in zip(steps, values, strict=True)
        ]
        store.write(run_id, Batch(rows={"default": rows}))


# --- server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def runlane_ui(root: Path) -> Iterator[str]:
    """``runlane ui --dir root`` on a free port; the base URL while it runs."""
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [
        sys.executable,
        "-m",
        "runlane.cli.main",
        "ui",
        "--dir",
        str(root),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"runlane ui did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- measurements -----------------------------------------------------------------------------
def when(page: Any, condition: str, timeout: float = 30_000) -> float:
    """``performance.now()`` at the first animation frame where the JS ``condition`` holds."""
    handle = page.wait_for_function(
        f"() => ({condition}) ? performance.now() : false", timeout=timeout
    )
    return float(handle.json_value())


def table_round(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{url}/#/?project={PROJECT}", wait_until="commit")
        # the click is dispatched in the page the frame the row shows up, so the number holds
        # no Playwright round trips (its actionability checks take 100+ ms on a busy machine)
        rows = when(
            page,
            "(() => { const box = document.querySelector(\"tr[data-index='0'] input\");"
            " if (box) box.click(); return box; })()",
        )
        interactive = when(
            page, "document.querySelector(\"tr[data-index='0'][aria-selected=true]\")"
        )
        counted = when(page, f"document.querySelector('table.runs')?.dataset.count === '{RUNS}'")
        height = page.evaluate(
            "document.querySelector('tbody tr.row').getBoundingClientRect().height"
        )
        began = float(
            page.evaluate(
                "(() => { document.querySelector('.table-scroll').scrollTop = "
                f"{SCROLL_TO} * {height}; return performance.now(); }})()"
            )
        )
        scrolled = when(page, f"document.querySelector(\"tr[data-index='{SCROLL_TO}'] a\")")
        in_dom = page.locator("table.runs tbody tr").count()
        return {
            "table_rows_ms": rows,
            "table_interactive_ms": interactive,
            "table_counted_ms": counted,
            "scroll_ms": scrolled - began,
            "rows_in_dom": float(in_dom),
        }
    finally:
        context.close()


def run_round(browser: Any, url: str, run_id: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sizes: dict[str, list[int]] = {"chart": [], "api": []}

    def on_response(response: Any) -> None:
        if "/api/v1/" not in response.url:
            return
        size = len(response.body())
        sizes["api"].append(size)
        if f"/runs/{run_id}/streams/default/series" in response.url:
            sizes["chart"].append(size)

    page.on("response", on_response)
    try:
        page.goto(f"{url}/#/run/{run_id}?tab=charts", wait_until="commit")
        when(
            page,
            "Number(document.querySelector(\".chart[data-field='loss']\")?.dataset.points || 0) > 0"
            " && document.querySelector(\".chart[data-field='loss'] canvas\")",
        )
        drawn = float(
            page.evaluate(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(performance.now()))))"
            )
        )
        points = page.get_attribute(".chart[data-field='loss']", "data-points")
        page.wait_for_load_state("networkidle")
        return {
            "run_chart_ms": drawn,
            "chart_bytes": float(sum(sizes["chart"])),
            "api_bytes": float(sum(sizes["api"])),
            "chart_points": float(points or 0),
        }
    finally:
        context.close()


# --- report -----------------------------------------------------------------------------------
ROWS: list[tuple[str, str, str, Callable[[float], str]]] = [
    ("table_rows_ms", "table: first rows shown", "", lambda v: f"{v:.0f} ms"),
    (
        "table_interactive_ms",
        "table: interactive (click applied)",
        "≤ 1000 ms",
        lambda v: f"{v:.0f} ms",
    ),
    ("table_counted_ms", f"table: all {RUNS:,} runs counted", "", lambda v: f"{v:.0f} ms"),
    ("scroll_ms", f"table: scroll to row {SCROLL_TO:,}", "", lambda v: f"{v:.0f} ms"),
    ("rows_in_dom", "table: <tr> in the DOM", "", lambda v: f"{v:.0f}"),
    ("run_chart_ms", "run page: 1M-point chart drawn", "≤ 1000 ms", lambda v: f"{v:.0f} ms"),
    ("chart_bytes", "run page: bytes for that chart", "≤ 200 kB", lambda v: f"{v / 1000:.1f} kB"),
    ("api_bytes", "run page: all API bytes", "", lambda v: f"{v / 1000:.1f} kB"),
    ("chart_points", "run page: points drawn", "", lambda v: f"{v:.0f}"),
]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "chromium": version,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "runlane-bench-ui",
        help="folder of the cached project (made when missing)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds (≥ 3)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (the table shows medians)")
    from playwright.sync_api import sync_playwright

    print(f"data: {args.data}", flush=True)
    data = make_data(args.data)
    samples: dict[str, list[float]] = {key: [] for key, *_ in ROWS}
    with runlane_ui(args.data) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            for round_no in range(args.repeat + 1):
                found = {**table_round(browser, url), **run_round(browser, url, data["long_run"])}
                if round_no == 0:
                    continue  # warm-up: the server's first reads and the browser's first launch
                for key, value in found.items():
                    samples[key].append(value)
        finally:
            browser.close()

    info = machine()
    load = ", ".join(f"{x:.2f}" for x in info["loadavg"])
    print(
        f"\nrunlane UI benchmark: {RUNS:,} runs, one {POINTS:,}-point stream; "
        f"{args.repeat} rounds (+1 warm-up), median [min–max]"
    )
    print(f"cpu: {info['cpu']}, {info['cores']} cores, load avg {load}; {info['chromium']}\n")
    print(f"{'measurement':38} {'median':>10} {'range':>21}  target")
    results: dict[str, Any] = {
        "machine": info,
        "data": data,
        "repeat": args.repeat,
        "targets": TARGETS,
        "samples": samples,
        "median": {},
    }
    for key, label, target, fmt in ROWS:
        values = samples[key]
        median = statistics.median(values)
        results["median"][key] = median
        verdict = ""
        if key in TARGETS:
            verdict = "pass" if median <= TARGETS[key] else "MISS"
        spread = f"[{fmt(min(values))} – {fmt(max(values))}]"
        print(f"{label:38} {fmt(median):>10} {spread:>21}  {target} {verdict}".rstrip())
    out = args.json or HERE / "results" / f"ui-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
