"""Versioned non-scalar assets at a step, each read back by name and step through the SDK."""

from __future__ import annotations

import json
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn import metrics as skm

import runlane
from runlane.artifacts import curves
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.events import read_events
from runlane.artifacts.png import decode_png, encode_png
from runlane.errors import InvalidArgumentError, InvalidValueError
from runlane.sdk.run import Run

Write = Callable[..., Path]


def folder(run: Run) -> Path:
    return Path(run.path or "")


def test_images_from_arrays_in_every_layout(run: Run, root: Path) -> None:
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    run.log_image(hwc, "hwc", step=0)
    run.log_image(np.transpose(hwc, (2, 0, 1)), "chw", step=0)
    run.log_image(hwc[:, :, 0], "gray", step=0)
    run.log_image(hwc.astype(np.float64) / 255.0, "float", step=0)
    run.log_image(np.transpose(hwc, (2, 0, 1)), "forced", step=0, dataformats="CHW")
    run.finish()
    view = runlane.open(run.id, dir=root)
    assert np.array_equal(view.asset("hwc").image(), hwc)
    assert np.array_equal(view.asset("chw").image(), hwc)
    assert np.array_equal(view.asset("forced", step=0).image(), hwc)
    assert np.array_equal(view.asset("gray").image()[:, :, 0], hwc[:, :, 0])
    assert np.array_equal(view.asset("float").image(), hwc)
    assert view.asset("hwc").value == {
        "path": "assets/image/hwc_0.png",
        "height": 6,
        "width": 5,
        "colorspace": "RGB",
    }
    # a standard decoder reads what runlane wrote
    pil = np.asarray(Image.open(folder(run) / "assets/image/hwc_0.png"))
    assert np.array_equal(pil, hwc)


def test_images_from_pil_and_files(run: Run, src: Path) -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    run.log_image(Image.fromarray(pixels), "pil", step=1)
    Image.fromarray(pixels).save(src / "photo.png")
    Image.fromarray(pixels).save(src / "photo.bmp")
    run.log_image(src / "photo.png", step=2)
    run.log_image(src / "photo.bmp", name="bmp", step=3)
    assert np.array_equal(run.asset("pil", 1).image(), pixels)
    assert np.array_equal(run.asset("photo", 2).image(), pixels)
    assert np.array_equal(run.asset("bmp", 3).image(), pixels)
    assert run.asset("bmp").value["path"] == "assets/image/bmp_3.png"  # converted to PNG


def test_bad_images_are_refused(run: Run) -> None:
    with pytest.raises(InvalidArgumentError, match=r"shape \(2, 9, 9\) does not fit|HW, HWC"):
        run.log_image(np.zeros((7, 9, 9)), "x", step=0)
    with pytest.raises(InvalidValueError, match="NaN"):
        run.log_image(np.full((2, 2), np.nan), "x", step=0)
    with pytest.raises(InvalidArgumentError, match="dataformats 'CHW' does not fit"):
        run.log_image(np.zeros((4, 4)), "x", dataformats="CHW")
    assert len(run.artifacts) == 0


def test_png_codec_round_trips_every_channel_count() -> None:
    rng = np.random.default_rng(1)
    for channels in (1, 2, 3, 4):
        pixels = rng.integers(0, 256, size=(7, 3, channels), dtype=np.uint8)
        assert np.array_equal(decode_png(encode_png(pixels)), pixels)


def test_png_decoder_reads_filtered_pngs_written_by_pillow(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    smooth = np.cumsum(rng.integers(0, 3, size=(16, 16, 3)), axis=1).astype(np.uint8)
    path = tmp_path / "f.png"
    Image.fromarray(smooth).save(path, optimize=True)  # Pillow picks adaptive filters
    assert np.array_equal(decode_png(path.read_bytes()), smooth)


def test_text_and_html_are_json_lines(run: Run) -> None:
    run.log_text("notes", "a|b\nsecond line", step=1)
    run.log_text("notes", "later", step=2)
    run.log_html("report", "<b>ok</b>", step=1)
    path = folder(run) / "events/text/notes.plx"
    lines = path.read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["a|b\nsecond line", "later"]
    assert json.loads(lines[0])["step"] == 1 and "+00:00" in json.loads(lines[0])["timestamp"]
    assert run.asset("notes", 1).text() == "a|b\nsecond line"
    assert [a.step for a in run.assets("notes")] == [1, 2]
    assert run.asset("report").text() == "<b>ok</b>"
    assert [r.value for r in read_events(path, "text")] == ["a|b\nsecond line", "later"]


def test_dataframes_as_csv_and_parquet(run: Run, root: Path) -> None:
    frame = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.5, 0.25, 0.125], "tag": ["a", "b", "c"]})
    csv = run.log_dataframe(frame, "table", step=1)
    parquet = run.log_dataframe(frame, "table", content_type="parquet", step=2)
    assert (csv.path, parquet.path) == (
        "assets/dataframe/table_1.csv",
        "assets/dataframe/table_2.parquet",
    )
    run.finish()
    view = runlane.open(run.id, dir=root)
    pd.testing.assert_frame_equal(view.asset("table", 1).dataframe(), frame)
    pd.testing.assert_frame_equal(view.asset("table", 2).dataframe(), frame)
    assert view.asset("table", 2).value["rows"] == 3


