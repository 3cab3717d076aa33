"""The artifacts of one run on a runlane server: :class:`RemoteArtifacts` (the writes of
:mod:`runlane.artifacts.writes`, through the server) and :class:`RemoteRunArtifacts`
(``run.artifacts`` read back).

Every write validates its arguments exactly as the local code does, before anything is sent
(so a bad name raises at the call site), sends the files (:mod:`.upload`), then commits them
with one request that carries a fresh ``commit_id`` (a retried commit is applied once). The
server runs the local artifact code on its side and answers the record it stored, which is
what the call returns. Lineage is recorded by the server. Calls are synchronous: they return
once the record is visible on the server. With the server unreachable (or while the spool
still holds older requests) the commit and a copy of its files are spooled on this disk and
replayed in order later (:mod:`.spool`); the call then returns the record computed locally,
marked pending (:mod:`.pending`: ``extra["pending"]``, versions not numbered yet).

Files written into the staging ``get_outputs_path()`` folder are uploaded at ``finish()``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.artifacts.assets import Encoded
from runlane.artifacts.errors import SourceNotFoundError
from runlane.artifacts.home import ArtifactHome
from runlane.artifacts.kinds import normalize_kind
from runlane.artifacts.paths import check_artifact_name, clean_rel_path
from runlane.artifacts.reading import RunArtifacts
from runlane.artifacts.records import ArtifactRecord, FileEntry
from runlane.artifacts.registry import Checkpoint, ModelVersion
from runlane.artifacts.remote.client import url_path
from runlane.artifacts.remote.commits import FileSlot
from runlane.artifacts.remote.pending import is_pending, pending_version
from runlane.artifacts.storage import BlobStorage, Progress
from runlane.artifacts.transfer import source_stat
from runlane.artifacts.versions import Artifact, ArtifactVersion, walk_files
from runlane.artifacts.writes import (
    check_checkpoint,
    check_step,
    check_summary,
    check_time,
)
from runlane.errors import InvalidArgumentError
from runlane.names import check_key, check_name
from runlane.store.tags import untag
from runlane.values import coerce_param, decode_value

if TYPE_CHECKING:
    from runlane.artifacts.remote.client import ArtifactsClient


def plain(value: Any) -> Any:
    """A JSON value from the wire with its tags undone (non-finite floats, bytes)."""
    value = untag(value)
    if type(value) is dict:
        decoded = decode_value(value)
        if decoded is not value:
            return decoded
        return {k: plain(v) for k, v in value.items()}
    if type(value) is list:
        return [plain(v) for v in value]
    return value


def checkpoint_from(doc: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(
        id=str(doc["id"]),
        run_id=str(doc["run_id"]),
        epoch=int(doc["epoch"]),
        metrics={str(k): float(v) for k, v in (doc.get("metrics") or {}).items()},
        created_at=float(doc.get("created_at", 0.0)),
        artifact=doc.get("artifact"),
    )


def _source(path: object) -> tuple[Path, bool]:
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError(
            f"log_artifact needs a file or folder path (or a runlane.Artifact), not "
            f"{type(path).__name__}"
        )
    source = Path(os.fspath(path)).expanduser()
    return source, stat.S_ISDIR(source_stat(source).st_mode)


class RemoteArtifacts:
    """The artifact writes of one run through its server (see the module docstring)."""

    def __init__(self, client: ArtifactsClient, home: ArtifactHome) -> None:
        self.client = client
        self.home = home
        self._logged: set[str] = set()  # outputs/... keys this process committed

    @property
    def server_run(self) -> str:
        return self.client.server_id(self.home.run_id)

    # --- plumbing ---------------------------------------------------------------------------
    @staticmethod
    def _source_spec(source: Path, is_dir: bool) -> dict[str, Any]:
        """The ``source`` spec ``{name, is_dir, files}`` of a file or folder (files as
        FileSlots: sent, or copied into the spool, by :meth:`_commit`)."""
        pairs = walk_files(source) if is_dir else [(source, source.name)]
        files = [FileSlot(rel, src=src) for src, rel in pairs]
        return {"name": source.name, "is_dir": is_dir, "files": files}

    def _commit(self, route: str, spec: dict[str, Any], progress: Progress | None = None) -> Any:
        """Send and commit ``spec`` under a fresh commit id, or spool it (server
        unreachable, or older requests still spooled): the server's answer, or the pending
        one computed here (see :mod:`.spool`)."""
        from runlane.artifacts.remote.spool import commit_or_spool

        return commit_or_spool(self.client, self.home, route, spec, progress)

    def _record(self, doc: Mapping[str, Any]) -> ArtifactRecord:
        record = ArtifactRecord.from_dict(plain(doc))
        if record.path and record.path.startswith("outputs/"):
            if record.is_dir:
                self._logged.update(f"{record.path}/{e.path}" for e in record.files)
            else:
                self._logged.add(record.path)
        return record

    # --- writes (see runlane.artifacts.writes) ----------------------------------------------
    def log_path(
        self,
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
    ) -> ArtifactRecord:
        source, is_dir = _source(path)
        check_artifact_name(source.name, "file name")
        spec: dict[str, Any] = {
            "name": check_artifact_name(name if name is not None else source.name),
            "kind": normalize_kind(kind if kind is not None else ("dir" if is_dir else "file")),
            "step": check_step(step),
            "rel_path": clean_rel_path(rel_path),
            "summary": check_summary(summary),
            "versioned": bool(versioned),
            "timestamp": check_time(timestamp),
        }
        spec["source"] = self._source_spec(source, is_dir)
        return self._record(self._commit("artifacts", {"type": "path", **spec}, progress))

    def log_encoded(
        self, encoded: Encoded, *, name: str, kind: str, step: object, timestamp: float | None
    ) -> ArtifactRecord:
        spec: dict[str, Any] = {
            "type": "encoded",
            "name": check_artifact_name(name),
            "kind": check_name(kind, "asset kind"),
            "step": check_step(step),
            "timestamp": check_time(timestamp),
            "ext": encoded.ext,
            "value": encoded.value,
        }
        if encoded.source is not None:
            spec["file"] = FileSlot("asset", src=encoded.source)
        else:
            assert encoded.data is not None
            spec["file"] = FileSlot("asset", data=encoded.data)
        return self._record(self._commit("artifacts", spec))

    def log_value(
        self, *, name: str, kind: str, step: object, timestamp: float | None, value: Any
    ) -> ArtifactRecord:
        spec = {
            "type": "value",
            "name": check_artifact_name(name),
            "kind": check_name(kind, "value kind"),
            "step": check_step(step),
            "timestamp": check_time(timestamp),
            "value": value,
        }
        return self._record(self._commit("artifacts", spec))

    def log_model(
        self,
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
        source, is_dir = _source(path)
        check_artifact_name(source.name, "file name")
        tag_list = tags.split(",") if isinstance(tags, str) else list(tags)
        spec: dict[str, Any] = {
            "name": check_artifact_name(name if name is not None else source.name, "model name"),
            "framework": framework,
            "summary": check_summary(summary),
            "step": check_step(step),
            "rel_path": clean_rel_path(rel_path),
            "register": bool(register),
            "aliases": [check_key(a, "alias") for a in aliases],
            "tags": [str(t).strip() for t in tag_list if str(t).strip()],
            "metadata": {str(k): coerce_param(str(k), v) for k, v in (metadata or {}).items()},
            "description": description,
            "timestamp": check_time(timestamp),
        }
        spec["source"] = self._source_spec(source, is_dir)
        return self._record(self._commit("models", spec, progress))

    def log_checkpoint(
        self,
        epoch: object,
        metrics: Mapping[str, Any] | None,
        path: str | os.PathLike[str] | None,
    ) -> Checkpoint:
        at_epoch, values = check_checkpoint(epoch, metrics)
        spec: dict[str, Any] = {"epoch": at_epoch, "metrics": values}
        if path is not None:
            source, is_dir = _source(path)
            spec["source"] = self._source_spec(source, is_dir)
        checkpoint = checkpoint_from(self._commit("checkpoints", spec))
        if checkpoint.artifact:
            self._logged.add(checkpoint.artifact)
        return checkpoint

    def log_version(
        self, artifact: Artifact, *, aliases: Iterable[str] = (), progress: Progress | None = None
    ) -> ArtifactVersion:
        wanted = [check_key(a, "alias") for a in aliases]
        files = [FileSlot(rel, src=src) for src, rel in artifact.collect()]
        spec = {
            "name": artifact.name,
            "type": artifact.type,
            "description": artifact.description,
            "metadata": artifact.metadata,
            "files": files,
            "aliases": wanted,
        }
        doc = self._commit("artifact-versions", spec, progress)
        if is_pending(doc):
            return pending_version(doc, self.home)
        return self.client.versions(self.home.owner, self.home.project).version_from(doc)

    # --- reads the writes need ----------------------------------------------------------------
    def artifact_version(self, name: str, ref: str | int | None) -> ArtifactVersion:
        return self.client.versions(self.home.owner, self.home.project).get(name, ref)

    def model_version(self, name: str, ref: str | int | None) -> ModelVersion:
        return self.client.models(self.home.owner, self.home.project).version(name, ref)

    def sync(self) -> None:
        """Upload the files written into the staging ``outputs/`` folder and not logged."""
        outputs = self.home.run_dir / "outputs"
        if not outputs.is_dir():
            return
        for src, rel in walk_files(outputs):
            key = f"outputs/{rel}"
            if key in self._logged:
                continue
            folder = rel.rpartition("/")[0] or None
            try:
                self.log_path(src, rel_path=folder)
            except SourceNotFoundError:
                continue  # removed meanwhile


class RemoteRunArtifacts(RunArtifacts):
    """``run.artifacts`` of a run on a server: its records, read through the server."""

    def __init__(
        self, client: ArtifactsClient, home: ArtifactHome, records: list[ArtifactRecord]
    ) -> None:
        self.home = home
        self._records = records
        self.client = client

    def _version_of(self, name: str, version: str | int) -> str:
        text = str(version)
        if text.isdigit() or (text.startswith("v") and text[1:].isdigit()):
            return text if text.startswith("v") else f"v{text}"
        kinds = {r.mode for r in self._records if r.name == name}
        if "model" in kinds:
            return (
                self.client.models(self.home.owner, self.home.project).version(name, text).version
            )
        return self.client.versions(self.home.owner, self.home.project).get(name, text).version

    def storage_of(self, record: ArtifactRecord) -> BlobStorage:
        return self.client.files(
            {e.key: self._url(record, e) for e in record.files}, f"artifact {record.label!r}"
        )

    def _url(self, record: ArtifactRecord, entry: FileEntry) -> str:
        home = self.home
        if record.mode == "version" and record.version:
            return url_path(
                "projects",
                home.owner,
                home.project,
                "artifacts",
                record.name,
                "versions",
                record.version,
                "files",
                entry.path,
            )
        path = record.path or ""
        rel = f"{path}/{entry.path}" if record.is_dir else path
        return url_path("runs", self.client.server_id(home.run_id), "files", rel)
