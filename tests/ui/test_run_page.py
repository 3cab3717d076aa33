"""The run page in a real browser: tabs, charts (series, x axes, log scale, EMA, zoom with a
refined fetch), overview edits persisted, params search and views, logs search and level,
events, tracks, system metrics, keyboard use, and live updates of a running run (only new
points, lines, events and track entries are fetched; a zoomed chart shows the new points inside
its range without moving it; polling stops when the run ends).

A uvicorn server runs in a thread over a tmp folder whose runs were logged with the SDK;
Debian's Chromium (see conftest.py) drives the built UI.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runlane
from support.servers import NO_CAPTURE

ROWS = 5_000
T0 = 1_700_000_000.0


def _init(root: Path, name: str, **kw: Any) -> runlane.Run:
    return runlane.init(project="team/vision", name=name, dir=root, **NO_CAPTURE, **kw)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run-page")
    config = {"lr": 0.01, "model": {"depth": 4, "width": 128}, "optimizer": {"name": "adam"}}
    alpha = _init(root, "alpha", config=config)
    for i in range(ROWS):
        loss = 2.0 + math.sin(i / 40.0) + 5.0 / (i + 1)
        alpha.log({"loss": loss, "epoch": i // 500}, step=i, timestamp=T0 + i * 0.5)
    for v in (-1.0, -2.0, -0.5):
        alpha.metrics("grad").log(norm=v)  # nothing to draw on a log scale
    alpha.metrics("eval").log(top1=0.5, top5=0.8)
    alpha.metrics("eval").log(top1=0.6, top5=0.9)
    system = alpha.metrics("system")
    for i in range(20):
        system.log(
            **{"cpu.percent": 10.0 + i, "memory.used": 1e9 + i * 1e6, "gpu.0.utilization": 50}
        )
    alpha.log_message("starting training", "info", echo=False)
    alpha.log_message("loader is slow", "warning", echo=False)
    alpha.log_message("boom: NaN loss", "error", echo=False)
    alpha.log_message("nan guard engaged", "info", echo=False)
    alpha.log_event("checkpoint", metadata={"epoch": 1})
    alpha.log_event("eval-done", source="rank0")
    alpha.tracks("robot/pose").append(x=1.0, y=2.0)
    alpha.tracks("robot/pose").append(x=1.5, y=2.5)
    alpha.tracks("robot/pose").append(x=2.0, y=3.0)
    alpha.tracks("camera").append(fps=30)
    alpha.update_metadata("dataset", {"name": "imagenet", "split": "train"})
    alpha.update_metadata("env", {"python": "3.11.7", "hostname": "gpu-box-7"})
    alpha.set_extra(git={"commit": "0123abcd", "branch": "main", "is_dirty": False})
    alpha.set_framework("pytorch")
    alpha.set_backend("nccl")
    alpha.finish()
    beta = _init(root, "beta", tags=["baseline"])
    beta.log({"loss": 1.0}, step=0)
    beta.finish()
    return root


def _id(data_root: Path, name: str) -> str:
    return runlane.open(f"team/vision/{name}", dir=data_root).id


def _open(page: Any, base_url: str, run_id: str, query: str = "") -> None:
    page.goto(f"{base_url}/#/run/{run_id}{'?' + query if query else ''}")
    page.wait_for_selector(".run-header h1")


def _series_requests(urls: list[str]) -> list[dict[str, list[str]]]:
    found = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.path.endswith("/series"):
            found.append({"stream": [parsed.path.split("/")[-2]], **parse_qs(parsed.query)})
    return found


def _canvas(page: Any, field: str) -> str:
    return str(page.locator(f".chart[data-field='{field}'] canvas").evaluate("c => c.toDataURL()"))


def _points(page: Any, field: str) -> int:
    return int(page.locator(f".chart[data-field='{field}']").get_attribute("data-points"))


def test_charts_series_and_x_axes(page: Any, console: Any, base_url: str, data_root: Path) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, _id(data_root, "alpha"))
    assert page.locator("[role=tab][aria-selected=true]").inner_text().lower() == "charts"
    page.wait_for_selector(".stream[data-stream=default] .chart[data-field=loss] canvas")
    default = page.locator(".stream[data-stream=default] .chart")
    assert sorted(default.evaluate_all("els => els.map(e => e.dataset.field)")) == ["epoch", "loss"]
    page.wait_for_selector(".stream[data-stream=eval] .chart[data-field=top5]")
    assert page.locator(".stream[data-stream=eval] .chart").count() == 2
    assert page.locator(".stream[data-stream=system]").count() == 0  # under the System tab
    loss = page.locator(".chart[data-field=loss]")
    assert loss.get_attribute("data-series") == "1"
    assert loss.locator(".u-legend .u-series").count() == 2  # x + one line
    assert 1_000 < _points(page, "loss") <= 2_000  # min/max downsampled from 5,000 rows
    assert loss.get_attribute("data-x") == "step"
    # hover: the legend shows the values under the cursor
    value = loss.locator(".u-legend .u-series").nth(1).locator(".u-value")
    assert value.inner_text().strip() == "--"
    box = loss.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "document.querySelectorAll('.chart[data-field=loss] .u-legend .u-value')[1]"
        ".textContent.trim() !== '--'"
    )
    hovered = float(value.inner_text())
    assert 0.5 < hovered < 4.0

    page.click("button[data-x=relative]")
    page.wait_for_selector(".chart[data-field=loss][data-x='relative time'] canvas")
    assert loss.locator(".u-legend .u-label", has_text="relative time").count() == 1
    assert "x=relative" in page.evaluate("location.hash")
    # relative time ticks are durations
    assert loss.locator(".u-legend .u-series").first.inner_text().strip() != ""

    page.select_option("select[aria-label='x field']", "epoch")
    page.wait_for_selector(".chart[data-field=loss][data-x=epoch] canvas")
    assert loss.locator(".u-legend .u-label", has_text="epoch").count() == 1
    assert page.locator(".stream[data-stream=default] .chart[data-field=epoch]").count() == 0
    assert "x=field%3Aepoch" in page.evaluate("location.hash") or "x=field:epoch" in page.evaluate(
        "location.hash"
    )
    axes = {q["x"][0] for q in _series_requests(urls)}
    assert axes == {"step", "time", "field:epoch"}
    # every series request asks for the same bucket count: the server downsamples
    assert {q["buckets"][0] for q in _series_requests(urls)} == {"1000"}
    assert console.errors == []


def test_log_scale_and_smoothing_change_the_drawing(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "alpha"))
    page.wait_for_selector(".chart[data-field=loss] canvas")
    plain = _canvas(page, "loss")
    page.click("button[data-log]")
    page.wait_for_selector(".chart[data-field=loss][data-log='1'] canvas")
    assert page.locator("button[data-log]").get_attribute("aria-pressed") == "true"
    assert _canvas(page, "loss") != plain
    assert page.locator(".chart[data-field=norm][data-log='1'] canvas").count() == 1
    page.click("button[data-log]")
    page.wait_for_selector(".chart[data-field=loss][data-log='0'] canvas")
    assert _canvas(page, "loss") == plain

    slider = page.locator("input[aria-label=smoothing]")
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_selector(".chart[data-field=loss][data-smoothing='0.99']")
    legend = page.locator(".chart[data-field=loss] .u-legend .u-series")
    assert legend.count() == 3  # x, the smoothed line, the raw line (faint)
    assert "raw" in legend.nth(2).inner_text()
    smoothed = _canvas(page, "loss")
    assert smoothed != plain
    page.wait_for_function("location.hash.includes('smooth=0.99')")
    page.keyboard.press("Home")
    page.wait_for_selector(".chart[data-field=loss][data-smoothing='0']")
    page.wait_for_function("!location.hash.includes('smooth')")
    assert _canvas(page, "loss") == plain
    assert console.errors == []


def test_zoom_refetches_the_range_at_the_same_bucket_count(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, _id(data_root, "alpha"))
    page.wait_for_selector(".chart[data-field=loss] canvas")
    full = _points(page, "loss")
    before = len(_series_requests(urls))
    over = page.locator(".chart[data-field=loss] .u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.50, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "document.querySelector(\".chart[data-field=loss]\").dataset.zoom !== ''"
    )
    low, high = (
        float(v)
        for v in page.locator(".chart[data-field=loss]").get_attribute("data-zoom").split(",")
    )
    assert 1_500 < low < high < 3_000
    page.wait_for_function(
        f"+document.querySelector('.chart[data-field=loss]').dataset.points !== {full}"
    )
    refined = [q for q in _series_requests(urls)[before:] if "start" in q]
    assert len(refined) == 1
    (ask,) = refined
    assert ask["fields"] == ["loss"] and ask["buckets"] == ["1000"] and ask["x"] == ["step"]
    assert float(ask["start"][0]) < low and float(ask["end"][0]) > high  # a little margin
    # every row in the range is drawn now; the full chart held ~2 points per 5 rows there
    rows_in_range = high - low
    assert _points(page, "loss") >= rows_in_range
    assert full * (rows_in_range / ROWS) < 0.5 * _points(page, "loss")
    # reset
    page.click(".chart[data-field=loss] >> xpath=.. >> button.reset-zoom")
    page.wait_for_function("document.querySelector('.chart[data-field=loss]').dataset.zoom === ''")
    assert _points(page, "loss") == full
    assert len([q for q in _series_requests(urls)[before:] if "start" in q]) == 1
    assert console.errors == []


def test_overview_edits_persist(page: Any, console: Any, base_url: str, data_root: Path) -> None:
    beta = _id(data_root, "beta")
    _open(page, base_url, beta, "tab=overview")
    page.click("button.edit-description")
    page.fill("textarea[aria-label=description]", "rerun with warmup")
    page.click("button.save-description")
    page.wait_for_selector("[data-description] >> text=rerun with warmup")
    page.fill("input[aria-label='add tag']", "sweep-3")
    page.press("input[aria-label='add tag']", "Enter")
    page.wait_for_selector(".tag[data-tag=sweep-3]")
    page.click("button[aria-label='remove tag baseline']")
    page.wait_for_selector(".tag[data-tag=baseline]", state="detached")
    info = runlane.open(beta, dir=data_root).info
    assert info.description == "rerun with warmup"
    assert info.tags == ("sweep-3",)
    # Escape leaves the editor without saving
    page.click("button.edit-description")
    page.fill("textarea[aria-label=description]", "not saved")
    page.press("textarea[aria-label=description]", "Escape")
    page.wait_for_selector("textarea[aria-label=description]", state="detached")
    assert runlane.open(beta, dir=data_root).info.description == "rerun with warmup"
    page.reload()
    page.wait_for_selector("[data-description] >> text=rerun with warmup")
    assert console.errors == []


def test_overview_shows_status_git_env_and_metadata(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "alpha"), "tab=overview")
    page.wait_for_selector("details.metadata[data-key=dataset]")
    history = page.locator("ol.history").inner_text()
    assert "running" in history and "succeeded" in history
    assert "0123abcd" in page.locator("table.git").inner_text()
    env = page.locator("table.env").inner_text()
    assert "3.11.7" in env and "gpu-box-7" in env
    assert "imagenet" in page.locator("details.metadata[data-key=dataset]").inner_text()
    details = page.locator("table.details").inner_text()
    assert "pytorch" in details and "nccl" in details
    assert console.errors == []


def test_params_search_tree_and_flat(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "alpha"), "tab=params")
    page.wait_for_selector("table.params[data-count='4']")
    page.fill("input[aria-label='search params']", "model")
    page.wait_for_selector("table.params[data-count='2']")
    assert page.locator("table.params th").all_inner_texts() == ["model.depth", "model.width"]
    page.click("button[data-view=tree]")
    page.wait_for_selector(".params-tree li[data-key='model.depth']")
    assert page.locator(".params-tree summary").all_inner_texts() == ["model"]
    assert "4" in page.locator(".params-tree li[data-key='model.depth']").inner_text()
    page.fill("input[aria-label='search params']", "")
    page.wait_for_selector(".params-tree[data-count='4']")
    assert page.locator(".params-tree li[data-key=lr]").count() == 1
    assert "pview=tree" in page.evaluate("location.hash")
    assert console.errors == []


def test_logs_search_and_level(page: Any, console: Any, base_url: str, data_root: Path) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, _id(data_root, "alpha"), "tab=logs")
    page.wait_for_selector("ol.logs[data-count='4']")
    page.fill("input[aria-label='search logs']", "nan")
    page.wait_for_selector("ol.logs[data-count='2']")
    assert "q=nan" in page.evaluate("location.hash")
    assert any("q=nan" in u for u in urls if "/logs" in u)  # the server searches
    page.select_option("select[aria-label='log level']", "error")
    page.wait_for_selector("ol.logs[data-count='1']")
    assert "boom: NaN loss" in page.locator("ol.logs").inner_text()
    page.fill("input[aria-label='search logs']", "")
    page.wait_for_selector("ol.logs[data-count='1']")
    page.select_option("select[aria-label='log level']", "warn")
    page.wait_for_selector("ol.logs[data-count='2']")
    assert console.errors == []


def test_events_tracks_and_system(page: Any, console: Any, base_url: str, data_root: Path) -> None:
    _open(page, base_url, _id(data_root, "alpha"), "tab=events")
    page.wait_for_selector("table.events[data-count='2']")
    assert page.locator(".timeline .mark").count() == 2
    assert page.locator("table.events tbody tr").first.inner_text().count("checkpoint") == 1
    assert "rank0" in page.locator("table.events").inner_text()

    page.click("[role=tab][data-tab=tracks]")
    page.wait_for_selector("table.track[data-topic='camera']")  # topics sorted: camera first
    assert page.locator("button[data-topic]").all_inner_texts() == ["camera", "robot/pose"]
    page.click("button[data-topic='robot/pose']")
    page.wait_for_selector("table.track[data-topic='robot/pose'][data-count='3']")
    headers = page.locator("table.track th").all_inner_texts()
    assert headers == ["timestamp", "x", "y"]
    assert page.locator("table.track tbody tr").count() == 3

    page.click("[role=tab][data-tab=system]")
    page.wait_for_selector(".stream[data-stream=system] .chart canvas")
    groups = page.locator(".chart-group").evaluate_all("els => els.map(e => e.dataset.group)")
    assert sorted(groups) == ["cpu", "gpu.0", "memory"]
    assert page.locator(".stream[data-stream=system] .chart").count() == 3
    assert (
        page.locator(".chart[data-field='cpu.percent']").get_attribute("data-x") == "relative time"
    )
    assert page.locator(".stream[data-stream=default]").count() == 0
    assert console.errors == []


def test_keyboard_reaches_the_tabs_and_enter_switches(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "alpha"))
    page.wait_for_selector(".chart canvas")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('role')") == "tab":
            break
    assert page.evaluate("document.activeElement.dataset.tab") == "overview"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.activeElement.dataset.tab === 'params'")
    page.keyboard.press("Enter")
    page.wait_for_selector("table.params")
    assert page.locator("[role=tab][aria-selected=true]").get_attribute("data-tab") == "params"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the next tab: charts
    page.wait_for_selector(".chart canvas")
    assert "tab=charts" in page.evaluate("location.hash")
    assert console.errors == []


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_live_run_appends_only_new_points_and_lines(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    live = _init(data_root, "live")
    for step in range(50):
        live.log({"loss": 1.0 / (step + 1)}, step=step)
    live.log_message("first line", "info", echo=False)
    live.flush()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, live.id)
    page.wait_for_selector(".chart[data-field=loss][data-points='50']")
    assert page.locator(".run").get_attribute("data-live") == "1"
    first = len(urls)
    for step in range(50, 80):
        live.log({"loss": 1.0 / (step + 1)}, step=step)
    live.flush()
    page.wait_for_selector(".chart[data-field=loss][data-points='80']", timeout=10_000)
    news = _series_requests(urls[first:])
    assert news and all(q.get("since") for q in news)  # no full series fetched again
    assert "50" in {q["since"][0] for q in news}

    page.click("[role=tab][data-tab=logs]")
    page.wait_for_selector("ol.logs[data-count='1']")
    seen = len(urls)
    live.log_message("logged while the page is open", "warning", echo=False)
    live.flush()
    page.wait_for_selector("ol.logs >> text=logged while the page is open", timeout=10_000)
    follows = [u for u in urls[seen:] if urlparse(u).path.endswith("/logs")]
    starts = [int(parse_qs(urlparse(u).query)["start"][0]) for u in follows]
    assert starts and starts[0] == 1 and min(starts) >= 1  # only lines after the last seen

    live.finish()
    page.wait_for_selector(".run[data-live='0']", timeout=10_000)
    assert page.locator(".run-header .status").inner_text() == "succeeded"
    # the last poll's answer may trigger one more read by a panel; then nothing is fetched
    # for longer than a poll interval (waiting in Playwright, so its request events arrive)
    page.wait_for_timeout(1_000)
    ended = len(urls)
    page.wait_for_timeout(2_500)
    assert urls[ended:] == []
    assert console.errors == []


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def _wait_polls(page: Any, polls: int) -> None:
    """Waits (in Playwright, so request events keep arriving) until the page polled `polls`
    more times."""
    tick = int(page.locator(".run").get_attribute("data-tick") or 0)
    page.wait_for_function(
        f"+document.querySelector('.run').dataset.tick >= {tick + polls}", timeout=20_000
    )


def test_live_zoomed_chart_shows_new_points_inside_its_range(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    live = _init(data_root, "live-zoom")
    for i in range(100):
        live.log({"loss": 1.0 + 1.0 / (i + 1)}, step=2 * i)  # even steps 0..198
    live.flush()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, live.id)
    chart = ".chart[data-field=loss]"
    page.wait_for_selector(f"{chart}[data-points='100']")
    over = page.locator(f"{chart} .u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.30, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.60, y, steps=5)
    page.mouse.up()
    page.wait_for_function(f"document.querySelector('{chart}').dataset.zoom !== ''")
    zoom = page.locator(chart).get_attribute("data-zoom")
    low, high = (float(v) for v in zoom.split(","))
    assert 40 < low < high < 140
    page.wait_for_function(f"+document.querySelector('{chart}').dataset.points < 100")
    zoomed = _points(page, "loss")
    # another rank's late step inside the zoomed range, and ten steps past its right edge
    inside = int((low + high) / 2) | 1  # an odd step: no point is there yet
    live.log({"loss": 5.0}, step=inside)
    for i in range(100, 110):
        live.log({"loss": 1.0 + 1.0 / (i + 1)}, step=2 * i)
    live.flush()
    page.wait_for_selector(".stream[data-stream=default][data-total='111']", timeout=20_000)
    page.wait_for_selector(f"{chart}[data-points='{zoomed + 1}']", timeout=20_000)
    _wait_polls(page, 1)
    assert page.locator(chart).get_attribute("data-zoom") == zoom  # the range did not move
    assert _points(page, "loss") == zoomed + 1  # the steps past the range are not drawn
    asked = _series_requests(urls)
    assert asked and all(
        q.get("since") or q.get("start") for q in asked[1:]
    )  # no full series read again
    ranged = [q for q in asked if "start" in q]
    assert ranged and "since" not in ranged[0]  # the zoom's one range fetch...
    assert all(q.get("since") for q in ranged[1:])  # ...then at most rows after its own
    # the whole series kept its appends: the reset shows every point without a fetch
    before_reset = len(_series_requests(urls))
    page.click(f"{chart} >> xpath=.. >> button.reset-zoom")
    page.wait_for_selector(f"{chart}[data-zoom=''][data-points='111']")
    assert all(q.get("since") for q in _series_requests(urls)[before_reset:])
    live.finish()
    page.wait_for_selector(".run[data-live='0']", timeout=10_000)
    assert console.errors == []


def test_live_events_and_tracks_fetch_only_what_is_new(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    live = _init(data_root, "live-records")
    now = time.time()
    live.log_event("warmup", wallclock=now)
    live.log_event("checkpoint", source="rank0", wallclock=now + 1)
    live.log_event("checkpoint", source="rank1", wallclock=now + 1)
    pose = live.tracks("robot/pose")
    pose.append(x=1.0)
    pose.append(x=2.0)
    live.flush()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _open(page, base_url, live.id, "tab=events")
    page.wait_for_selector("table.events[data-count='3']")
    seen = len(urls)
    # one more at the last wallclock, one stamped earlier by a slower process
    live.log_event("eval", source="rank0", wallclock=now + 1)
    live.log_event("late", source="rank3", wallclock=now + 0.5)
    live.flush()
    page.wait_for_selector("table.events[data-count='5']", timeout=20_000)
    _wait_polls(page, 1)
    names = page.locator("table.events tbody tr td:nth-child(3)").all_inner_texts()
    assert names == ["warmup", "checkpoint", "checkpoint", "eval", "late"]  # each once
    polls = [_query(u) for u in urls[seen:] if urlparse(u).path.endswith("/events")]
    assert polls and all(int(q["start"][0]) >= 3 for q in polls)  # only what is new
    assert "3" in {q["start"][0] for q in polls}

    page.click("[role=tab][data-tab=tracks]")
    page.wait_for_selector("table.track[data-topic='robot/pose'][data-count='2']")
    track = "/tracks/robot/pose"
    first = [_query(u) for u in urls if urlparse(u).path.endswith(track)]
    assert first and "start" not in first[-1]  # the topic is read once in full
    seen = len(urls)
    pose.append(_ts=-1, z=7.0)  # merges into the last entry (same timestamp)
    pose.append(x=3.0)
    live.flush()
    page.wait_for_selector("table.track[data-count='3'] >> text=7", timeout=20_000)
    polls = [_query(u) for u in urls[seen:] if urlparse(u).path.endswith(track)]
    assert polls and all("start" in q for q in polls)  # from the last timestamp held on
    assert page.locator("table.track th").all_inner_texts() == ["timestamp", "x", "z"]
    # an entry stamped before the last one held: the total tells, the topic is read again
    seen = len(urls)
    pose.append(_ts=now - 10, x=0.5)
    live.flush()
    page.wait_for_selector("table.track[data-count='4']", timeout=20_000)
    assert page.locator("table.track tbody tr").first.inner_text().split("\t")[1] == "0.5"
    reads = [_query(u) for u in urls[seen:] if urlparse(u).path.endswith(track)]
    assert any("start" not in q for q in reads)
    live.finish()
    page.wait_for_selector(".run[data-live='0']", timeout=10_000)
    assert console.errors == []
