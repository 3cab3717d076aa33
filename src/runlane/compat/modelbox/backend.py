"""The seam between the ModelBox SDK objects and where their data lives.

``ModelBox(addr=None)`` uses :class:`~runlane.compat.modelbox.local.LocalBackend` (the runlane
store of this process); ``ModelBox(addr)`` uses the backend made by :func:`remote_backend`,
which talks gRPC to a runlane server. Every SDK object (experiment, model, model version,
checkpoint) is a *parent* addressed by its id; metadata, metrics and events hang off parents.

Ids are ModelBox's: ``experiment = sha1(name + namespace)``, ``model = sha1(name +
namespace)``, ``model version = sha1(model_id + version + name)``, ``checkpoint =
sha1(experiment_id + str(epoch))`` (hex digests). Creating an object whose id exists returns
the existing one with ``exists=True``.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runlane.compat.modelbox.types import Event, MetricValue
from runlane.errors import InvalidArgumentError


def object_id(*parts: str) -> str:
    """ModelBox's deterministic id: the sha1 hex digest of the parts concatenated."""
    return hashlib.sha1("".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    id: str
    name: str
    owner: str
    namespace: str
    external_id: str
    framework: str
    created_at: float
    updated_at: float
    exists: bool = False


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: str
    name: str
    owner: str
    namespace: str
    task: str
    description: str
    exists: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    id: str
    model_id: str
    name: str
    version: str
    description: str
    framework: str
    unique_tags: tuple[str, ...] = ()
    exists: bool = False
    created_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    id: str
    experiment_id: str
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    exists: bool = False
    created_at: float = 0.0


class Backend(Protocol):
    """What the SDK objects need. Unknown ids raise :class:`runlane.errors.NotFoundError`;
    writes are visible to every later read of the same backend."""

    def create_experiment(
        self, name: str, owner: str, namespace: str, external_id: str, framework: str
    ) -> ExperimentRecord: ...

    def get_experiment(self, experiment_id: str) -> ExperimentRecord: ...

    def list_experiments(self, namespace: str) -> list[ExperimentRecord]: ...

    def create_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        metadata: Mapping[str, Any],
    ) -> ModelRecord: ...

    def list_models(self, namespace: str) -> list[ModelRecord]: ...

    def create_model_version(
        self,
        model_id: str,
        version: str,
        name: str,
        description: str,
        framework: str,
        unique_tags: list[str],
        metadata: Mapping[str, Any],
    ) -> ModelVersionRecord: ...

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]: ...

    def create_checkpoint(
        self, experiment_id: str, epoch: int, metrics: Mapping[str, float]
    ) -> CheckpointRecord: ...

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]: ...

    def update_metadata(self, parent_id: str, key: str, value: Any) -> float:
        """Upsert ``key`` of the parent's metadata; returns ``updated_at`` (epoch seconds)."""
        ...

    def list_metadata(self, parent_id: str) -> dict[str, Any]: ...

    def log_metrics(
        self,
        parent_id: str,
        metrics: Mapping[str, float | str | bytes],
        step: int,
        wallclock: float,
    ) -> None: ...

    def get_metrics(self, parent_id: str) -> dict[str, list[MetricValue]]:
        """Every metric of the parent, grouped by key, in logging order."""
        ...

    def log_event(self, parent_id: str, event: Event) -> None: ...

    def list_events(self, parent_id: str) -> list[Event]: ...

    def close(self) -> None: ...


#: Builds the backend for ``ModelBox(addr)``. The gRPC client module (:data:`REMOTE_MODULE`)
#: assigns it when imported; :func:`remote_backend` imports that module on first use.
REMOTE_BACKEND: Callable[[str], Backend] | None = None
REMOTE_MODULE = "runlane.compat.modelbox.remote"


def remote_backend(addr: str) -> Backend:
    """The backend for a server at ``addr``; InvalidArgumentError when no gRPC client is
    installed."""
    if REMOTE_BACKEND is None:
        try:
            importlib.import_module(REMOTE_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != REMOTE_MODULE:
                raise
    if REMOTE_BACKEND is None:
        raise InvalidArgumentError(
            f"ModelBox({addr!r}): talking to a server needs runlane's gRPC client "
            f"({REMOTE_MODULE}), which is not installed; use ModelBox() for the local store"
        )
    return REMOTE_BACKEND(addr)
