"""Shared pieces of the fuzz and security suites (not tests themselves).

* Hypothesis strategies for hostile inputs: names (path tricks, control characters, lone
  surrogates, right-to-left marks, huge strings), scalar values (NaN/±inf, ints past 64 bits,
  bytes, numpy scalars and arrays, objects) and nested documents.
* :func:`outcome` runs one SDK call and sorts the result into "it worked" or "a runlane
  error"; anything else fails the test. :func:`names_value` checks that an error message
  names the value it refuses.
* :func:`same` compares a value read back with what was logged, by the documented coercion.
* :func:`assert_files_parse` walks a data root: every JSON file and every JSONL line parses.
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from runlane.errors import RunlaneError  # noqa: E402
from runlane.store.local.files import loads  # noqa: E402
from runlane.values import BYTES_TAG  # noqa: E402

#: Hypothesis settings of every fuzz test: bounded examples, no deadline (a 2-core CI box
#: shared with other suites), no example database in the work tree.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# Characters that have broken trackers: NUL and other controls, DEL, lone surrogates,
# right-to-left override, BOM, zero-width joiner, non-BMP, path separators.
NASTY_CHARS = [
    "\x00",
    "\x01",
    "\n",
    "\r",
    "\t",
    "\x7f",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u200f",
    "\ufeff",
    "\u200d",
    "\U0001f600",
    "/",
    "\\",
    ".",
    " ",
    "'",
    '"',
    "%",
    "$",
]
NASTY_STRINGS = [
    "",
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "a/../../b",
    "/etc/passwd",
    "C:\\Windows",
    "..\\x",
    "%2e%2e%2fx",
    "a\x00b",
    "\ud800",
    "\u202egnp.exe",
    "x" * 129,
    "x" * 257,
    "y" * 100_000,
    "name' OR 1=1 --",
    "$b64",
    "_step",
    "NaN",
]

chars = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from(NASTY_CHARS),
)
texts = st.one_of(st.text(chars, max_size=24), st.sampled_from(NASTY_STRINGS))
#: Names that every naming rule accepts: the control group (they must always succeed).
clean_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,20}", fullmatch=True)

big_ints = st.integers(min_value=-(2**200), max_value=2**200)
floats = st.floats(allow_nan=True, allow_infinity=True)
plain_scalars = st.one_of(st.none(), st.booleans(), st.integers(), big_ints, floats, texts)


def _numpy_values() -> st.SearchStrategy[Any]:
    kinds = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint64]
    return st.one_of(
        st.builds(lambda k, v: k(v), st.sampled_from(kinds), st.integers(0, 100)),
        st.builds(np.bool_, st.booleans()),
        st.builds(np.str_, st.text(max_size=8)),
        st.builds(lambda v: np.array(v), floats),  # 0-d array: a scalar
        st.builds(lambda n: np.arange(n, dtype=np.float64), st.integers(1, 4)),  # refused
        st.just(np.datetime64("2020-01-01")),  # not a plain scalar: refused
    )


numpy_values = _numpy_values()
odd_values = st.one_of(
    st.binary(max_size=32),
    st.builds(bytearray, st.binary(max_size=8)),
    st.complex_numbers(allow_nan=False, max_magnitude=10),
    st.just(object()),
    st.just({1, 2}),
    st.just(Path("a/b")),
)
scalars = st.one_of(plain_scalars, numpy_values, odd_values)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(texts, inner, max_size=4),
    ),
    max_leaves=12,
)


def outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, result)`` when ``call`` returns, ``(False, error)`` for a RunlaneError; any
    other exception propagates and fails the test."""
    try:
        return True, call()
    except RunlaneError as exc:
        return False, exc


def _quote_variants(text: str) -> set[str]:
    inner = repr(text)[1:-1]
    forms = {inner, text}
    for quote in ("'", '"'):
        forms.add(inner.replace("\\" + quote, quote))
        forms.add(inner.replace(quote, "\\" + quote))
    return forms


def names_value(message: str, value: object) -> bool:
    """Whether ``message`` names ``value``: its repr (or the head of a long one), the word
    'empty' for an empty string, or its type for a non-string."""
    if isinstance(value, str):
        if not value:
            return "empty" in message or "''" in message
        head = value[:12]
        return any(form in message for form in _quote_variants(head))
    return repr(value)[:20] in message or type(value).__name__ in message


def same(stored: Any, logged: Any) -> bool:
    """Whether ``stored`` (read back) is ``logged`` after the documented coercion: numpy
    scalars become Python scalars, NaN equals NaN, tuples/sets read back as lists, ints past
    the 64-bit range may read back as the nearest float (JSON readers parse them so), and a
    one-key ``{"$b64": base64 text}`` document is the bytes tag, read back as bytes."""
    if isinstance(logged, np.generic | np.ndarray):
        logged = logged.item()
    if isinstance(logged, bytearray | memoryview):
        logged = bytes(logged)
    if type(logged) is float and math.isnan(logged):
        return type(stored) is float and math.isnan(stored)
    if isinstance(logged, bool) or logged is None:
        return stored is logged
    if isinstance(logged, int) and not -(2**63) <= logged < 2**64:
        return stored == logged or (type(stored) is float and stored == float(logged))
    if isinstance(logged, dict) and _is_bytes_tag(logged):  # the documented tag: bytes
        return stored == logged or stored == base64.b64decode(logged[BYTES_TAG])
    if isinstance(logged, dict):
        return (
            isinstance(stored, dict)
            and set(stored) == {str(k) for k in logged}
            and all(same(stored[str(k)], v) for k, v in logged.items())
        )
    if isinstance(logged, list | tuple):
        return (
            isinstance(stored, list)
            and len(stored) == len(logged)
            and all(same(a, b) for a, b in zip(stored, logged, strict=True))
        )
    return type(stored) is type(logged) and stored == logged


def _is_bytes_tag(value: dict[Any, Any]) -> bool:
    if list(value) != [BYTES_TAG] or not isinstance(value[BYTES_TAG], str):
        return False
    try:
        base64.b64decode(value[BYTES_TAG], validate=True)
    except ValueError:
        return False
    return True


def assert_files_parse(root: Path) -> int:
    """Every ``*.json`` file and every line of every ``*.jsonl`` file under ``root`` parses
    (the local store's promise); return how many files were checked."""
    checked = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            loads(path.read_bytes())
            checked += 1
        elif path.suffix == ".jsonl":
            data = path.read_bytes()
            assert not data or data.endswith(b"\n"), f"{path} ends with a torn line"
            for number, line in enumerate(data.splitlines(), 1):
                try:
                    loads(line)
                except ValueError as exc:
                    raise AssertionError(f"{path}:{number} does not parse: {line[:120]!r}") from exc
            checked += 1
    return checked
