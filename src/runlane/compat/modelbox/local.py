"""The ModelBox backend on the local runlane store.

An experiment is a runlane run: id ``sha1(name + namespace)``, project
``<owner>/<namespace>``, run name ``name``, framework ``pytorch``/``tensorflow``/``unknown``,
``extra.external_id``. Its metadata are the run's metadata documents (a value that is not a
dict is kept as ``{"$json": value}``), its metrics rows of the run's default stream (the
ModelBox step is the row's step, the wallclock its ``_ts``), its events the run's events.
``list_experiments(namespace)`` lists every run of project ``namespace``, whatever its owner.

Models, model versions and checkpoints follow the mapping of
:mod:`runlane.compat.modelbox.objects`, shared with runlane server's gRPC service (a model is
a model of the registry of ``<owner>/<namespace>``, a version a registry version labelled with
ModelBox's version string, a checkpoint a run checkpoint), so the ids of one resolve in the
other. Metrics and events are kept for experiments only: on the other objects they raise
InvalidArgumentError, and checkpoints keep no metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import runlane
from runlane import settings
from runlane.compat.modelbox.backend import (
    CheckpointRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
    object_id,
)
from runlane.compat.modelbox.objects import EXPERIMENT, ModelBoxObjects, experiment_only
from runlane.compat.modelbox.types import Event, EventSource, MetricValue
from runlane.entities import RunInfo
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


def _number(value: float) -> int | float:
    """Wallclocks given as whole seconds read back as ints, as ModelBox returns them."""
    return int(value) if float(value).is_integer() else value


class LocalBackend:
    """See the module docstring. ``dir`` is the store root (default: ``RUNLANE_DIR``)."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self._store: Store = open_store(dir if dir is not None else settings.default_store_uri())
        self._runs: dict[str, Run] = {}
        self._objects = ModelBoxObjects(self._store)

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

    # --- models, versions, checkpoints (the shared mapping) -----------------------------
    def create_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        metadata: Mapping[str, Any],
    ) -> ModelRecord:
        return self._objects.create_model(name, owner, namespace, task, description, metadata)

    def list_models(self, namespace: str) -> list[ModelRecord]:
        return self._objects.list_models(namespace)

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
        return self._objects.create_model_version(
            model_id, version, name, description, framework, unique_tags, metadata
        )

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]:
        return self._objects.list_model_versions(model_id)

    def create_checkpoint(
        self, experiment_id: str, epoch: int, metrics: Mapping[str, float]
    ) -> CheckpointRecord:
        return self._objects.create_checkpoint(experiment_id, epoch, metrics)

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]:
        return self._objects.list_checkpoints(experiment_id)

    def _is_experiment(self, parent_id: str) -> bool:
        """Whether ``parent_id`` is a run; NotFoundError for an unknown id."""
        return parent_id in self._runs or self._objects.resolve(parent_id).kind == EXPERIMENT

    def _experiment_only(self, parent_id: str, what: str) -> None:
        if parent_id not in self._runs:
            experiment_only(self._objects.resolve(parent_id), what)

    # --- metadata, metrics, events ------------------------------------------------------
    def update_metadata(self, parent_id: str, key: str, value: Any) -> float:
        if not self._is_experiment(parent_id):
            return self._objects.update_metadata(self._objects.resolve(parent_id), {key: value})
        doc = value if isinstance(value, Mapping) else {WRAPPED: value}
        return self._live(parent_id).update_metadata(key, doc)

    def list_metadata(self, parent_id: str) -> dict[str, Any]:
        if not self._is_experiment(parent_id):
            return self._objects.list_metadata(self._objects.resolve(parent_id))
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
