"""The JSON shapes runlane's server and its HTTP client exchange.

Shared by :mod:`runlane.server` and :mod:`runlane.store.remote`, so both sides read what the
other writes. Values round-trip exactly: bytes travel as ``{"$b64": ...}`` and non-finite
floats as ``{"$f": "NaN" | "Infinity" | "-Infinity"}`` (JSON has neither). A batch is::

    {"batch_id": str|null, "params": [...], "metadata": [...], "rows": {stream: [row]},
     "nonfinite": [stream], "logs": [...], "events": [...], "tracks": [...],
     "lineage": [...], "patches": [...]}

Decoding validates shapes and raises :class:`~runlane.errors.InvalidArgumentError` naming the
bad field; it never trusts a client.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from runlane.entities import (
    LEVEL_RANK,
    LOG_LEVELS,
    Batch,
    Event,
    LineageRecord,
    LogRecord,
    MetadataUpdate,
    ParamsUpdate,
    ProjectSummary,
    RunGroup,
    RunInfo,
    RunPatch,
    RunSpec,
    StatusChange,
    StreamInfo,
    StreamInfoUpdate,
    TrackEntry,
)
from runlane.errors import InvalidArgumentError, RunlaneError
from runlane.names import check_key, check_name, check_path
from runlane.store.documents import lineage_from_doc, lineage_to_doc
from runlane.store.tags import tag, tag_row, untag, untag_row
from runlane.timeutil import MAX_TIMESTAMP, MIN_TIMESTAMP
from runlane.values import encode_bytes


class MalformedBody(InvalidArgumentError):
    """A request body is not JSON, or not the shape this endpoint takes."""


def dumps(value: Any) -> bytes:
    """JSON bytes; numpy values serialized, non-str keys allowed."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def loads(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"request body is not valid JSON: {exc}") from exc


def jsonable(value: Any) -> Any:
    """``value`` with bytes as ``{"$b64"}`` and non-finite floats tagged, at any depth."""
    kind = type(value)
    if kind is bytes or kind is bytearray or kind is memoryview:
        return encode_bytes(value)
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    return tag(value)


# --- batches ----------------------------------------------------------------------------------
def encode_batch(batch: Batch, batch_id: str | None = None) -> bytes:
    rows = {
        stream: [tag_row(r) for r in items] if stream in batch.nonfinite else items
        for stream, items in batch.rows.items()
    }
    return dumps(
        {
            "batch_id": batch_id,
            "params": [{"data": tag(p.data), "reset": p.reset, "at": p.at} for p in batch.params],
            "metadata": [{"key": m.key, "value": tag(m.value), "at": m.at} for m in batch.metadata],
            "stream_info": [
                {
                    "stream": s.stream,
                    "description": s.description,
                    "tags": None if s.tags is None else list(s.tags),
                    "metadata": None if s.metadata is None else tag(s.metadata),
                    "at": s.at,
                }
                for s in batch.stream_info
            ],
            "rows": rows,
            "nonfinite": sorted(batch.nonfinite),
            "logs": [log_to_wire(r) for r in batch.logs],
            "events": [event_to_wire(e) for e in batch.events],
            "tracks": [
                {"topic": t.topic, "timestamp": t.timestamp, "fields": tag(t.fields)}
                for t in batch.tracks
            ],
            "lineage": [lineage_to_wire(r) for r in batch.lineage],
            "patches": [_patch_to_wire(p) for p in batch.patches],
        }
    )


