"""The Store protocol: the one seam between the SDK/CLI/server and where data lives.

Every backend (``MemoryStore``, ``LocalStore``, later the server's PostgreSQL store and the
remote HTTP store) implements it and passes ``tests/contract``. Contracts:

* **Create-or-get.** :meth:`Store.create_run` returns ``(info, existed)``. A spec with an
  ``external_id`` already used in the same owner/project returns that run with
  ``existed=True``; so does ``resume=True`` with a name that exists. Otherwise a new run is
  made; a name already taken gets a ``-2``, ``-3``... suffix.
* **Writes.** :meth:`Store.write` applies one :class:`~runlane.entities.Batch` for one run:
  params, metadata, metric rows, logs, events, tracks, lineage, then run patches. Within a
  kind, records keep call order. Metric rows get contiguous 0-based indices per stream, unique
  even when several processes write the same run. When ``write`` returns, the data is visible
  to every reader (durable against a crash of the writing process, not of the machine);
  :meth:`Store.sync` makes it durable against power loss (fsync).
* **Failures.** Driver errors are raised as :class:`~runlane.errors.StoreError` with the
  cause chained; a failed ``write`` applied nothing or a prefix of whole records, never half a
  record, and removes what it applied from ``batch`` before raising: the writer retries that
  same batch, so every record lands exactly once. Unknown runs or streams raise
  :class:`~runlane.errors.NotFoundError`, except reads of a never-logged stream, which
  return empty results.
* **Reads** see every completed ``write``. Torn records left by a crashed writer are skipped.
* **Bulk reads** (:meth:`Store.count_runs`, :meth:`Store.group_runs`,
  :meth:`Store.list_projects`, :meth:`Store.read_lineage_many`,
  :meth:`Store.read_params_many`, :meth:`Store.list_streams_many`,
  :meth:`Store.field_aggregates_many`) answer what listing runs and reading them one by one
  would, without doing so: one query on the SQL stores, one request (per page of ids) on the
  remote store, so that tables and graphs over 10,000s of runs stay fast. The ``*_many`` reads
  leave unknown run ids out of their answer rather than raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from runlane.entities import (
    Batch,
    Event,
    FieldAggregate,
    LineageRecord,
    LogRecord,
    ParamsDoc,
    ProjectSummary,
    RowsPage,
    RunGroup,
    RunInfo,
    RunSpec,
    StreamInfo,
)

if TYPE_CHECKING:
    import numpy as np


@runtime_checkable
class Store(Protocol):
    """Where runs live. See the module docstring for the contracts."""

    @property
    def uri(self) -> str:
        """A string that :func:`runlane.store.registry.open_store` turns back into this store."""
        ...

    # --- runs ---------------------------------------------------------------------------
    def create_run(self, spec: RunSpec) -> tuple[RunInfo, bool]:
        """Create a run, or get the existing one (see *Create-or-get*). Durable on return."""
        ...

    def get_run(self, run_id: str) -> RunInfo:
        """Return the run's current info, with ``status`` ``crashed`` when its heartbeat is
        stale. Raises NotFoundError."""
        ...

    def resolve_run(self, ref: str) -> str:
        """Turn an id, an id prefix of ≥ 6 characters, an ``owner/project/[folder/]name``
        prefix or (local stores) a run folder path into a run id. Raises NotFoundError."""
        ...

    def list_runs(
        self,
        *,
        project: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        """Runs matching the filter language expression ``where`` (see :mod:`runlane.query`),
        in ``project`` (``owner/project`` or ``project``) when given, ordered by ``sort``
        (``"-created"`` by default)."""
        ...

    def count_runs(self, *, project: str | None = None, where: str | None = None) -> int:
        """How many runs :meth:`list_runs` would return for ``project`` and ``where`` (one
        query on the SQL stores; nothing is listed). Bad filter text raises
        QuerySyntaxError or InvalidArgumentError, as in ``list_runs``."""
        ...

    def group_runs(
        self,
        by: str,
        *,
        project: str | None = None,
        where: str | None = None,
        max_ids: int = 1000,
    ) -> list[RunGroup]:
        """The runs ``where`` selects in ``project``, grouped by the value of the field
        ``by`` (``params.<key>``, ``meta.<key>``, ``tags`` or a text field such as
        ``status``; see :mod:`runlane.store.grouping`), one :class:`RunGroup` per distinct
        value, in no particular order. A run lacking the field is in the group of ``None``;
        with ``tags`` a run is in one group per tag. A group of a value the filter language
        cannot name (a list, an object) lists up to ``max_ids`` of its run ids. The counts add
        up to :meth:`count_runs` (one per tag with ``tags``). A bad ``by`` raises
        InvalidArgumentError naming the allowed fields."""
        ...

    def list_projects(self) -> list[ProjectSummary]:
        """Every project holding at least one run, with its run count and the creation time
        of its newest run, ordered by owner then project."""
        ...

    def delete_run(self, run_id: str) -> None:
        """Remove a run and everything in it. Raises NotFoundError."""
        ...

    def heartbeat(self, run_id: str, at: float) -> None:
        """Record that the run's process is alive at ``at``."""
        ...

    # --- writes -------------------------------------------------------------------------
    def write(self, run_id: str, batch: Batch) -> None:
        """Apply a batch (see *Writes*)."""
        ...

    def sync(self, run_id: str) -> None:
        """Make everything written for the run durable against power loss."""
        ...

    # --- reads --------------------------------------------------------------------------
    def read_params(self, run_id: str) -> ParamsDoc: ...

    def read_metadata(self, run_id: str) -> dict[str, tuple[dict[str, Any], float]]:
        """Metadata documents: key → (value, updated_at)."""
        ...

    def list_streams(self, run_id: str) -> list[StreamInfo]: ...

    def read_rows(self, run_id: str, stream: str, start: int = 0, limit: int = 1000) -> RowsPage:
        """Rows ``start .. start+limit-1`` by index; an unknown stream reads as empty."""
        ...

    def read_columns(
        self, run_id: str, stream: str, fields: Sequence[str] | None = None, start: int = 0
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Numeric columns of the stream's rows with index ``>= start``: ``_index`` (int64,
        their indices ``start, start+1, ...``), ``_step`` (float64), ``_ts`` (float64) and
        each requested field (all numeric fields of the whole stream when ``None``) as
        float64 with NaN where a row lacks the field or holds a non-number. The answer is
        the full read (``start=0``) sliced at ``start``, and costs only the rows kept (a
        live chart reads just what is new). ``start`` past the end gives every column
        empty (each asked field still present); an unknown stream reads as empty. A
        negative ``start`` raises InvalidArgumentError (unlike :meth:`read_rows`, no
        counting from the end: ``start`` is a cursor, the previous answer's row count)."""
        ...

    def read_logs(
        self, run_id: str, start: int = 0, limit: int | None = None, level: str | None = None
    ) -> list[LogRecord]:
        """Logs in sequence order from sequence number ``start``; ``level`` is a minimum."""
        ...

    def read_events(self, run_id: str, since: float | None = None) -> list[Event]: ...

    def list_tracks(self, run_id: str) -> list[str]: ...

    def read_track(
        self,
        run_id: str,
        topic: str,
        start: float | None = None,
        end: float | None = None,
    ) -> list[dict[str, Any]]:
        """Entries ``{"timestamp": t, **fields}`` with ``start <= t < end``, by timestamp."""
        ...

    def read_lineage(self, run_id: str) -> list[LineageRecord]: ...

    def read_lineage_many(self, run_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        """``{run id: read_lineage(run id)}`` for many runs at once (one query on the SQL
        stores, whatever their number): every known run of ``run_ids`` is a key (with ``[]``
        when it has no lineage); unknown ids are left out rather than raising, so a run
        deleted since it was listed does not fail the read."""
        ...

    def read_params_many(self, run_ids: Sequence[str]) -> dict[str, ParamsDoc]:
        """``{run id: read_params(run id)}`` for many runs at once (one query on
        PostgreSQL, whatever their number): every known run of ``run_ids`` is a key (a run
        without params has ``ParamsDoc(0, {}, None)``); unknown ids are left out rather than
        raising, as in :meth:`read_lineage_many`. Repeated ids answer once."""
        ...

    def list_streams_many(self, run_ids: Sequence[str]) -> dict[str, list[StreamInfo]]:
        """``{run id: list_streams(run id)}`` for many runs at once (one query on
        PostgreSQL, whatever their number): every known run of ``run_ids`` is a key (with
        ``[]`` when it has no stream), each list in :meth:`list_streams`'s order; unknown ids
        are left out rather than raising, as in :meth:`read_lineage_many`."""
        ...

    def field_aggregates_many(
        self, run_ids: Sequence[str], fields: Sequence[tuple[str, str]]
    ) -> dict[str, dict[tuple[str, str], FieldAggregate]]:
        """``{run id: {(stream, field): FieldAggregate}}``: for many runs at once, the last,
        smallest and largest finite value of each asked field — what
        :func:`runlane.store.columns.field_aggregate` gives of
        ``read_columns(run id, stream, [field])[field]`` — without reading the columns where
        the store keeps something cheaper (PostgreSQL: one query for the hot rows of every
        run, the cold chunks' min/max summaries, a chunk read only where its summary cannot
        answer; the local and memory stores read the columns, one read per run and stream).
        Every known run of ``run_ids`` is a key, mapping each pair of ``fields`` (once) to its
        aggregate: all ``None`` where the run lacks the stream or the field holds no finite
        number (a stream name no stream can have reads so too). Unknown ids are left out, as
        in :meth:`read_lineage_many`. A field that is no pair of strings raises
        InvalidArgumentError."""
        ...

    def run_path(self, run_id: str) -> str | None:
        """The run's folder for stores that have one (artifacts live there), else None."""
        ...

    def close(self) -> None:
        """Release connections and handles. The store is unusable afterwards."""
        ...
