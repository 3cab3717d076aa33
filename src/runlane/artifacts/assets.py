"""Encoders of non-scalar assets: what bytes (or inline value) each ``log_*`` helper stores.

Each encoder validates its input and returns an :class:`Encoded`: either file bytes with an
extension, or a source file to copy, plus the event value Polyaxon writes for that kind.
Images become PNG (numpy arrays ``HW``/``HWC``/``CHW``, PIL images, image files), audio
becomes 16-bit PCM WAV (the stdlib ``wave`` module), dataframes CSV or Parquet, histograms
and curves inline values.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runlane.artifacts.errors import SourceNotFoundError
from runlane.artifacts.png import decode_png, encode_png
from runlane.errors import InvalidArgumentError, InvalidValueError

Array = np.ndarray[Any, Any]
_COLORSPACE = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True, slots=True)
class Encoded:
    """Bytes to store (``data``) or a file to copy (``source``), its extension, and the
    extra fields of the event value (the path is added when stored)."""

    ext: str
    data: bytes | None = None
    source: Path | None = None
    value: dict[str, Any] = field(default_factory=dict)


def to_numpy(data: Any) -> Array:
    """numpy view of arrays, torch/tf tensors, jax arrays and nested lists."""
    if isinstance(data, np.ndarray):
        return data
    detach = getattr(data, "detach", None)
    if callable(detach):  # torch
        data = detach().cpu().numpy()
    elif hasattr(data, "numpy") and callable(data.numpy):  # tensorflow eager
        data = data.numpy()
    return np.asarray(data)


def _source(path: str | os.PathLike[str], what: str) -> Path:
    source = Path(os.fspath(path)).expanduser()
    if not source.is_file():
        raise SourceNotFoundError(str(source), what)
    return source


# --- images ---------------------------------------------------------------------------------
def _to_uint8(array: Array, rescale: float) -> Array:
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InvalidValueError("image pixels may not be NaN or infinite")
        scaled = array * rescale
        if rescale == 1 and scaled.size and scaled.max() <= 1.0 and scaled.min() >= 0.0:
            scaled = scaled * 255.0
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array.astype(np.int64) * int(rescale), 0, 255).astype(np.uint8)
    raise InvalidValueError(f"image pixels of dtype {array.dtype} are not numbers")


def _to_hwc(array: Array, dataformats: str | None) -> Array:
    fmt = (dataformats or "").upper()
    if not fmt:
        if array.ndim == 2:
            fmt = "HW"
        elif array.ndim == 3 and array.shape[2] in (1, 2, 3, 4):
            fmt = "HWC"
        elif array.ndim == 3 and array.shape[0] in (1, 2, 3, 4):
            fmt = "CHW"
        else:
            raise InvalidArgumentError(
                f"image array of shape {array.shape} is not HW, HWC or CHW with 1-4 channels; "
                "pass dataformats="
            )
    if fmt not in ("HW", "WH", "HWC", "CHW") or len(fmt) != array.ndim:
        raise InvalidArgumentError(
            f"dataformats {dataformats!r} does not fit an array of shape {array.shape}; "
            "use 'HW', 'HWC' or 'CHW'"
        )
    if fmt == "WH":
        array = array.T
    if fmt == "CHW":
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4):
        raise InvalidArgumentError(f"image has {array.shape[2]} channels; 1-4 are supported")
    return array


def encode_image(data: Any, dataformats: str | None = None, rescale: float = 1) -> Encoded:
    """PNG of an array (HW, HWC or CHW; floats in [0, 1] are scaled by 255), a PIL image or an
    image file (PNG files are copied as they are, others converted with Pillow)."""
    if isinstance(data, str | os.PathLike):
        source = _source(data, "image file")
        with open(source, "rb") as fh:
            head = fh.read(8)
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            try:
                pixels = decode_png(source.read_bytes())
                dims = {"height": int(pixels.shape[0]), "width": int(pixels.shape[1])}
            except InvalidArgumentError:
                dims = {}
            return Encoded("png", source=source, value=dims)
        data = _pil().open(source)
    if hasattr(data, "save") and hasattr(data, "mode") and hasattr(data, "size"):  # PIL
        buffer = io.BytesIO()
        image = data if data.mode in ("L", "LA", "RGB", "RGBA") else data.convert("RGBA")
        image.save(buffer, format="PNG")
        width, height = image.size
        return Encoded(
            "png",
            data=buffer.getvalue(),
            value={"height": height, "width": width, "colorspace": image.mode},
        )
    pixels = _to_uint8(_to_hwc(to_numpy(data), dataformats), rescale)
    channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
    return Encoded(
        "png",
        data=encode_png(pixels),
        value={
            "height": int(pixels.shape[0]),
            "width": int(pixels.shape[1]),
            "colorspace": _COLORSPACE[channels],
        },
    )


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise InvalidArgumentError(
            "this image needs Pillow to convert it to PNG: pip install 'runlane[artifacts]'"
        ) from exc
    return Image


def decode_image(data: bytes) -> Array:
    """``(H, W, C)`` pixels of PNG (or, with Pillow, any image) bytes."""
    try:
        return decode_png(data)
    except InvalidArgumentError:
        image = _pil().open(io.BytesIO(data))
        array = np.asarray(image)
        return array if array.ndim == 3 else array[:, :, None]


# --- audio ----------------------------------------------------------------------------------
def encode_audio(data: Any, sample_rate: int = 44100) -> Encoded:
    """16-bit PCM WAV of samples shaped ``(n,)`` or ``(n, channels)`` (floats in [-1, 1] or
    integers), or a ``.wav`` file copied as it is."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise InvalidArgumentError(f"sample_rate {sample_rate!r} must be a positive int")
    if isinstance(data, str | os.PathLike):
        source = _source(data, "audio file")
        try:
            with wave.open(str(source), "rb") as wav:
                info = {
                    "sample_rate": wav.getframerate(),
                    "num_channels": wav.getnchannels(),
                    "length_frames": wav.getnframes(),
                }
        except (wave.Error, EOFError) as exc:
            raise InvalidArgumentError(
                f"audio file {str(source)!r} is not a WAV file: {exc}"
            ) from exc
        return Encoded("wav", source=source, value={**info, "content_type": "audio/wav"})
    samples = to_numpy(data)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.size == 0:
        raise InvalidArgumentError(f"audio of shape {samples.shape} is not (n,) or (n, channels)")
    if samples.shape[0] <= 8 < samples.shape[1]:
        samples = samples.T  # (channels, n)
    if np.issubdtype(samples.dtype, np.floating):
        if not np.isfinite(samples).all():
            raise InvalidValueError("audio samples may not be NaN or infinite")
        pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    elif np.issubdtype(samples.dtype, np.integer):
        pcm = np.clip(samples, -32768, 32767).astype("<i2")
    else:
        raise InvalidValueError(f"audio samples of dtype {samples.dtype} are not numbers")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(int(pcm.shape[1]))
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(pcm).tobytes())
    return Encoded(
        "wav",
        data=buffer.getvalue(),
        value={
            "sample_rate": sample_rate,
            "num_channels": int(pcm.shape[1]),
            "length_frames": int(pcm.shape[0]),
            "content_type": "audio/wav",
        },
    )


