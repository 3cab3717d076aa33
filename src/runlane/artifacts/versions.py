"""Versioned, content-addressed artifacts of a project: :class:`Artifact` (what a user
builds) and :class:`ArtifactVersion` (what logging it creates).

Layout under ``<project>/.artifacts/``::

    blobs/sha256/<aa>/<hash>        content-addressed file bytes (local storage)
    names/<name>/v0.json, v1.json   one document per version, written atomically
    names/<name>/aliases.json       {"latest": "v1", "best": "v0", ...}
    names/<name>/.lock              serializes version numbering and alias moves

Logging an artifact stores each file as a blob (identical bytes are stored once), then, under
the lock, either finds a version with the same content digest (and returns it: no new
version, no new bytes) or writes the next ``v<N>.json``. ``latest`` and the requested aliases
then move to that version. A version document is written only after all its blobs are stored,
so an interrupted upload leaves no visible version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlane.artifacts.aliases import drop_alias, move_alias, read_aliases
from runlane.artifacts.errors import ArtifactNotFoundError, SourceNotFoundError
from runlane.artifacts.fetch import download_files, storage_for
from runlane.artifacts.kinds import fedml_type_id, normalize_kind
from runlane.artifacts.paths import check_artifact_name, clean_rel_path
from runlane.artifacts.records import FileEntry
from runlane.artifacts.storage import BlobStorage
from runlane.errors import InvalidArgumentError
from runlane.names import check_key
from runlane.store.local.files import locked, read_json, write_json
from runlane.timeutil import now

_VERSION = re.compile(r"^v?(\d+)$")


class Artifact:
    """A named, typed set of files and folders to log as a new version::

        artifact = runlane.Artifact("mnist", "dataset").add_file("train.csv").add_dir("images")
        version = run.log_artifact(artifact, aliases=["best"])   # ArtifactVersion v0, v1, ...

    ``type`` is any artifact kind (Polyaxon's or FedML's: general, model, dataset, source code,
    log). A path that does not exist raises SourceNotFoundError at ``add_*``; with
    ``strict=False`` it is skipped silently, as FedML does. Folders are read when the artifact
    is logged, so files added to them meanwhile are included.
    """

    def __init__(
        self,
        name: str,
        type: str = "general",
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        strict: bool = True,
    ) -> None:
        self.name = check_artifact_name(name)
        self.type = normalize_kind(type)
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.strict = strict
        self._entries: list[tuple[str, Path, str | None]] = []  # (file|dir, source, path)

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, {self.type!r}, {len(self._entries)} entries)"

    # FedML's attribute names
    @property
    def artifact_name(self) -> str:
        return self.name

    @property
    def artifact_type_name(self) -> str:
        return self.type

    @property
    def artifact_type(self) -> int:
        return fedml_type_id(self.type)

    @property
    def artifact_files(self) -> list[str]:
        return [str(p) for kind, p, _ in self._entries if kind == "file"]

    @property
    def artifact_dirs(self) -> list[str]:
        return [str(p) for kind, p, _ in self._entries if kind == "dir"]

    @property
    def ext_info(self) -> dict[str, Any]:
        return self.metadata

    def set_ext_info(self, info: Mapping[str, Any]) -> Artifact:
        self.metadata.update(info)
        return self

    def _add(self, kind: str, path: str | os.PathLike[str], name: str | None) -> Artifact:
        source = Path(os.fspath(path)).expanduser()
        ok = source.is_file() if kind == "file" else source.is_dir()
        if not ok:
            if not self.strict:
                return self
            if source.exists():
                raise InvalidArgumentError(
                    f"add_{kind}({str(source)!r}): it is a {'folder' if kind == 'file' else 'file'}"
                    f"; use add_{'dir' if kind == 'file' else 'file'}"
                )
            raise SourceNotFoundError(str(source), f"artifact {kind}")
        inner = clean_rel_path(name, "path in artifact") if name is not None else None
        if name is not None and inner is None and kind == "file":
            raise InvalidArgumentError(f"add_file name {name!r} must name a file")
        self._entries.append((kind, source, inner if name is not None else source.name))
        return self

    def add_file(self, path: str | os.PathLike[str], name: str | None = None) -> Artifact:
        """Add a file, stored as ``name`` (default: its base name). Returns self."""
        return self._add("file", path, name)

    def add_dir(self, path: str | os.PathLike[str], name: str | None = None) -> Artifact:
        """Add a folder's files under ``name/`` (default: its base name; ``"."`` for the
        artifact's root). Returns self."""
        return self._add("dir", path, name)

    def collect(self) -> list[tuple[Path, str]]:
        """``(source file, path in artifact)`` of every file, walking folders now.
        InvalidArgumentError when two files would get the same path."""
        out: dict[str, Path] = {}
        for kind, source, inner in self._entries:
            pairs = (
                [(source, inner or source.name)]
                if kind == "file"
                else [(f, f"{inner}/{rel}" if inner else rel) for f, rel in walk_files(source)]
            )
            for src, rel in pairs:
                if rel in out and out[rel] != src:
                    raise InvalidArgumentError(
                        f"artifact {self.name!r}: {str(src)!r} and {str(out[rel])!r} would both "
                        f"be stored as {rel!r}; pass name= to add_file/add_dir"
                    )
                out[rel] = src
        return sorted(((src, rel) for rel, src in out.items()), key=lambda p: p[1])


