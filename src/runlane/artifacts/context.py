"""Per-run state of the artifact layer: the run's folders, the storage its bytes go to, and
how lineage records reach the run's store.

By default a run's files are copied into its folder (Polyaxon's layout) and versioned
artifacts into the project's ``.artifacts/blobs``. With an artifact storage URI
(``run.use_artifact_storage("s3://bucket/prefix")`` or ``RUNLANE_ARTIFACTS``) every file
goes content-addressed to that storage instead; the run folder keeps the records.

A run whose store is a runlane server (``RemoteStore``) gets a context with ``server`` set:
every write in :mod:`runlane.artifacts.writes` then goes through the server's REST API
(:mod:`runlane.artifacts.remote`), which runs this same code on its side.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runlane.artifacts.home import ArtifactHome, home_of
from runlane.artifacts.local import LocalStorage
from runlane.artifacts.records import PROJECT_BLOBS
from runlane.artifacts.storage import BlobStorage, open_storage
from runlane.entities import LineageRecord

if TYPE_CHECKING:
    from runlane.artifacts.remote.run import RemoteArtifacts
    from runlane.store.base import Store


def storage_from_env() -> BlobStorage | None:
    """The storage named by ``RUNLANE_ARTIFACTS`` (``s3://...`` or a folder), if set."""
    uri = os.environ.get("RUNLANE_ARTIFACTS")
    return open_storage(uri) if uri else None


@dataclass
class ArtifactContext:
    """What one run needs to store artifacts. ``remote`` None means: run folder + project
    blobs; otherwise every file goes content-addressed to ``remote``. ``server`` set means:
    a runlane server stores everything (``home`` is then only a local staging folder)."""

    home: ArtifactHome
    emit: Callable[[LineageRecord], None]
    remote: BlobStorage | None = None
    server: RemoteArtifacts | None = None
    _run_storage: LocalStorage | None = None
    _project_storage: BlobStorage | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def run_dir(self) -> Path:
        return self.home.run_dir

    @property
    def run_storage(self) -> LocalStorage:
        """The run folder as a storage (path-addressed)."""
        if self._run_storage is None:
            self._run_storage = LocalStorage(self.home.run_dir)
        return self._run_storage

    @property
    def blob_storage(self) -> BlobStorage:
        """Where content-addressed blobs go: ``remote``, else the project's ``.artifacts``."""
        if self.remote is not None:
            return self.remote
        if self._project_storage is None:
            self._project_storage = open_storage(self.home.artifacts_dir)
        return self._project_storage

    @property
    def blob_tag(self) -> str:
        """The ``storage`` field of records whose files are blobs."""
        return self.remote.uri if self.remote is not None else PROJECT_BLOBS

    @property
    def endpoint_url(self) -> str | None:
        return self.remote.endpoint_url if self.remote is not None else None

    def sync(self) -> None:
        """fsync what this run stored locally (called at ``finish``); with a server, upload
        what was written into the staging ``outputs/`` folder and not logged."""
        if self.server is not None:
            self.server.sync()
        for storage in (self._run_storage, self._project_storage, self.remote):
            if storage is not None:
                storage.sync()


def make_context(
    store: Store,
    run_id: str,
    emit: Callable[[LineageRecord], None],
    remote: BlobStorage | None = None,
) -> ArtifactContext:
    return ArtifactContext(
        home_of(store, run_id), emit, remote if remote is not None else storage_from_env()
    )
