"""The server side of artifacts: the artifact code the SDK runs locally
(:mod:`runlane.artifacts.writes`, :mod:`~runlane.artifacts.versions`,
:mod:`~runlane.artifacts.registry`) run on the served store's artifact home, fed with files
uploaded through :mod:`runlane.server.upload_area`.

* **Where records live**: under :func:`~runlane.artifacts.home.data_root` of the store — a
  LocalStore's folder (the same run folders the SDK writes) — or, for a ServerStore, in
  PostgreSQL: the artifact code works on a cache folder (``--files``:
  ``<owner>/<project>/.runs/<run id>/``, ``.artifacts/``, ``.models/``) that
  :mod:`runlane.store.server.mirror` pulls before reads (through
  :func:`~runlane.artifacts.home.project_dir`) and pushes after writes: every commit and
  alias move runs in :meth:`ArtifactService.writing` of its project, locked across
  replicas. Uploads then live in PostgreSQL and the object store
  (:mod:`runlane.server.shared_uploads`), so any replica continues or commits them.
* **Where bytes live**: with a ServerStore whose object store is S3 (``runlane server
  --artifacts s3://bucket/prefix``) every file goes content-addressed to
  ``s3://bucket/prefix/artifacts`` (same endpoint and keys); otherwise into the run folder and
  the project's blobs, as locally (``RUNLANE_ARTIFACTS`` still applies).
* **Commits** name uploads by id with the sha256 the client computed. Each upload is checked
  before anything is stored: complete, created for the run's project, hashing right. The
  uploads are hard-linked into a staging folder under the client's file names, the artifact
  code copies them into place (and hashes again while copying), then the uploads are removed.
  A failed commit leaves its uploads, so the client may retry it. A commit carrying a
  ``commit_id`` runs once: a retry gets the first answer.
* **Durability**: a commit returns after the record is visible and its local files fsynced
  (for a ServerStore: after the transaction holding its records committed).
* Lineage the artifact code emits is written to the store at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.artifacts import writes
from runlane.artifacts.assets import Encoded
from runlane.artifacts.context import ArtifactContext, storage_from_env
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.fetch import storage_for
from runlane.artifacts.home import ArtifactHome, data_root, home_of, project_dir
from runlane.artifacts.local import LocalStorage
from runlane.artifacts.manifest import read_records
from runlane.artifacts.paths import check_artifact_name, clean_rel_path, safe_join
from runlane.artifacts.records import ArtifactRecord, FileEntry
from runlane.artifacts.registry import Checkpoint, ModelRegistry, read_checkpoints
from runlane.artifacts.remote.run import plain
from runlane.artifacts.storage import BlobStorage, register_storage
from runlane.artifacts.versions import Artifact, VersionStore
from runlane.entities import Batch, LineageRecord
from runlane.errors import InvalidArgumentError
from runlane.names import check_name, check_path
from runlane.server.upload_area import UploadArea, check_upload_id
from runlane.server.wire import WireError
from runlane.store.base import Store
from runlane.store.wire import jsonable

if TYPE_CHECKING:
    from runlane.store.server.mirror import ArtifactMirror

_EXT = re.compile(r"^[A-Za-z0-9_+-]{1,16}(\.[A-Za-z0-9_+-]{1,16})?$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def record_json(record: ArtifactRecord) -> dict[str, Any]:
    """An ArtifactRecord as the API shows it: every field (None where unset), plus
    ``timestamp`` (= ``at``)."""
    doc = record.to_dict()
    for key in ("endpoint_url", "summary", "value", "version"):
        doc.setdefault(key, None)
    doc.setdefault("extra", {})
    doc["timestamp"] = record.at
    out: dict[str, Any] = jsonable(doc)
    return out


def artifact_storage(store: Store) -> BlobStorage | None:
    """Where the served store's artifact bytes go: ``<bucket>/<prefix>/artifacts`` of its S3
    object store (registered, so records naming it are readable), else
    ``RUNLANE_ARTIFACTS``, else None (run folders and project blobs)."""
    location = getattr(getattr(store, "objects", None), "location", None)
    bucket = getattr(location, "bucket", None)
    if isinstance(bucket, str) and location is not None:
        from runlane.artifacts.s3 import S3Storage

        prefix = str(getattr(location, "prefix", "")).strip("/")
        uri = f"s3://{bucket}/{prefix}/artifacts" if prefix else f"s3://{bucket}/artifacts"
        return register_storage(
            S3Storage(
                uri,
                endpoint_url=getattr(location, "endpoint", None),
                access_key=getattr(location, "access_key", None),
                secret_key=getattr(location, "secret_key", None),
                region=getattr(location, "region", None),
            )
        )
    return storage_from_env()


@dataclass(frozen=True, slots=True)
class Located:
    """A stored file to send: its storage and key, size, sha256 (None when unknown) and the
    file name (for its content type and a download's file name)."""

    storage: BlobStorage
    key: str
    size: int
    sha256: str | None
    name: str


@dataclass(frozen=True, slots=True)
class _Ref:
    path: str
    upload_id: str
    sha256: str | None


def _refs(files: object, what: str) -> list[_Ref]:
    if not isinstance(files, list):
        raise InvalidArgumentError(f"{what} must be a list of {{path, upload_id, sha256}}")
    out = []
    for item in files:
        if not isinstance(item, Mapping) or not isinstance(item.get("upload_id"), str):
            raise InvalidArgumentError(f"each of {what} needs 'path' and 'upload_id': {item!r}")
        sha = item.get("sha256")
        out.append(
            _Ref(str(item.get("path", "")), check_upload_id(item["upload_id"]), sha and str(sha))
        )
    return out


class ArtifactService:
    """See the module docstring. One per app; holds no run data of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._remote: BlobStorage | None = None
        self._remote_ready = False
        self._uploads: UploadArea | None = None

    @property
    def root(self) -> Path:
        return data_root(self.store)

    @property
    def mirror(self) -> ArtifactMirror | None:
        """The ServerStore's record mirror; None for a store whose folder is the truth."""
        mirror: ArtifactMirror | None = getattr(self.store, "mirror", None)
        return mirror

    @property
    def uploads(self) -> UploadArea:
        if self._uploads is None:
            if self.mirror is not None:
                from runlane.server.shared_uploads import SharedStore, SharedUploadArea

                shared: SharedStore = self.store  # type: ignore[assignment]  # a ServerStore
                self._uploads = SharedUploadArea(shared, self.root / ".uploads")
            else:
                self._uploads = UploadArea(self.root / ".uploads")
        return self._uploads

    def writing(
        self, owner: str, project: str, run_id: str | None = None
    ) -> AbstractContextManager[Any]:
        """The block in which artifact records of ``owner/project`` are written: locked
        across replicas, pulled before and pushed after, for a ServerStore; nothing more for
        a folder store (its folder is the truth). The block changes nothing but the
        project's ``.artifacts`` and ``.models`` and the folder of ``run_id``."""
        mirror = self.mirror
        if mirror is None:
            return contextlib.nullcontext()
        scope = f"{owner}/{project}"
        within = [f"{scope}/.artifacts", f"{scope}/.models"]
        if run_id is not None:
            within.append(f"{scope}/.runs/{run_id}")
        return mirror.write(scope, within=within)

    @property
    def remote(self) -> BlobStorage | None:
        if not self._remote_ready:
            self._remote = artifact_storage(self.store)
            self._remote_ready = True
        return self._remote

    def home(self, run_id: str) -> ArtifactHome:
        return home_of(self.store, run_id)

    def context(self, run_id: str) -> ArtifactContext:
        def emit(record: LineageRecord) -> None:
            self.store.write(run_id, Batch(lineage=[record]))

        return ArtifactContext(self.home(run_id), emit, self.remote)

    # --- staging uploads --------------------------------------------------------------------
    def _take(self, home: ArtifactHome, refs: list[_Ref]) -> list[Path]:
        """The data files of complete, verified uploads of the run's project."""
        paths = []
        for ref in refs:
            upload, path, _ = self.uploads.finished(ref.upload_id, ref.sha256)
            if (upload.owner, upload.project) != (home.owner, home.project):
                raise WireError(
                    "permission_denied",
                    f"upload {ref.upload_id} belongs to {upload.owner}/{upload.project}, not "
                    f"to {home.owner}/{home.project} (the project of run {home.run_id})",
                )
            paths.append(path)
        return paths

    @contextmanager
    def _staged(self, home: ArtifactHome, placed: list[tuple[_Ref, str]]) -> Iterator[Path]:
        """Link each upload to ``<stage>/<relative path>``; yield the stage folder. The
        uploads are removed when the block succeeds; the stage always."""
        data = self._take(home, [ref for ref, _ in placed])
        stage = self.uploads.staging()
        try:
            for src, (_, rel) in zip(data, placed, strict=True):
                target = stage / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                _link(src, target)
            yield stage
            for ref, _ in placed:
                self.uploads.discard(ref.upload_id)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    @contextmanager
    def _source(self, home: ArtifactHome, source: object) -> Iterator[Path]:
        """A file or folder to log, from ``{"name", "is_dir", "files": [{path, upload_id,
        sha256}]}``, staged under the client's base name."""
        if not isinstance(source, Mapping):
            raise InvalidArgumentError("'source' must be {name, is_dir, files}")
        name = check_artifact_name(source.get("name"), "file name")
        is_dir = bool(source.get("is_dir", False))
        refs = _refs(source.get("files"), "source.files")
        if not is_dir and len(refs) != 1:
            raise InvalidArgumentError(
                f"a file source needs exactly one upload in 'files', not {len(refs)}"
            )
        placed = []
        for ref in refs:
            inner = clean_rel_path(ref.path, "file path in folder") if is_dir else None
            if is_dir and inner is None:
                raise InvalidArgumentError(f"file path {ref.path!r} in folder {name!r} is empty")
            placed.append((ref, f"{name}/{inner}" if is_dir else name))
        with self._staged(home, placed) as stage:
            target = stage / name
            if is_dir:
                target.mkdir(exist_ok=True)
            yield target

    # --- commits ------------------------------------------------------------------------------
    def commit(self, run_id: str, kind: str, spec: Mapping[str, Any]) -> Any:
        """Run the commit ``kind`` (path, encoded, value, model, checkpoint, version) for
        ``spec``; returns its JSON answer (once per ``commit_id``)."""
        handler: Callable[[str, Mapping[str, Any]], Any] = {
            "path": self._log_path,
            "encoded": self._log_encoded,
            "value": self._log_value,
            "model": self._log_model,
            "checkpoint": self._log_checkpoint,
            "version": self._log_version,
        }[kind]
        commit_id = spec.get("commit_id")
        if commit_id is not None and not isinstance(commit_id, str):
            raise InvalidArgumentError(f"commit_id {commit_id!r} must be 32 hex digits")
        if self.mirror is None:  # a folder store: the commit's own file lock
            if commit_id is None:
                return handler(run_id, spec)
            with self.uploads.commit_guard(commit_id):
                done = self.uploads.commit_answer(commit_id)
                if done is not None:
                    return done
                answer = handler(run_id, spec)
                self.uploads.remember_commit(commit_id, answer)
                return answer
        # a ServerStore: the project's write block serializes the commit across replicas,
        # and its answer is kept in the transaction that pushes the commit's records
        answers: Any = self.uploads  # a SharedUploadArea
        if commit_id is not None:
            done = answers.commit_answer(commit_id)
            if done is not None:
                return done
        info = self.store.get_run(run_id)
        self._prepare(info.owner, info.project, spec)
        with self.writing(info.owner, info.project, run_id) as conn:
            if commit_id is not None:
                done = answers.commit_answer(commit_id, conn)
                if done is not None:
                    return done
            answer = handler(run_id, spec)
            if commit_id is not None:
                answers.remember_commit(commit_id, answer, conn)
        return answer

    def _prepare(self, owner: str, project: str, spec: Mapping[str, Any]) -> None:
        """Before a ServerStore's project is locked: bring the commit's uploads into this
        process and their bytes into the object store (content-addressed, so the artifact
        code finds them stored), leaving only records to write under the lock. Best effort:
        the commit itself reports what is wrong with an upload."""
        if self.mirror is None:
            return
        for upload_id, sha256 in _upload_refs(spec):
            try:
                upload, path, _ = self.uploads.finished(upload_id, sha256)
                if self.remote is not None and (upload.owner, upload.project) == (owner, project):
                    self.remote.put_blob(path)
            except Exception:  # the commit raises it again, with its context
                continue

    def _finish(self, ctx: ArtifactContext) -> None:
        ctx.sync()

    def _log_path(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ctx = self.context(run_id)
        with self._source(ctx.home, spec.get("source")) as source:
            record = writes.log_path(
                ctx,
                source,
                name=spec.get("name"),
                kind=spec.get("kind"),
                step=spec.get("step"),
                rel_path=spec.get("rel_path"),
                summary=plain(spec.get("summary")),
                versioned=bool(spec.get("versioned", True)),
                timestamp=spec.get("timestamp"),
            )
        self._finish(ctx)
        return record_json(record)

    def _log_encoded(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ext = spec.get("ext")
        if not isinstance(ext, str) or not _EXT.match(ext):
            raise InvalidArgumentError(f"asset extension {ext!r} must be like 'png' or 'tar.gz'")
        kind = check_name(spec.get("kind"), "asset kind")
        value = plain(spec.get("value") or {})
        if not isinstance(value, dict):
            raise InvalidArgumentError("an encoded asset's 'value' must be a dict")
        ctx = self.context(run_id)
        refs = _refs([spec.get("file")], "file")
        with self._staged(ctx.home, [(refs[0], f"asset.{ext}")]) as stage:
            record = writes.log_encoded(
                ctx,
                Encoded(ext=ext, source=stage / f"asset.{ext}", value=value),
                name=spec.get("name"),  # type: ignore[arg-type]  # checked by log_encoded
                kind=kind,
                step=spec.get("step"),
                timestamp=spec.get("timestamp"),
            )
        self._finish(ctx)
        return record_json(record)

    def _log_value(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ctx = self.context(run_id)
        record = writes.log_value(
            ctx,
            name=spec.get("name"),  # type: ignore[arg-type]  # checked by log_value
            kind=check_name(spec.get("kind"), "value kind"),
            step=spec.get("step"),
            timestamp=spec.get("timestamp"),
            value=plain(spec.get("value")),
        )
        self._finish(ctx)
        return record_json(record)

    def _log_model(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ctx = self.context(run_id)
        with self._source(ctx.home, spec.get("source")) as source:
            record = writes.log_model(
                ctx,
                source,
                name=spec.get("name"),
                framework=spec.get("framework"),
                summary=plain(spec.get("summary")),
                step=spec.get("step"),
                rel_path=spec.get("rel_path"),
                register=bool(spec.get("register", True)),
                aliases=_strings(spec.get("aliases"), "aliases"),
                tags=_strings(spec.get("tags"), "tags"),
                metadata=plain(spec.get("metadata")),
                description=spec.get("description"),
                timestamp=spec.get("timestamp"),
                progress=None,
            )
        self._finish(ctx)
        return record_json(record)

    def _log_checkpoint(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ctx = self.context(run_id)
        metrics = plain(spec.get("metrics"))
        if metrics is not None and not isinstance(metrics, dict):
            raise InvalidArgumentError("checkpoint 'metrics' must be a dict of numbers")
        epoch = spec.get("epoch")
        if spec.get("source") is None:
            checkpoint = writes.log_checkpoint(ctx, epoch, metrics, None)
        else:
            with self._source(ctx.home, spec.get("source")) as source:
                checkpoint = writes.log_checkpoint(ctx, epoch, metrics, source)
        self._finish(ctx)
        return checkpoint.to_dict()

    def _log_version(self, run_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        ctx = self.context(run_id)
        metadata = plain(spec.get("metadata"))
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidArgumentError("artifact 'metadata' must be a dict")
        description = spec.get("description")
        artifact = Artifact(
            spec.get("name"),  # type: ignore[arg-type]  # checked by Artifact
            str(spec.get("type") or "general"),
            description=None if description is None else str(description),
            metadata=metadata,
        )
        refs = _refs(spec.get("files"), "files")
        inner = []
        for i, ref in enumerate(refs):
            rel = clean_rel_path(ref.path, "path in artifact")
            if rel is None:
                raise InvalidArgumentError(f"path {ref.path!r} in artifact {artifact.name!r}")
            inner.append((ref, f"{i}/{rel.rpartition('/')[2]}", rel))
        with self._staged(ctx.home, [(ref, staged) for ref, staged, _ in inner]) as stage:
            for _, staged, rel in inner:
                artifact.add_file(stage / staged, name=rel)
            version = writes.log_version(
                ctx, artifact, aliases=_strings(spec.get("aliases"), "aliases")
            )
        self._finish(ctx)
        return jsonable(version.to_dict())  # type: ignore[no-any-return]

    # --- reads --------------------------------------------------------------------------------
    def records(self, run_id: str) -> list[ArtifactRecord]:
        return read_records(self.home(run_id).manifest)

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        return read_checkpoints(self.home(run_id).run_dir)

    def versions(self, owner: str, project: str) -> VersionStore:
        return VersionStore(self._project(owner, project) / ".artifacts")

    def registry(self, owner: str, project: str) -> ModelRegistry:
        return ModelRegistry(self._project(owner, project), f"{owner}/{project}")

    def _project(self, owner: str, project: str) -> Path:
        return project_dir(self.store, check_name(owner, "owner"), check_name(project, "project"))

    def locate(self, run_id: str, rel_path: str) -> Located:
        """The file at ``rel_path`` of the run (``outputs/...``, ``assets/...``, a file of a
        logged folder), wherever its bytes are; else a file of the run folder itself.
        UnsafePathError for paths leaving the run; ArtifactNotFoundError when missing."""
        rel = check_path(clean_rel_path(rel_path, "file path") or "", "file path")
        home = self.home(run_id)
        for record in reversed(read_records(home.manifest)):
            entry = _entry_at(record, rel)
            if entry is not None:
                storage = storage_for(
                    record.storage,
                    record.endpoint_url,
                    run_dir=home.run_dir,
                    artifacts_dir=home.artifacts_dir,
                )
                return Located(storage, entry.key, entry.size, entry.sha256, _basename(rel))
        path = safe_join(home.run_dir, rel, "file path")
        if not path.is_file():
            raise ArtifactNotFoundError(f"run {run_id} has no file {rel!r}")
        return Located(LocalStorage(home.run_dir), rel, path.stat().st_size, None, path.name)

    def version_file(self, owner: str, project: str, name: str, ref: str, path: str) -> Located:
        clean_rel_path(path, "file path")  # refuse '..' before looking anything up
        version = self.versions(owner, project).get(name, ref)
        entry = _entry_named(version.files, path, f"artifact {version.ref}")
        storage = storage_for(
            version.storage, version.endpoint_url, run_dir=None, artifacts_dir=version.artifacts_dir
        )
        return Located(storage, entry.key, entry.size, entry.sha256, _basename(entry.path))

    def model_file(self, owner: str, project: str, name: str, ref: str, path: str) -> Located:
        clean_rel_path(path, "file path")
        registry = self.registry(owner, project)
        version = registry.version(name, ref)
        entry = _entry_named(version.files, path, f"model {version.ref}")
        storage = storage_for(
            version.storage,
            version.endpoint_url,
            run_dir=registry.resolve_run_dir(version.run_dir),
            artifacts_dir=registry.project_dir / ".artifacts",
        )
        return Located(storage, entry.key, entry.size, entry.sha256, _basename(entry.path))


def _upload_refs(spec: object) -> list[tuple[str, str | None]]:
    """``(upload id, sha256)`` of every well-formed file reference in a commit spec."""
    out: list[tuple[str, str | None]] = []
    if isinstance(spec, Mapping):
        upload_id = spec.get("upload_id")
        if isinstance(upload_id, str) and _UPLOAD_ID.match(upload_id):
            sha = spec.get("sha256")
            out.append((upload_id, sha if isinstance(sha, str) else None))
        for value in spec.values():
            out.extend(_upload_refs(value))
    elif isinstance(spec, list):
        for value in spec:
            out.extend(_upload_refs(value))
    return out


def _entry_at(record: ArtifactRecord, rel: str) -> FileEntry | None:
    if not record.files or not record.path:
        return None
    if not record.is_dir:
        return record.files[0] if record.path == rel else None
    if not rel.startswith(record.path + "/"):
        return None
    inner = rel[len(record.path) + 1 :]
    return next((e for e in record.files if e.path == inner), None)


def _entry_named(files: tuple[FileEntry, ...], path: str, where: str) -> FileEntry:
    wanted = clean_rel_path(path, "file path")
    for entry in files:
        if entry.path == wanted:
            return entry
    known = ", ".join(e.path for e in files[:20]) or "none"
    raise ArtifactNotFoundError(f"{where} has no file {path!r}; files: {known}")


def _basename(path: str) -> str:
    return path.rpartition("/")[2]


def _strings(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(f"{what} must be a list of strings, not {value!r}")
    return list(value)


def _link(src: Path, target: Path) -> None:
    """Hard-link ``src`` at ``target`` (same filesystem); a symlink where links fail."""
    try:
        os.link(src, target)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        os.symlink(src, target)
