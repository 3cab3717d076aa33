"""Copy runs from one store to another, idempotently: what ``runlane sync`` does.

For each source run the target run is created with the same id (create-or-get), then only
what the target lacks is written: metric rows past the target stream's count, logs, events
and lineage past the target's count, track topics whose entry counts differ (same-timestamp
entries merge, so a resend is harmless), params and metadata documents that differ, and the
run's fields, tags and status history (a terminal status is sticky). Running it twice, or
after an interrupted run, writes nothing twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runlane.entities import (
    Batch,
    MetadataUpdate,
    ParamsUpdate,
    RunInfo,
    RunPatch,
    RunSpec,
    StreamInfoUpdate,
    TrackEntry,
)
from runlane.store.base import Store
from runlane.values import encode_bytes

PAGE = 10_000


@dataclass
class UploadResult:
    run_id: str
    prefix: str
    existed: bool
    rows: int = 0
    logs: int = 0
    events: int = 0
    tracks: int = 0
    lineage: int = 0
    other: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.rows or self.logs or self.events or self.tracks or self.lineage or self.other
        )


def upload_runs(
    source: Store, target: Store, *, project: str | None = None, where: str | None = None
) -> Iterator[UploadResult]:
    """Upload every run of ``source`` (in ``project``, matching ``where``) to ``target``."""
    for info in source.list_runs(project=project, where=where, sort="created"):
        yield upload_run(source, target, info)


def upload_run(source: Store, target: Store, info: RunInfo) -> UploadResult:
    full = source.get_run(info.id)
    spec = RunSpec(
        owner=full.owner,
        project=full.project,
        name=full.name,
        folder=full.folder,
        group=full.group,
        description=full.description,
        tags=full.tags,
        framework=full.framework,
        backend=full.backend,
        external_id=full.external_id,
        run_id=full.id,
        extra=dict(full.extra),
    )
    remote, existed = target.create_run(spec)
    result = UploadResult(remote.id, full.prefix, existed)
    rid = remote.id
    _params(source, target, full.id, rid, result)
    _metadata(source, target, full.id, rid, result)
    _streams(source, target, full.id, rid, result)
    logs = source.read_logs(full.id)
    done = len(target.read_logs(rid))
    for start in range(done, len(logs), PAGE):
        part = logs[start : start + PAGE]
        target.write(rid, Batch(logs=part))
        result.logs += len(part)
    events = source.read_events(full.id)
    done = len(target.read_events(rid))
    if done < len(events):
        target.write(rid, Batch(events=events[done:]))
        result.events += len(events) - done
    for topic in source.list_tracks(full.id):
        entries = source.read_track(full.id, topic)
        if len(target.read_track(rid, topic)) != len(entries):
            batch = Batch(
                tracks=[
                    TrackEntry(
                        topic,
                        float(e["timestamp"]),
                        {k: _storable(v) for k, v in e.items() if k != "timestamp"},
                    )
                    for e in entries
                ]
            )
            target.write(rid, batch)
            result.tracks += len(entries)
    lineage = source.read_lineage(full.id)
    done = len(target.read_lineage(rid))
    if done < len(lineage):
        target.write(rid, Batch(lineage=lineage[done:]))
        result.lineage += len(lineage) - done
    _run_fields(target, full, target.get_run(rid), result)
    target.sync(rid)
    return result


def _params(source: Store, target: Store, sid: str, rid: str, result: UploadResult) -> None:
    mine = source.read_params(sid)
    theirs = target.read_params(rid)
    if mine.version and mine.data != theirs.data:
        target.write(
            rid, Batch(params=[ParamsUpdate(mine.data, reset=True, at=mine.updated_at or 0.0)])
        )
        result.other.append("params")


def _metadata(source: Store, target: Store, sid: str, rid: str, result: UploadResult) -> None:
    theirs = target.read_metadata(rid)
    updates = [
        MetadataUpdate(key, value, at)
        for key, (value, at) in source.read_metadata(sid).items()
        if theirs.get(key, (None, None))[0] != value
    ]
    if updates:
        target.write(rid, Batch(metadata=updates))
        result.other.append("metadata")


def _streams(source: Store, target: Store, sid: str, rid: str, result: UploadResult) -> None:
    known = {s.name: s for s in target.list_streams(rid)}
    counts = {name: s.count for name, s in known.items()}
    infos = [
        StreamInfoUpdate(
            s.name, s.description, s.tags, s.metadata, s.updated_at or s.created_at or 0.0
        )
        for s in source.list_streams(sid)
        if (s.description, s.tags, s.metadata) != (None, (), None)
        and (
            s.name not in known
            or (known[s.name].description, known[s.name].tags, known[s.name].metadata)
            != (s.description, s.tags, s.metadata)
        )
    ]
    if infos:
        target.write(rid, Batch(stream_info=infos))
        result.other.append("stream info")
    for stream in source.list_streams(sid):
        start = counts.get(stream.name, 0)
        while start < stream.count:
            page = source.read_rows(sid, stream.name, start, PAGE)
            if not page.rows:
                break
            batch = Batch()
            rows = batch.rows.setdefault(stream.name, [])
            for _, data, _created in page.rows:
                row = {k: _storable(v) for k, v in data.items()}
                if any(type(v) is float and not math.isfinite(v) for v in row.values()):
                    batch.nonfinite.add(stream.name)
                rows.append(row)
            target.write(rid, batch)
            result.rows += len(rows)
            start += len(rows)


def _run_fields(target: Store, mine: RunInfo, theirs: RunInfo, result: UploadResult) -> None:
    patches: list[RunPatch] = []
    if (
        (mine.description, mine.framework, mine.backend, mine.group)
        != (theirs.description, theirs.framework, theirs.backend, theirs.group)
        or mine.extra != theirs.extra
        or mine.name != theirs.name
    ):
        patches.append(
            RunPatch(
                name=mine.name,
                description=mine.description,
                framework=mine.framework,
                backend=mine.backend,
                group=mine.group,
                extra=dict(mine.extra) or None,
                at=mine.updated_at,
            )
        )
    if mine.tags != theirs.tags:
        patches.append(RunPatch(tags=mine.tags, reset_tags=True, at=mine.updated_at))
    seen = [(c.status, c.at) for c in theirs.status_history]
    for change in mine.status_history:
        if change.status in ("created", "crashed") or (change.status, change.at) in seen:
            continue
        patches.append(RunPatch(status=change.status, status_message=change.message, at=change.at))
    if patches:
        target.write(mine.id if mine.id == theirs.id else theirs.id, Batch(patches=patches))
        result.other.append("run")


def _storable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return encode_bytes(value)
    return value
