"""Wallclock helpers: epoch floats everywhere inside, ISO-8601 UTC ``...Z`` strings on disk.

ML-Dash writes naive-UTC ISO strings with a ``Z`` suffix and microseconds; so do we.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

now = time.time
#: The epoch seconds ISO-8601 files can hold (years 1 to 9999): the SDK and the server's
#: wire decoding refuse timestamps outside this range, and NaN/±inf.
MIN_TIMESTAMP, MAX_TIMESTAMP = -62135596800.0, 253402300799.0


def iso(ts: float | None = None) -> str:
    """Format epoch seconds (default: now) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    """Parse an ISO-8601 date or datetime (``Z`` or offset; naive means UTC) to epoch seconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
