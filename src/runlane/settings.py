"""Settings resolved once, from arguments then the environment, and passed down.

Environment variables: ``RUNLANE_DIR`` (local root, default ``./runlane-data``),
``RUNLANE_STORE`` (a store URI; overrides ``RUNLANE_DIR``), ``RUNLANE_OWNER``,
``RUNLANE_PROJECT``, ``RUNLANE_MODE`` (``disabled`` makes every call a no-op),
``RUNLANE_CAPTURE`` (comma list of ``git,env,stdio,system`` to keep; ``none`` for none),
``RUNLANE_SYSTEM_INTERVAL`` (seconds), ``RUNLANE_FLUSH_INTERVAL`` (seconds, ≤ 1),
``RUNLANE_HEARTBEAT_INTERVAL`` (seconds between a live run's heartbeats, default 5) and
``RUNLANE_HEARTBEAT_STALE_AFTER`` (seconds without a heartbeat after which readers show a
running run as crashed, default 30; keep it several heartbeat intervals long).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

DEFAULT_DIR = "runlane-data"


def seconds_from_env(name: str, default: float, low: float, high: float) -> float:
    """The number of seconds in the environment variable ``name`` (``default`` when unset).
    Raises ValueError naming the variable, its value and the range ``[low, high]``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise ValueError(f"{name}={raw!r} must be a number of seconds in [{low:g}, {high:g}]")
    return value


def default_root() -> str:
    return os.environ.get("RUNLANE_DIR") or DEFAULT_DIR


def default_store_uri() -> str:
    """``RUNLANE_STORE``, else ``RUNLANE_SERVER`` (a runlane server URL), else the root."""
    return os.environ.get("RUNLANE_STORE") or os.environ.get("RUNLANE_SERVER") or default_root()


def default_owner() -> str:
    owner = os.environ.get("RUNLANE_OWNER")
    if owner:
        return owner
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "local"
    cleaned = "".join(c if c.isalnum() or c in "_-." else "-" for c in user).strip("-.")
    return cleaned or "local"


def default_project() -> str:
    return os.environ.get("RUNLANE_PROJECT") or "default"


def disabled() -> bool:
    return os.environ.get("RUNLANE_MODE", "").lower() in ("disabled", "noop", "off")


@dataclass(frozen=True, slots=True)
class Capture:
    """What ``init`` records without being asked; each can be turned off."""

    git: bool = True
    env: bool = True
    stdio: bool = True
    system: bool = True
    system_interval: float = 10.0

    @classmethod
    def from_env(cls) -> Capture:
        raw = os.environ.get("RUNLANE_CAPTURE")
        interval = float(os.environ.get("RUNLANE_SYSTEM_INTERVAL", "10"))
        if raw is None:
            return cls(system_interval=interval)
        keep = {part.strip().lower() for part in raw.split(",")}
        return cls(
            git="git" in keep,
            env="env" in keep,
            stdio="stdio" in keep,
            system="system" in keep,
            system_interval=interval,
        )
