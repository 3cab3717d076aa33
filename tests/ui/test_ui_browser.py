"""The web UI in a real browser: runs table, filter, sort, run page charts, x-axis, logs.

A uvicorn server runs in a thread on a free loopback port over a tmp RUNLANE_DIR holding
three runs written with the SDK; Debian's Chromium (see conftest.py) drives the built UI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import runlane
from runlane.cli.main import build_parser
from runlane.ui import has_assets, static_dir

STEPS = 40


def _run(root: Path, name: str, lr: float, **kw: Any) -> runlane.Run:
    return runlane.init(
        project="team/vision",
        name=name,
        config={"lr": lr, "model": {"depth": 4}},
        dir=root,
        capture_git=False,
        capture_env=False,
        capture_stdio=False,
        system_metrics=False,
        **kw,
    )


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runlane-ui")
    alpha = _run(root, "alpha", 0.01)
    alpha.add_tags(["baseline", "gpu"])
    for step in range(STEPS):
        alpha.log({"loss": 1.0 / (step + 1), "acc": step / STEPS}, step=step)
    alpha.metrics("eval").log(top1=0.5, top5=0.8)
    alpha.metrics("eval").log(top1=0.6, top5=0.9)
    alpha.log_message("starting training", "info", echo=False)
    alpha.log_message("loader is slow", "warning", echo=False)
    alpha.log_message("boom: nan loss", "error", echo=False)
    alpha.finish()
    beta = _run(root, "beta", 0.1)
    beta.log({"loss": 2.0}, step=0)
    beta.finish(status="failed", message="diverged")
    gamma = _run(root, "gamma", 0.001)
    gamma.log({"loss": 0.5}, step=0)
    gamma.finish()
    return root


def test_built_assets_ship_in_the_package() -> None:
    assert has_assets(), f"no index.html in {static_dir()}: cd ui-src && npm ci && npm run build"
    assert list((static_dir() / "assets").glob("*.js"))


def test_app_serves_ui_at_root_and_api_under_api_v1(base_url: str) -> None:
    index = httpx.get(base_url + "/")
    assert index.status_code == 200
    assert '<div id="app">' in index.text
    health = httpx.get(base_url + "/api/v1/health")
    assert health.json()["status"] == "ok"
    missing = httpx.get(base_url + "/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_ui_command_parses_host_port_dir(tmp_path: Path) -> None:
    args = build_parser().parse_args(["ui", "--port", "9123", "--dir", str(tmp_path)])
    assert (args.host, args.port, args.dir) == ("127.0.0.1", 9123, str(tmp_path))


def _names(page: Any) -> list[str]:
    return page.locator("table.runs tbody tr td:nth-child(2) a").all_inner_texts()


def test_runs_table_filter_and_sort(page: Any, console: Any, base_url: str) -> None:
    started = time.perf_counter()
    page.goto(base_url + "/")
    page.wait_for_selector("table.runs tbody tr")
    interactive = time.perf_counter() - started
    print(f"runs table interactive after {interactive * 1000:.0f} ms")
    assert sorted(_names(page)) == ["alpha", "beta", "gamma"]
    assert _names(page) == ["gamma", "beta", "alpha"]  # default sort: newest first
    row = page.locator("tr", has_text="alpha")
    assert "baseline" in row.inner_text()
    assert "succeeded" in row.inner_text()
    # param columns are picked from the runs' params
    page.wait_for_selector("th >> text=params.lr")
    assert "0.01" in page.locator("tr", has_text="alpha").inner_text()

    page.fill("input[name=where]", "params.lr < 0.05")
    page.press("input[name=where]", "Enter")
    page.wait_for_function("document.querySelector('table.runs')?.dataset.count === '2'")
    assert sorted(_names(page)) == ["alpha", "gamma"]
    assert "where=params.lr" in page.evaluate("location.hash")

    page.click("button[data-sort=name]")
    page.wait_for_function("location.hash.includes('sort=name')")
    page.wait_for_function(
        "[...document.querySelectorAll('table.runs tbody tr td:nth-child(2) a')]"
        ".map(a => a.textContent).join() === 'alpha,gamma'"
    )
    page.click("button[data-sort=name]")
    page.wait_for_function(
        "[...document.querySelectorAll('table.runs tbody tr td:nth-child(2) a')]"
        ".map(a => a.textContent).join() === 'gamma,alpha'"
    )
    # the state is in the URL: reloading shows the same view
    page.reload()
    page.wait_for_function("document.querySelector('table.runs')?.dataset.count === '2'")
    assert page.input_value("input[name=where]") == "params.lr < 0.05"
    assert console.errors == []


def test_run_page_charts_axis_and_logs(page: Any, console: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    page.click("table.runs a >> text=alpha")
    page.wait_for_selector("h1 >> text=alpha")
    assert "failed" not in page.locator(".run-header h1").inner_text()
    page.click("[role=tab][data-tab=params]")  # the run page's sections are tabs
    params = page.locator("table.params").inner_text()
    assert "lr" in params and "model.depth" in params and "0.01" in params

    page.click("[role=tab][data-tab=charts]")
    page.wait_for_selector(".stream[data-stream=default] .chart canvas")
    default = page.locator(".stream[data-stream=default] .chart")
    assert sorted(default.evaluate_all("els => els.map(e => e.dataset.field)")) == ["acc", "loss"]
    eval_charts = page.locator(".stream[data-stream=eval] .chart")
    assert sorted(eval_charts.evaluate_all("els => els.map(e => e.dataset.field)")) == [
        "top1",
        "top5",
    ]
    loss = page.locator(".chart[data-field=loss]").first
    assert loss.get_attribute("data-series") == "1"
    assert loss.locator("canvas").count() == 1
    # uPlot's legend: the x series plus one line series
    assert loss.locator(".u-legend .u-series").count() == 2
    assert loss.locator(".u-label", has_text="step").count() >= 1

    page.click("button[data-x=wallclock]")
    page.wait_for_selector(".chart[data-field=loss][data-x=wallclock] canvas")
    assert "x=wallclock" in page.evaluate("location.hash")
    assert page.locator(".chart[data-field=loss] .u-label", has_text="wallclock").count() >= 1
    assert page.locator("button[data-x=wallclock]").get_attribute("aria-pressed") == "true"

    page.click("[role=tab][data-tab=logs]")
    page.wait_for_selector("ol.logs[data-count='3']")
    text = page.locator("ol.logs").inner_text()
    assert "starting training" in text and "boom: nan loss" in text
    page.select_option("select[aria-label='log level']", "error")
    page.wait_for_selector("ol.logs[data-count='1']")
    assert "boom: nan loss" in page.locator("ol.logs").inner_text()
    assert "level=error" in page.evaluate("location.hash")
    assert console.errors == []


def test_unknown_api_routes_answer_the_api_404_for_any_method(base_url: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = httpx.request(method, base_url + "/api/v1/runs/x/no-such-thing")
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"


def test_runlane_ui_command_serves_the_folder(data_root: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "runlane.cli.main", "ui", "--port", str(port)]
    env = {**os.environ, "RUNLANE_DIR": str(data_root)}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"runlane ui did not serve: {process.stderr}") from None
                time.sleep(0.1)
        assert '<div id="app">' in index.text
        runs = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs").json()["runs"]
        assert sorted(r["name"] for r in runs) == ["alpha", "beta", "gamma"]
    finally:
        process.terminate()
        process.wait(timeout=15)
