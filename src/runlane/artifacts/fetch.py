"""Reading stored artifact bytes back: pick the storage a record names, and download its
files into a folder, each verified against its sha256."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runlane.artifacts.local import LocalStorage
from runlane.artifacts.paths import check_artifact_name
from runlane.artifacts.records import PROJECT_BLOBS, FileEntry
from runlane.artifacts.storage import BlobStorage, Progress, open_storage
from runlane.names import check_path


def storage_for(
    storage: str | None,
    endpoint_url: str | None,
    *,
    run_dir: Path | None,
    artifacts_dir: Path | None,
) -> BlobStorage:
    """The storage of a record: None → the run folder, ``"project"`` → the project's
    ``.artifacts`` folder, anything else → :func:`open_storage` of that URI."""
    if storage is None:
        if run_dir is None:
            raise ValueError("a run-folder record needs its run folder")
        return LocalStorage(run_dir)
    if storage == PROJECT_BLOBS:
        if artifacts_dir is None:
            raise ValueError("a project-blob record needs its project folder")
        return open_storage(artifacts_dir)
    return open_storage(storage, endpoint_url=endpoint_url)


def download_files(
    store: BlobStorage, files: Sequence[FileEntry], dest: Path, progress: Progress | None = None
) -> list[Path]:
    """Write each file to ``dest / file.path`` (verified); returns the written paths.

    Raises ChecksumMismatchError (nothing half-written stays) or ArtifactNotFoundError.
    """
    out = []
    for entry in files:
        target = dest / check_path(entry.path, "file path in artifact")
        store.get_file(entry.key, target, sha256=entry.sha256, progress=progress)
        out.append(target)
    return out


def download_dest(dest: str | Path | None, top: str, is_dir: bool) -> Path:
    """Where a download of ``top`` lands: ``dest/top`` (file or folder)."""
    base = Path(dest if dest is not None else ".").expanduser()
    return base / check_artifact_name(top, "downloaded name") if is_dir else base
