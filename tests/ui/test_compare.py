"""The compare view in a real browser: overlaid charts (one series per run that logged the
field, legend with run names, drawn from the server's downsampled series), the x-axis switch,
and the params/metadata diff table with its differing rows highlighted and the "only
differences" toggle, all kept in the URL.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.server.app import create_app
from runlane.store.local import LocalStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.servers import NO_CAPTURE, serve_app

PROJECT = "team/compare"
STEPS = 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, run name → id): three runs; only alpha logs eval.top1, gamma no acc."""
    root = tmp_path_factory.mktemp("compare")
    ids: dict[str, str] = {}
    setups = {
        "alpha": ({"lr": 0.1, "opt": "adam", "depth": 4}, True, True),
        "beta": ({"lr": 0.01, "opt": "adam", "depth": 4}, True, False),
        "gamma": ({"lr": 0.1, "opt": "adam", "depth": 8}, False, False),
    }
    for name, (config, acc, top1) in setups.items():
        run = runlane.init(project=PROJECT, name=name, config=config, dir=root, **NO_CAPTURE)
        for step in range(STEPS):
            row = {"loss": 1.0 / (step + 1) + config["lr"]}
            if acc:
                row["acc"] = step / STEPS
            run.log(row, step=step)
        if top1:
            run.metrics("eval").log(top1=0.5)
        run.update_metadata("data", {"rows": 1000 if name != "beta" else 2000, "source": "s3"})
        run.finish()
        ids[name] = run.id
    store = LocalStore(root)
    with serve_app(create_app(store)) as url:
        yield url, ids
    store.close()


def compare_url(base: str, ids: dict[str, str], *names: str, **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{base}/#/compare?runs={','.join(ids[n] for n in names)}{extra}"


def chart(page: Any, field: str) -> Any:
    return page.locator(f".compare .chart[data-field='{field}']")


def legend(page: Any, field: str) -> list[str]:
    labels = chart(page, field).locator(".u-legend .u-series .u-label").all_inner_texts()
    return list(labels[1:])  # the first entry is the x axis


def diff(page: Any) -> dict[str, tuple[list[str], bool]]:
    rows = page.locator("table.diff tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.key, [...r.querySelectorAll('td')]"
        ".map(td => td.textContent), r.classList.contains('differs')])"
    )
    return {key: (values, differs) for key, values, differs in rows}


def test_compare_two_runs_picked_in_the_table(
    page: Any, console: Any, runs: tuple[str, dict[str, str]]
) -> None:
    base, _ = runs
    page.goto(f"{base}/#/?project={PROJECT}&sort=name")
    page.wait_for_selector("tr[data-index='2'] a")
    page.click("input[aria-label='select alpha']")
    page.click("input[aria-label='select beta']")
    page.click("button[data-action=compare]")
    page.wait_for_selector(".compare .chart[data-field=loss] canvas")
    assert page.locator(".compare h1").inner_text() == "Compare 2 runs"
    # one chart per field both runs logged; eval.top1 (alpha only) is left out
    page.wait_for_selector(".compare .chart[data-field=acc][data-series='2']")
    fields = page.locator(".compare .chart").evaluate_all("cs => cs.map(c => c.dataset.field)")
    assert sorted(fields) == ["acc", "loss"]
    assert chart(page, "loss").get_attribute("data-series") == "2"
    assert chart(page, "loss").get_attribute("data-points") == str(2 * STEPS)
    assert legend(page, "loss") == ["alpha", "beta"]

    table = diff(page)
    assert table["params.lr"] == (["0.1", "0.01"], True)
    assert table["params.opt"] == (["adam", "adam"], False)
    assert table["metadata.data.rows"] == (["1000", "2000"], True)
    assert table["metadata.data.source"] == (["s3", "s3"], False)
    assert table["status"] == (["succeeded", "succeeded"], False)
    highlighted = page.locator("table.diff tr.differs th").all_inner_texts()
    assert "params.lr" in highlighted and "params.opt" not in highlighted

    page.click("button[data-action=only-differences]")
    page.wait_for_function("!document.querySelector('table.diff tr[data-key=\"params.opt\"]')")
    only = diff(page)
    assert "params.lr" in only and "metadata.data.rows" in only
    assert all(differs for _, differs in only.values())
    assert "diff=1" in page.evaluate("location.hash")
    page.reload()
    page.wait_for_selector("table.diff tr[data-key='params.lr']")
    assert page.locator("button[data-action=only-differences]").get_attribute("aria-pressed") == (
        "true"
    )
    assert "params.opt" not in diff(page)
    # the back link returns to the table's view, selection included
    page.click(".compare a:has-text('runs')")
    page.wait_for_selector("tr[data-index='2'] a")
    assert page.locator("input[aria-label='select alpha']").is_checked()
    assert f"project={PROJECT}" in page.evaluate("decodeURIComponent(location.hash)")
    assert console.errors == []


def test_three_runs_series_per_chart_and_x_axis(
    page: Any, console: Any, runs: tuple[str, dict[str, str]]
) -> None:
    base, ids = runs
    page.goto(compare_url(base, ids, "alpha", "beta", "gamma"))
    page.wait_for_selector(".compare .chart[data-field=loss][data-series='3'] canvas")
    page.wait_for_selector(".compare .chart[data-field=acc][data-series='2']")
    assert legend(page, "loss") == ["alpha", "beta", "gamma"]
    assert legend(page, "acc") == ["alpha", "beta"]
    assert page.locator(".compare .chart[data-field='eval.top1']").count() == 0
    table = diff(page)
    assert table["params.depth"] == (["4", "4", "8"], True)
    assert table["params.lr"] == (["0.1", "0.01", "0.1"], True)

    page.click(".compare button[data-x=relative]")
    page.wait_for_selector(".compare .chart[data-field=loss][data-x='relative time'] canvas")
    assert "x=relative" in page.evaluate("location.hash")
    assert page.locator(".compare button[data-x=relative]").get_attribute("aria-pressed") == "true"
    page.wait_for_selector(".compare .chart[data-field=loss][data-series='3']")
    # relative time starts near zero for every run, whatever its start: hover the left edge
    over = chart(page, "loss").locator(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    x_value = chart(page, "loss").locator(".u-legend .u-series").first.locator(".u-value")
    assert re.fullmatch(r"\d+\.\ds", x_value.inner_text()), x_value.inner_text()
    page.click(".compare a:has-text('runs')")
    page.wait_for_selector("table.runs")
    assert console.errors == []


def test_compare_with_fewer_than_two_runs_explains_itself(
    page: Any, console: Any, runs: tuple[str, dict[str, str]]
) -> None:
    base, ids = runs
    page.goto(compare_url(base, ids, "alpha"))
    page.wait_for_selector("table.diff")
    assert "Select two or more runs" in page.locator(".compare").inner_text()
    # one run: its own fields are charted, one series each
    page.wait_for_selector(".compare .chart[data-field='eval.top1'][data-series='1']")
    assert console.errors == []
