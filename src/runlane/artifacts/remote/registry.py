"""A project's versioned artifacts and model registry on a runlane server, with the local
classes' interfaces (:class:`~runlane.artifacts.versions.VersionStore`,
:class:`~runlane.artifacts.registry.ModelRegistry`), so ``runlane.models(...)``,
``runlane.artifact(...)`` and ``run.use_model(...)`` work unchanged against a server.

Reads and alias moves go through ``/api/v1/projects/<owner>/<project>/{artifacts,models}``;
``download`` fetches every file through the server, verified against its sha256. New
versions are made by logging (``run.log_artifact(Artifact)``, ``run.log_model``), never
directly, and models' descriptions, tags and metadata are set when logging: ``create``,
``update``, ``register`` and ``update_version`` raise :class:`InvalidArgumentError` here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from runlane.artifacts.fetch import download_dest, download_files
from runlane.artifacts.paths import check_artifact_name
from runlane.artifacts.records import FileEntry
from runlane.artifacts.registry import ModelRegistry, ModelVersion, RegisteredModel
from runlane.artifacts.remote.client import url_path
from runlane.artifacts.remote.run import plain
from runlane.artifacts.versions import ArtifactVersion, VersionStore
from runlane.errors import InvalidArgumentError

if TYPE_CHECKING:
    from runlane.artifacts.remote.client import ArtifactsClient


def _unsupported(what: str, instead: str) -> NoReturn:
    raise InvalidArgumentError(f"{what} is not available through a runlane server; {instead}")


class RemoteVersionStore(VersionStore):
    """The versioned artifacts of ``owner/project`` on the server."""

    def __init__(self, client: ArtifactsClient, owner: str, project: str) -> None:
        super().__init__(Path(owner, project, ".artifacts"))
        self.client = client
        self.owner = owner
        self.project = project

    def __repr__(self) -> str:
        return f"RemoteVersionStore({self.owner}/{self.project} on {self.client.uri})"

    def _path(self, *parts: str) -> str:
        return url_path("projects", self.owner, self.project, "artifacts", *parts)

    def version_from(self, doc: Mapping[str, Any]) -> ArtifactVersion:
        """An ArtifactVersion from the server's JSON, downloading through the server."""
        clean = plain(doc)
        files = [FileEntry.from_dict(f) for f in clean.get("files") or ()]
        name, version = str(clean["name"]), str(clean["version"])
        reader = self.client.files(
            {f.key: self._path(name, "versions", version, "files", f.path) for f in files},
            f"artifact {name}:{version}",
        )
        found = ArtifactVersion.from_dict(clean, aliases=clean.get("aliases") or ())
        return _with_reader(found, reader)

    def names(self) -> list[str]:
        return sorted(str(d["name"]) for d in self.client.get(self._path())["artifacts"])

    def versions(self, name: str) -> list[ArtifactVersion]:
        docs = self.client.get(self._path(check_artifact_name(name), "versions"))["versions"]
        return [self.version_from(d) for d in docs]

    def get(self, name: str, ref: str | int | None = None) -> ArtifactVersion:
        wanted = "latest" if ref is None else str(ref)
        return self.version_from(
            self.client.get(self._path(check_artifact_name(name), "versions", wanted))
        )

    def create(self, name: str, **kwargs: Any) -> tuple[ArtifactVersion, bool]:
        _unsupported("creating a version directly", "log it with run.log_artifact(Artifact)")

    def set_alias(self, name: str, alias: str, version: str | int) -> ArtifactVersion:
        doc = self.client.send(
            "PUT", self._path(check_artifact_name(name), "aliases", alias), {"version": version}
        )
        return self.version_from(doc)

    def remove_alias(self, name: str, alias: str) -> None:
        self.client.send("DELETE", self._path(check_artifact_name(name), "aliases", alias))


def _with_reader(version: ArtifactVersion, reader: Any) -> ArtifactVersion:
    from dataclasses import replace

    return replace(version, reader=reader)


class RemoteModelRegistry(ModelRegistry):
    """The model registry of ``owner/project`` on the server."""

    def __init__(self, client: ArtifactsClient, owner: str, project: str) -> None:
        super().__init__(Path(owner, project), f"{owner}/{project}")
        self.client = client
        self.owner = owner
        self.project = project

    def __repr__(self) -> str:
        return f"RemoteModelRegistry({self.namespace} on {self.client.uri})"

    def _path(self, *parts: str) -> str:
        return url_path("projects", self.owner, self.project, "models", *parts)

    def _model_from(self, doc: Mapping[str, Any]) -> RegisteredModel:
        clean = plain(doc)
        return RegisteredModel(
            name=str(clean["name"]),
            id=str(clean.get("id", "")),
            description=clean.get("description"),
            tags=tuple(clean.get("tags") or ()),
            metadata=dict(clean.get("metadata") or {}),
            created_at=float(clean.get("created_at", 0.0)),
            updated_at=float(clean.get("updated_at", 0.0)),
            aliases={str(k): str(v) for k, v in (clean.get("aliases") or {}).items()},
            version_count=int(clean.get("versions", 0)),
            registry=self,
        )

    def _version_from(self, doc: Mapping[str, Any]) -> ModelVersion:
        clean = plain(doc)
        return ModelVersion.from_dict(clean, clean.get("aliases") or (), self)

    def names(self) -> list[str]:
        return [m.name for m in self.all()]

    def all(self) -> list[RegisteredModel]:
        docs = self.client.get(self._path())["models"]
        return sorted((self._model_from(d) for d in docs), key=lambda m: m.name)

    def get(self, name: str) -> RegisteredModel:
        return self._model_from(
            self.client.get(self._path(check_artifact_name(name, "model name")))["model"]
        )

    def versions(self, name: str) -> list[ModelVersion]:
        doc = self.client.get(self._path(check_artifact_name(name, "model name")))
        return [self._version_from(d) for d in doc["versions"]]

    def version(self, name: str, ref: str | int | None = None) -> ModelVersion:
        wanted = "latest" if ref is None else str(ref)
        return self._version_from(
            self.client.get(self._path(check_artifact_name(name, "model name"), "versions", wanted))
        )

    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        path = self._path(check_artifact_name(name, "model name"), "aliases", alias)
        return self._version_from(self.client.send("PUT", path, {"version": version}))

    def remove_alias(self, name: str, alias: str) -> None:
        self.client.send(
            "DELETE", self._path(check_artifact_name(name, "model name"), "aliases", alias)
        )

    def download_version(self, version: ModelVersion, dest: str | os.PathLike[str]) -> Path:
        files = self.client.files(
            {
                f.key: self._path(version.name, "versions", version.version, "files", f.path)
                for f in version.files
            },
            f"model {version.ref}",
        )
        top = Path(version.path or version.name).name
        target = download_dest(os.fspath(dest), top, version.is_dir)
        if version.is_dir:
            download_files(files, version.files, target)
            return target
        entry = version.files[0]
        files.get_file(entry.key, target / top, sha256=entry.sha256)
        return target / top

    # --- changes that happen by logging ------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        _unsupported("creating a model directly", "log one with run.log_model(path, name=...)")

    def update(self, name: str, **kwargs: Any) -> RegisteredModel:
        _unsupported("updating a model", "pass description/tags/metadata to run.log_model")

    def register(self, name: str, **kwargs: Any) -> ModelVersion:
        _unsupported("registering files directly", "log them with run.log_model")

    def update_version(self, name: str, version: str | int, **kwargs: Any) -> ModelVersion:
        _unsupported("updating a model version", "pass its fields to run.log_model")
