"""Read-only handles on a run: what ``runlane.open(run)`` returns and what ``Run`` extends.

Every read goes through the Store protocol, so it works the same on every backend. A live
``Run`` flushes its writes before reading, so data logged but not yet written is visible.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from runlane.artifacts.run_methods import ArtifactReads
from runlane.entities import Event, LineageRecord, LogRecord, RunInfo, StreamInfo
from runlane.errors import InvalidArgumentError
from runlane.names import check_name, check_path
from runlane.store.columns import stats_of, step_column
from runlane.timeutil import iso
from runlane.values import decode_document, unflatten

if TYPE_CHECKING:
    from runlane.store.base import Store

DEFAULT_STREAM = "default"


class RunView(ArtifactReads):
    """A run, read-only. ``run.info`` is fetched fresh on each access."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.id = run_id

    def _before_read(self) -> None:
        """Hook: a live run flushes here."""

    # --- identity -----------------------------------------------------------------------
    @property
    def info(self) -> RunInfo:
        self._before_read()
        return self.store.get_run(self.id)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def path(self) -> str | None:
        """The run's folder (local store), else None."""
        return self.store.run_path(self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} in {self.store.uri}>"

    # --- params, metadata ---------------------------------------------------------------
    @property
    def params(self) -> ParamsView:
        return ParamsView(self)

    def metadata(self) -> dict[str, dict[str, Any]]:
        """Metadata documents: ``{key: {"value": {...}, "updated_at": epoch}}``."""
        self._before_read()
        return {
            k: {"value": decode_document(v), "updated_at": at}
            for k, (v, at) in self.store.read_metadata(self.id).items()
        }

    # --- metrics ------------------------------------------------------------------------
    def metrics(self, name: str = DEFAULT_STREAM) -> StreamView:
        """The metric stream ``name`` (the default stream holds what ``run.log`` logs)."""
        return StreamView(self, check_name(name, "stream name"))

    def streams(self) -> list[StreamInfo]:
        self._before_read()
        return self.store.list_streams(self.id)

    def history(self, stream: str = DEFAULT_STREAM) -> list[dict[str, Any]]:
        """Every row of a stream as dicts (data plus ``_index``), for small streams."""
        view = self.metrics(stream)
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            page = view.read(start, 10_000)
            out.extend({**p["data"], "_index": p["index"]} for p in page["data"])
            if not page["hasMore"]:
                return out
            start = page["endIndex"] + 1

    # --- logs, events, tracks, lineage --------------------------------------------------
    def logs(
        self, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        """Logs from sequence number ``start``; ``level`` (any spelling ``log_message``
        accepts, e.g. ``"warning"``) is a minimum. Raises InvalidArgumentError for an unknown
        level."""
        if level is not None:
            from runlane.sdk.run import normalize_level

            level = normalize_level(level)
        self._before_read()
        return [
            replace(r, metadata=decode_document(r.metadata)) if r.metadata else r
            for r in self.store.read_logs(self.id, start, limit, level)
        ]

    def events(self, since: float | None = None) -> list[Event]:
        self._before_read()
        return [
            replace(e, metadata=decode_document(e.metadata)) if e.metadata else e
            for e in self.store.read_events(self.id, since)
        ]

    def tracks(self, topic: str) -> TrackView:
        return TrackView(self, check_path(topic, "track topic"))

    def track_topics(self) -> list[str]:
        self._before_read()
        return self.store.list_tracks(self.id)

    def lineage(self) -> list[LineageRecord]:
        self._before_read()
        return self.store.read_lineage(self.id)


class ParamsView:
    """``run.params``: ``get(flatten=True)``; a live run adds ``set``."""

    def __init__(self, run: RunView) -> None:
        self._run = run

    def get(self, flatten: bool = True) -> dict[str, Any]:
        """The params, flat (dotted keys) or nested. Never raises on prefix collisions: a
        scalar that shares a prefix with nested keys is kept under the key ``""``."""
        self._run._before_read()
        data: dict[str, Any] = decode_document(dict(self._run.store.read_params(self._run.id).data))
        return data if flatten else unflatten(data)

    @property
    def version(self) -> int:
        self._run._before_read()
        return self._run.store.read_params(self._run.id).version


class StreamView:
    """A metric stream, read side: ``read``, ``stats``, ``arrays``, ``columns``."""

    def __init__(self, run: RunView, name: str) -> None:
        self._run = run
        self.name = name

    def read(self, start_index: int = 0, limit: int = 1000) -> dict[str, Any]:
        """``{"data": [{"index", "data", "createdAt"}], "startIndex", "endIndex", "total",
        "hasMore"}`` (ML-Dash's shape; ``total`` counts the rows returned). A never-logged
        stream reads as empty."""
        if not isinstance(start_index, int) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgumentError(
                f"read(start_index={start_index!r}, limit={limit!r}): both must be integers, "
                "limit ≥ 0"
            )
        self._run._before_read()
        return self._run.store.read_rows(self._run.id, self.name, start_index, limit).to_dict()

    def columns(self, fields: list[str] | None = None) -> dict[str, np.ndarray[Any, Any]]:
        """Numeric columns (float64, NaN where missing) plus ``_index``."""
        self._run._before_read()
        return self._run.store.read_columns(self._run.id, self.name, fields)

    def arrays(
        self, field: str
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(step, value, time)`` of one field, rows lacking the field left out."""
        cols = self.columns([field, "_step", "step", "_ts"])
        count = len(cols["_index"])
        values = cols[field]
        steps = step_column(cols, count)
        times = cols["_ts"]
        keep = ~np.isnan(values)
        return steps[keep], values[keep], times[keep]

    def stats(self) -> dict[str, Any]:
        """Counts, first/last index, step and time, and per-field min/max/mean/last.

        Keys follow ML-Dash (``totalDataPoints`` etc. are strings there; here they are ints,
        the ML-Dash facade converts) plus ``fields``.
        """
        self._run._before_read()
        cols = self._run.store.read_columns(self._run.id, self.name, None)
        count = len(cols["_index"])
        info = next(
            (s for s in self._run.store.list_streams(self._run.id) if s.name == self.name), None
        )
        steps = step_column(cols, count)
        times = cols.get("_ts")
        fields = {k: v for k, v in stats_of(cols, count).items() if not k.startswith("_")}
        return {
            "name": self.name,
            "description": info.description if info else None,
            "tags": list(info.tags) if info else [],
            "metadata": info.metadata if info else None,
            "totalDataPoints": count,
            "firstIndex": 0 if count else None,
            "lastIndex": count - 1 if count else None,
            "firstStep": float(steps[0]) if count else None,
            "lastStep": float(steps[-1]) if count else None,
            "firstDataAt": iso(float(times[0]))
            if count and times is not None and not np.isnan(times[0])
            else None,
            "lastDataAt": iso(float(times[-1]))
            if count and times is not None and not np.isnan(times[-1])
            else None,
            "createdAt": iso(info.created_at) if info and info.created_at else None,
            "updatedAt": iso(info.updated_at) if info and info.updated_at else None,
            "fields": fields,
        }


class TrackView:
    """A track topic, read side."""

    def __init__(self, run: RunView, topic: str) -> None:
        self._run = run
        self.topic = topic

    def read(self, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        """Entries ``{"timestamp": t, **fields}`` with ``start <= t < end``, in time order."""
        self._run._before_read()
        return self._run.store.read_track(self._run.id, self.topic, start, end)

    def find(self, timestamp: float) -> dict[str, Any] | None:
        """The last entry at or before ``timestamp`` (floor match), or None."""
        rows = self.read(end=None)
        best = None
        for row in rows:
            if row["timestamp"] <= timestamp:
                best = row
            else:
                break
        return best
