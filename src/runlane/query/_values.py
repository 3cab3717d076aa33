"""Value helpers shared by the parser, the evaluator and the SQL compilers.

These functions define the value semantics of the filter language in one place:

* :func:`kind_of` sorts a Python value into ``null``/``bool``/``num``/``text``/``other``; two
  values compare only when their kinds are equal and not ``null``/``other``. Non-finite floats
  count as ``null`` because JSON storage turns them into ``null``.
* :func:`to_epoch` turns a time literal (epoch seconds or an ISO 8601 string) into epoch seconds.
* ``like`` patterns use SQL semantics: ``%`` matches any run of characters, ``_`` one character
  and a backslash makes the next character literal (a trailing backslash is a literal backslash).
  :func:`like_parts` splits a pattern once; the ``like_*`` renderers write it for each engine.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal as TypingLiteral

ValueKind = TypingLiteral["null", "bool", "num", "text", "other"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
ASCII_UPPER_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ASCII_LOWER_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def kind_of(value: object) -> ValueKind:
    """Return the comparison kind of ``value``; NaN and infinities are ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "text"
    if isinstance(value, numbers.Real):
        if isinstance(value, numbers.Integral):
            return "num"
        return "num" if math.isfinite(float(value)) else "null"
    return "other"


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as SQLite's ``LIKE`` folds case."""
    return text.translate(_ASCII_LOWER)


def to_epoch(value: str | int | float) -> float:
    """Return epoch seconds for a number or an ISO 8601 date/time string.

    A string without a time zone is read as UTC. Raises ``ValueError`` when the string is not
    an ISO 8601 date or date-time.
    """
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 date or time (e.g. '2026-01-31' or "
                "'2026-01-31T12:00:00Z')"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(value)


LikePart = tuple[bool, str]
"""``(True, '%' or '_')`` for a wildcard, ``(False, char)`` for a literal character."""


def like_parts(pattern: str) -> list[LikePart]:
    """Split a ``like`` pattern into wildcards and literal characters."""
    parts: list[LikePart] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append((False, pattern[i + 1]))
            i += 2
            continue
        parts.append((char in "%_", char))
        i += 1
    return parts


@lru_cache(maxsize=256)
def like_regex(pattern: str, fold: bool) -> re.Pattern[str]:
    """Compile a ``like`` pattern to a regex for ``fullmatch``; ``fold`` lowers ASCII literals."""
    out: list[str] = []
    for wild, char in like_parts(pattern):
        if wild:
            out.append(".*" if char == "%" else ".")
        else:
            out.append(re.escape(ascii_lower(char) if fold else char))
    return re.compile("".join(out), re.DOTALL)


def like_glob(pattern: str) -> str:
    """Render a ``like`` pattern as an SQLite ``GLOB`` pattern (case-sensitive)."""
    out: list[str] = []
    for wild, char in like_parts(pattern):
        if wild:
            out.append("*" if char == "%" else "?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def like_escaped(pattern: str, fold: bool) -> str:
    """Render a ``like`` pattern for SQL ``LIKE`` with backslash as the escape character."""
    out: list[str] = []
    for wild, char in like_parts(pattern):
        if wild:
            out.append(char)
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(ascii_lower(char) if fold else char)
    return "".join(out)
