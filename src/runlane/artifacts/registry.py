"""The model registry of a project, plus run checkpoints (ModelBox's epoch + metrics).

Layout under ``<project>/.models/``::

    <name>/model.json            {"name", "id", "description", "tags", "metadata", ...}
    <name>/versions/v0.json ...  one document per version: its run, its files (path, size,
                                 sha256, storage key), framework, step, summary, tags, metadata
    <name>/aliases.json          {"latest": "v2", "production": "v1", ...}
    <name>/.lock                 serializes numbering, alias moves and updates

A version points at the run that produced it and at that run's stored files (the run folder,
or blobs in an S3 store); it is written after the files are stored. Aliases are unique per
model and move. ``id`` is ``sha1(name + namespace)`` as in ModelBox.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlane.artifacts.aliases import drop_alias, move_alias, read_aliases
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.fetch import download_dest, download_files, storage_for
from runlane.artifacts.journal import append_json_lines, read_json_lines
from runlane.artifacts.paths import check_artifact_name
from runlane.artifacts.records import FileEntry, tree_digest
from runlane.errors import InvalidArgumentError
from runlane.names import check_key
from runlane.store.local.files import locked, read_json, write_json
from runlane.timeutil import now
from runlane.values import coerce_param


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered version of a model. ``download(dest)`` writes its files (verified)."""

    name: str
    version: str
    index: int
    run_id: str | None
    run: str | None
    framework: str | None
    step: int | None
    path: str | None
    is_dir: bool
    files: tuple[FileEntry, ...]
    sha256: str | None
    size: int
    storage: str | None
    endpoint_url: str | None
    run_dir: str | None
    created_at: float
    summary: dict[str, Any] | None = None
    description: str | None = None
    label: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    registry: ModelRegistry | None = field(default=None, compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "index": self.index,
            "run_id": self.run_id,
            "run": self.run,
            "framework": self.framework,
            "step": self.step,
            "path": self.path,
            "is_dir": self.is_dir,
            "files": [f.to_dict() for f in self.files],
            "sha256": self.sha256,
            "size": self.size,
            "storage": self.storage,
            "endpoint_url": self.endpoint_url,
            "run_dir": self.run_dir,
            "created_at": self.created_at,
            "summary": self.summary,
            "description": self.description,
            "label": self.label,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "aliases": list(self.aliases),
        }

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        aliases: Iterable[str] = (),
        registry: ModelRegistry | None = None,
    ) -> ModelVersion:
        """A version from its document (:meth:`to_dict` or a ``v<N>.json``)."""
        step = doc.get("step")
        return cls(
            name=str(doc["name"]),
            version=str(doc["version"]),
            index=int(doc["index"]),
            run_id=doc.get("run_id"),
            run=doc.get("run"),
            framework=doc.get("framework"),
            step=None if step is None else int(step),
            path=doc.get("path"),
            is_dir=bool(doc.get("is_dir", False)),
            files=tuple(FileEntry.from_dict(f) for f in doc.get("files") or ()),
            sha256=doc.get("sha256"),
            size=int(doc.get("size") or 0),
            storage=doc.get("storage"),
            endpoint_url=doc.get("endpoint_url"),
            run_dir=doc.get("run_dir"),
            created_at=float(doc.get("created_at", 0.0)),
            summary=doc.get("summary"),
            description=doc.get("description"),
            label=doc.get("label"),
            tags=tuple(doc.get("tags") or ()),
            metadata=dict(doc.get("metadata") or {}),
            aliases=tuple(sorted(aliases)),
            registry=registry,
        )

    def download(self, dest: str | os.PathLike[str] = ".") -> Path:
        """Write the model's file (or folder) into ``dest``; returns the written path."""
        if self.registry is None:
            raise ArtifactNotFoundError(f"model version {self.ref} is detached from a registry")
        return self.registry.download_version(self, dest)


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model: description, tags, metadata, aliases and its versions."""

    name: str
    id: str
    description: str | None
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    aliases: dict[str, str]
    version_count: int
    registry: ModelRegistry = field(compare=False, repr=False)

    def versions(self) -> list[ModelVersion]:
        return self.registry.versions(self.name)

    def version(self, ref: str | int | None = None) -> ModelVersion:
        return self.registry.version(self.name, ref)

    def set_alias(self, alias: str, version: str | int) -> ModelVersion:
        return self.registry.set_alias(self.name, alias, version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "description": self.description,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "aliases": self.aliases,
            "versions": self.version_count,
        }


class ModelRegistry:
    """The models of one project (``<project>/.models``). Safe across processes."""

    def __init__(self, project_dir: Path, namespace: str | None = None) -> None:
        self.project_dir = project_dir
        self.root = project_dir / ".models"
        self.namespace = namespace or f"{project_dir.parent.name}/{project_dir.name}"

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    def _dir(self, name: str) -> Path:
        return self.root / check_artifact_name(name, "model name")

    def resolve_run_dir(self, run_dir: str | None) -> Path | None:
        if run_dir is None:
            return None
        path = Path(run_dir)
        return path if path.is_absolute() else self.project_dir / path

    def _model(self, folder: Path) -> RegisteredModel:
        doc = read_json(folder / "model.json", None)
        if not isinstance(doc, dict):
            raise ArtifactNotFoundError(
                f"no model {folder.name!r} in {self.namespace}; known: "
                f"{', '.join(self.names()) or 'none'}"
            )
        aliases = self._aliases(folder)
        count = len(list((folder / "versions").glob("v*.json")))
        return RegisteredModel(
            name=str(doc["name"]),
            id=str(doc.get("id", "")),
            description=doc.get("description"),
            tags=tuple(doc.get("tags") or ()),
            metadata=dict(doc.get("metadata") or {}),
            created_at=float(doc.get("created_at", 0.0)),
            updated_at=float(doc.get("updated_at", 0.0)),
            aliases=aliases,
            version_count=count,
            registry=self,
        )

    def _aliases(self, folder: Path) -> dict[str, str]:
        return read_aliases(folder)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "model.json").is_file())

    def all(self) -> list[RegisteredModel]:
        """Every model, by name."""
        return [self._model(self.root / n) for n in self.names()]

    def get(self, name: str) -> RegisteredModel:
        """The model ``name``; ArtifactNotFoundError listing the known models."""
        return self._model(self._dir(name))

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        """Create the model, or return it when it exists (its fields are left alone)."""
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder / ".lock"):
            if not (folder / "model.json").is_file():
                at = now()
                model_id = hashlib.sha1((name + self.namespace).encode()).hexdigest()
                write_json(
                    folder / "model.json",
                    {
                        "name": name,
                        "id": model_id,
                        "namespace": self.namespace,
                        "description": description,
                        "tags": _tags(tags),
                        "metadata": _meta(metadata),
                        "created_at": at,
                        "updated_at": at,
                    },
                )
        return self._model(folder)

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        reset_tags: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        """Change the description, add (or with ``reset_tags`` replace) tags, merge metadata."""
        folder = self._dir(name)
        self.get(name)
        with locked(folder / ".lock"):
            doc = read_json(folder / "model.json", {})
            _apply(doc, description, tags, reset_tags, metadata)
            write_json(folder / "model.json", doc)
        return self._model(folder)

    # --- versions -------------------------------------------------------------------------
    def _version_docs(self, folder: Path) -> list[dict[str, Any]]:
        docs = []
        for path in (folder / "versions").glob("v*.json"):
            doc = read_json(path, None)
            if isinstance(doc, dict) and "version" in doc:
                docs.append(doc)
        return sorted(docs, key=lambda d: int(d["index"]))

    def _version(self, doc: dict[str, Any], aliases: dict[str, str]) -> ModelVersion:
        mine = [a for a, v in aliases.items() if v == doc["version"]]
        return ModelVersion.from_dict(doc, mine, self)

    def download_version(self, version: ModelVersion, dest: str | os.PathLike[str]) -> Path:
        """Write ``version``'s file (or folder) into ``dest``, verified; returns its path."""
        store = storage_for(
            version.storage,
            version.endpoint_url,
            run_dir=self.resolve_run_dir(version.run_dir),
            artifacts_dir=self.project_dir / ".artifacts",
        )
        top = Path(version.path or version.name).name
        target = download_dest(os.fspath(dest), top, version.is_dir)
        if version.is_dir:
            download_files(store, version.files, target)
            return target
        entry = version.files[0]
        store.get_file(entry.key, target / top, sha256=entry.sha256)
        return target / top

    def versions(self, name: str) -> list[ModelVersion]:
        folder = self._dir(name)
        self.get(name)
        aliases = self._aliases(folder)
        return [self._version(d, aliases) for d in self._version_docs(folder)]

    def version(self, name: str, ref: str | int | None = None) -> ModelVersion:
        """Version ``ref`` of ``name``: ``v2``, ``2``, an alias (``production``), a label,
        or None for ``latest``. ArtifactNotFoundError lists what exists."""
        folder = self._dir(name)
        self.get(name)
        aliases = self._aliases(folder)
        docs = self._version_docs(folder)
        wanted = "latest" if ref is None else str(ref)
        key = aliases.get(wanted)
        for doc in docs:
            if doc["version"] in (key, wanted, f"v{wanted}") or doc.get("label") == wanted:
                return self._version(doc, aliases)
        raise ArtifactNotFoundError(
            f"model {name!r} has no version or alias {wanted!r}; versions: "
            f"{', '.join(d['version'] for d in docs) or 'none'}; aliases: "
            f"{', '.join(sorted(aliases)) or 'none'}"
        )

    def register(
        self,
        name: str,
        *,
        files: list[FileEntry],
        path: str | None,
        is_dir: bool,
        sha256: str | None,
        storage: str | None,
        endpoint_url: str | None,
        run_id: str | None,
        run: str | None,
        run_dir: Path | None,
        framework: str | None = None,
        step: int | None = None,
        summary: Mapping[str, Any] | None = None,
        description: str | None = None,
        label: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        aliases: Iterable[str] = (),
    ) -> ModelVersion:
        """Add the next version of ``name`` (creating the model) for files already stored.
        ``latest`` and ``aliases`` move to it."""
        self.create(name)
        folder = self._dir(name)
        wanted = ["latest", *(check_key(a, "alias") for a in aliases)]
        rel_run = None
        if run_dir is not None:
            rel_run = (
                run_dir.relative_to(self.project_dir).as_posix()
                if run_dir.is_relative_to(self.project_dir)
                else str(run_dir)
            )
        with locked(folder / ".lock"):
            docs = self._version_docs(folder)
            index = (max(int(d["index"]) for d in docs) + 1) if docs else 0
            doc = {
                "name": name,
                "version": f"v{index}",
                "index": index,
                "run_id": run_id,
                "run": run,
                "framework": framework,
                "step": step,
                "path": path,
                "is_dir": is_dir,
                "files": [f.to_dict() for f in files],
                "sha256": sha256,
                "size": sum(f.size for f in files),
                "storage": storage,
                "endpoint_url": endpoint_url,
                "run_dir": rel_run,
                "created_at": now(),
                "summary": dict(summary) if summary else None,
                "description": description,
                "label": label,
                "tags": _tags(tags),
                "metadata": _meta(metadata),
            }
            (folder / "versions").mkdir(exist_ok=True)
            write_json(folder / "versions" / f"v{index}.json", doc)
            current = self._aliases(folder)
            for alias in wanted:
                current[alias] = f"v{index}"
            write_json(folder / "aliases.json", current)
            model = read_json(folder / "model.json", {})
            model["updated_at"] = now()
            write_json(folder / "model.json", model)
        return self._version(doc, current)

    def update_version(
        self,
        name: str,
        version: str | int,
        *,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        reset_tags: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Change a version's description, tags (added, or replaced) and metadata (merged)."""
        target = self.version(name, version)
        folder = self._dir(name)
        with locked(folder / ".lock"):
            path = folder / "versions" / f"{target.version}.json"
            doc = read_json(path, {})
            _apply(doc, description, tags, reset_tags, metadata)
            write_json(path, doc)
        return self.version(name, target.version)

    def add_files(
        self,
        name: str,
        version: str | int,
        files: list[FileEntry],
        *,
        storage: str | None,
        endpoint_url: str | None,
    ) -> ModelVersion:
        """Add files already stored in ``storage`` to a version (one with the same path is
        replaced); a version holding more than one file downloads as a folder. Raises
        InvalidArgumentError when the version's files live in another storage."""
        target = self.version(name, version)
        folder = self._dir(name)
        with locked(folder / ".lock"):
            path = folder / "versions" / f"{target.version}.json"
            doc = read_json(path, {})
            old = [FileEntry.from_dict(f) for f in doc.get("files") or ()]
            where = (doc.get("storage"), doc.get("endpoint_url"))
            if old and where != (storage, endpoint_url):
                raise InvalidArgumentError(
                    f"model version {name}:{target.version} keeps its files in "
                    f"{where[0] or 'its run folder'}; files stored in {storage} cannot join them"
                )
            added = {f.path for f in files}
            merged = [f for f in old if f.path not in added] + list(files)
            single = len(merged) == 1
            doc.update(
                files=[f.to_dict() for f in merged],
                storage=storage,
                endpoint_url=endpoint_url,
                size=sum(f.size for f in merged),
                is_dir=not single,
                path=merged[0].path if single else None,
                sha256=merged[0].sha256 if single else tree_digest(merged),
                updated_at=now(),
            )
            write_json(path, doc)
        return self.version(name, target.version)

    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        """Point ``alias`` (e.g. ``production``) at ``version``, moving it."""
        target = self.version(name, version)
        folder = self._dir(name)
        with locked(folder / ".lock"):
            move_alias(folder, alias, target.version)
        return self.version(name, target.version)

    def remove_alias(self, name: str, alias: str) -> None:
        folder = self._dir(name)
        self.get(name)
        with locked(folder / ".lock"):
            if not drop_alias(folder, alias):
                raise ArtifactNotFoundError(f"model {name!r} has no alias {alias!r}")


def _tags(tags: Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    return [check_key(str(t).strip(), "tag") for t in items if str(t).strip()]


def _meta(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    return {str(k): coerce_param(str(k), v) for k, v in (metadata or {}).items()}


def _apply(
    doc: dict[str, Any],
    description: str | None,
    tags: Iterable[str] | None,
    reset_tags: bool,
    metadata: Mapping[str, Any] | None,
) -> None:
    if description is not None:
        doc["description"] = description
    if tags is not None:
        new = _tags(tags)
        old = [] if reset_tags else list(doc.get("tags") or [])
        doc["tags"] = old + [t for t in new if t not in old]
    if metadata:
        doc["metadata"] = {**(doc.get("metadata") or {}), **_meta(metadata)}
    doc["updated_at"] = now()


# --- checkpoints (ModelBox: experiment → checkpoint(epoch, metrics)) ---------------------------
@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A training checkpoint: ``id`` is ``sha1(run_id + str(epoch))`` as in ModelBox."""

    id: str
    run_id: str
    epoch: int
    metrics: dict[str, float]
    created_at: float
    artifact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "epoch": self.epoch,
            "metrics": self.metrics,
            "created_at": self.created_at,
            "artifact": self.artifact,
        }


def checkpoint_id(run_id: str, epoch: int) -> str:
    return hashlib.sha1((run_id + str(epoch)).encode()).hexdigest()


def append_checkpoint(run_dir: Path, checkpoint: Checkpoint) -> None:
    append_json_lines(run_dir / "checkpoints.jsonl", [checkpoint.to_dict()])


def read_checkpoints(run_dir: Path) -> list[Checkpoint]:
    """The run's checkpoints by epoch; a re-logged epoch replaces the earlier one."""
    by_epoch: dict[int, Checkpoint] = {}
    for doc in read_json_lines(run_dir / "checkpoints.jsonl"):
        if isinstance(doc, dict) and "epoch" in doc:
            by_epoch[int(doc["epoch"])] = Checkpoint(
                id=str(doc["id"]),
                run_id=str(doc["run_id"]),
                epoch=int(doc["epoch"]),
                metrics={str(k): float(v) for k, v in (doc.get("metrics") or {}).items()},
                created_at=float(doc.get("created_at", 0.0)),
                artifact=doc.get("artifact"),
            )
    return [by_epoch[e] for e in sorted(by_epoch)]
