"""runlane's web UI: the built front end (from ``ui-src/``) that ships inside the package.

:func:`static_dir` is the folder holding ``index.html`` and ``assets/``; the REST app mounts it
at ``/`` (see :func:`runlane.server.app.create_app`). Building needs Node (``cd ui-src && npm ci
&& npm run build``); running a released package does not, since the built files are committed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["has_assets", "static_dir"]


def static_dir() -> Path:
    """The folder of the built UI (it may lack ``index.html`` in a checkout never built)."""
    return Path(__file__).resolve().parent / "static"


def has_assets() -> bool:
    """Whether the built UI is present (``index.html`` in :func:`static_dir`)."""
    return (static_dir() / "index.html").is_file()
