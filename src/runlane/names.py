"""Validation of user-given names.

Every name that becomes part of a path or a key (project, owner, run name, folder, stream,
topic, metadata key, artifact name) passes through :func:`check_name` or :func:`check_path`
at the call site, so nothing can escape the run folder and the error names the value and the
rule it breaks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from runlane.errors import InvalidNameError

MAX_NAME_LENGTH = 128
MAX_PATH_LENGTH = 512

_ALLOWED = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+@=: ]*$")
_ALLOWED_TEXT = "letters, digits and '_', '-', '.', '+', '@', '=', ':', ' ' (not first)"
_SLUG_BAD = re.compile(r"[^a-z0-9_\-.]+")


@lru_cache(maxsize=4096)
def check_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a valid single-segment name, else raise InvalidNameError.

    A name is 1..128 characters of letters, digits and ``_ - . + @ = : space``, does not start
    with a separator, is not ``.`` or ``..`` and contains no ``..``, no slash, no control
    character and no lone surrogate. Results are cached: checking a name already seen costs
    a dict lookup.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} {value!r} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidNameError(f"{what} may not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{what} {value[:40]!r}... is {len(value)} characters long; "
            f"the limit is {MAX_NAME_LENGTH}"
        )
    if _unprintable(value):
        raise InvalidNameError(
            f"{what} {value!r} may not contain control characters or lone surrogates"
        )
    if "/" in value or "\\" in value:
        raise InvalidNameError(f"{what} {value!r} may not contain '/' or '\\'")
    if ".." in value:
        raise InvalidNameError(f"{what} {value!r} may not contain '..'")
    if value.endswith((" ", ".")):
        raise InvalidNameError(f"{what} {value!r} may not end with a space or '.'")
    if not _ALLOWED.match(value):
        raise InvalidNameError(f"{what} {value!r} may only contain {_ALLOWED_TEXT}")
    return value


@lru_cache(maxsize=4096)
def check_path(value: object, what: str = "path") -> str:
    """Return a relative, '/'-separated path whose every segment passes :func:`check_name`.

    Absolute paths, empty segments, ``.``/``..`` segments and backslashes are refused, so the
    path cannot escape the folder it is joined to.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} {value!r} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidNameError(f"{what} may not be empty")
    if len(value) > MAX_PATH_LENGTH:
        raise InvalidNameError(
            f"{what} {value[:40]!r}... is {len(value)} characters long; "
            f"the limit is {MAX_PATH_LENGTH}"
        )
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise InvalidNameError(f"{what} {value!r} must be relative, not absolute")
    for segment in value.split("/"):
        check_name(segment, f"segment {segment!r} of {what} {value!r}")
    return value


@lru_cache(maxsize=4096)
def check_key(value: object, what: str = "key") -> str:
    """Return a metric field, param or metadata key: 1..256 printable characters.

    Keys are stored inside JSON documents, not used as paths, so slashes and dots are allowed;
    empty keys, non-strings, control characters and lone surrogates are refused.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} {value!r} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidNameError(f"{what} may not be empty")
    if len(value) > 256:
        raise InvalidNameError(f"{what} {value[:40]!r}... is longer than 256 characters")
    if _unprintable(value):
        raise InvalidNameError(
            f"{what} {value!r} may not contain control characters or lone surrogates"
        )
    return value


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _unprintable(value: str) -> bool:
    """Whether ``value`` holds a control character or a lone surrogate (not UTF-8 text:
    no file, SQLite or PostgreSQL can store it)."""
    return _UNPRINTABLE.search(value) is not None


def slugify(value: str) -> str:
    """Turn free text into a run-name slug: lower case, runs of other characters become '-'."""
    slug = _SLUG_BAD.sub("-", value.strip().lower()).strip("-.")
    while ".." in slug:
        slug = slug.replace("..", ".")
    return slug[:MAX_NAME_LENGTH] or "run"
