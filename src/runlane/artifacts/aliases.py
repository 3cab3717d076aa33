"""Aliases of a versioned name (``latest``, ``production``, ...): ``aliases.json`` in its folder.

Shared by artifact versions and model versions. Callers hold the folder's ``.lock``; each
write replaces the file atomically.
"""

from __future__ import annotations

from pathlib import Path

from runlane.names import check_key
from runlane.store.local.files import read_json, write_json


def read_aliases(folder: Path) -> dict[str, str]:
    """alias → version label; empty when the file does not exist or is not a mapping."""
    doc = read_json(folder / "aliases.json", None)
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def move_alias(folder: Path, alias: str, version: str) -> None:
    """Point ``alias`` at ``version``, moving it from whichever version had it."""
    current = read_aliases(folder)
    current[check_key(alias, "alias")] = version
    write_json(folder / "aliases.json", current)


def drop_alias(folder: Path, alias: str) -> bool:
    """Remove ``alias``; returns False when it did not exist."""
    current = read_aliases(folder)
    if current.pop(alias, None) is None:
        return False
    write_json(folder / "aliases.json", current)
    return True
