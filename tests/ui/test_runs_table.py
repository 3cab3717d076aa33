"""The runs table in a real browser: filter, sort, column picker, a 10,000-run project that
scrolls with only the visible rows in the DOM, group by a param, selection (click, shift-click,
keyboard), the Compare button, and the whole view restored from the URL after a reload.

A uvicorn server in a thread serves a tmp folder holding a small project written with the SDK
and a 10,000-run project written through the LocalStore; Debian's Chromium drives the built UI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.entities import RunSpec
from runlane.store.local import LocalStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.servers import NO_CAPTURE

BIG = 10_000
SMALL = "team/sweep"
# name: (lr, optimizer, tags, losses)
RUNS: dict[str, tuple[float, str, list[str], list[float]]] = {
    "adam-hi": (0.1, "adam", ["gpu"], [1.0, 0.5, 0.25]),
    "adam-lo": (0.01, "adam", ["gpu", "baseline"], [2.0, 1.5]),
    "sgd-hi": (0.1, "sgd", [], [3.0, 0.1, 0.2]),
    "sgd-lo": (0.001, "sgd", [], [0.9]),
}
ROWS = "table.runs tbody tr.row"
NAMES = "table.runs tbody tr.row td:nth-child(2) a"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs-table")
    for name, (lr, opt, tags, losses) in RUNS.items():
        run = runlane.init(
            project=SMALL, name=name, config={"lr": lr, "opt": opt}, dir=root, **NO_CAPTURE
        )
        if tags:
            run.add_tags(tags)
        for step, loss in enumerate(losses):
            run.log({"loss": loss}, step=step)
        run.finish()
    store = LocalStore(root)
    for i in range(BIG):
        store.create_run(RunSpec(owner="big", project="many", name=f"run-{i:05d}"))
    store.close()
    return root


def names(page: Any) -> list[str]:
    return list(page.locator(NAMES).all_inner_texts())


def wait_names(page: Any, expected: list[str]) -> None:
    page.wait_for_function(
        f"[...document.querySelectorAll({NAMES!r})].map(a => a.textContent).join() === "
        f"{','.join(expected)!r}"
    )


def hash_of(page: Any) -> str:
    return str(page.evaluate("decodeURIComponent(location.hash)"))


def test_filter_sort_and_pick_columns(page: Any, console: Any, base_url: str) -> None:
    page.goto(f"{base_url}/#/?project={SMALL}&sort=name")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    assert page.locator("table.runs").get_attribute("data-count") == "4"
    # columns picked from the runs' keys before any is chosen: params, then the last loss
    headers = page.locator("table.runs thead th").all_inner_texts()
    assert headers[:5] == ["Status", "Name ▲", "Tags", "Created", "Duration"]
    assert set(headers[5:]) == {"params.lr", "params.opt", "metrics.loss"}
    row = page.locator(ROWS, has_text="adam-lo")
    assert "baseline" in row.inner_text() and "succeeded" in row.inner_text()
    assert "1.5" in row.inner_text()  # the last loss

    page.fill("input[name=where]", "params.opt = 'sgd' or params.lr < 0.05")
    page.press("input[name=where]", "Enter")
    page.wait_for_function("document.querySelector('table.runs')?.dataset.count === '3'")
    wait_names(page, ["adam-lo", "sgd-hi", "sgd-lo"])
    # sorting happens on the server, by a param column too
    page.click("button[data-sort='params.lr']")
    wait_names(page, ["sgd-lo", "adam-lo", "sgd-hi"])
    page.click("button[data-sort='params.lr']")
    assert "sort=-params.lr" in hash_of(page)
    wait_names(page, ["sgd-hi", "adam-lo", "sgd-lo"])

    # the picker adds the smallest loss; Escape closes it and gives focus back
    page.click("button:has-text('Columns')")
    dialog = page.locator("[role=dialog][aria-label=columns]")
    dialog.locator("input[type=search]").fill("loss")
    dialog.locator("input[data-column='metrics.loss:min']").check()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    page.wait_for_function("document.activeElement.textContent === 'Columns'")
    page.wait_for_selector("th:has-text('metrics.loss:min')")
    assert "metrics.loss:min" in hash_of(page)
    page.wait_for_function(
        "[...document.querySelectorAll('table.runs tbody tr.row')].find(r => "
        "r.textContent.includes('sgd-hi'))?.lastElementChild.textContent === '0.1'"
    )
    # a bad filter shows the server's message
    page.fill("input[name=where]", "params.lr <")
    page.press("input[name=where]", "Enter")
    assert "column" in page.locator("[role=alert]").inner_text()
    # the only console line is the browser's note of that 400 answer
    assert all("status of 400" in e for e in console.errors), console.errors


def test_ten_thousand_runs_scroll_with_few_rows_in_the_dom(
    page: Any, console: Any, base_url: str
) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/runs?" in r.url else None)
    page.goto(f"{base_url}/#/?project=big/many&sort=name&cols=none")
    page.wait_for_function(f"document.querySelector('table.runs')?.dataset.count === '{BIG}'")
    page.wait_for_selector("tr[data-index='0'] a")
    assert page.locator("tr[data-index='0'] a").inner_text() == "run-00000"
    assert page.locator("table.runs tbody tr").count() < 200
    # a click first, as a user would: the browser's scroll anchoring must not move the view
    page.click("tr[data-index='0'] input[type=checkbox]")
    page.wait_for_selector("tr[data-index='0'][aria-selected=true]")
    height = page.evaluate("document.querySelector('tbody tr.row').getBoundingClientRect().height")
    assert page.evaluate("document.querySelector('.table-scroll').scrollHeight") >= BIG * height

    for target in (9_000, 9_999, 4_321):
        page.evaluate(f"document.querySelector('.table-scroll').scrollTop = {target} * {height}")
        page.wait_for_selector(f"tr[data-index='{target}'] a")
        assert page.locator(f"tr[data-index='{target}'] a").inner_text() == f"run-{target:05d}"
        assert page.locator("table.runs tbody tr").count() < 200
        box = page.locator(f"tr[data-index='{target}']").bounding_box()
        view = page.locator(".table-scroll").bounding_box()
        assert view["y"] <= box["y"] <= view["y"] + view["height"]
    # only the pages scrolled to were fetched, not the whole project
    assert len(requests) <= 8, requests
    assert console.errors == []


def test_group_by_a_param_and_collapse(page: Any, console: Any, base_url: str) -> None:
    page.goto(f"{base_url}/#/?project={SMALL}&sort=name")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    page.select_option("select[aria-label='group by']", "params.opt")
    page.wait_for_selector("tr.group-row[data-group=sgd]")
    groups = page.locator("tr.group-row")
    assert groups.all_inner_texts() == ["▾ params.opt = adam 2 runs", "▾ params.opt = sgd 2 runs"]
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    # rows follow their group header
    order = page.locator("table.runs tbody tr.row").evaluate_all(
        "rows => rows.map(r => r.dataset.group"
        " || r.querySelector('td:nth-child(2) a')?.textContent)"
    )
    assert order == ["adam", "adam-hi", "adam-lo", "sgd", "sgd-hi", "sgd-lo"]
    page.click("tr.group-row[data-group=adam] button")
    wait_names(page, ["sgd-hi", "sgd-lo"])
    assert page.locator("tr.group-row[data-group=adam]").get_attribute("aria-expanded") == "false"
    assert "group=params.opt" in hash_of(page) and "closed=adam" in hash_of(page)
    # the keyboard opens it again: Enter on the focused group row
    page.locator("tr.group-row[data-group=adam]").focus()
    page.keyboard.press("Enter")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    # groups by tag hold a run once per tag; the filter still applies
    page.select_option("select[aria-label='group by']", "tags")
    page.wait_for_selector("tr.group-row[data-group=baseline]")
    assert page.locator("tr.group-row").evaluate_all("rows => rows.map(r => r.dataset.group)") == [
        "baseline",
        "gpu",
        "(none)",
    ]
    wait_names(page, ["adam-lo", "adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    assert console.errors == []


def test_select_runs_with_mouse_and_keyboard_then_compare(
    page: Any, console: Any, base_url: str
) -> None:
    page.goto(f"{base_url}/#/?project={SMALL}&sort=name")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    compare = page.locator("button[data-action=compare]")
    assert compare.is_disabled()
    page.click("input[aria-label='select adam-hi']")
    page.click("input[aria-label='select sgd-hi']", modifiers=["Shift"])
    page.wait_for_selector("tr.row[aria-selected=true] >> nth=2")
    selected = page.locator("tr.row[aria-selected=true] td:nth-child(2) a").all_inner_texts()
    assert selected == ["adam-hi", "adam-lo", "sgd-hi"]
    assert page.locator("input[aria-label='select adam-lo']").is_checked()
    # keyboard: arrows move between rows, space toggles, escape clears
    page.locator("tr[data-index='2']").focus()
    page.keyboard.press("ArrowDown")
    # the table moves focus in the next animation frame: wait for it, then act
    page.wait_for_function("document.activeElement.dataset.index === '3'")
    page.keyboard.press(" ")
    page.wait_for_selector("tr[data-index='3'][aria-selected=true]")
    page.keyboard.press("ArrowUp")
    page.wait_for_function("document.activeElement.dataset.index === '2'")
    page.keyboard.press(" ")  # unselect sgd-hi
    page.wait_for_selector("tr[data-index='2'][aria-selected=false]")
    selected = page.locator("tr.row[aria-selected=true] td:nth-child(2) a").all_inner_texts()
    assert selected == ["adam-hi", "adam-lo", "sgd-lo"]
    assert "3 selected" in page.locator(".runs-view .toolbar").inner_text()
    page.keyboard.press("Escape")
    page.wait_for_function("!location.hash.includes('sel=')")
    assert compare.is_disabled()

    page.click("input[aria-label='select adam-lo']")
    page.click("input[aria-label='select sgd-lo']")
    assert compare.is_enabled()
    ids = page.locator("tr.row[aria-selected=true]").evaluate_all(
        "rs => rs.map(r => r.dataset.run)"
    )
    compare.click()
    page.wait_for_selector("section.compare h1")
    assert hash_of(page).startswith("#/compare?runs=")
    assert sorted(hash_of(page).split("runs=")[1].split("&")[0].split(",")) == sorted(ids)
    assert page.locator("section.compare h1").inner_text() == "Compare 2 runs"
    # back to the table, selection kept; Enter on a focused row opens the run
    page.go_back()
    page.wait_for_selector("tr[data-index='0'] a")
    assert page.locator("input[aria-label='select sgd-lo']").is_checked()
    assert console.errors == []
    page.locator("tr[data-index='0']").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash.startsWith('#/run/')")


def test_the_url_restores_the_whole_view(page: Any, console: Any, base_url: str) -> None:
    page.goto(f"{base_url}/#/?project={SMALL}&sort=name")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi", "sgd-lo"])
    page.fill("input[name=where]", "params.lr >= 0.01")
    page.press("input[name=where]", "Enter")
    wait_names(page, ["adam-hi", "adam-lo", "sgd-hi"])
    page.click("button[data-sort=name]")
    wait_names(page, ["sgd-hi", "adam-lo", "adam-hi"])
    page.click("button:has-text('Columns')")
    page.locator("input[data-column='metrics.loss:max']").check()
    page.locator("input[data-column='params.opt']").uncheck()
    page.keyboard.press("Escape")
    page.select_option("select[aria-label='group by']", "params.lr")
    page.wait_for_selector("tr.group-row[data-group='0.1']")
    page.click("tr.group-row[data-group='0.01'] button")
    page.click("input[aria-label='select sgd-hi']")
    page.wait_for_function("location.hash.includes('sel=')")
    before = hash_of(page)

    page.reload()
    page.wait_for_selector("tr.group-row[data-group='0.1']")
    wait_names(page, ["sgd-hi", "adam-hi"])
    assert hash_of(page) == before
    assert page.input_value("input[name=where]") == "params.lr >= 0.01"
    headers = page.locator("table.runs thead th").all_inner_texts()
    assert "Name ▼" in headers and "metrics.loss:max" in headers and "params.opt" not in headers
    assert page.locator("tr.group-row[data-group='0.01']").get_attribute("aria-expanded") == "false"
    assert page.locator("input[aria-label='select sgd-hi']").is_checked()
    assert page.locator("input[aria-label='select adam-hi']").is_checked() is False
    assert page.input_value("select[aria-label='group by']") == "params.lr"
    assert console.errors == []