def test_histograms_from_values_and_precomputed(run: Run) -> None:
    values = np.concatenate([np.zeros(5), np.ones(3), np.full(2, 2.0)])
    run.log_histogram("weights", values, bins=3, step=0)
    run.log_np_histogram("grads", [0.0, 1.0, 2.0], [4, 6], step=0)
    edges, counts = run.asset("weights").histogram()
    assert counts.tolist() == [5, 3, 2] and edges.tolist() == pytest.approx([0, 2 / 3, 4 / 3, 2])
    edges, counts = run.asset("grads").histogram()
    assert (edges.tolist(), counts.tolist()) == ([0.0, 1.0, 2.0], [4.0, 6.0])
    with pytest.raises(InvalidArgumentError, match="3 values for 1 counts"):
        run.log_np_histogram("bad", [0, 1, 2], [1])
    rows = read_events(folder(run) / "events/histogram/weights.plx", "histogram")
    assert rows[0].value["counts"] == [5, 3, 2]


def test_audio_wav_round_trip(run: Run, src: Path) -> None:
    t = np.linspace(0, 1, 800, endpoint=False)
    stereo = np.stack([np.sin(2 * np.pi * 5 * t), 0.5 * np.cos(2 * np.pi * 3 * t)], axis=1)
    record = run.log_audio(stereo, "tone", sample_rate=800, step=4)
    assert record.path == "assets/audio/tone_4.wav"
    with wave.open(str(folder(run) / record.path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getnframes()) == (2, 800, 800)
    samples, rate = run.asset("tone", 4).audio()
    assert rate == 800 and samples.shape == (800, 2)
    assert np.allclose(samples, stereo, atol=1e-4)
    (src / "clip.wav").write_bytes((folder(run) / record.path).read_bytes())
    run.log_audio(src / "clip.wav", step=5)
    assert run.asset("clip").value["num_channels"] == 2


def test_curves_roc_and_pr_match_scikit_learn(run: Run) -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, size=200)
    score = np.round(truth * 0.3 + rng.random(200), 2)  # ties on purpose
    fpr, tpr, _ = curves.roc_curve(truth, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(truth, score, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    assert curves.auc(fpr, tpr) == pytest.approx(skm.roc_auc_score(truth, score))
    precision, recall, _ = curves.pr_curve(truth, score)
    sk_p, sk_r, _ = skm.precision_recall_curve(truth, score)
    assert np.allclose(precision, sk_p) and np.allclose(recall, sk_r)
    assert curves.average_precision(truth, score) == pytest.approx(
        skm.average_precision_score(truth, score)
    )
    run.log_roc_curve_from_scores("roc", truth, score, step=10)
    run.log_sklearn_pr_curve("pr", score, truth, step=10)
    x, y, annotation = run.asset("roc", 10).curve()
    assert np.allclose(x, sk_fpr) and annotation == pytest.approx(skm.roc_auc_score(truth, score))
    x, y, annotation = run.asset("pr", 10).curve()
    assert np.allclose(x, sk_r) and np.allclose(y, sk_p)
    assert run.asset("pr").value["kind"] == "pr"
    with pytest.raises(InvalidArgumentError, match="both positive and negative"):
        run.log_roc_curve_from_scores("bad", [1, 1], [0.2, 0.3])


def test_custom_curve_and_confusion_matrix(run: Run) -> None:
    run.log_curve("custom-curve", [1, 2, 3], [3, 2, 1], annotation="line", step=14)
    run.log_curve("custom-curve", [1, 2], [5, 6], step=140)
    path = folder(run) / "events/curve/custom-curve.plx"
    lines = path.read_text().split("\n")
    assert lines[0] == "step|timestamp|curve"
    assert lines[1].startswith("14|") and lines[1].endswith(
        '|{"kind":"custom","x":[1.0,2.0,3.0],"y":[3.0,2.0,1.0],"annotation":"line"}'
    )
    assert [a.step for a in run.assets("custom-curve")] == [14, 140]
    run.log_confusion_matrix("cm", ["cat", "dog"], ["cat", "dog"], [[5, 1], [2, 7]], step=1)
    assert run.asset("cm").value == {
        "x": ["cat", "dog"],
        "y": ["cat", "dog"],
        "z": [[5.0, 1.0], [2.0, 7.0]],
    }
    with pytest.raises(InvalidArgumentError, match="does not match 2 y labels"):
        run.log_confusion_matrix("cm2", ["a", "b"], ["a", "b"], [[1, 2, 3]])


def test_reading_assets_that_do_not_exist(run: Run, write: Write) -> None:
    run.log_text("t", "x", step=1)
    with pytest.raises(ArtifactNotFoundError, match="no step 7; steps: 1"):
        run.asset("t", 7)
    with pytest.raises(ArtifactNotFoundError, match="known: t"):
        run.asset("missing")
    run.log_artifact(write("plain.txt"))
    with pytest.raises(ArtifactNotFoundError, match="not an asset"):
        run.assets("plain.txt")
    with pytest.raises(ArtifactNotFoundError, match="value with no file"):
        run.artifacts.download("t", step=1)
