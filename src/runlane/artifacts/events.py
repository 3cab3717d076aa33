"""Polyaxon's event files: ``events/<kind>/<name>.plx``, one row per logged step.

Two formats, as Polyaxon/traceml write them:

* pipe-separated CSV for most kinds: a header ``step|timestamp|<kind>`` then rows appended as
  ``"\\n" + "<step>|<timestamp>|<value>"`` (no trailing newline). ``timestamp`` is Python's
  ``str(datetime)`` in UTC (``2021-03-04 10:11:12.123456+00:00``); ``value`` is ``str(float)``
  for metrics, compact JSON for the others (curve ``{"kind","x","y","annotation"}``, asset
  ``{"path",...}``). An empty step means none.
* JSON lines for free-text kinds (html, text, chart, span, markdown), traceml's format:
  ``{"timestamp": str, "step": int|null, "<kind>": value}`` per line.

Rows are appended under a lock and survive a torn tail (see :mod:`.journal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runlane.artifacts.journal import append, append_json_lines, read_json_lines
from runlane.artifacts.kinds import JSONL_EVENT_KINDS


@dataclass(frozen=True, slots=True)
class EventRow:
    step: int | None
    timestamp: float
    value: Any


def event_file(run_dir: Path, kind: str, name: str) -> Path:
    return run_dir / "events" / kind / f"{name}.plx"


def polyaxon_time(ts: float) -> str:
    """``str(datetime)`` of epoch seconds in UTC, as Polyaxon writes it."""
    return str(datetime.fromtimestamp(ts, tz=UTC))


def _value_text(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return str(float(value))
    return json.dumps(value, separators=(",", ":"), allow_nan=True, default=str)


def append_event(
    run_dir: Path, kind: str, name: str, step: int | None, ts: float, value: Any
) -> Path:
    """Append one row to the event file of ``(kind, name)``; returns the file's path."""
    path = event_file(run_dir, kind, name)
    if kind in JSONL_EVENT_KINDS:
        append_json_lines(path, [{"timestamp": polyaxon_time(ts), "step": step, kind: value}])
        return path
    row = f"{'' if step is None else step}|{polyaxon_time(ts)}|{_value_text(value)}".encode()
    header = f"step|timestamp|{kind}".encode()
    append(path, lambda size, last: header + b"\n" + row if size == 0 else b"\n" + row)
    return path


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.strip()).timestamp()


def read_events(path: Path, kind: str) -> list[EventRow]:
    """Parse an event file written by runlane or Polyaxon; torn rows are skipped."""
    out: list[EventRow] = []
    if kind in JSONL_EVENT_KINDS:
        for doc in read_json_lines(path):
            if isinstance(doc, dict) and "timestamp" in doc:
                step = doc.get("step")
                out.append(
                    EventRow(
                        None if step is None else int(step),
                        _parse_time(str(doc["timestamp"])),
                        doc.get(kind),
                    )
                )
        return out
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    lines = text.split("\n")
    for line in lines[1:] if lines and lines[0].startswith("step|timestamp|") else lines:
        parts = line.split("|", 2)
        if len(parts) != 3:
            continue
        step_text, time_text, value_text = parts
        try:
            step = int(step_text) if step_text.strip() else None
            ts = _parse_time(time_text)
        except ValueError:
            continue
        try:
            value: Any = json.loads(value_text)
        except ValueError:
            continue  # torn row
        out.append(EventRow(step, ts, value))
    return out
