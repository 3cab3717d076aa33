"""Reading a run's artifacts back: ``run.artifacts`` (a list with ``get``/``download``) and
:class:`Asset` (one versioned asset or value at one step, decoded on demand)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from runlane.artifacts import assets as enc
from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.fetch import download_dest, download_files, storage_for
from runlane.artifacts.home import ArtifactHome
from runlane.artifacts.manifest import find_record, read_records
from runlane.artifacts.records import ArtifactRecord
from runlane.artifacts.registry import ModelRegistry
from runlane.artifacts.storage import BlobStorage, Progress
from runlane.artifacts.versions import VersionStore

_VERSIONED = ("version", "model")


class RunArtifacts(Sequence[ArtifactRecord]):
    """The artifacts a run logged, in log order (a read-only list of ArtifactRecord)."""

    def __init__(self, home: ArtifactHome) -> None:
        self.home = home
        self._records = read_records(home.manifest)

    @overload
    def __getitem__(self, index: int) -> ArtifactRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ArtifactRecord]: ...

    def __getitem__(self, index: int | slice) -> ArtifactRecord | Sequence[ArtifactRecord]:
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ArtifactRecord]:
        return iter(self._records)

    def __repr__(self) -> str:
        return f"<RunArtifacts of {self.home.prefix}: {len(self._records)} records>"

    def names(self) -> list[str]:
        """Distinct names, in first-logged order."""
        return list(dict.fromkeys(r.name for r in self._records))

    def list(self, kind: str | None = None, mode: str | None = None) -> list[ArtifactRecord]:
        return [
            r
            for r in self._records
            if (kind is None or r.kind == kind) and (mode is None or r.mode == mode)
        ]

    def _version_of(self, name: str, version: str | int) -> str:
        """``v3``/``3`` as is; an alias (``latest``, ``production``) through the project's
        artifact versions or model registry."""
        text = str(version)
        if text.isdigit() or (text.startswith("v") and text[1:].isdigit()):
            return text if text.startswith("v") else f"v{text}"
        kinds = {r.mode for r in self._records if r.name == name}
        if "model" in kinds:
            return ModelRegistry(self.home.project_dir).version(name, text).version
        return VersionStore(self.home.artifacts_dir).get(name, text).version

    def get(
        self,
        name: str,
        *,
        version: str | int | None = None,
        step: int | None = None,
        kind: str | None = None,
    ) -> ArtifactRecord:
        """The record of ``name`` at ``step`` or ``version`` (default: the last logged).
        ArtifactNotFoundError names what exists instead."""
        wanted = None if version is None else self._version_of(name, version)
        return find_record(
            self._records,
            name,
            step=step,
            version=wanted,
            kind=kind,
            where=f"run {self.home.prefix}",
        )

    def storage_of(self, record: ArtifactRecord) -> BlobStorage:
        return storage_for(
            record.storage,
            record.endpoint_url,
            run_dir=self.home.run_dir,
            artifacts_dir=self.home.artifacts_dir,
        )

    def download(
        self,
        name: str,
        version: str | int | None = None,
        step: int | None = None,
        dest: str | os.PathLike[str] = ".",
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Write the artifact ``name`` (at ``version`` or ``step``; default the last logged)
        into the folder ``dest``. A file lands as ``dest/<file name>``, a folder or a version
        as ``dest/<name>/...``. Every file is checked against its sha256
        (ChecksumMismatchError, nothing half-written left). Returns the written path."""
        record = self.get(name, version=version, step=step)
        if not record.files:
            raise ArtifactNotFoundError(
                f"artifact {record.label!r} is a {record.kind} value with no file; read it "
                f"with run.asset({name!r}, step={record.step})"
            )
        top = record.name if record.mode == "version" else Path(record.path or record.name).name
        target = download_dest(os.fspath(dest), top, record.is_dir)
        storage = self.storage_of(record)
        if record.is_dir:
            download_files(storage, record.files, target, progress)
            return target
        entry = record.files[0]
        storage.get_file(entry.key, target / top, sha256=entry.sha256, progress=progress)
        return target / top


@dataclass(frozen=True)
class Asset:
    """One versioned asset or value at one step. ``value`` is what the event file holds
    (for files: ``{"path", ...}``); the methods decode the stored bytes."""

    record: ArtifactRecord
    artifacts: RunArtifacts

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def step(self) -> int | None:
        return self.record.step

    @property
    def timestamp(self) -> float:
        return self.record.at

    @property
    def value(self) -> Any:
        return self.record.value

    def read_bytes(self) -> bytes:
        """The stored file's bytes, checked against its sha256 (small assets only)."""
        if not self.record.files:
            raise ArtifactNotFoundError(f"asset {self.record.label!r} has no file")
        entry = self.record.files[0]
        with self.artifacts.storage_of(self.record).open(entry.key) as fh:
            data = fh.read()
        from runlane.artifacts.errors import ChecksumMismatchError
        from runlane.artifacts.transfer import hash_bytes

        if hash_bytes(data) != entry.sha256:
            raise ChecksumMismatchError(
                f"asset {self.record.label!r} ({entry.key}) does not match its sha256"
            )
        return data

    def text(self) -> str:
        """Text and HTML values; other assets' bytes decoded as UTF-8."""
        if self.record.mode == "event" and isinstance(self.value, str):
            return self.value
        return self.read_bytes().decode("utf-8")

    def image(self) -> np.ndarray[Any, Any]:
        """``(H, W, C)`` uint8 pixels of an image asset."""
        return enc.decode_image(self.read_bytes())

    def audio(self) -> tuple[np.ndarray[Any, Any], int]:
        """``(samples (n, channels) float32, sample_rate)`` of an audio asset."""
        return enc.decode_audio(self.read_bytes())

    def dataframe(self) -> Any:
        """The pandas DataFrame of a dataframe asset."""
        content_type = (self.value or {}).get("content_type", "csv")
        return enc.decode_dataframe(self.read_bytes(), str(content_type))

    def curve(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], Any]:
        """``(x, y, annotation)`` of a curve value."""
        value = self.value or {}
        return np.asarray(value["x"]), np.asarray(value["y"]), value.get("annotation")

    def histogram(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(values (bin edges), counts)`` of a histogram value."""
        value = self.value or {}
        return np.asarray(value["values"]), np.asarray(value["counts"])

    def download(self, dest: str | os.PathLike[str] = ".") -> Path:
        return self.artifacts.download(self.name, step=self.step, dest=dest)


def assets_of(artifacts: RunArtifacts, name: str, kind: str | None = None) -> list[Asset]:
    """Every step of the asset ``name``, by step (unstepped ones first; a re-logged step
    keeps its last value)."""
    by_step: dict[int | None, ArtifactRecord] = {}
    for record in artifacts:
        if (
            record.name == name
            and record.mode in ("asset", "event", "model")
            and (kind is None or record.kind == kind)
            and (record.mode != "model" or record.value)
        ):
            by_step[record.step] = record
    if not by_step:
        find_record(list(artifacts), name, kind=kind, where=f"run {artifacts.home.prefix}")
        raise ArtifactNotFoundError(
            f"{name!r} in run {artifacts.home.prefix} is not an asset logged at a step"
        )
    order = sorted(by_step, key=lambda s: -1 if s is None else s)
    return [Asset(by_step[s], artifacts) for s in order]
