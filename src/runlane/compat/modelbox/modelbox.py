"""ModelBox's Python SDK on runlane: ``from runlane.compat.modelbox import ModelBox, ...``
(or ``runlane.compat.modelbox.modelbox``, the real package's module path).

``ModelBox()`` (no address) keeps everything in the local runlane store (``dir``, else
``RUNLANE_DIR``): an experiment is a runlane run of project ``<owner>/<namespace>`` whose id
is ModelBox's ``sha1(name + namespace)``. ``ModelBox(addr)`` talks gRPC to a runlane server.

Fixed ModelBox quirks: ``log_metrics`` accepts float, str and bytes values (the seed says so;
ModelBox fails on the last two) and defaults ``wallclock`` to the time of the call (not of the
import); ``log_event`` keeps the event's ``wallclock_time`` (ModelBox replaces it with now);
``ModelBox()`` without an address works.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any

from runlane.compat.modelbox import backend as backends
from runlane.compat.modelbox.backend import (
    Backend,
    CheckpointRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
)
from runlane.compat.modelbox.types import (
    Event,
    ListMetadataResponse,
    LogEventResponse,
    LogMetricsResponse,
    MetricValue,
    MLFramework,
    UpdateMetadataResponse,
)

__all__ = [
    "Checkpoint",
    "Experiment",
    "ListCheckpointsResponse",
    "ListExperimentsResponse",
    "ListModelsResult",
    "Model",
    "ModelBox",
    "ModelVersion",
]


class _Parent:
    """Metadata, metrics and events of one ModelBox object (ModelBox's logger mixins)."""

    id: str
    _backend: Backend

    def update_metadata(self, key: str, value: Any) -> UpdateMetadataResponse:
        """Upsert the JSON ``value`` under ``key``; the answer holds ``updated_at``."""
        return UpdateMetadataResponse(self._backend.update_metadata(self.id, key, value))

    def metadata(self) -> ListMetadataResponse:
        return ListMetadataResponse(self._backend.list_metadata(self.id))

    def log_metrics(
        self,
        metrics: Mapping[str, float | str | bytes],
        step: int = 0,
        wallclock: int | float | None = None,
    ) -> LogMetricsResponse:
        """Log each metric at ``step`` and ``wallclock`` (epoch seconds, default now)."""
        at = time.time() if wallclock is None else wallclock
        self._backend.log_metrics(self.id, metrics, step, at)
        return LogMetricsResponse(updated_at=int(time.time()))

    def all_metrics(self) -> dict[str, list[MetricValue]]:
        """``{key: [MetricValue(step, wallclock_time, value), ...]}`` in logging order."""
        return self._backend.get_metrics(self.id)

    def log_event(self, event: Event) -> LogEventResponse:
        """Record ``event`` with its own ``wallclock_time``."""
        self._backend.log_event(self.id, event)
        return LogEventResponse(created_at=int(time.time()))

    def events(self) -> list[Event]:
        return self._backend.list_events(self.id)


@dataclass
class Checkpoint(_Parent):
    id: str
    experiment_id: str
    epoch: int
    metrics: dict[str, float]
    exists: bool = False
    backend: InitVar[Backend | None] = None

    def __post_init__(self, backend: Backend | None) -> None:
        assert backend is not None
        self._backend = backend


@dataclass
class ListCheckpointsResponse:
    checkpoints: list[Checkpoint]


@dataclass
class Experiment(_Parent):
    id: str
    name: str
    owner: str
    namespace: str
    external_id: str
    created_at: float
    updated_at: float
    framework: MLFramework
    exists: bool = False
    backend: InitVar[Backend | None] = None

    def __post_init__(self, backend: Backend | None) -> None:
        assert backend is not None
        self._backend = backend

    @classmethod
    def _of(cls, record: ExperimentRecord, backend: Backend) -> Experiment:
        return cls(
            id=record.id,
            name=record.name,
            owner=record.owner,
            namespace=record.namespace,
            external_id=record.external_id,
            created_at=record.created_at,
            updated_at=record.updated_at,
            framework=MLFramework.from_label(record.framework),
            exists=record.exists,
            backend=backend,
        )

    def new_checkpoint(self, epoch: int, metrics: Mapping[str, float] | None = None) -> Checkpoint:
        """Create (or get) the checkpoint of ``epoch`` with its metrics."""
        return _checkpoint(
            self._backend.create_checkpoint(self.id, epoch, metrics or {}), self._backend
        )

    def checkpoints(self) -> list[Checkpoint]:
        return [_checkpoint(r, self._backend) for r in self._backend.list_checkpoints(self.id)]


def _checkpoint(record: CheckpointRecord, backend: Backend) -> Checkpoint:
    return Checkpoint(
        id=record.id,
        experiment_id=record.experiment_id,
        epoch=record.epoch,
        metrics=dict(record.metrics),
        exists=record.exists,
        backend=backend,
    )


@dataclass
class ListExperimentsResponse:
    experiments: list[Experiment]


@dataclass
class ModelVersion(_Parent):
    id: str
    model_id: str
    name: str
    version: str
    description: str
    unique_tags: list[str] = field(default_factory=list)
    framework: MLFramework = MLFramework.PYTORCH
    exists: bool = False
    backend: InitVar[Backend | None] = None

    def __post_init__(self, backend: Backend | None) -> None:
        assert backend is not None
        self._backend = backend


def _version(record: ModelVersionRecord, backend: Backend) -> ModelVersion:
    return ModelVersion(
        id=record.id,
        model_id=record.model_id,
        name=record.name,
        version=record.version,
        description=record.description,
        unique_tags=list(record.unique_tags),
        framework=MLFramework.from_label(record.framework),
        exists=record.exists,
        backend=backend,
    )


@dataclass
class Model(_Parent):
    id: str
    name: str
    owner: str
    namespace: str
    task: str
    description: str
    exists: bool = False
    backend: InitVar[Backend | None] = None

    def __post_init__(self, backend: Backend | None) -> None:
        assert backend is not None
        self._backend = backend

    def new_model_version(
        self,
        version: str,
        name: str = "",
        description: str = "",
        artifacts: list[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        unique_tags: list[str] | None = None,
        framework: MLFramework = MLFramework.PYTORCH,
    ) -> ModelVersion:
        """Create (or get) version ``version`` of this model. ``artifacts`` are accepted for
        compatibility; upload files with the runlane artifact API."""
        record = self._backend.create_model_version(
            self.id,
            version,
            name,
            description,
            framework.label,
            list(unique_tags or []),
            dict(metadata or {}),
        )
        return _version(record, self._backend)

    def model_versions(self) -> list[ModelVersion]:
        return [_version(r, self._backend) for r in self._backend.list_model_versions(self.id)]


def _model(record: ModelRecord, backend: Backend) -> Model:
    return Model(
        id=record.id,
        name=record.name,
        owner=record.owner,
        namespace=record.namespace,
        task=record.task,
        description=record.description,
        exists=record.exists,
        backend=backend,
    )


@dataclass
class ListModelsResult:
    models: list[Model]


class ModelBox:
    """The ModelBox client. ``addr=None`` (or ``""``) works on the local runlane store at
    ``dir`` (default: ``RUNLANE_DIR``); an address (``"host:port"``) needs runlane's gRPC
    client and a runlane server, else InvalidArgumentError."""

    def __init__(
        self, addr: str | None = None, *, dir: str | os.PathLike[str] | None = None
    ) -> None:
        if addr:
            self._backend: Backend = backends.remote_backend(addr)
        else:
            from runlane.compat.modelbox.local import LocalBackend

            self._backend = LocalBackend(dir)

    def new_experiment(
        self, name: str, owner: str, namespace: str, external_id: str, framework: MLFramework
    ) -> Experiment:
        """Create the experiment ``sha1(name + namespace)``, or get it when it exists
        (``experiment.exists`` tells which)."""
        record = self._backend.create_experiment(
            name, owner, namespace, external_id, framework.label
        )
        return Experiment._of(record, self._backend)

    def experiment(self, id: str) -> Experiment:
        """The experiment ``id``; raises NotFoundError."""
        return Experiment._of(self._backend.get_experiment(id), self._backend)

    def experiments(self, namespace: str) -> ListExperimentsResponse:
        return ListExperimentsResponse(
            [Experiment._of(r, self._backend) for r in self._backend.list_experiments(namespace)]
        )

    def new_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        artifacts: list[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Model:
        """Create (or get) the model ``sha1(name + namespace)``."""
        record = self._backend.create_model(
            name, owner, namespace, task, description, dict(metadata or {})
        )
        return _model(record, self._backend)

    def models(self, namespace: str) -> ListModelsResult:
        return ListModelsResult(
            [_model(r, self._backend) for r in self._backend.list_models(namespace)]
        )

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> ModelBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
