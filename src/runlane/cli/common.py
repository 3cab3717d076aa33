"""What every command shares: the ``--dir``/``--json`` options, opening the local store,
JSON and table output, and the formatting of times, durations and values.

Nothing heavy is imported at module level: the store, orjson and rich load on first use.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from runlane.entities import RunInfo
    from runlane.store.base import Store

SHORT_ID = 8
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "stopped", "crashed"})


class UsageError(Exception):
    """The command line is inconsistent (e.g. two output formats); exit code 2."""


def common_options() -> argparse.ArgumentParser:
    """A parent parser giving a sub-command ``--dir PATH`` and ``--json``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--dir",
        metavar="PATH",
        help="local data root (default: $RUNLANE_DIR or ./runlane-data)",
    )
    parent.add_argument(
        "--json",
        action="store_true",
        help="print machine-readable JSON on stdout and nothing else",
    )
    return parent


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be ≥ 1")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be ≥ 0")
    return value


# --- the store ------------------------------------------------------------------------------
def root_of(args: argparse.Namespace) -> Path:
    """The local data root: ``--dir``, else ``RUNLANE_DIR``, else ``./runlane-data``."""
    from runlane import settings

    return Path(args.dir or settings.default_root()).expanduser()


def open_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store at the data root (or the runlane server a ``--dir http(s)://...`` names).
    Raises NotFoundError when the root does not exist (unless ``create``), so a mistyped
    ``--dir`` is reported instead of silently creating a folder."""
    from runlane.store.registry import open_store as open_uri

    if str(args.dir or "").startswith(("http://", "https://")):
        return open_uri(str(args.dir))
    root = root_of(args)
    if not create and not root.is_dir():
        raise NotFoundError(f"no runlane data folder at {root}: pass --dir PATH or set RUNLANE_DIR")
    return open_uri(root)


def resolve(store: Store, ref: str) -> str:
    """A run id from an id, an id prefix (≥ 6 characters), ``owner/project/name`` or a run
    folder. Raises NotFoundError naming the reference."""
    return store.resolve_run(ref)


# --- output ---------------------------------------------------------------------------------
def emit_json(value: Any) -> None:
    """Write ``value`` as indented JSON plus a newline to stdout (NaN and ±inf become null)."""
    sys.stdout.write(json_text(value, indent=True) + "\n")


def json_text(value: Any, *, indent: bool = False) -> str:
    """``value`` as JSON text; numpy values are converted, unknown objects become strings."""
    import orjson

    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    if indent:
        option |= orjson.OPT_INDENT_2
    return orjson.dumps(value, option=option, default=str).decode()


def console() -> Console:
    """A rich console on the current stdout: no markup parsing (values print verbatim) and,
    when stdout is not a terminal, a wide fixed width so piped tables are not truncated."""
    from rich.console import Console

    out = sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    return Console(
        file=out,
        width=None if tty else 240,
        markup=False,
        emoji=False,
        highlight=False,
    )


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None
) -> None:
    """Print a simple rich table of strings."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False
    )
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out = console()
    with out.capture() as captured:
        out.print(table)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    sys.stdout.write(text + "\n")


# --- formatting -----------------------------------------------------------------------------
def short_id(run_id: str) -> str:
    return run_id[:SHORT_ID]


def fmt_time(ts: float | None) -> str:
    """Epoch seconds as local ``YYYY-MM-DD HH:MM:SS``; ``-`` when unknown."""
    if ts is None or not ts or math.isnan(ts):
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_value(value: Any) -> str:
    """A param or metric value for a table cell: floats to 6 significant digits, containers
    as compact JSON, ``None`` as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list | tuple):
        return json_text(value)
    return str(value)


def run_duration(info: RunInfo, now: float) -> float | None:
    """Seconds from the start (``running``, else creation) to the end: the first terminal
    status change, the last heartbeat of a crashed run, or ``now`` for a running run.
    ``None`` for a run never started."""
    start = next((c.at for c in info.status_history if c.status == "running"), info.created_at)
    end = next((c.at for c in info.status_history if c.status in TERMINAL_STATUSES), None)
    if end is None:
        if info.status == "running":
            end = now
        elif info.status == "crashed":
            end = info.heartbeat_at or info.updated_at
        elif info.status in TERMINAL_STATUSES:
            end = info.updated_at
        else:
            return None
    return max(0.0, end - start)
