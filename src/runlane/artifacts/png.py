"""PNG without dependencies: encode 8-bit arrays, decode the PNGs runlane (or most tools)
write. Enough for logged images; Pillow is used instead when the input is a PIL image or a
non-PNG file.

Supported: 8-bit (and 16-bit, read only) grayscale, gray+alpha, RGB and RGBA, non-interlaced,
every filter type. Palette and interlaced images need Pillow.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from runlane.errors import InvalidArgumentError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → PNG color type
_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(pixels: np.ndarray[Any, Any], level: int = 6) -> bytes:
    """PNG bytes of a ``uint8`` array shaped ``(H, W)`` or ``(H, W, C)`` with C in 1..4."""
    if pixels.dtype != np.uint8:
        raise InvalidArgumentError(f"encode_png needs uint8 pixels, not {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in _COLOR_TYPES:
        raise InvalidArgumentError(f"image shape {pixels.shape} is not (H, W) or (H, W, 1..4)")
    height, width, channels = pixels.shape
    if height == 0 or width == 0:
        raise InvalidArgumentError(f"image shape {pixels.shape} is empty")
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # filter byte 0 per row
    rows[:, 1:] = np.ascontiguousarray(pixels).reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray[Any, Any]:
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int64)
        pos += 1 + stride
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 0xFF
        elif kind in (1, 3, 4):
            cur = line.copy()
            for x in range(stride):
                left = int(cur[x - bpp]) if x >= bpp else 0
                if kind == 1:
                    cur[x] = (cur[x] + left) & 0xFF
                elif kind == 3:
                    cur[x] = (cur[x] + ((left + int(prev[x])) >> 1)) & 0xFF
                else:
                    up_left = int(prev[x - bpp]) if x >= bpp else 0
                    cur[x] = (cur[x] + _paeth(left, int(prev[x]), up_left)) & 0xFF
        else:
            raise InvalidArgumentError(f"PNG row {y} has unknown filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def decode_png(data: bytes) -> np.ndarray[Any, Any]:
    """``(H, W, C)`` array (uint8, or uint16 for 16-bit PNGs) of a PNG's pixels."""
    if not data.startswith(SIGNATURE):
        raise InvalidArgumentError("not a PNG file (bad signature)")
    pos = len(SIGNATURE)
    idat = []
    header: tuple[int, ...] | None = None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise InvalidArgumentError("PNG has no IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    if color not in _CHANNELS or depth not in (8, 16) or interlace:
        raise InvalidArgumentError(
            f"PNG color type {color}, bit depth {depth}, interlace {interlace} needs Pillow"
        )
    channels = _CHANNELS[color]
    bpp = channels * depth // 8
    rows = _unfilter(zlib.decompress(b"".join(idat)), height, width * bpp, bpp)
    if depth == 16:
        return rows.view(">u2").astype(np.uint16).reshape(height, width, channels)
    return rows.reshape(height, width, channels)
