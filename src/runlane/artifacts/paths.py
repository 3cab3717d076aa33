"""Names, extensions and paths of artifacts, checked so nothing escapes the run folder.

* :func:`check_artifact_name` — a single path segment (see :func:`runlane.names.check_name`);
  ``..``, slashes and absolute paths raise :class:`UnsafePathError`.
* :func:`clean_rel_path` — a relative folder under ``outputs/`` (``"a/b/"`` is fine).
* :func:`safe_join` — joins and resolves symlinks, refusing a result outside the base.
* :func:`split_ext` — ``model.tar.gz`` → ``("model", "tar.gz")``: the last suffix, or the
  last two when the first of them is ``.tar``; lower-cased, as Polyaxon does.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runlane.artifacts.errors import UnsafePathError
from runlane.names import check_name, check_path

_SUFFIX = re.compile(r"^[A-Za-z0-9_+-]{1,16}$")


def _refuse_escape(value: str, what: str) -> None:
    if os.path.isabs(value) or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise UnsafePathError(f"{what} {value!r} must be relative, not absolute")
    parts = re.split(r"[/\\]", value)
    if any(part == ".." for part in parts):
        raise UnsafePathError(
            f"{what} {value!r} may not contain '..': it would escape the run folder"
        )


def check_artifact_name(name: object, what: str = "artifact name") -> str:
    """Return ``name`` if it is one valid path segment; raise UnsafePathError for names that
    would leave their folder and InvalidNameError for other bad names."""
    if isinstance(name, str):
        _refuse_escape(name, what)
        if "/" in name or "\\" in name:
            raise UnsafePathError(f"{what} {name!r} may not contain '/' or '\\'")
    return check_name(name, what)


def clean_rel_path(rel_path: object, what: str = "rel_path") -> str | None:
    """Normalize a relative folder: strip ``./`` and trailing slashes; ``""``/``"."`` → None.

    Raises UnsafePathError for absolute paths and ``..``; InvalidNameError for other bad
    segments.
    """
    if rel_path is None:
        return None
    if isinstance(rel_path, os.PathLike):
        rel_path = os.fspath(rel_path)
    if not isinstance(rel_path, str):
        raise UnsafePathError(f"{what} {rel_path!r} must be a string")
    _refuse_escape(rel_path, what)
    parts = [p for p in rel_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return None
    clean = "/".join(parts)
    return check_path(clean, what if clean == rel_path else f"{what} {rel_path!r}, read as")


def safe_join(base: Path, rel: str, what: str = "path") -> Path:
    """``base / rel`` after resolving symlinks; UnsafePathError when it lands outside ``base``.

    ``rel`` must already be checked (no ``..``, relative); this catches symlinks inside
    ``base`` that point elsewhere.
    """
    target = base / rel
    real_base = base.resolve()
    real = target.resolve()
    if real != real_base and not real.is_relative_to(real_base):
        raise UnsafePathError(
            f"{what} {rel!r} leads through a symlink to {str(real)!r}, outside {str(real_base)!r}"
        )
    return target


def split_ext(basename: str) -> tuple[str, str]:
    """``(stem, ext)`` of a file name; ``ext`` is ``""`` when there is none."""
    stem, dot, last = basename.rpartition(".")
    if not dot or not stem or not _SUFFIX.match(last) or last.isdigit():
        return basename, ""
    ext = last.lower()
    inner, dot2, prev = stem.rpartition(".")
    if dot2 and inner and prev.lower() == "tar":
        return inner, f"tar.{ext}"
    return stem, ext


def asset_file_name(name: str, step: int | None, ext: str) -> str:
    """``<name>_<step>.<ext>`` with the extension taken off ``name`` first when it has it,
    so ``model.tar.gz`` at step 3 becomes ``model_3.tar.gz``."""
    base = name
    if ext and name.lower().endswith("." + ext):
        base = name[: -(len(ext) + 1)] or name
    stepped = base if step is None else f"{base}_{step}"
    return f"{stepped}.{ext}" if ext else stepped
