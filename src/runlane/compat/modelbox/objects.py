"""ModelBox's models, model versions and checkpoints on any runlane Store: the one mapping the
local facade (:mod:`runlane.compat.modelbox.local`) and the gRPC service
(:mod:`runlane.server.grpc.modelbox_service`) share, so each reads what the other wrote.

* A **model** is a model of the registry of project ``<owner>/<namespace>``
  (``runlane.models("owner/namespace")``): id ``sha1(name + namespace)``, task kept as the tag
  ``task:<task>``, metadata in the registry's metadata. Creating it again returns it
  unchanged, with ``exists``.
* A **model version** is a registry version (``v0``, ``v1``...) whose label is ModelBox's
  version string; ModelBox's id ``sha1(model_id + version + name)`` and name are kept in its
  ``summary``. Creating the same id again returns it, with ``exists``.
* A **checkpoint** is a run checkpoint (what ``run.log_checkpoint`` writes: epoch + metrics in
  the run's ``checkpoints.jsonl``), id ``sha1(run_id + str(epoch))``. Creating an epoch again
  returns the first one, with ``exists``.
* Any id resolves to a :class:`Parent` (:meth:`ModelBoxObjects.resolve`): ids this mapping
  created or listed through the id index (:mod:`.index`), runs (experiments) through the
  store, and registry models and versions made with runlane's own API by a scan of the
  registries.

Metadata of models and versions are the registry's, merged by key; checkpoints keep none, and
metrics and events belong to experiments only: such calls raise InvalidArgumentError. Writes
are visible to every reader of the store on return; creating is serialized per model and per
run by file locks under the id index, so concurrent creates (threads, processes, replicas on
one filesystem) agree on ``exists``. Unknown ids raise NotFoundError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runlane import settings
from runlane.artifacts.home import ArtifactHome, data_root, home_of, project_dir
from runlane.artifacts.registry import (
    Checkpoint,
    ModelRegistry,
    ModelVersion,
    RegisteredModel,
    append_checkpoint,
    checkpoint_id,
    read_checkpoints,
)
from runlane.compat.modelbox.backend import (
    CheckpointRecord,
    ModelRecord,
    ModelVersionRecord,
    object_id,
)
from runlane.compat.modelbox.index import index_root, recall, remember
from runlane.errors import InvalidArgumentError, NotFoundError
from runlane.names import check_key, check_name
from runlane.store.base import Store
from runlane.store.local.files import locked

TASK_TAG = "task:"  # a ModelBox model's task is kept as the registry tag ``task:<task>``
EXPERIMENT = "experiment"
MODEL = "model"
VERSION = "model version"
CHECKPOINT = "checkpoint"
KINDS = (EXPERIMENT, MODEL, VERSION, CHECKPOINT)
_CACHE_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class Parent:
    """What a ModelBox id names. ``project`` is ModelBox's namespace; experiments and
    checkpoints carry their ``run_id``, models and versions the registry ``model`` name,
    versions the registry ``version`` (``v0``...), checkpoints their ``epoch``."""

    kind: str
    id: str
    owner: str
    project: str
    run_id: str | None = None
    model: str | None = None
    version: str | None = None
    epoch: int | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Parent:
        epoch = doc.get("epoch")
        return cls(
            kind=str(doc["kind"]),
            id=str(doc["id"]),
            owner=str(doc["owner"]),
            project=str(doc["project"]),
            run_id=doc.get("run_id"),
            model=doc.get("model"),
            version=doc.get("version"),
            epoch=None if epoch is None else int(epoch),
        )


def experiment_only(parent: Parent, what: str) -> None:
    """Raise InvalidArgumentError unless ``parent`` is an experiment (a run)."""
    if parent.kind != EXPERIMENT:
        raise InvalidArgumentError(
            f"{what} of a {parent.kind} ({parent.id}) are not kept by runlane's ModelBox "
            "mapping; log them on the experiment"
        )


def check_epoch(epoch: object) -> int:
    item = getattr(epoch, "item", None)
    value = item() if callable(item) and not isinstance(epoch, int) else epoch
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"checkpoint epoch {epoch!r} must be an int ≥ 0")
    return value


def check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in metrics.items():
        item = getattr(value, "item", None)
        number = item() if callable(item) and not isinstance(value, int | float) else value
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidArgumentError(f"checkpoint metric {key!r}={value!r} is not a number")
        values[str(key)] = float(number)
    return values


class ModelBoxObjects:
    """See the module docstring. Thread-safe; holds no state beyond a cache of resolved ids."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Parent] = {}

    @property
    def root(self) -> Path:
        """The store's data root (where registries, run folders and the id index live)."""
        return data_root(self.store)

    def registry(self, owner: str, namespace: str) -> ModelRegistry:
        return ModelRegistry(project_dir(self.store, owner, namespace), namespace)

    def _lock(self, *parts: str) -> Path:
        folder = index_root(self.root) / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{object_id(*parts)}.lock"

    def _keep(self, parent: Parent, index: bool = True) -> Parent:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[parent.id] = parent
        if index:
            remember(self.root, parent.id, asdict(parent))
        return parent

    # --- resolving ids ------------------------------------------------------------------
    def resolve(self, parent_id: str) -> Parent:
        """What ``parent_id`` names: an experiment (run), model, version or checkpoint.
        Raises NotFoundError."""
        hit = self._cache.get(parent_id)
        if hit is not None:
            return hit
        doc = recall(self.root, parent_id)
        if doc is not None and doc.get("kind") in KINDS:
            return self._keep(Parent.from_doc(doc), index=False)
        try:
            info = self.store.get_run(parent_id)
        except NotFoundError:
            found = self._scan(parent_id)
            if found is None:
                raise NotFoundError(
                    f"no ModelBox experiment, model, model version or checkpoint has id "
                    f"{parent_id!r}"
                ) from None
            return self._keep(found)
        return self._keep(
            Parent(EXPERIMENT, info.id, info.owner, info.project, run_id=info.id), index=False
        )

    def _scan(self, object_id_: str) -> Parent | None:
        """Models and versions registered with runlane's own API (never indexed)."""
        root = self.root
        for owner_dir in sorted(root.iterdir()) if root.is_dir() else []:
            if owner_dir.name.startswith("."):
                continue
            for folder in sorted(owner_dir.iterdir()) if owner_dir.is_dir() else []:
                if not (folder / ".models").is_dir():
                    continue
                registry = ModelRegistry(folder, folder.name)
                for model in registry.all():
                    where = Parent(MODEL, model.id, owner_dir.name, folder.name, model=model.name)
                    if model.id == object_id_:
                        return where
                    for found in registry.versions(model.name):
                        if _version_id(model.id, found) == object_id_:
                            return Parent(
                                VERSION,
                                object_id_,
                                where.owner,
                                where.project,
                                model=model.name,
                                version=found.version,
                            )
        return None

    # --- models -------------------------------------------------------------------------
    def create_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        metadata: Mapping[str, Any],
    ) -> ModelRecord:
        """Create (or get) the model ``sha1(name + namespace)`` in ``<owner>/<namespace>``."""
        who = check_name(owner or settings.default_owner(), "owner")
        registry = self.registry(who, check_name(namespace, "namespace"))
        exists = name in registry.names()
        model = registry.create(
            name,
            description=description or None,
            tags=[TASK_TAG + task] if task else (),
            metadata=metadata,
        )
        return self.model_record(who, namespace, model, exists)

    def model_record(
        self, owner: str, namespace: str, model: RegisteredModel, exists: bool = False
    ) -> ModelRecord:
        self._keep(Parent(MODEL, model.id, owner, namespace, model=model.name))
        task = next((t[len(TASK_TAG) :] for t in model.tags if t.startswith(TASK_TAG)), "")
        return ModelRecord(
            id=model.id,
            name=model.name,
            owner=owner,
            namespace=namespace,
            task=task,
            description=model.description or "",
            exists=exists,
            created_at=model.created_at,
            updated_at=model.updated_at,
        )

    def list_models(
        self, namespace: str, allow: Callable[[str, str], bool] | None = None
    ) -> list[ModelRecord]:
        """The models of project ``namespace`` under every owner (``allow(owner, namespace)``
        may leave owners out), by owner then name."""
        check_name(namespace, "namespace")
        root = self.root
        out: list[ModelRecord] = []
        for owner_dir in sorted(root.iterdir()) if root.is_dir() else []:
            owner = owner_dir.name
            if owner.startswith(".") or not (owner_dir / namespace / ".models").is_dir():
                continue
            if allow is not None and not allow(owner, namespace):
                continue
            registry = self.registry(owner, namespace)
            out.extend(self.model_record(owner, namespace, m) for m in registry.all())
        return out

    def model(self, model_id: str) -> Parent:
        """The model ``model_id``; NotFoundError, or InvalidArgumentError for another kind."""
        parent = self.resolve(model_id)
        if parent.kind != MODEL:
            raise InvalidArgumentError(f"{model_id!r} is a ModelBox {parent.kind}, not a model")
        return parent

    # --- versions -----------------------------------------------------------------------
    def create_model_version(
        self,
        model_id: str,
        version: str,
        name: str,
        description: str,
        framework: str,
        unique_tags: list[str],
        metadata: Mapping[str, Any],
    ) -> ModelVersionRecord:
        """Create (or get) the version ``sha1(model_id + version + name)`` of a model."""
        model = self.model(model_id)
        assert model.model is not None
        registry = self.registry(model.owner, model.project)
        version_id = object_id(model_id, version, name)
        with locked(self._lock(model.id)):
            for existing in registry.versions(model.model):
                if (existing.summary or {}).get("id") == version_id:
                    return self.version_record(model, existing, exists=True)
            created = registry.register(
                model.model,
                files=[],
                path=None,
                is_dir=False,
                sha256=None,
                storage=None,
                endpoint_url=None,
                run_id=None,
                run=None,
                run_dir=None,
                framework=framework,
                summary={"id": version_id, "name": name},
                description=description or None,
                label=version,
                tags=unique_tags,
                metadata=metadata,
            )
        return self.version_record(model, created)

    def version_record(
        self, model: Parent, found: ModelVersion, exists: bool = False
    ) -> ModelVersionRecord:
        version_id = _version_id(model.id, found)
        self._keep(
            Parent(
                VERSION,
                version_id,
                model.owner,
                model.project,
                model=model.model,
                version=found.version,
            )
        )
        return ModelVersionRecord(
            id=version_id,
            model_id=model.id,
            name=str((found.summary or {}).get("name", "")),
            version=found.label or found.version,
            description=found.description or "",
            framework=found.framework or "unknown",
            unique_tags=found.tags,
            exists=exists,
            created_at=found.created_at,
            metadata=dict(found.metadata),
        )

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]:
        """The versions of a model, oldest first."""
        model = self.model(model_id)
        assert model.model is not None
        registry = self.registry(model.owner, model.project)
        return [self.version_record(model, v) for v in registry.versions(model.model)]

    # --- checkpoints --------------------------------------------------------------------
    def create_checkpoint(
        self, experiment_id: str, epoch: object, metrics: Mapping[str, Any]
    ) -> CheckpointRecord:
        """Create (or get) the checkpoint of ``epoch`` of an experiment. Raises
        NotFoundError for an unknown experiment, InvalidArgumentError for a bad epoch or a
        metric that is not a number."""
        at_epoch = check_epoch(epoch)
        values = check_metrics(metrics)
        home = home_of(self.store, experiment_id)
        with locked(self._lock(home.run_id)):
            for existing in read_checkpoints(home.run_dir):
                if existing.epoch == at_epoch:
                    return self.checkpoint_record(home, existing, exists=True)
            created = Checkpoint(
                checkpoint_id(home.run_id, at_epoch), home.run_id, at_epoch, values, time.time()
            )
            append_checkpoint(home.run_dir, created)
        return self.checkpoint_record(home, created)

    def checkpoint_record(
        self, home: ArtifactHome, found: Checkpoint, exists: bool = False
    ) -> CheckpointRecord:
        self._keep(
            Parent(
                CHECKPOINT,
                found.id,
                home.owner,
                home.project,
                run_id=found.run_id,
                epoch=found.epoch,
            )
        )
        return CheckpointRecord(
            id=found.id,
            experiment_id=found.run_id,
            epoch=found.epoch,
            metrics=dict(found.metrics),
            exists=exists,
            created_at=found.created_at,
        )

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]:
        """The experiment's checkpoints by epoch. NotFoundError for an unknown experiment."""
        home = home_of(self.store, experiment_id)
        return [self.checkpoint_record(home, c) for c in read_checkpoints(home.run_dir)]

    def get_checkpoint(self, experiment_id: str, epoch: object) -> CheckpointRecord:
        """The checkpoint of ``epoch``; NotFoundError listing the epochs that exist."""
        at_epoch = check_epoch(epoch)
        found = self.list_checkpoints(experiment_id)
        for record in found:
            if record.epoch == at_epoch:
                return record
        epochs = ", ".join(str(r.epoch) for r in found) or "none"
        raise NotFoundError(
            f"experiment {experiment_id} has no checkpoint at epoch {at_epoch}; epochs: {epochs}"
        )

    # --- metadata of models and versions ------------------------------------------------
    def update_metadata(self, parent: Parent, values: Mapping[str, Any]) -> float:
        """Upsert keys of a model's or version's metadata (in one write); returns its time.
        InvalidArgumentError for other kinds (an experiment's are its run's documents) and
        for a bad key."""
        registry = self.registry(parent.owner, parent.project)
        model, version = _registry_names(parent)
        checked = {check_key(k, "metadata key"): v for k, v in values.items()}
        if version is None:
            registry.update(model, metadata=checked)
        else:
            registry.update_version(model, version, metadata=checked)
        return time.time()

    def list_metadata(self, parent: Parent) -> dict[str, Any]:
        """A model's or version's metadata (InvalidArgumentError for other kinds)."""
        registry = self.registry(parent.owner, parent.project)
        model, version = _registry_names(parent)
        if version is None:
            return dict(registry.get(model).metadata)
        return dict(registry.version(model, version).metadata)


def _registry_names(parent: Parent) -> tuple[str, str | None]:
    """``(model, version or None)`` of a model or version; InvalidArgumentError otherwise."""
    if parent.kind == MODEL and parent.model is not None:
        return parent.model, None
    if parent.kind == VERSION and parent.model is not None and parent.version is not None:
        return parent.model, parent.version
    if parent.kind == EXPERIMENT:
        raise InvalidArgumentError(
            f"the metadata of experiment {parent.id} are its run's metadata documents"
        )
    experiment_only(parent, "metadata")
    raise AssertionError("unreachable")


def _version_id(model_id: str, found: ModelVersion) -> str:
    """ModelBox's id of a registry version: the one kept in its summary, else derived from
    its label as a version with no name."""
    kept = (found.summary or {}).get("id")
    return str(kept) if kept else object_id(model_id, found.label or found.version, "")
