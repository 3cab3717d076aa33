"""Logging artifacts: files and folders (outputs or versioned assets), encoded assets, event
values, versions of :class:`~runlane.artifacts.versions.Artifact` objects, and models.

Order of every call, so a failure at any point leaves nothing visible: validate all
arguments → store the bytes (temporary file + rename, or a completed upload) → append the
event row (``events/<kind>/<name>.plx``) → append the manifest record → queue the lineage
record. Calls are synchronous: they return once the record is visible to readers.

With ``ctx.server`` set (a run logging to a runlane server) each call is handed to it: it
uploads the files and the server runs this same code on its side.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from runlane.artifacts.assets import Encoded
from runlane.artifacts.context import ArtifactContext
from runlane.artifacts.events import append_event
from runlane.artifacts.kinds import normalize_kind
from runlane.artifacts.manifest import append_records
from runlane.artifacts.paths import (
    asset_file_name,
    check_artifact_name,
    clean_rel_path,
    split_ext,
)
from runlane.artifacts.records import ArtifactRecord, FileEntry, tree_digest
from runlane.artifacts.registry import Checkpoint, ModelRegistry, append_checkpoint, checkpoint_id
from runlane.artifacts.storage import Progress, StoredFile
from runlane.artifacts.transfer import source_stat
from runlane.artifacts.versions import Artifact, ArtifactVersion, VersionStore, walk_files
from runlane.entities import LineageRecord
from runlane.errors import InvalidArgumentError
from runlane.names import check_key
from runlane.timeutil import now
from runlane.values import coerce_param


def check_step(step: object) -> int | None:
    """None, or an int ≥ 0 (numpy integers accepted)."""
    if step is None:
        return None
    item = getattr(step, "item", None)
    value = item() if callable(item) and not isinstance(step, int) else step
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"step {step!r} must be an int ≥ 0 or None")
    return value


def check_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    if not isinstance(summary, Mapping):
        raise InvalidArgumentError(f"summary must be a dict, not {type(summary).__name__}")
    return {check_key(str(k), "summary key"): coerce_param(str(k), v) for k, v in summary.items()}


def check_time(timestamp: float | None) -> float:
    if timestamp is None:
        return now()
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise InvalidArgumentError(f"timestamp {timestamp!r} must be epoch seconds")
    return float(timestamp)


def _source(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError(
            f"log_artifact needs a file or folder path (or a runlane.Artifact), not "
            f"{type(path).__name__}"
        )
    source = Path(os.fspath(path)).expanduser()
    return source, stat.S_ISDIR(source_stat(source).st_mode)


def store_files(
    ctx: ArtifactContext, source: Path, is_dir: bool, key: str, progress: Progress | None
) -> tuple[list[FileEntry], str, int]:
    """Store a file or folder at ``key`` (run folder) or as blobs (remote storage).
    Returns ``(entries, sha256 or tree digest, total size)``. In the run folder, a key that
    leads through a symlink out of the run raises UnsafePathError before anything is
    written."""
    pairs = walk_files(source) if is_dir else [(source, source.name)]
    stored: list[StoredFile]
    if ctx.remote is not None:
        stored = ctx.remote.put_tree(pairs, None, progress=progress)
    elif is_dir:
        stored = ctx.run_storage.put_tree(pairs, key, progress=progress)
    else:
        stored = [ctx.run_storage.put_file(source, key, progress=progress)]
    entries = [
        FileEntry(rel, s.size, s.sha256, s.key) for (_, rel), s in zip(pairs, stored, strict=True)
    ]
    digest = tree_digest(entries) if is_dir else entries[0].sha256
    return entries, digest, sum(e.size for e in entries)


def _location(ctx: ArtifactContext, key: str) -> str:
    """Where a stored file can be found: its path on this machine, or the storage URI."""
    if ctx.remote is not None:
        return f"{ctx.remote.uri}/{key}"
    return str(ctx.run_dir / key)


def log_path(
    ctx: ArtifactContext,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    kind: object = None,
    step: object = None,
    rel_path: str | None = None,
    summary: Mapping[str, Any] | None = None,
    versioned: bool = True,
    timestamp: float | None = None,
    progress: Progress | None = None,
    mode: str | None = None,
    event_value: Mapping[str, Any] | None = None,
    finalize: Callable[[ArtifactRecord], ArtifactRecord] | None = None,
) -> ArtifactRecord:
    """Copy a file or folder into the run (see :meth:`ArtifactWrites.log_artifact`)."""
    if ctx.server is not None:
        return ctx.server.log_path(
            path,
            name=name,
            kind=kind,
            step=step,
            rel_path=rel_path,
            summary=summary,
            versioned=versioned,
            timestamp=timestamp,
            progress=progress,
        )
    source, is_dir = _source(path)
    art_name = check_artifact_name(name if name is not None else source.name)
    art_kind = normalize_kind(kind if kind is not None else ("dir" if is_dir else "file"))
    at_step = check_step(step)
    folder = clean_rel_path(rel_path)
    extra = check_summary(summary)
    ts = check_time(timestamp)
    as_asset = at_step is not None and versioned
    if as_asset:
        ext = "" if is_dir else split_ext(source.name)[1]
        key = f"assets/{art_kind}/{asset_file_name(art_name, at_step, ext)}"
    else:
        key = "/".join(p for p in ("outputs", folder, source.name) if p)
    entries, digest, size = store_files(ctx, source, is_dir, key, progress)
    value = None
    if as_asset:
        value = {**(event_value if event_value is not None else {"kind": art_kind}), "path": key}
    record = ArtifactRecord(
        run_id=ctx.home.run_id,
        name=art_name,
        kind=art_kind,
        mode=mode or ("asset" if as_asset else "output"),
        path=key,
        step=at_step,
        is_dir=is_dir,
        files=tuple(entries),
        size=size,
        sha256=digest,
        storage=None if ctx.remote is None else ctx.blob_tag,
        endpoint_url=ctx.endpoint_url,
        summary=extra,
        value=value,
        at=ts,
    )
    if finalize is not None:
        record = finalize(record)
    if as_asset:
        append_event(ctx.run_dir, art_kind, art_name, at_step, ts, value)
    append_records(ctx.home.manifest, [record])
    if finalize is None and not as_asset:
        ctx.emit(
            LineageRecord(
                name=art_name,
                kind=art_kind,
                path=key,
                is_input=False,
                hash=digest,
                size=size,
                summary={**(extra or {}), "path": _location(ctx, key)},
                at=ts,
            )
        )
    return record


def log_encoded(
    ctx: ArtifactContext,
    encoded: Encoded,
    *,
    name: str,
    kind: str,
    step: object,
    timestamp: float | None,
) -> ArtifactRecord:
    """Store an encoded asset at ``assets/<kind>/<name>[_<step>].<ext>`` plus its event row."""
    if ctx.server is not None:
        return ctx.server.log_encoded(encoded, name=name, kind=kind, step=step, timestamp=timestamp)
    art_name = check_artifact_name(name)
    at_step = check_step(step)
    ts = check_time(timestamp)
    key = f"assets/{kind}/{asset_file_name(art_name, at_step, encoded.ext)}"
    if encoded.source is not None:
        if ctx.remote is not None:
            stored = ctx.remote.put_blob(encoded.source)
        else:
            stored = ctx.run_storage.put_file(encoded.source, key)
    else:
        assert encoded.data is not None
        target = ctx.remote if ctx.remote is not None else ctx.run_storage
        stored = target.put_bytes(encoded.data, None if ctx.remote is not None else key)
    value = {"path": key, **encoded.value}
    entry = FileEntry(f"{Path(key).name}", stored.size, stored.sha256, stored.key)
    record = ArtifactRecord(
        run_id=ctx.home.run_id,
        name=art_name,
        kind=kind,
        mode="asset",
        path=key,
        step=at_step,
        files=(entry,),
        size=stored.size,
        sha256=stored.sha256,
        storage=None if ctx.remote is None else ctx.blob_tag,
        endpoint_url=ctx.endpoint_url,
        value=value,
        at=ts,
    )
    append_event(ctx.run_dir, kind, art_name, at_step, ts, value)
    append_records(ctx.home.manifest, [record])
    return record


def log_value(
    ctx: ArtifactContext, *, name: str, kind: str, step: object, timestamp: float | None, value: Any
) -> ArtifactRecord:
    """Record an inline value (curve, text, html, histogram...) at a step: an event row and
    a manifest record, no file."""
    if ctx.server is not None:
        return ctx.server.log_value(
            name=name, kind=kind, step=step, timestamp=timestamp, value=value
        )
    art_name = check_artifact_name(name)
    at_step = check_step(step)
    ts = check_time(timestamp)
    record = ArtifactRecord(
        run_id=ctx.home.run_id,
        name=art_name,
        kind=kind,
        mode="event",
        path=f"events/{kind}/{art_name}.plx",
        step=at_step,
        value=value,
        at=ts,
    )
    append_event(ctx.run_dir, kind, art_name, at_step, ts, value)
    append_records(ctx.home.manifest, [record])
    return record


def log_version(
    ctx: ArtifactContext,
    artifact: Artifact,
    *,
    aliases: Iterable[str] = (),
    progress: Progress | None = None,
) -> ArtifactVersion:
    """Store an Artifact's files as blobs and record its next version (or the existing one
    with the same content)."""
    if ctx.server is not None:
        return ctx.server.log_version(artifact, aliases=aliases, progress=progress)
    pairs = artifact.collect()
    stored = ctx.blob_storage.put_tree(pairs, None, progress=progress)
    entries = [
        FileEntry(rel, s.size, s.sha256, s.key) for (_, rel), s in zip(pairs, stored, strict=True)
    ]
    digest = tree_digest(entries)
    version, created = VersionStore(ctx.home.artifacts_dir).create(
        artifact.name,
        type=artifact.type,
        files=entries,
        digest=digest,
        storage=ctx.blob_tag,
        endpoint_url=ctx.endpoint_url,
        run_id=ctx.home.run_id,
        run=ctx.home.prefix,
        description=artifact.description,
        metadata=artifact.metadata,
        aliases=list(aliases),
    )
    at = now()
    record = ArtifactRecord(
        run_id=ctx.home.run_id,
        name=artifact.name,
        kind=artifact.type,
        mode="version",
        path=version.ref,
        is_dir=True,
        files=tuple(entries),
        size=version.size,
        sha256=digest,
        storage=ctx.blob_tag,
        endpoint_url=ctx.endpoint_url,
        version=version.version,
        at=at,
        extra={"created": created, "new_bytes": sum(s.size for s in stored if not s.existed)},
    )
    append_records(ctx.home.manifest, [record])
    ctx.emit(
        LineageRecord(
            name=artifact.name,
            kind=artifact.type,
            path=version.ref,
            is_input=False,
            hash=digest,
            size=version.size,
            at=at,
            summary={
                "node": f"artifact:{version.ref}",
                "version": version.version,
                "created": created,
            },
        )
    )
    return version


def log_model(
    ctx: ArtifactContext,
    path: str | os.PathLike[str],
    *,
    name: str | None,
    framework: str | None,
    summary: Mapping[str, Any] | None,
    step: object,
    rel_path: str | None,
    register: bool,
    aliases: Iterable[str],
    tags: Iterable[str],
    metadata: Mapping[str, Any] | None,
    description: str | None,
    timestamp: float | None,
    progress: Progress | None,
) -> ArtifactRecord:
    """Store a model file or folder (``outputs/<rel_path>/`` or an asset at a step) and, with
    ``register``, add it as the next version of the registry model ``name``."""
    if ctx.server is not None:
        return ctx.server.log_model(
            path,
            name=name,
            framework=framework,
            summary=summary,
            step=step,
            rel_path=rel_path,
            register=register,
            aliases=aliases,
            tags=tags,
            metadata=metadata,
            description=description,
            timestamp=timestamp,
            progress=progress,
        )
    source, _ = _source(path)
    model_name = check_artifact_name(name if name is not None else source.name, "model name")
    extra = check_summary(summary)
    alias_list = [check_key(a, "alias") for a in aliases]
    registry = ModelRegistry(ctx.home.project_dir, f"{ctx.home.owner}/{ctx.home.project}")

    def finalize(record: ArtifactRecord) -> ArtifactRecord:
        version = registry.register(
            model_name,
            files=list(record.files),
            path=record.path,
            is_dir=record.is_dir,
            sha256=record.sha256,
            storage=record.storage,
            endpoint_url=record.endpoint_url,
            run_id=ctx.home.run_id,
            run=ctx.home.prefix,
            run_dir=ctx.run_dir,
            framework=framework,
            step=record.step,
            summary=extra,
            description=description,
            tags=tags,
            metadata=metadata,
            aliases=alias_list,
        )
        ctx.emit(
            LineageRecord(
                name=model_name,
                kind="model",
                path=record.path,
                is_input=False,
                hash=record.sha256,
                size=record.size,
                at=record.at,
                summary={
                    **(extra or {}),
                    "node": f"model:{version.ref}",
                    "version": version.version,
                    "framework": framework,
                    "path": _location(ctx, record.path or ""),
                },
            )
        )
        return replace(record, version=version.version)

    return log_path(
        ctx,
        source,
        name=model_name,
        kind="model",
        step=step,
        rel_path=rel_path,
        summary=extra,
        versioned=True,
        timestamp=timestamp,
        progress=progress,
        mode="model" if register else None,
        event_value={"framework": framework, "spec": extra},
        finalize=finalize if register else None,
    )


def check_checkpoint(
    epoch: object, metrics: Mapping[str, Any] | None
) -> tuple[int, dict[str, float]]:
    """``(epoch, metrics as floats)``; InvalidArgumentError for a negative or non-int epoch
    or a metric that is not a number (numpy scalars and 0-d tensors accepted)."""
    item = getattr(epoch, "item", None)
    at_epoch = item() if callable(item) and not isinstance(epoch, int) else epoch
    if isinstance(at_epoch, bool) or not isinstance(at_epoch, int) or at_epoch < 0:
        raise InvalidArgumentError(f"checkpoint epoch {epoch!r} must be an int ≥ 0")
    values: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            item = getattr(value, "item", None)
            value = item() if callable(item) else value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgumentError(f"checkpoint metric {key!r}={value!r} is not a number")
        values[str(key)] = float(value)
    return at_epoch, values


def log_checkpoint(
    ctx: ArtifactContext,
    epoch: object,
    metrics: Mapping[str, Any] | None,
    path: str | os.PathLike[str] | None,
) -> Checkpoint:
    """Record a checkpoint (epoch + metrics) in ``checkpoints.jsonl``, copying ``path`` (if
    any) to ``outputs/checkpoints/epoch-<epoch>/`` first. Re-logging an epoch replaces it."""
    if ctx.server is not None:
        return ctx.server.log_checkpoint(epoch, metrics, path)
    at_epoch, values = check_checkpoint(epoch, metrics)
    artifact = None
    if path is not None:
        artifact = log_path(ctx, path, kind="model", rel_path=f"checkpoints/epoch-{at_epoch}").path
    run_id = ctx.home.run_id
    checkpoint = Checkpoint(
        checkpoint_id(run_id, at_epoch), run_id, at_epoch, values, now(), artifact
    )
    append_checkpoint(ctx.run_dir, checkpoint)
    return checkpoint
