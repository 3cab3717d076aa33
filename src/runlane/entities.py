"""Records that cross the boundary between the SDK, the writer and the stores.

Frozen, slotted dataclasses. Metric rows travel as plain dicts on the hot path (see
:class:`Batch`); everything else is a dataclass here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Run lifecycle. ``created → running → succeeded | failed | stopped``; terminal is sticky.

    ``crashed`` is never stored: readers derive it for a run still marked running whose
    heartbeat went stale (or whose process on this host is gone).
    """

    CREATED = "created"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    CRASHED = "crashed"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.STOPPED})

STATUS_ALIASES: dict[str, Status] = {
    "completed": Status.SUCCEEDED,
    "complete": Status.SUCCEEDED,
    "done": Status.SUCCEEDED,
    "success": Status.SUCCEEDED,
    "finished": Status.SUCCEEDED,
    "cancelled": Status.STOPPED,
    "canceled": Status.STOPPED,
    "killed": Status.STOPPED,
    "error": Status.FAILED,
    "started": Status.RUNNING,
}

LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warn", "error", "fatal")
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LOG_LEVELS)}


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    at: float
    message: str | None = None


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What ``init`` asks a store to create (or get, when ``external_id`` or ``resume`` match)."""

    owner: str
    project: str
    name: str | None = None
    folder: str | None = None
    group: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    framework: str | None = None
    backend: str | None = None
    external_id: str | None = None
    run_id: str | None = None
    resume: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``"running"`` creates the run already running (what ``init`` asks, so that no moment
    #: exists where a killed process leaves it ``created``); None creates it ``created``.
    #: Ignored when the run exists.
    status: str | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's identity and metadata as a store reports it."""

    id: str
    owner: str
    project: str
    name: str
    folder: str | None
    group: str | None
    description: str | None
    tags: tuple[str, ...]
    status: str
    status_history: tuple[StatusChange, ...]
    framework: str | None
    backend: str | None
    external_id: str | None
    created_at: float
    updated_at: float
    heartbeat_at: float | None = None
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """``owner/project/[folder/]name``, ML-Dash's prefix."""
        parts = [
            self.owner,
            self.project,
            *(self.folder.split("/") if self.folder else []),
            self.name,
        ]
        return "/".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "project": self.project,
            "name": self.name,
            "folder": self.folder,
            "group": self.group,
            "description": self.description,
            "tags": list(self.tags),
            "status": self.status,
            "statusHistory": [
                {"status": c.status, "at": c.at, "message": c.message} for c in self.status_history
            ],
            "framework": self.framework,
            "backend": self.backend,
            "externalId": self.external_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "heartbeatAt": self.heartbeat_at,
            "path": self.path,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass(frozen=True, slots=True)
class RunPatch:
    """A change to a run's metadata; ``None`` fields are left alone.

    ``tags`` with ``reset_tags=False`` adds to the existing tags, with ``True`` replaces them.
    A ``status`` change to a terminal status is ignored when the run is already terminal.
    """

    name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] | None = None
    reset_tags: bool = False
    status: str | None = None
    status_message: str | None = None
    framework: str | None = None
    backend: str | None = None
    group: str | None = None
    extra: dict[str, Any] | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class ParamsUpdate:
    data: dict[str, Any]
    reset: bool = False
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class ParamsDoc:
    version: int
    data: dict[str, Any]
    updated_at: float | None


@dataclass(frozen=True, slots=True)
class LogRecord:
    level: str
    message: str
    timestamp: float
    metadata: dict[str, Any] | None = None
    source: str | None = None
    seq: int = -1


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    wallclock: float
    source: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TrackEntry:
    topic: str
    timestamp: float
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetadataUpdate:
    key: str
    value: dict[str, Any]
    at: float


@dataclass(frozen=True, slots=True)
class StreamInfoUpdate:
    """A metric stream's description, tags and metadata (ML-Dash's ``metrics(name,
    description=, tags=, metadata=)``). ``None`` leaves a field as it was; ``tags`` replaces
    the stream's tags; ``metadata`` replaces its metadata document."""

    stream: str
    description: str | None
    tags: tuple[str, ...] | None
    metadata: dict[str, Any] | None
    at: float


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """A reference to something a run used or produced: data, a model, code, an artifact."""

    name: str
    kind: str
    path: str | None
    is_input: bool
    hash: str | None = None
    size: int | None = None
    summary: dict[str, Any] | None = None
    at: float = 0.0


@dataclass(slots=True)
class Batch:
    """Everything one writer pass has for one run, grouped by kind, each list in call order.

    Stores apply, in this order: params, metadata, stream info, metric rows, logs, events,
    tracks, lineage, then run patches (so a terminal status lands after the data logged before
    it). Metric rows are dicts ``{field: value, ..., "_ts": epoch}`` keyed by stream;
    ``nonfinite`` names the streams holding a NaN or ±inf somewhere (the local store then
    writes JSON's NaN tokens).
    """

    params: list[ParamsUpdate] = field(default_factory=list)
    metadata: list[MetadataUpdate] = field(default_factory=list)
    stream_info: list[StreamInfoUpdate] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nonfinite: set[str] = field(default_factory=set)
    logs: list[LogRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    tracks: list[TrackEntry] = field(default_factory=list)
    lineage: list[LineageRecord] = field(default_factory=list)
    patches: list[RunPatch] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.params
            or self.metadata
            or self.stream_info
            or self.rows
            or self.logs
            or self.events
            or self.tracks
            or self.lineage
            or self.patches
        )


@dataclass(frozen=True, slots=True)
class StreamInfo:
    name: str
    count: int
    created_at: float | None
    updated_at: float | None
    fields: tuple[str, ...] = ()
    description: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RowsPage:
    """One page of a metric stream, in ML-Dash's read() shape once :meth:`to_dict` is called."""

    rows: list[tuple[int, dict[str, Any], str]]  # (index, data, createdAt iso)
    start_index: int
    total: int  # rows in the stream

    def to_dict(self) -> dict[str, Any]:
        data = [{"index": i, "data": d, "createdAt": c} for i, d, c in self.rows]
        end = self.rows[-1][0] if self.rows else self.start_index - 1
        return {
            "data": data,
            "startIndex": self.start_index,
            "endIndex": end,
            "total": len(data),
            "hasMore": end + 1 < self.total,
        }


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """One project as :meth:`runlane.store.base.Store.list_projects` reports it."""

    owner: str
    project: str
    runs: int  # how many runs it holds
    last_created: float  # epoch seconds of its newest run's creation


@dataclass(frozen=True, slots=True)
class RunGroup:
    """Runs sharing one value of a field (see :meth:`runlane.store.base.Store.group_runs`).

    ``value`` is the JSON value as the store keeps it for search (``None``: the runs without
    one); ``count`` how many runs hold it. ``ids`` lists the group's runs (at most
    ``max_ids`` of them) only for a value the filter language cannot name
    (:func:`runlane.store.grouping.needs_ids`: a list, an object, an integer beyond 64 bits),
    so that a client can still select exactly that group; otherwise it is empty.
    """

    value: Any
    count: int
    ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldAggregate:
    """The last, smallest and largest finite value of one field of a metric stream, in index
    order (see :meth:`runlane.store.base.Store.field_aggregates_many`). Booleans count as 0
    and 1, as in the stream's numeric columns; NaN, ±inf, text and rows lacking the field do
    not count. All three are ``None`` when the field holds no finite number."""

    last: float | None = None
    min: float | None = None
    max: float | None = None
