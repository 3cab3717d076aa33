"""Cold metric chunks: a run of consecutive rows of one stream as one Parquet object.

A chunk holds ``_idx`` (int64), ``_created`` (float64 epoch), ``_data`` (each row as the
JSON text stored in PostgreSQL, non-finite floats tagged) and, for every field that holds a
number in some row, a float64 column ``n:<field>`` with NaN where a row lacks the field or
holds a non-number — the same rule as :func:`runlane.store.columns.numeric_column`, so
``read_columns`` reads one Parquet column instead of parsing JSON.

Chunks are immutable: :class:`ChunkCache` keeps decoded chunks by object key (bounded by
bytes) and never needs invalidation.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from runlane.store.columns import numeric_column
from runlane.store.server.summaries import summarize
from runlane.store.tags import untag_row

NUMERIC_PREFIX = "n:"


def encode_chunk(rows: Sequence[tuple[int, float, str]]) -> tuple[bytes, bytes]:
    """``(Parquet bytes, min/max summary bytes)`` for rows ``(idx, created, data JSON text)``
    in index order (see :mod:`runlane.store.server.summaries`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parsed = [untag_row(orjson.loads(text))[0] for _, _, text in rows]
    names: dict[str, None] = {}
    for data in parsed:
        for key in data:
            names.setdefault(key, None)
    arrays: dict[str, Any] = {
        "_idx": pa.array([r[0] for r in rows], type=pa.int64()),
        "_created": pa.array([r[1] for r in rows], type=pa.float64()),
        "_data": pa.array([r[2] for r in rows], type=pa.string()),
    }
    numeric: dict[str, np.ndarray[Any, Any]] = {}
    for name in names:
        column, clean = numeric_column(parsed, name)
        if clean or not np.isnan(column).all():
            arrays[NUMERIC_PREFIX + name] = pa.array(column, type=pa.float64())
            numeric[name] = column
    table = pa.table(arrays)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", use_dictionary=False)
    fields = [n for n in numeric if not n.startswith("_")]
    return sink.getvalue(), summarize(numeric, int(rows[0][0]), len(rows), fields)


class Chunk:
    """A decoded chunk: indices, creation times, JSON texts and numeric columns."""

    __slots__ = ("_columns", "created", "data", "index", "nbytes")

    def __init__(self, body: bytes) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(body))
        self.index: np.ndarray[Any, Any] = table.column("_idx").to_numpy()
        self.created: np.ndarray[Any, Any] = table.column("_created").to_numpy()
        self.data: list[str] = table.column("_data").to_pylist()
        self._columns: dict[str, np.ndarray[Any, Any]] = {
            name[len(NUMERIC_PREFIX) :]: table.column(name).to_numpy()
            for name in table.column_names
            if name.startswith(NUMERIC_PREFIX)
        }
        self.nbytes = int(table.nbytes)

    def __len__(self) -> int:
        return len(self.index)

    def column(self, field: str) -> np.ndarray[Any, Any]:
        """The field as float64 (NaN where absent or not a number)."""
        col = self._columns.get(field)
        if col is None:
            return np.full(len(self.index), np.nan)
        return col


class ChunkCache:
    """Decoded chunks by object key, least recently used evicted past ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Chunk] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Chunk | None:
        with self._lock:
            chunk = self._items.get(key)
            if chunk is not None:
                self._items.move_to_end(key)
            return chunk

    def put(self, key: str, chunk: Chunk) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = chunk
            self._bytes += chunk.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
