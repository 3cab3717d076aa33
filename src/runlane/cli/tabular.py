"""Metric rows as tables: reading a whole stream, the column union, CSV and Parquet writing.

Shared by ``runlane metrics --csv`` and ``runlane export``. A row is ``(index, data)``; the
columns are ``index``, then the user's fields in order of first appearance, then runlane's
own fields (``_step``, ``_ts``, ...), so a CSV reads back to the rows that were logged.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runlane.errors import RunlaneError

if TYPE_CHECKING:
    from runlane.store.base import Store

Row = tuple[int, dict[str, Any]]
PAGE = 10_000


def read_stream(
    store: Store, run_id: str, stream: str, start: int = 0, limit: int | None = None
) -> list[Row]:
    """Rows ``start ..`` of a stream by index, at most ``limit`` (all when None)."""
    rows: list[Row] = []
    position = start
    while limit is None or len(rows) < limit:
        want = PAGE if limit is None else min(PAGE, limit - len(rows))
        page = store.read_rows(run_id, stream, position, want)
        rows.extend((index, data) for index, data, _created in page.rows)
        if not page.rows or page.rows[-1][0] + 1 >= page.total:
            break
        position = page.rows[-1][0] + 1
    return rows


def field_union(rows: list[Row]) -> list[str]:
    """User fields in order of first appearance, then reserved ``_`` fields likewise."""
    seen: dict[str, None] = {}
    for _index, data in rows:
        for key in data:
            seen.setdefault(key, None)
    return [k for k in seen if not k.startswith("_")] + [k for k in seen if k.startswith("_")]


def cell(value: Any) -> str:
    """A CSV cell: empty for missing/None, ``true``/``false``, floats by ``repr`` (exact,
    ``nan``/``inf`` included), lists and dicts as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list | tuple):
        from runlane.cli.common import json_text

        return json_text(value)
    return str(value)


def write_csv(rows: list[Row], out: TextIO) -> list[str]:
    """Write ``rows`` as CSV with a header; returns the header."""
    header = ["index", *field_union(rows)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for index, data in rows:
        writer.writerow([str(index), *(cell(data.get(key)) for key in header[1:])])
    return header


def write_parquet(rows: list[Row], path: Path) -> None:
    """Write ``rows`` as a Parquet file: ``index`` (int64) plus one column per field, typed
    by pyarrow's inference; a field holding mixed kinds (numbers and text) is stored as
    text. Raises RunlaneError when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RunlaneError("parquet export needs pyarrow: pip install 'runlane[parquet]'") from exc
    columns: dict[str, Any] = {"index": pa.array([i for i, _ in rows], type=pa.int64())}
    for field in field_union(rows):
        values = [data.get(field) for _, data in rows]
        try:
            columns[field] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[field] = pa.array(
                [None if v is None else cell(v) for v in values], type=pa.string()
            )
    pq.write_table(pa.table(columns), path)
