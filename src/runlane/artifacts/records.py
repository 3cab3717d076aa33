"""The records the artifact layer writes: files with their hashes, and one
:class:`ArtifactRecord` per logged artifact, asset or version (a line of the run's
``artifacts.jsonl``).

Modes of a record:

* ``output`` — a file or folder copied under ``outputs/`` (no step);
* ``asset`` — a versioned asset file at a step, ``assets/<kind>/<name>_<step>.<ext>``;
* ``event`` — a versioned value with no file (curve, text, html, histogram), inline ``value``;
* ``version`` — a version of a project-level :class:`~runlane.artifacts.versions.Artifact`;
* ``model`` — a model file or folder (``outputs/model/...`` or an asset at a step) that was
  also registered in the model registry (``version`` names the registry version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MODES = ("output", "asset", "event", "version", "model")

#: ``storage`` value of files kept in the run folder itself.
RUN_FOLDER = None
#: ``storage`` value of blobs kept in the project's ``.artifacts`` folder.
PROJECT_BLOBS = "project"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One stored file: its path inside the artifact, size, sha256 and storage key."""

    path: str
    size: int
    sha256: str
    key: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "key": self.key}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FileEntry:
        return cls(str(doc["path"]), int(doc["size"]), str(doc["sha256"]), str(doc["key"]))


def tree_digest(entries: Iterable[FileEntry]) -> str:
    """sha256 over ``path\\0sha256\\0size\\n`` of each file, sorted by path: equal for equal
    folder contents wherever they are stored."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        digest.update(f"{entry.path}\0{entry.sha256}\0{entry.size}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """One logged artifact, asset, event value or version of a run (see the module doc)."""

    run_id: str
    name: str
    kind: str
    mode: str
    path: str | None
    step: int | None = None
    is_dir: bool = False
    files: tuple[FileEntry, ...] = ()
    size: int = 0
    sha256: str | None = None
    storage: str | None = RUN_FOLDER
    endpoint_url: str | None = None
    summary: dict[str, Any] | None = None
    value: Any = None
    version: str | None = None
    at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "name": self.name,
            "kind": self.kind,
            "mode": self.mode,
            "path": self.path,
            "step": self.step,
            "is_dir": self.is_dir,
            "files": [f.to_dict() for f in self.files],
            "size": self.size,
            "sha256": self.sha256,
            "storage": self.storage,
            "at": self.at,
        }
        for key in ("endpoint_url", "summary", "value", "version"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        if self.extra:
            doc["extra"] = self.extra
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ArtifactRecord:
        step = doc.get("step")
        return cls(
            run_id=str(doc.get("run_id", "")),
            name=str(doc["name"]),
            kind=str(doc.get("kind", "file")),
            mode=str(doc.get("mode", "output")),
            path=doc.get("path"),
            step=None if step is None else int(step),
            is_dir=bool(doc.get("is_dir", False)),
            files=tuple(FileEntry.from_dict(f) for f in doc.get("files") or ()),
            size=int(doc.get("size") or 0),
            sha256=doc.get("sha256"),
            storage=doc.get("storage"),
            endpoint_url=doc.get("endpoint_url"),
            summary=doc.get("summary"),
            value=doc.get("value"),
            version=doc.get("version"),
            at=float(doc.get("at") or 0.0),
            extra=dict(doc.get("extra") or {}),
        )

    @property
    def label(self) -> str:
        """``name``, ``name@step`` or ``name:version`` for listings."""
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.step is not None:
            return f"{self.name}@{self.step}"
        return self.name
