"""The ModelBox backend on the local runlane store.

An experiment is a runlane run: id ``sha1(name + namespace)``, project
``<owner>/<namespace>``, run name ``name``, framework ``pytorch``/``tensorflow``/``unknown``,
``extra.external_id``. Its metadata are the run's metadata documents (a value that is not a
dict is kept as ``{"$json": value}``), its metrics rows of the run's default stream (the
ModelBox step is the row's step, the wallclock its ``_ts``), its events the run's events.
``list_experiments(namespace)`` lists every run of project ``namespace``, whatever its owner.

A model is a model of the runlane registry of project ``<owner>/<namespace>`` (id
``sha1(name + namespace)``, task kept as the tag ``task:<task>``, metadata in the registry's
metadata); a model version is a registry version without files whose label is ModelBox's
version string (ModelBox's id and name in its ``summary``); a checkpoint is a run checkpoint
(``run.log_checkpoint``). Metrics and events are kept for experiments only: on the other
objects they raise InvalidArgumentError, and checkpoints keep no metadata.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import runlane
from runlane import settings
from runlane.artifacts.home import data_root, project_dir
from runlane.artifacts.registry import Checkpoint, ModelRegistry, ModelVersion, RegisteredModel
from runlane.compat.modelbox.backend import (
    CheckpointRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
    object_id,
)
from runlane.compat.modelbox.types import Event, EventSource, MetricValue
from runlane.entities import RunInfo
from runlane.errors import InvalidArgumentError, NotFoundError
from runlane.names import check_name
from runlane.sdk.run import Run
from runlane.sdk.view import RunView
from runlane.store.base import Store
from runlane.store.registry import open_store

#: runlane metadata documents are dicts; ModelBox values may be any JSON, kept under this key.
WRAPPED = "$json"


def _unwrap(doc: Any) -> Any:
    if isinstance(doc, dict) and len(doc) == 1 and WRAPPED in doc:
        return doc[WRAPPED]
    return doc


TASK_TAG = "task:"  # a ModelBox model's task is kept as the registry tag ``task:<task>``


@dataclass(frozen=True, slots=True)
class _ModelRef:
    registry: ModelRegistry
    name: str


@dataclass(frozen=True, slots=True)
class _VersionRef:
    registry: ModelRegistry
    model: str
    version: str  # the registry's v0, v1, ...


@dataclass(frozen=True, slots=True)
class _CheckpointRef:
    run_id: str
    epoch: int


def _number(value: float) -> int | float:
    """Wallclocks given as whole seconds read back as ints, as ModelBox returns them."""
    return int(value) if float(value).is_integer() else value


class LocalBackend:
    """See the module docstring. ``dir`` is the store root (default: ``RUNLANE_DIR``)."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self._store: Store = open_store(dir if dir is not None else settings.default_store_uri())
        self._runs: dict[str, Run] = {}
        self._objects: dict[str, _ModelRef | _VersionRef | _CheckpointRef] = {}

    # --- parents ------------------------------------------------------------------------
    def _live(self, parent_id: str) -> Run:
        run = self._runs.get(parent_id)
        if run is None or run.finished:
            info = self._store.get_run(parent_id)
            run = runlane.init(
                f"{info.owner}/{info.project}",
                id=parent_id,
                store=self._store,
                capture_git=False,
                capture_env=False,
                capture_stdio=False,
                system_metrics=False,
            )
            self._runs[parent_id] = run
        return run

    def _view(self, parent_id: str) -> RunView:
        run = self._runs.get(parent_id)
        if run is not None and not run.finished:
            return run
        return RunView(self._store, self._store.resolve_run(parent_id))

    # --- experiments --------------------------------------------------------------------
    def create_experiment(
        self, name: str, owner: str, namespace: str, external_id: str, framework: str
    ) -> ExperimentRecord:
        run = runlane.init(
            f"{owner}/{namespace}" if owner else namespace,
            name=name,
            id=object_id(name, namespace),
            framework=framework,
            store=self._store,
        )
        if not run.existed and external_id:
            run.set_extra(external_id=external_id)
        self._runs[run.id] = run
        return self._record(run.info, exists=run.existed)

    def _record(self, info: RunInfo, exists: bool = False) -> ExperimentRecord:
        return ExperimentRecord(
            id=info.id,
            name=info.name,
            owner=info.owner,
            namespace=info.project,
            external_id=str(info.external_id or info.extra.get("external_id") or ""),
            framework=info.framework or "unknown",
            created_at=info.created_at,
            updated_at=info.updated_at,
            exists=exists,
        )

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        return self._record(self._view(experiment_id).info)

    def list_experiments(self, namespace: str) -> list[ExperimentRecord]:
        return [self._record(info) for info in self._store.list_runs(project=namespace)]

    # --- models, versions, checkpoints --------------------------------------------------
    def create_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        metadata: Mapping[str, Any],
    ) -> ModelRecord:
        folder = project_dir(
            self._store,
            check_name(owner or settings.default_owner(), "owner"),
            check_name(namespace, "namespace"),
        )
        registry = ModelRegistry(folder, namespace)
        exists = name in registry.names()
        model = registry.create(
            name,
            description=description or None,
            tags=[TASK_TAG + task] if task else (),
            metadata=metadata,
        )
        return self._model_record(registry, model, exists)

    def _model_record(
        self, registry: ModelRegistry, model: RegisteredModel, exists: bool = False
    ) -> ModelRecord:
        self._objects[model.id] = _ModelRef(registry, model.name)
        task = next((t[len(TASK_TAG) :] for t in model.tags if t.startswith(TASK_TAG)), "")
        return ModelRecord(
            id=model.id,
            name=model.name,
            owner=registry.project_dir.parent.name,
            namespace=registry.project_dir.name,
            task=task,
            description=model.description or "",
            exists=exists,
        )

    def list_models(self, namespace: str) -> list[ModelRecord]:
        root = data_root(self._store)
        out: list[ModelRecord] = []
        for owner_dir in sorted(root.iterdir()) if root.is_dir() else []:
            if not owner_dir.name.startswith(".") and (owner_dir / namespace / ".models").is_dir():
                registry = ModelRegistry(owner_dir / namespace, namespace)
                out.extend(self._model_record(registry, m) for m in registry.all())
        return out

    def _ref(self, parent_id: str) -> _ModelRef | _VersionRef | _CheckpointRef | None:
        """The model, version or checkpoint ``parent_id``; None for a run (experiment)."""
        return self._objects.get(parent_id)

    def _model(self, model_id: str) -> _ModelRef:
        ref = self._ref(model_id)
        if not isinstance(ref, _ModelRef):
            raise NotFoundError(f"no ModelBox model {model_id!r} (get it with models() first)")
        return ref

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
        model = self._model(model_id)
        version_id = object_id(model_id, version, name)
        for existing in model.registry.versions(model.name):
            if (existing.summary or {}).get("id") == version_id:
                return self._version_record(model, model_id, existing, exists=True)
        created = model.registry.register(
            model.name,
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
        return self._version_record(model, model_id, created)

    def _version_record(
        self, model: _ModelRef, model_id: str, found: ModelVersion, exists: bool = False
    ) -> ModelVersionRecord:
        summary = found.summary or {}
        label = found.label or found.version
        version_id = str(summary.get("id") or object_id(model_id, label, ""))
        self._objects[version_id] = _VersionRef(model.registry, model.name, found.version)
        return ModelVersionRecord(
            id=version_id,
            model_id=model_id,
            name=str(summary.get("name", "")),
            version=label,
            description=found.description or "",
            framework=found.framework or "unknown",
            unique_tags=found.tags,
            exists=exists,
        )

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]:
        model = self._model(model_id)
        return [
            self._version_record(model, model_id, v) for v in model.registry.versions(model.name)
        ]

    def create_checkpoint(
        self, experiment_id: str, epoch: int, metrics: Mapping[str, float]
    ) -> CheckpointRecord:
        run = self._live(experiment_id)
        for existing in run.checkpoints():
            if existing.epoch == epoch:
                return self._checkpoint_record(existing, exists=True)
        return self._checkpoint_record(run.log_checkpoint(epoch, metrics))

    def _checkpoint_record(self, found: Checkpoint, exists: bool = False) -> CheckpointRecord:
        self._objects[found.id] = _CheckpointRef(found.run_id, found.epoch)
        return CheckpointRecord(
            id=found.id,
            experiment_id=found.run_id,
            epoch=found.epoch,
            metrics=dict(found.metrics),
            exists=exists,
        )

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]:
        return [self._checkpoint_record(c) for c in self._view(experiment_id).checkpoints()]

    def _experiment_only(self, parent_id: str, what: str) -> None:
        ref = self._ref(parent_id)
        if ref is not None:
            kind = {_ModelRef: "model", _VersionRef: "model version", _CheckpointRef: "checkpoint"}[
                type(ref)
            ]
            raise InvalidArgumentError(
                f"{what} of a {kind} ({parent_id}) are not kept by the local ModelBox backend; "
                "log them on the experiment"
            )

    # --- metadata, metrics, events ------------------------------------------------------
    def update_metadata(self, parent_id: str, key: str, value: Any) -> float:
        ref = self._ref(parent_id)
        if isinstance(ref, _ModelRef):
            ref.registry.update(ref.name, metadata={key: value})
            return time.time()
        if isinstance(ref, _VersionRef):
            ref.registry.update_version(ref.model, ref.version, metadata={key: value})
            return time.time()
        self._experiment_only(parent_id, "metadata")
        doc = value if isinstance(value, Mapping) else {WRAPPED: value}
        return self._live(parent_id).update_metadata(key, doc)

    def list_metadata(self, parent_id: str) -> dict[str, Any]:
        ref = self._ref(parent_id)
        if isinstance(ref, _ModelRef):
            return dict(ref.registry.get(ref.name).metadata)
        if isinstance(ref, _VersionRef):
            return dict(ref.registry.version(ref.model, ref.version).metadata)
        self._experiment_only(parent_id, "metadata")
        return {k: _unwrap(doc["value"]) for k, doc in self._view(parent_id).metadata().items()}

    def log_metrics(
        self,
        parent_id: str,
        metrics: Mapping[str, float | str | bytes],
        step: int,
        wallclock: float,
    ) -> None:
        self._experiment_only(parent_id, "metrics")
        self._live(parent_id).log(dict(metrics), step=step, timestamp=wallclock)

    def get_metrics(self, parent_id: str) -> dict[str, list[MetricValue]]:
        self._experiment_only(parent_id, "metrics")
        out: dict[str, list[MetricValue]] = {}
        for row in self._view(parent_id).history():
            step = int(row.get("_step", row["_index"]))
            wallclock = _number(float(row.get("_ts", 0.0)))
            for key, value in row.items():
                if not key.startswith("_"):
                    out.setdefault(key, []).append(MetricValue(step, wallclock, value))
        return out

    def log_event(self, parent_id: str, event: Event) -> None:
        self._experiment_only(parent_id, "events")
        self._live(parent_id).log_event(
            event.name,
            source=event.source.name,
            wallclock=event.wallclock_time,
            metadata=event.metadata,
        )

    def list_events(self, parent_id: str) -> list[Event]:
        self._experiment_only(parent_id, "events")
        return [
            Event(e.name, EventSource(e.source or ""), _number(e.wallclock), dict(e.metadata or {}))
            for e in self._view(parent_id).events()
        ]

    def close(self) -> None:
        """Finish the runs this backend opened (their data is durable on return)."""
        for run in self._runs.values():
            run.finish()
        self._runs.clear()
