"""JSON for places that cannot hold NaN or ±inf: PostgreSQL's JSONB and the wire.

A non-finite float becomes the one-key document ``{"$f": "NaN" | "Infinity" | "-Infinity"}``
(beside the store's ``{"$b64": ...}`` for bytes); :func:`untag` turns it back. Everything
else passes as plain JSON. Only values that may hold a non-finite float are walked: metric
rows of the streams a batch marks ``nonfinite``, and the small documents (params, metadata,
log and event metadata, track fields), which are walked always.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

FLOAT_TAG = "$f"
_TAGS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _tag_float(value: float) -> Any:
    if math.isnan(value):
        return {FLOAT_TAG: "NaN"}
    if math.isinf(value):
        return {FLOAT_TAG: "Infinity" if value > 0 else "-Infinity"}
    return value


def tag(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by its tag document."""
    kind = type(value)
    if kind is float:
        return _tag_float(value)
    if kind is dict:
        return {k: tag(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [tag(v) for v in value]
    return value


def untag(value: Any) -> Any:
    """Undo :func:`tag` at any depth."""
    kind = type(value)
    if kind is dict:
        if len(value) == 1 and FLOAT_TAG in value:
            text = value[FLOAT_TAG]
            if isinstance(text, str) and text in _TAGS:
                return _TAGS[text]
        return {k: untag(v) for k, v in value.items()}
    if kind is list:
        return [untag(v) for v in value]
    return value


def tag_row(row: dict[str, Any]) -> dict[str, Any]:
    """A metric row (flat: scalars and ``{"$b64"}`` documents) with non-finite floats tagged."""
    return {k: _tag_float(v) if type(v) is float else v for k, v in row.items()}


def untag_row(row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(row with tags undone, whether any tag was found)``; flat rows only."""
    found = False
    out = row
    for key, value in row.items():
        if type(value) is dict and len(value) == 1 and FLOAT_TAG in value:
            if not found:
                out = dict(row)
                found = True
            out[key] = _TAGS.get(value[FLOAT_TAG], math.nan)
    return out, found


def dumps(value: Any) -> str:
    """JSON text of ``value`` with non-finite floats tagged (for JSONB parameters)."""
    return orjson.dumps(tag(value)).decode()


def loads(text: str | bytes | None) -> Any:
    """Parse JSON text written by :func:`dumps` and undo its tags (``None`` stays ``None``)."""
    if text is None:
        return None
    return untag(orjson.loads(text))