def decode_batch(body: bytes | dict[str, Any]) -> tuple[Batch, str | None]:
    """``(batch, batch_id)`` from a request body; InvalidArgumentError on a bad shape."""
    doc = loads(body) if not isinstance(body, dict) else body
    _expect(doc, dict, "batch")
    batch_id = doc.get("batch_id")
    if batch_id is not None and (not isinstance(batch_id, str) or not 0 < len(batch_id) <= 128):
        raise MalformedBody("batch_id must be a string of 1 to 128 characters")
    batch = Batch()
    try:
        for p in doc.get("params") or []:
            batch.params.append(
                ParamsUpdate(
                    _keys(_dict(untag(p["data"]), "params.data"), "param key"),
                    bool(p.get("reset")),
                    _epoch(p.get("at", 0.0), "params.at"),
                )
            )
        for m in doc.get("metadata") or []:
            batch.metadata.append(
                MetadataUpdate(
                    check_name(m["key"], "metadata key"),
                    _dict(untag(m["value"]), "metadata.value"),
                    _epoch(m["at"], "metadata.at"),
                )
            )
        for s in doc.get("stream_info") or []:
            tags = s.get("tags")
            meta = s.get("metadata")
            description = s.get("description")
            if description is not None and not isinstance(description, str):
                raise MalformedBody(
                    f"stream_info.description must be a string, not {description!r:.60}"
                )
            if tags is not None:
                _expect(tags, list, "stream_info.tags")
            batch.stream_info.append(
                StreamInfoUpdate(
                    check_name(s["stream"], "stream name"),
                    description,
                    None if tags is None else tuple(check_key(str(t), "tag") for t in tags),
                    None if meta is None else _dict(untag(meta), "stream_info.metadata"),
                    float(s["at"]),
                )
            )
        rows = doc.get("rows") or {}
        _expect(rows, dict, "rows")
        for stream, items in rows.items():
            check_name(stream, "stream name")
            _expect(items, list, f"rows[{stream!r}]")
            clean: list[dict[str, Any]] = []
            flagged = False
            known: set[str] = set()  # field names checked once per stream, not once per row
            for row in items:
                _expect(row, dict, f"a row of stream {stream!r}")
                _check_row(row, stream, known)
                plain, found = untag_row(row)
                flagged = flagged or found
                clean.append(plain)
            batch.rows[str(stream)] = clean
            if flagged:
                batch.nonfinite.add(str(stream))
        batch.logs.extend(log_from_wire(r) for r in doc.get("logs") or [])
        batch.events.extend(event_from_wire(e) for e in doc.get("events") or [])
        for t in doc.get("tracks") or []:
            batch.tracks.append(
                TrackEntry(
                    check_path(t["topic"], "track topic"),
                    _epoch(t["timestamp"], "tracks.timestamp"),
                    _keys(_dict(untag(t["fields"]), "tracks.fields"), "track field"),
                )
            )
        batch.lineage.extend(lineage_from_wire(r) for r in doc.get("lineage") or [])
        batch.patches.extend(patch_from_wire(p) for p in doc.get("patches") or [])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, RunlaneError):
            raise
        raise MalformedBody(f"malformed batch: {type(exc).__name__}: {exc}") from exc
    return batch, batch_id