def walk_files(folder: Path) -> list[tuple[Path, str]]:
    """Every file under ``folder`` as ``(path, relative posix path)``, sorted; symlinks are
    followed (a loop back into a folder already visited is skipped)."""
    out: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for current, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            if path.is_file():
                out.append((path, path.relative_to(folder).as_posix()))
    return out


@dataclass(frozen=True, slots=True)
class ArtifactVersion:
    """One version of a project artifact. ``download(dest)`` writes its files (verified),
    read from ``reader`` when set (a version fetched from a runlane server), else from the
    storage its ``storage`` field names."""

    name: str
    type: str
    version: str
    index: int
    digest: str
    size: int
    files: tuple[FileEntry, ...]
    storage: str | None
    endpoint_url: str | None
    run_id: str | None
    run: str | None
    created_at: float
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    artifacts_dir: Path | None = None
    reader: BlobStorage | None = field(default=None, compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "version": self.version,
            "index": self.index,
            "digest": self.digest,
            "size": self.size,
            "files": [f.to_dict() for f in self.files],
            "storage": self.storage,
            "endpoint_url": self.endpoint_url,
            "run_id": self.run_id,
            "run": self.run,
            "created_at": self.created_at,
            "description": self.description,
            "metadata": self.metadata,
            "aliases": list(self.aliases),
        }

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        aliases: Iterable[str] = (),
        artifacts_dir: Path | None = None,
    ) -> ArtifactVersion:
        return cls(
            name=str(doc["name"]),
            type=str(doc.get("type", "general")),
            version=str(doc["version"]),
            index=int(doc["index"]),
            digest=str(doc["digest"]),
            size=int(doc.get("size", 0)),
            files=tuple(FileEntry.from_dict(f) for f in doc.get("files") or ()),
            storage=doc.get("storage"),
            endpoint_url=doc.get("endpoint_url"),
            run_id=doc.get("run_id"),
            run=doc.get("run"),
            created_at=float(doc.get("created_at", 0.0)),
            description=doc.get("description"),
            metadata=dict(doc.get("metadata") or {}),
            aliases=tuple(sorted(aliases)),
            artifacts_dir=artifacts_dir,
        )

    def download(self, dest: str | os.PathLike[str] = ".") -> Path:
        """Write every file to ``dest/<path in artifact>``, each checked against its sha256
        (ChecksumMismatchError otherwise). Returns ``dest``."""
        target = Path(os.fspath(dest)).expanduser()
        store = self.reader or storage_for(
            self.storage, self.endpoint_url, run_dir=None, artifacts_dir=self.artifacts_dir
        )
        download_files(store, self.files, target)
        return target


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``name``, ``name:v3``, ``name:3``, ``name:alias`` or ``name@alias`` → ``(name, ref)``."""
    for sep in ("@", ":"):
        if sep in ref:
            name, _, version = ref.rpartition(sep)
            return name, version or None
    return ref, None


class VersionStore:
    """The versions and aliases of a project's artifacts (see the module docstring)."""

    def __init__(self, artifacts_dir: Path) -> None:
        self.root = artifacts_dir
        self.names_dir = artifacts_dir / "names"

    def _dir(self, name: str) -> Path:
        return self.names_dir / check_artifact_name(name)

    def names(self) -> list[str]:
        if not self.names_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.names_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def _aliases(self, folder: Path) -> dict[str, str]:
        return read_aliases(folder)

    def _docs(self, folder: Path) -> list[dict[str, Any]]:
        if not folder.is_dir():
            return []
        docs = []
        for path in folder.glob("v*.json"):
            doc = read_json(path, None)
            if isinstance(doc, dict) and "version" in doc:
                docs.append(doc)
        return sorted(docs, key=lambda d: int(d["index"]))

    def _version(self, doc: dict[str, Any], aliases: dict[str, str]) -> ArtifactVersion:
        mine = [a for a, v in aliases.items() if v == doc["version"]]
        return ArtifactVersion.from_dict(doc, aliases=mine, artifacts_dir=self.root)

    def versions(self, name: str) -> list[ArtifactVersion]:
        folder = self._dir(name)
        aliases = self._aliases(folder)
        return [self._version(d, aliases) for d in self._docs(folder)]

    def get(self, name: str, ref: str | int | None = None) -> ArtifactVersion:
        """Version ``ref`` (``v3``, ``3``, an alias; None → ``latest``) of ``name``.
        ArtifactNotFoundError lists the versions and aliases that exist."""
        folder = self._dir(name)
        aliases = self._aliases(folder)
        docs = {d["version"]: d for d in self._docs(folder)}
        if not docs:
            raise ArtifactNotFoundError(
                f"no artifact {name!r} in {self.root.parent}; known: "
                f"{', '.join(self.names()) or 'none'}"
            )
        wanted = "latest" if ref is None else str(ref)
        match = _VERSION.match(wanted)
        key = f"v{match.group(1)}" if match else aliases.get(wanted)
        if key is None or key not in docs:
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version or alias {wanted!r}; versions: "
                f"{', '.join(docs)}; aliases: {', '.join(sorted(aliases)) or 'none'}"
            )
        return self._version(docs[key], aliases)

    def create(
        self,
        name: str,
        *,
        type: str,
        files: list[FileEntry],
        digest: str,
        storage: str | None,
        endpoint_url: str | None,
        run_id: str | None,
        run: str | None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        aliases: Iterable[str] = (),
    ) -> tuple[ArtifactVersion, bool]:
        """Record a version of ``name`` whose blobs are already stored; returns
        ``(version, created)``. Same digest as an existing version → that version, not
        created. ``latest`` and ``aliases`` move to the returned version."""
        wanted = ["latest", *(check_key(a, "alias") for a in aliases)]
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder / ".lock"):
            docs = self._docs(folder)
            doc = next((d for d in docs if d["digest"] == digest), None)
            created = doc is None
            if doc is None:
                index = (max(int(d["index"]) for d in docs) + 1) if docs else 0
                doc = {
                    "name": name,
                    "type": type,
                    "version": f"v{index}",
                    "index": index,
                    "digest": digest,
                    "size": sum(f.size for f in files),
                    "files": [f.to_dict() for f in files],
                    "storage": storage,
                    "endpoint_url": endpoint_url,
                    "run_id": run_id,
                    "run": run,
                    "created_at": now(),
                    "description": description,
                    "metadata": dict(metadata or {}),
                }
                write_json(folder / f"v{index}.json", doc)
            current = self._aliases(folder)
            for alias in wanted:
                current[alias] = str(doc["version"])
            write_json(folder / "aliases.json", current)
            return self._version(doc, current), created

    def set_alias(self, name: str, alias: str, version: str | int) -> ArtifactVersion:
        """Point ``alias`` at ``version`` (moving it from another version)."""
        target = self.get(name, version)
        folder = self._dir(name)
        with locked(folder / ".lock"):
            move_alias(folder, alias, target.version)
        return self.get(name, target.version)

    def remove_alias(self, name: str, alias: str) -> None:
        folder = self._dir(name)
        with locked(folder / ".lock"):
            if not drop_alias(folder, alias):
                raise ArtifactNotFoundError(f"artifact {name!r} has no alias {alias!r}")
