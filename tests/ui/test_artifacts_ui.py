"""The run page's artifacts, assets, models and lineage tabs in a real browser: the file tree
built from the run's records, previews (image, text, CSV, HTML without scripts, a ROC curve,
a histogram, a confusion matrix), the step slider of a versioned image (mouse and keyboard),
downloads that return the exact bytes, the registry models and artifact versions the run
logged or used with their aliases, checkpoints, and the lineage graph across runs (inputs,
outputs, the runs that produced and used them; a node opens its run).

The runs are logged with the SDK into a tmp folder served by uvicorn in a thread; Debian's
Chromium (see conftest.py) drives the built UI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runlane
from support.servers import NO_CAPTURE

NOTES = "epoch 1: loss 0.5\nepoch 2: loss 0.25\n"
CSV = 'name,score\nalpha,0.9\n"b, quoted",0.75\ngamma,0.5\n'
HTML = (
    "<html><head><title>report</title></head><body><h1 id='t'>Validation report</h1>"
    "<img src='missing.png' onerror=\"document.body.dataset.ran='1'\">"
    "<script>document.body.dataset.ran = '1'; console.error('script ran')</script></body></html>"
)
MODEL = bytes(range(256)) * 40
STEPS = 5


def _init(root: Path, name: str) -> runlane.Run:
    return runlane.init(project="team/vision", name=name, dir=root, **NO_CAPTURE)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("artifacts-ui")
    src = tmp_path_factory.mktemp("artifact-sources")
    (src / "train.csv").write_text("x,y\n1,2\n")
    prep = _init(root, "prep")
    prep.log_artifact(
        runlane.Artifact("mnist", "dataset").add_file(src / "train.csv"), aliases=["golden"]
    )
    prep.finish()

    train = _init(root, "train")
    train.use_artifact("mnist@golden")
    for step in range(STEPS):
        pixels = np.full((6, 8, 3), 40 * step, dtype=np.uint8)
        pixels[0, 0] = (255, 0, 0)
        train.log_image(pixels, name="sample", step=step)
    for name, text in (("notes.txt", NOTES), ("scores.csv", CSV), ("report.html", HTML)):
        (src / name).write_text(text)
        train.log_artifact(src / name)
    (src / "batch" / "sub").mkdir(parents=True)
    (src / "batch" / "a.txt").write_text("first file")
    (src / "batch" / "sub" / "b.json").write_text('{"k":[1,2]}')
    train.log_artifact(src / "batch")
    train.log_roc_auc_curve("roc", [0.0, 0.1, 0.4, 1.0], [0.0, 0.6, 0.9, 1.0], auc=0.87, step=3)
    train.log_histogram("weights", np.arange(100.0), bins=5, step=3)
    train.log_confusion_matrix("cm", ["cat", "dog"], ["cat", "dog"], [[9, 1], [2, 8]])
    (src / "model.pt").write_bytes(MODEL)
    train.log_model(src / "model.pt", name="clf", framework="pytorch", aliases=["production"])
    (src / "preds.csv").write_text("id,label\n1,cat\n")
    train.log_artifact(runlane.Artifact("predictions", "table").add_file(src / "preds.csv"))
    train.log_checkpoint(2, {"loss": 0.25})
    train.finish()

    serve = _init(root, "serve")
    serve.use_model("clf", "production")
    serve.finish()
    return root


def _id(data_root: Path, name: str) -> str:
    return runlane.open(f"team/vision/{name}", dir=data_root).id


def _open(page: Any, base_url: str, run_id: str, query: str) -> None:
    page.goto(f"{base_url}/#/run/{run_id}?{query}")
    page.wait_for_selector(f".run-header:has-text('{run_id}')")  # not the page before


def _image_src(page: Any, scope: str = ".file-view") -> str:
    return str(page.locator(f"{scope} .preview[data-preview=image] img").get_attribute("src"))


def test_tree_and_previews(page: Any, console: Any, base_url: str, data_root: Path) -> None:
    _open(page, base_url, _id(data_root, "train"), "tab=artifacts")
    page.wait_for_selector(".file-tree button.leaf")
    folders = page.locator(".file-tree button.folder").evaluate_all(
        "els => els.map(e => e.dataset.folder)"
    )
    assert {"assets", "assets/image", "outputs", "outputs/model", "events/curve"} <= set(folders)
    leaves = page.locator(".file-tree button.leaf").evaluate_all(
        "els => els.map(e => e.dataset.path)"
    )
    assert {
        "assets/image/sample",
        "outputs/notes.txt",
        "outputs/scores.csv",
        "outputs/report.html",
        "outputs/model/model.pt",
        "events/curve/roc.plx",
        "outputs/batch/a.txt",
    } <= set(leaves)
    assert "sample · 5 steps" in page.locator("[data-path='assets/image/sample']").inner_text()

    page.click(".file-tree [data-path='outputs/notes.txt']")
    text = page.locator(".file-view .preview[data-preview=text] pre")
    assert text.text_content() == NOTES
    assert "file=outputs%2Fnotes.txt" in page.evaluate("location.hash")
    notes_leaf = page.locator(".file-tree [data-path='outputs/notes.txt']")
    assert notes_leaf.get_attribute("aria-current") == "true"

    sub = page.locator(".file-tree [data-folder='outputs/batch/sub']")
    assert sub.get_attribute("aria-expanded") == "false"  # deeper folders start closed
    sub.click()
    page.click(".file-tree [data-path='outputs/batch/sub/b.json']")  # a file of a folder
    pretty = page.locator(".file-view .preview[data-path='outputs/batch/sub/b.json'] pre")
    assert pretty.inner_text() == '{\n  "k": [\n    1,\n    2\n  ]\n}'

    page.click(".file-tree [data-path='outputs/scores.csv']")
    table = page.locator(".file-view .preview[data-preview=table] table.csv")
    table.wait_for()
    assert table.locator("thead th").all_inner_texts() == ["name", "score"]
    assert table.locator("tbody tr").count() == 3
    assert table.locator("tbody tr").nth(1).locator("td").all_inner_texts() == [
        "b, quoted",
        "0.75",
    ]

    page.click(".file-tree [data-path='outputs/report.html']")
    frame = page.locator(".file-view .preview[data-preview=html] iframe")
    assert frame.get_attribute("sandbox") == ""
    assert "<script" not in frame.get_attribute("srcdoc")
    inner = page.frame_locator(".file-view .preview[data-preview=html] iframe")
    assert inner.locator("h1#t").inner_text() == "Validation report"
    assert inner.locator("body").get_attribute("data-ran") is None  # nothing ran

    page.click(".file-tree [data-path='events/curve/roc.plx']")
    curve = page.locator(".file-view .preview[data-preview=curve]")
    assert curve.get_attribute("data-curve") == "roc"
    assert curve.locator(".plot").get_attribute("data-points") == "4"
    assert curve.locator("canvas").count() == 1
    assert curve.locator(".u-legend").inner_text().count("true positive rate") == 1
    assert curve.locator(".annotation").inner_text() == "0.87"

    page.click(".file-tree [data-path='outputs/model/model.pt']")
    assert page.locator(".file-view .preview[data-preview=binary]").count() == 1
    assert console.errors == []


def test_step_slider_swaps_the_image(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "train"), "tab=artifacts")
    page.click(".file-tree [data-path='assets/image/sample']")
    page.wait_for_selector(".file-view .preview[data-preview=image] img")
    assert _image_src(page).endswith(f"/files/assets/image/sample_{STEPS - 1}.png")
    slider = page.locator(".file-view .step-slider input[type=range]")
    assert slider.get_attribute("max") == str(STEPS - 1)

    slider.focus()
    page.keyboard.press("Home")
    page.wait_for_function("document.querySelector('.file-view img').src.endsWith('/sample_0.png')")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('.file-view img').src.endsWith('/sample_2.png')")
    assert page.locator(".file-view .step-label").inner_text() == "step 2"
    assert "step=2" in page.evaluate("location.hash")
    page.wait_for_function("document.querySelector('.file-view img').naturalWidth === 8")
    # the image shown is the file logged at that step
    src = _image_src(page)
    assert (
        httpx.get(src).content
        == (data_root / "team/vision/train/assets/image/sample_2.png").read_bytes()
    )

    # a shared URL opens the same step
    page.reload()
    page.wait_for_selector(".file-view .preview[data-preview=image] img")
    assert _image_src(page).endswith("/sample_2.png")

    # the Assets tab: one card per asset, each with its own slider
    page.click("#tab-assets")
    card = page.locator(".asset[data-name=sample]")
    card.wait_for()
    assert card.get_attribute("data-step") == str(STEPS - 1)
    card.locator("input[type=range]").focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector(".asset[data-name=sample][data-step='3']")
    assert _image_src(page, ".asset[data-name=sample]").endswith("/sample_3.png")
    histogram = page.locator(".asset[data-name=weights] .preview[data-preview=histogram]")
    histogram.locator("canvas").wait_for()
    assert histogram.locator(".plot").get_attribute("data-points") == "5"  # bins=5
    cm = page.locator(".asset[data-name=cm] table.confusion")
    assert cm.locator("tbody tr").nth(1).locator("td").all_inner_texts() == ["2", "8"]
    page.click(".assets-tab button[data-kind=image]")
    page.wait_for_function("document.querySelectorAll('.asset').length === 1")
    assert console.errors == []


def test_downloads_return_the_exact_bytes(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "train"), "tab=artifacts&file=outputs/notes.txt")
    link = page.locator(".file-view a.download")
    with page.expect_download() as got:
        link.click()
    download = got.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_text() == NOTES

    _open(page, base_url, _id(data_root, "train"), "tab=models")
    model_link = page.locator(".model[data-model=clf] a[data-file='model.pt']")
    with page.expect_download() as got:
        model_link.click()
    assert Path(got.value.path()).read_bytes() == MODEL
    assert console.errors == []


def test_models_versions_aliases_and_checkpoints(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "train"), "tab=models")
    model = page.locator(".model[data-model=clf]")
    model.wait_for()
    assert model.locator("h4 .alias[data-alias=production]").inner_text() == "production → v0"
    row = model.locator("tr[data-version=v0]")
    assert row.locator(".alias").all_inner_texts() == ["latest", "production"]
    assert "logged" in row.inner_text() and "pytorch" in row.inner_text()

    used = page.locator(".versioned[data-artifact=mnist] tr[data-version=v0]")
    assert "used" in used.inner_text() and "golden" in used.locator(".alias").all_inner_texts()
    assert used.locator("a[data-file='train.csv']").count() == 1
    made = page.locator(".versioned[data-artifact=predictions] tr[data-version=v0]")
    assert "logged" in made.inner_text()
    href = made.locator("a[data-file='preds.csv']").get_attribute("href")
    assert httpx.get(href).text == "id,label\n1,cat\n"

    checkpoint = page.locator("table.checkpoints tr[data-epoch='2']")
    assert checkpoint.locator("td").nth(1).inner_text() == "0.25"

    # the run that only used the model shows it as used
    _open(page, base_url, _id(data_root, "serve"), "tab=models")
    row = page.locator(".model[data-model=clf] tr[data-version=v0]")
    row.wait_for()
    assert "used" in row.inner_text() and "logged" not in row.inner_text()
    assert console.errors == []


def test_lineage_graph_and_navigation(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    train, prep, serve = (_id(data_root, n) for n in ("train", "prep", "serve"))
    _open(page, base_url, train, "tab=lineage")
    svg = page.locator("svg.lineage")
    svg.wait_for()

    def column(node: str) -> str:
        return str(page.locator(f"svg.lineage g[data-node='{node}']").get_attribute("data-column"))

    assert column(f"run:{train}") == "0"
    assert column("artifact:mnist:v0") == "-1"
    assert column(f"run:{prep}") == "-2"
    assert column("model:clf:v0") == "1"
    assert column("artifact:predictions:v0") == "1"
    assert column(f"run:{serve}") == "2"
    outputs = page.locator("svg.lineage g[data-column='1']").evaluate_all(
        "els => els.map(e => e.querySelector('.node-name').textContent)"
    )
    assert {"notes.txt", "scores.csv", "report.html", "clf:v0", "predictions:v0"} <= set(outputs)
    edges = svg.locator("path.edge")
    assert edges.count() == int(svg.get_attribute("data-edges"))
    produced = f"path.edge[data-source='run:{prep}'][data-target='artifact:mnist:v0']"
    assert svg.locator(produced).count() == 1
    assert page.locator("svg.lineage .column-title").all_text_contents()[:2] == [
        "produced by",
        "inputs",
    ]

    # the input opens the run that produced it (keyboard: focus + Enter)
    page.locator("svg.lineage a:has(g[data-node='artifact:mnist:v0'])").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"location.hash.startsWith('#/run/{prep}')")
    page.wait_for_selector(f"svg.lineage g[data-node='run:{train}'][data-column='2']")
    assert page.locator(".run-header h1").inner_text().startswith("prep")

    # the model output opens the run that used it (mouse)
    _open(page, base_url, train, "tab=lineage")
    page.click("svg.lineage a:has(g[data-node='model:clf:v0'])")
    page.wait_for_function(f"location.hash.startsWith('#/run/{serve}')")
    page.wait_for_selector(f"svg.lineage g[data-node='run:{train}'][data-column='-2']")
    assert page.locator(f"svg.lineage g[data-node='run:{prep}']").count() == 0
    page.select_option(".lineage-tab select", "4")  # deeper: the dataset and its producer
    page.wait_for_selector(f"svg.lineage g[data-node='run:{prep}'][data-column='-4']")
    assert "depth=4" in page.evaluate("location.hash")

    # an output file of the run opens its preview
    _open(page, base_url, train, "tab=lineage&depth=1")
    page.wait_for_selector("svg.lineage")
    assert page.locator(f"svg.lineage g[data-node='run:{prep}']").count() == 0
    notes = page.locator("svg.lineage a", has=page.locator("text=notes.txt"))
    notes.click()
    page.wait_for_selector(".file-view .preview[data-preview=text]")
    assert console.errors == []


def test_keyboard_reaches_tree_and_preview(
    page: Any, console: Any, base_url: str, data_root: Path
) -> None:
    _open(page, base_url, _id(data_root, "train"), "tab=artifacts")
    page.wait_for_selector(".file-tree button.leaf")
    page.locator(".file-tree button.folder[data-folder='outputs']").focus()
    page.keyboard.press("Enter")  # collapse
    page.wait_for_selector(".file-tree [data-folder='outputs'][aria-expanded=false]")
    assert page.locator(".file-tree [data-path='outputs/notes.txt']").count() == 0
    page.keyboard.press("Enter")  # open again
    focused = ""
    for _ in range(8):  # past the subfolders to the first file
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.path || ''")
        if focused:
            break
    assert focused.startswith("outputs/")
    page.keyboard.press("Enter")
    page.wait_for_selector(f".file-view [data-path='{focused}']")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    assert console.errors == []