def _expect(value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise MalformedBody(f"{what} must be a JSON {kind.__name__}, not {value!r:.60}")


def _dict(value: Any, what: str) -> dict[str, Any]:
    _expect(value, dict, what)
    return dict(value)


def _optional_dict(value: Any, what: str) -> dict[str, Any] | None:
    return None if value is None else _dict(value, what)


def _keys(doc: dict[str, Any], what: str) -> dict[str, Any]:
    """``doc`` after checking its top-level keys as the SDK does at the call site."""
    for key in doc:
        check_key(key, what)
    return doc


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedBody(f"{what} must be a JSON string, not {value!r:.60}")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _epoch(value: Any, what: str) -> float:
    """Epoch seconds the stores can write (years 1 to 9999), as the SDK checks them."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedBody(f"{what} must be epoch seconds (a JSON number), not {value!r:.60}")
    if not MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
        raise InvalidArgumentError(
            f"{what} {value!r} must be epoch seconds between {MIN_TIMESTAMP:.0f} and "
            f"{MAX_TIMESTAMP:.0f} (years 1 to 9999)"
        )
    return float(value)


def _check_row(row: dict[str, Any], stream: str, known: set[str]) -> None:
    """A metric row's field names (each new one checked, then remembered in ``known``), and
    runlane's own ``_step``/``_ts``, as the SDK sends them. This runs for every row the
    server ingests: keep it cheap."""
    if not known.issuperset(row):
        for key in row:
            if key not in known:
                check_key(key, f"field of stream {stream!r}")
                known.add(key)
    if "_step" in row:
        step = row["_step"]
        if type(step) is not int or step < 0:
            raise InvalidArgumentError(f"_step {step!r} of stream {stream!r} must be an int ≥ 0")
    if "_ts" in row:
        _epoch(row["_ts"], f"_ts of stream {stream!r}")


def log_to_wire(r: LogRecord) -> dict[str, Any]:
    return {
        "level": r.level,
        "message": r.message,
        "timestamp": r.timestamp,
        "metadata": tag(r.metadata),
        "source": r.source,
        "seq": r.seq,
    }


def log_from_wire(d: dict[str, Any]) -> LogRecord:
    level = _text(d["level"], "log level")
    if level not in LEVEL_RANK:
        raise InvalidArgumentError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
    return LogRecord(
        level=level,
        message=_text(d["message"], "log message"),
        timestamp=_epoch(d["timestamp"], "log timestamp"),
        metadata=_optional_dict(untag(d.get("metadata")), "log metadata"),
        source=_optional_text(d.get("source"), "log source"),
        seq=int(d.get("seq", -1)),
    )


def event_to_wire(e: Event) -> dict[str, Any]:
    return {
        "name": e.name,
        "wallclock": e.wallclock,
        "source": e.source,
        "metadata": tag(e.metadata),
    }


def event_from_wire(d: dict[str, Any]) -> Event:
    return Event(
        name=check_key(d["name"], "event name"),
        wallclock=_epoch(d["wallclock"], "event wallclock"),
        source=_optional_text(d.get("source"), "event source"),
        metadata=_optional_dict(untag(d.get("metadata")), "event metadata"),
    )


def lineage_to_wire(r: LineageRecord) -> dict[str, Any]:
    return {**lineage_to_doc(r), "summary": tag(r.summary)}


def lineage_from_wire(d: dict[str, Any]) -> LineageRecord:
    _expect(d, dict, "a lineage record")
    record = lineage_from_doc(d)
    _epoch(record.at, "lineage.at")
    return replace(record, summary=_optional_dict(untag(d.get("summary")), "lineage summary"))


_PATCH_FIELDS = tuple(f.name for f in dataclass_fields(RunPatch))


def _patch_to_wire(p: RunPatch) -> dict[str, Any]:
    out = {name: getattr(p, name) for name in _PATCH_FIELDS}
    out["tags"] = list(p.tags) if p.tags is not None else None
    out["extra"] = tag(p.extra)
    return out


def patch_from_wire(d: dict[str, Any]) -> RunPatch:
    unknown = set(d) - set(_PATCH_FIELDS)
    if unknown:
        raise MalformedBody(
            f"run patch has unknown fields {sorted(unknown)}; known: {', '.join(_PATCH_FIELDS)}"
        )
    values = dict(d)
    if values.get("tags") is not None:
        values["tags"] = tuple(str(t) for t in values["tags"])
    if values.get("extra") is not None:
        values["extra"] = _dict(untag(values["extra"]), "patch.extra")
    values["at"] = _epoch(values.get("at") or 0.0, "patch.at")
    values["reset_tags"] = bool(values.get("reset_tags", False))
    return RunPatch(**values)


# --- runs -------------------------------------------------------------------------------------
_SPEC_FIELDS = tuple(f.name for f in dataclass_fields(RunSpec))


def spec_to_wire(spec: RunSpec) -> dict[str, Any]:
    out = {name: getattr(spec, name) for name in _SPEC_FIELDS}
    out["tags"] = list(spec.tags)
    out["extra"] = tag(spec.extra)
    return out


def spec_from_wire(d: Any) -> RunSpec:
    _expect(d, dict, "run spec")
    unknown = set(d) - set(_SPEC_FIELDS)
    if unknown:
        raise MalformedBody(
            f"run spec has unknown fields {sorted(unknown)}; known: {', '.join(_SPEC_FIELDS)}"
        )
    for required in ("owner", "project"):
        if not isinstance(d.get(required), str):
            raise MalformedBody(f"run spec needs {required!r} as a string")
    values = dict(d)
    values["tags"] = tuple(check_key(str(t), "tag") for t in values.get("tags") or ())
    values["extra"] = _dict(untag(values.get("extra") or {}), "spec.extra")
    values["resume"] = bool(values.get("resume", False))
    if values.get("status") not in (None, "created", "running"):
        raise InvalidArgumentError(
            f"run spec status {values['status']!r} must be 'created', 'running' or null"
        )
    check_name(values["owner"], "owner")
    check_name(values["project"], "project")
    for key, check, what in (
        ("name", check_name, "run name"),
        ("run_id", check_name, "run id"),
        ("folder", check_path, "folder"),
        ("group", check_path, "group"),
        ("external_id", check_key, "external_id"),
    ):
        if values.get(key) is not None:
            if not isinstance(values[key], str):
                raise MalformedBody(f"run spec field {key!r} must be a string or null")
            check(values[key], what)
    return RunSpec(**values)


def info_to_wire(info: RunInfo) -> dict[str, Any]:
    out = info.to_dict()
    out["extra"] = tag(info.extra)
    return out


def info_from_wire(d: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=str(d["id"]),
        owner=str(d["owner"]),
        project=str(d["project"]),
        name=str(d["name"]),
        folder=d.get("folder"),
        group=d.get("group"),
        description=d.get("description"),
        tags=tuple(d.get("tags") or ()),
        status=str(d["status"]),
        status_history=tuple(
            StatusChange(str(c["status"]), float(c["at"]), c.get("message"))
            for c in d.get("statusHistory") or ()
        ),
        framework=d.get("framework"),
        backend=d.get("backend"),
        external_id=d.get("externalId"),
        created_at=float(d["createdAt"]),
        updated_at=float(d["updatedAt"]),
        heartbeat_at=d.get("heartbeatAt"),
        path=d.get("path"),
        extra=untag(d.get("extra") or {}),
    )


def stream_to_wire(s: StreamInfo) -> dict[str, Any]:
    return {
        "name": s.name,
        "count": s.count,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "fields": list(s.fields),
        "description": s.description,
        "tags": list(s.tags),
        "metadata": tag(s.metadata),
    }


def stream_from_wire(d: dict[str, Any]) -> StreamInfo:
    return StreamInfo(
        name=str(d["name"]),
        count=int(d["count"]),
        created_at=d.get("createdAt"),
        updated_at=d.get("updatedAt"),
        fields=tuple(d.get("fields") or ()),
        description=d.get("description"),
        tags=tuple(d.get("tags") or ()),
        metadata=untag(d.get("metadata")),
    )


def project_to_wire(p: ProjectSummary) -> dict[str, Any]:
    return {"owner": p.owner, "project": p.project, "runs": p.runs, "lastCreatedAt": p.last_created}


def project_from_wire(d: dict[str, Any]) -> ProjectSummary:
    return ProjectSummary(
        str(d["owner"]), str(d["project"]), int(d["runs"]), float(d["lastCreatedAt"])
    )


def group_to_wire(g: RunGroup) -> dict[str, Any]:
    """A group; its value travels as the store keeps it (JSON, no tags undone)."""
    return {"value": g.value, "count": g.count, "ids": list(g.ids)}


def group_from_wire(d: dict[str, Any]) -> RunGroup:
    return RunGroup(d["value"], int(d["count"]), tuple(str(i) for i in d.get("ids") or ()))


# --- numeric columns --------------------------------------------------------------------------
COLUMNS_TYPE = "application/x-runlane-columns"
_MAGIC = b"RLCOLS1\n"


def encode_columns(columns: dict[str, np.ndarray[Any, Any]]) -> bytes:
    """``RLCOLS1``, a JSON header line ``{"columns": [[name, dtype, nbytes]]}``, then each
    column's raw little-endian bytes in header order."""
    arrays = [
        (name, np.ascontiguousarray(col, dtype=col.dtype.newbyteorder("<")))
        for name, col in columns.items()
    ]
    header = {"columns": [[name, a.dtype.str, a.nbytes] for name, a in arrays]}
    return b"".join([_MAGIC, dumps(header), b"\n", *(a.tobytes() for _, a in arrays)])


def decode_columns(body: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """Undo :func:`encode_columns` (arrays in native byte order)."""
    if not body.startswith(_MAGIC):
        raise MalformedBody("not a runlane columns body")
    end = body.index(b"\n", len(_MAGIC))
    header = orjson.loads(body[len(_MAGIC) : end])
    out: dict[str, np.ndarray[Any, Any]] = {}
    offset = end + 1
    for name, dtype_text, nbytes in header["columns"]:
        dtype = np.dtype(dtype_text)
        column = np.frombuffer(body, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset)
        out[str(name)] = column.astype(dtype.newbyteorder("="))
        offset += nbytes
    return out
