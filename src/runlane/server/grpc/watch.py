"""``WatchNamespace``: the changes of one ModelBox namespace, found by polling the store.

A :class:`NamespaceWatch` keeps a snapshot of what a namespace holds — experiments (runs of
project ``namespace`` under every owner the caller may read), their metadata documents and
checkpoints, the registry models and versions of ``<owner>/<namespace>`` and their metadata —
and :meth:`NamespaceWatch.poll` returns what appeared or changed since the previous poll as
``(event, payload)`` pairs, oldest kind first: ``OBJECT_CREATED`` for a new experiment, model,
model version, checkpoint or metadata key, ``OBJECT_UPDATED`` for a metadata key whose value
changed. The payload is a JSON object whose ``type`` is ``experiment``, ``model``,
``model_version``, ``checkpoint`` or ``metadata``.

Polling the store, rather than a journal of this process, is what lets any replica serve a
watch of changes made through another replica, the REST API or the SDK. The first poll takes
the snapshot and reports only what was created (or, for metadata, written) at or after
``since`` (epoch seconds).

Cost of one poll: a run listing, one metadata read per run, and a ``stat`` of each run's
checkpoint file and of each registry document of the namespace (documents are read again only
when they changed). On a ServerStore the poll first pulls the namespace's artifact records
(:meth:`~runlane.store.server.mirror.ArtifactMirror.pull_project`: two queries when nothing
changed), so it sees what every replica wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from runlane.artifacts.home import home_of
from runlane.artifacts.registry import read_checkpoints
from runlane.compat.modelbox.objects import MODEL, ModelBoxObjects, Parent
from runlane.entities import RunInfo
from runlane.errors import NotFoundError
from runlane.server.grpc.convert import unwrap

CREATED = "OBJECT_CREATED"
UPDATED = "OBJECT_UPDATED"
Change = tuple[str, dict[str, Any]]
_MISSING = object()


def _fingerprint(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


class NamespaceWatch:
    """See the module docstring. ``allow(owner, namespace)`` says which owners the caller
    may read. Not thread-safe: one watch per stream."""

    def __init__(
        self,
        objects: ModelBoxObjects,
        namespace: str,
        allow: Callable[[str, str], bool],
        since: float,
    ) -> None:
        self.objects = objects
        self.store = objects.store
        self.namespace = namespace
        self.allow = allow
        self.since = since
        self._seen: dict[tuple[str, ...], Any] = {}
        self._stats: dict[Path, tuple[int, int]] = {}
        self._run_dirs: dict[str, Path] = {}
        self._first = True

    def poll(self) -> list[Change]:
        """What changed since the previous poll (see the module docstring)."""
        mirror = getattr(self.store, "mirror", None)
        if mirror is not None:  # a ServerStore: bring the namespace's records here first
            mirror.pull_project(self.namespace)
        out: list[Change] = []
        self._runs(out)
        self._models(out)
        if self._first:
            self._first = False
            return [c for c in out if float(c[1].get("at") or 0.0) >= self.since]
        return out

    # --- bookkeeping --------------------------------------------------------------------
    def _new(self, key: tuple[str, ...]) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = True
        return True

    def _metadata(self, out: list[Change], parent_id: str, key: str, value: Any, at: float) -> None:
        slot = ("metadata", parent_id, key)
        mark = _fingerprint(value)
        before = self._seen.get(slot, _MISSING)
        if before == mark:
            return
        self._seen[slot] = mark
        payload = {"type": "metadata", "parent_id": parent_id, "key": key, "value": value}
        out.append((CREATED if before is _MISSING else UPDATED, {**payload, "at": at}))

    def _changed(self, path: Path) -> bool:
        """Whether ``path`` changed since the last look (a missing file never has)."""
        try:
            info = path.stat()
        except FileNotFoundError:
            return False
        mark = (info.st_size, info.st_mtime_ns)
        if self._stats.get(path) == mark:
            return False
        self._stats[path] = mark
        return True

    # --- experiments, their metadata and checkpoints ------------------------------------
    def _runs(self, out: list[Change]) -> None:
        for info in self.store.list_runs(project=self.namespace):
            if not self.allow(info.owner, info.project):
                continue
            if self._new(("experiment", info.id)):
                out.append(
                    (
                        CREATED,
                        {
                            "type": "experiment",
                            "id": info.id,
                            "name": info.name,
                            "owner": info.owner,
                            "namespace": info.project,
                            "at": info.created_at,
                        },
                    )
                )
            try:
                documents = self.store.read_metadata(info.id)
                self._checkpoints(out, info)
            except NotFoundError:  # deleted while we looked
                continue
            for key, (value, at) in documents.items():
                self._metadata(out, info.id, key, unwrap(value), at)

    def _checkpoints(self, out: list[Change], info: RunInfo) -> None:
        run_dir = self._run_dirs.get(info.id)
        if run_dir is None:
            run_dir = self._run_dirs[info.id] = home_of(self.store, info.id).run_dir
        if not self._changed(run_dir / "checkpoints.jsonl"):
            return
        for found in read_checkpoints(run_dir):
            if self._new(("checkpoint", found.id)):
                payload = {
                    "type": "checkpoint",
                    "id": found.id,
                    "experiment_id": found.run_id,
                    "epoch": found.epoch,
                    "metrics": found.metrics,
                    "at": found.created_at,
                }
                out.append((CREATED, payload))

    # --- models, versions and their metadata --------------------------------------------
    def _models(self, out: list[Change]) -> None:
        root = self.objects.root
        for owner_dir in sorted(root.iterdir()) if root.is_dir() else []:
            owner = owner_dir.name
            models = owner_dir / self.namespace / ".models"
            if owner.startswith(".") or not models.is_dir():
                continue
            if not self.allow(owner, self.namespace):
                continue
            for folder in sorted(models.iterdir()):
                changed = self._changed(folder / "model.json")
                versions = folder / "versions"
                for path in sorted(versions.glob("v*.json")) if versions.is_dir() else []:
                    changed = self._changed(path) or changed
                if changed:
                    self._model(out, owner, folder.name)

    def _model(self, out: list[Change], owner: str, name: str) -> None:
        registry = self.objects.registry(owner, self.namespace)
        try:
            model = registry.get(name)
        except NotFoundError:  # a folder being created
            return
        record = self.objects.model_record(owner, self.namespace, model)
        if self._new(("model", record.id)):
            payload = {
                "type": "model",
                "id": record.id,
                "name": record.name,
                "owner": owner,
                "namespace": self.namespace,
                "task": record.task,
                "at": record.created_at,
            }
            out.append((CREATED, payload))
        for key, value in model.metadata.items():
            self._metadata(out, record.id, key, value, model.updated_at)
        parent = Parent(MODEL, record.id, owner, self.namespace, model=model.name)
        for found in registry.versions(model.name):
            version = self.objects.version_record(parent, found)
            if self._new(("model_version", version.id)):
                payload = {
                    "type": "model_version",
                    "id": version.id,
                    "model_id": record.id,
                    "name": version.name,
                    "version": version.version,
                    "at": version.created_at,
                }
                out.append((CREATED, payload))
            for key, value in version.metadata.items():
                self._metadata(out, version.id, key, value, model.updated_at)