def decode_audio(data: bytes) -> tuple[Array, int]:
    """``(samples as float32 in [-1, 1] shaped (n, channels), sample_rate)`` of WAV bytes."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise InvalidArgumentError(f"only 16-bit WAV is decoded, this one has {8 * width} bits")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    return (pcm.astype(np.float32) / 32767.0), rate


# --- dataframes -----------------------------------------------------------------------------
def encode_dataframe(df: Any, content_type: str = "csv") -> Encoded:
    """CSV or Parquet bytes of a pandas DataFrame (or anything ``pandas.DataFrame`` accepts:
    a dict of columns, a list of rows)."""
    fmt = str(content_type).lower()
    if fmt not in ("csv", "parquet"):
        raise InvalidArgumentError(
            f"dataframe content_type {content_type!r} is not 'csv' or 'parquet'"
        )
    try:
        import pandas as pd
    except ImportError as exc:
        raise InvalidArgumentError("log_dataframe needs pandas: pip install pandas") from exc
    frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    if fmt == "csv":
        payload = frame.to_csv(index=False).encode()
    else:
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except ImportError as exc:
            raise InvalidArgumentError(
                "Parquet needs pyarrow: pip install 'runlane[parquet]'"
            ) from exc
        payload = buffer.getvalue()
    return Encoded(
        fmt,
        data=payload,
        value={
            "content_type": fmt,
            "rows": int(frame.shape[0]),
            "columns": [str(c) for c in frame.columns],
        },
    )


def decode_dataframe(data: bytes, content_type: str) -> Any:
    import pandas as pd

    if content_type == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data))


# --- inline values --------------------------------------------------------------------------
def _finite_list(values: Array, what: str) -> list[float]:
    if not np.issubdtype(values.dtype, np.number):
        raise InvalidValueError(f"{what} must be numbers, not {values.dtype}")
    return [float(v) for v in values.astype(np.float64).ravel()]


def histogram_value(values: Any, bins: Any = 10, max_bins: int | None = None) -> dict[str, Any]:
    """``{"values": bin edges, "counts": counts}`` of raw values (numpy's binning)."""
    data = to_numpy(values).astype(np.float64).ravel()
    data = data[np.isfinite(data)]
    if data.size == 0:
        raise InvalidValueError("histogram values are empty (or all NaN/inf)")
    if max_bins is not None and isinstance(bins, int):
        bins = min(bins, int(max_bins))
    counts, edges = np.histogram(data, bins=bins)
    return {"values": _finite_list(edges, "bin edges"), "counts": [int(c) for c in counts]}


def np_histogram_value(values: Any, counts: Any) -> dict[str, Any]:
    """A precomputed histogram: ``values`` are the bin edges (one more than ``counts``, or
    as many as ``counts`` for bin centres)."""
    edges = to_numpy(values).ravel()
    numbers = to_numpy(counts).ravel()
    if numbers.size == 0 or edges.size not in (numbers.size, numbers.size + 1):
        raise InvalidArgumentError(
            f"histogram has {edges.size} values for {numbers.size} counts; give bin edges "
            "(counts + 1) or bin centres (counts)"
        )
    return {"values": _finite_list(edges, "bin values"), "counts": _finite_list(numbers, "counts")}


def curve_value(x: Any, y: Any, annotation: Any = None, kind: str = "custom") -> dict[str, Any]:
    xs, ys = to_numpy(x).ravel(), to_numpy(y).ravel()
    if xs.size != ys.size or xs.size == 0:
        raise InvalidArgumentError(
            f"curve x ({xs.size}) and y ({ys.size}) need one non-zero length"
        )
    return {
        "kind": kind,
        "x": _finite_list(xs, "curve x"),
        "y": _finite_list(ys, "curve y"),
        "annotation": None if annotation is None else _plain(annotation),
    }


def confusion_value(x: Any, y: Any, z: Any) -> dict[str, Any]:
    matrix = to_numpy(z)
    labels_x = [_plain(v) for v in to_numpy(x).ravel()]
    labels_y = [_plain(v) for v in to_numpy(y).ravel()]
    if matrix.shape != (len(labels_y), len(labels_x)):
        raise InvalidArgumentError(
            f"confusion matrix of shape {matrix.shape} does not match {len(labels_y)} y labels × "
            f"{len(labels_x)} x labels"
        )
    return {"x": labels_x, "y": labels_y, "z": matrix.astype(np.float64).tolist()}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
