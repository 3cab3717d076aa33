"""Coercion of user values into what the stores keep, and flattening of nested params.

Metric fields and params accept int, float (NaN and ±inf are kept), bool, str, bytes, None,
numpy scalars and 0-d arrays. Params also accept lists/tuples of those (kept as lists).
Text must be valid Unicode: a string holding a lone surrogate is refused.
An int outside ``[INT_MIN, INT_MAX]`` (what JSON libraries, SQLite and PostgreSQL keep as an
integer) is stored as the nearest float, as every store would read it back anyway; one past
the float range is refused.
Anything else raises :class:`~runlane.errors.InvalidValueError` naming the key, at the call
site, before anything is queued. Bytes are stored as ``{"$b64": "..."}`` and decoded on read.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from runlane.errors import InvalidNameError, InvalidValueError
from runlane.names import check_key

Scalar = int | float | bool | str | None
BYTES_TAG = "$b64"
_PLAIN = frozenset({int, float, bool, str})
_SURROGATE = re.compile("[\ud800-\udfff]")
#: How deeply params, metadata and log/event metadata documents may nest.
MAX_DEPTH = 64
#: The ints kept exactly: signed and unsigned 64-bit (orjson, SQLite and PostgreSQL JSON).
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


def coerce_int(key: str, value: int) -> int | float:
    """``value`` when within ``[INT_MIN, INT_MAX]``, else the nearest float; raises
    InvalidValueError naming ``key`` when even a float cannot hold it."""
    if INT_MIN <= value <= INT_MAX:
        return value
    try:
        return float(value)
    except OverflowError:
        raise InvalidValueError(
            f"value for {key!r} is an integer of {len(str(abs(value)))} digits; numbers must "
            "fit a float (|x| < 1.8e308)"
        ) from None


def encode_bytes(value: bytes | bytearray | memoryview) -> dict[str, str]:
    """Wrap bytes as the JSON-safe ``{"$b64": base64}`` document used on disk."""
    return {BYTES_TAG: base64.b64encode(bytes(value)).decode("ascii")}


def decode_value(value: Any) -> Any:
    """Undo :func:`encode_bytes` on a value read back from a store; other values pass (a
    ``{"$b64": ...}`` that is not base64 text too: a user's document, not a tag)."""
    if type(value) is dict and len(value) == 1 and type(value.get(BYTES_TAG)) is str:
        try:
            return base64.b64decode(value[BYTES_TAG], validate=True)
        except ValueError:
            return value
    return value


def decode_document(value: Any) -> Any:
    """Undo :func:`encode_bytes` at any depth of a document read back (params, metadata,
    log and event metadata); returns ``value`` itself when it holds no bytes tag."""
    kind = type(value)
    if kind is dict:
        if len(value) == 1 and BYTES_TAG in value:
            decoded = decode_value(value)
            if decoded is not value:
                return decoded
        return {k: decode_document(v) for k, v in value.items()}
    if kind is list:
        return [decode_document(v) for v in value]
    return value


def coerce_scalar(key: str, value: object) -> Any:
    """Return ``value`` as a storable scalar, or raise InvalidValueError naming ``key``.

    Slow path of the metric hot path: only called for values that are not plain
    int/float/bool/str.
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return encode_bytes(value)
    if isinstance(value, bool | int | float | str):  # subclasses (IntEnum, numpy.float64)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return coerce_int(key, int(value))
        if isinstance(value, float):
            return float(value)
        return check_text(str(value), f"value for {key!r}")
    item = getattr(value, "item", None)
    shape = getattr(value, "shape", None)
    if callable(item) and (shape is None or shape == ()):
        try:
            plain = item()
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(
                f"value for {key!r} ({type(value).__name__}) could not be converted: {exc}"
            ) from exc
        if type(plain) is str:
            return check_text(plain, f"value for {key!r}")
        if type(plain) is int:  # numpy uint64/int64 fit; a Python-object array's may not
            return coerce_int(key, plain)
        if type(plain) in _PLAIN or plain is None:
            return plain
        if isinstance(plain, complex | bytes):
            return coerce_scalar(key, plain)
    hint = ""
    if shape is not None:
        hint = f" of shape {shape}; log arrays element-wise or as an artifact"
    raise InvalidValueError(
        f"value for {key!r} has type {type(value).__name__}{hint}; "
        "allowed: int, float, bool, str, bytes, None, numpy scalars and 0-d arrays"
    )


def has_nonfinite(row: Mapping[str, Any]) -> bool:
    """True when a float in ``row`` is NaN or ±inf (the writer then keeps JSON's NaN tokens)."""
    return any(type(v) is float and not math.isfinite(v) for v in row.values())


def check_text(value: str, what: str) -> str:
    """Return ``value`` if it is valid Unicode text; InvalidValueError naming ``what`` when it
    holds a lone surrogate (no UTF-8 file, SQLite or PostgreSQL can store one)."""
    if not value.isascii():
        found = _SURROGATE.search(value)
        if found is not None:
            raise InvalidValueError(
                f"{what} {value[:40]!r} holds a lone surrogate at position {found.start()}; "
                "text must be valid Unicode (log binary data as bytes)"
            )
    return value


def coerce_param(key: str, value: object, _depth: int = 0) -> Any:
    """Return a storable param value: a scalar, or a list/dict of storable values, nested at
    most MAX_DEPTH levels."""
    if _depth > MAX_DEPTH:
        raise InvalidValueError(
            f"value for {key[:60]!r}... is nested more than {MAX_DEPTH} levels deep"
        )
    if isinstance(value, list | tuple):
        return [coerce_param(f"{key}[{i}]", v, _depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {
            check_text(str(k), "key"): coerce_param(f"{key}.{k}", v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, set | frozenset):
        return sorted((coerce_param(key, v, _depth + 1) for v in value), key=repr)
    if type(value) is str:
        return check_text(value, f"value for {key!r}")
    if type(value) is int:
        return coerce_int(key, value)
    if type(value) in _PLAIN or value is None:
        return value
    try:
        return coerce_scalar(key, value)
    except InvalidValueError:
        import enum
        import pathlib

        if isinstance(value, enum.Enum):
            return coerce_param(key, value.value)
        if isinstance(value, pathlib.PurePath):
            return str(value)
        raise


def to_mapping(source: object) -> dict[str, Any]:
    """Turn a params source into a dict: a mapping, argparse Namespace, dataclass instance,
    a class object (its public non-callable attributes, as ML-Dash does) or any object with
    ``__dict__``. Files are handled by :func:`load_params_file`.
    """
    if isinstance(source, Mapping):
        return dict(source)
    if dataclasses.is_dataclass(source) and not isinstance(source, type):
        return {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
    if isinstance(source, type):
        return {
            k: v
            for k, v in vars(source).items()
            if not k.startswith("_")
            and not callable(v)
            and not isinstance(v, classmethod | staticmethod | property)
        }
    attrs = getattr(source, "__dict__", None)
    if isinstance(attrs, dict):
        return {k: v for k, v in attrs.items() if not k.startswith("_")}
    raise InvalidValueError(
        f"params source of type {type(source).__name__} is not supported; pass a dict, an "
        "argparse Namespace, a dataclass, or a path to a JSON/YAML file"
    )


def load_params_file(path: str) -> dict[str, Any]:
    """Read a JSON or YAML file of params; the top level must be a mapping."""
    import pathlib

    file = pathlib.Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        import orjson

        data = orjson.loads(text)
    if not isinstance(data, dict):
        raise InvalidValueError(
            f"params file {path!r} must hold a mapping at the top level, not {type(data).__name__}"
        )
    return data


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys, coercing every leaf.

    ``{"model": {"lr": 1}}`` → ``{"model.lr": 1}``. Lists are kept as values; an empty nested
    mapping produces no key (as ML-Dash); a key that already contains dots is kept as is.
    """
    out: dict[str, Any] = {}
    for raw_key, value in params.items():
        if not isinstance(raw_key, str):
            raise InvalidNameError(f"param key {raw_key!r} must be a string")
        key = f"{prefix}{raw_key}"
        check_key(key, "param key")
        kind = type(value)
        if kind is float or kind is bool or value is None:
            out[key] = value  # the common leaves: nothing to coerce
        elif kind is int:
            out[key] = value if INT_MIN <= value <= INT_MAX else coerce_int(key, value)
        elif kind is str and value.isascii():
            out[key] = value  # ASCII text cannot hold a lone surrogate
        elif kind is dict or isinstance(value, Mapping):
            out.update(flatten(value, key + "."))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(flatten(to_mapping(value), key + "."))
        else:
            out[key] = coerce_param(key, value)
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Nest dotted keys back into dicts.

    When a scalar and a nested key share a prefix (``optimizer`` and ``optimizer.type``) the
    scalar is kept under the empty key: ``{"optimizer": {"": "adam", "type": "sgd"}}``.
    Never raises (ML-Dash crashes here).
    """
    root: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: k.count(".")):
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if part not in node else {"": child}
                node[part] = child
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            node[leaf][""] = flat[key]
        else:
            node[leaf] = flat[key]
    return root
