"""Where a run's and a project's artifact files live on this machine.

* A store with run folders (``LocalStore``): the run folder (``store.run_path``) holds
  ``outputs/``, ``assets/``, ``events/<kind>/``, ``artifacts.jsonl`` and ``checkpoints.jsonl``;
  the project folder ``<root>/<owner>/<project>/`` holds ``.artifacts/`` (versioned artifacts
  and their content-addressed blobs) and ``.models/`` (the model registry).
* A store without folders (``MemoryStore``, used by tests and ``RUNLANE_MODE=disabled``):
  the same layout under a temporary folder of this process, removed at exit.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runlane.store.base import Store

_scratch: Path | None = None
_lock = threading.Lock()


def _scratch_root() -> Path:
    global _scratch
    with _lock:
        if _scratch is None:
            _scratch = Path(tempfile.mkdtemp(prefix="runlane-artifacts-"))
            atexit.register(shutil.rmtree, _scratch, True)
        return _scratch


def data_root(store: Store) -> Path:
    """The folder under which projects keep ``.artifacts``/``.models`` for ``store``."""
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        return root
    return _scratch_root() / re.sub(r"[^A-Za-z0-9_.-]+", "_", store.uri)


def project_dir(store: Store, owner: str, project: str) -> Path:
    """``<data root>/<owner>/<project>``. A store whose records live elsewhere (a
    ServerStore: PostgreSQL) brings them into that folder first (``touch_artifacts``)."""
    touch = getattr(store, "touch_artifacts", None)
    if touch is not None:
        touch(owner, project)
    return data_root(store) / owner / project


@dataclass(frozen=True, slots=True)
class ArtifactHome:
    """The folders of one run: ``run_dir`` and its project's ``project_dir``."""

    run_id: str
    owner: str
    project: str
    prefix: str
    run_dir: Path
    project_dir: Path

    @property
    def manifest(self) -> Path:
        return self.run_dir / "artifacts.jsonl"

    @property
    def artifacts_dir(self) -> Path:
        return self.project_dir / ".artifacts"

    @property
    def models_dir(self) -> Path:
        return self.project_dir / ".models"


def home_of(store: Store, run_id: str) -> ArtifactHome:
    """The run's folders. Raises NotFoundError for an unknown run."""
    info = store.get_run(run_id)
    path = store.run_path(run_id)
    proj = project_dir(store, info.owner, info.project)
    run_dir = Path(path) if path else proj / ".runs" / run_id
    return ArtifactHome(run_id, info.owner, info.project, info.prefix, run_dir, proj)
