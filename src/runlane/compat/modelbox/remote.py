"""``ModelBox(addr)``: the facade's backend over gRPC to a runlane server.

Speaks ModelBox's own ``modelbox.ModelStore`` protocol (runlane's wire-compatible copy,
:mod:`runlane.server.grpc.protos`) against ``runlane server --grpc-port``, which keeps the
mapping of the local backend (:mod:`runlane.compat.modelbox.objects`): ids, create-or-get and
refusals are the server's, so a sequence of facade calls gives the results of local mode.
Importing this module registers it as :data:`runlane.compat.modelbox.backend.REMOTE_BACKEND`.

Contracts:

* Every call is one or a few unary rpcs and returns once the server answered: what it wrote
  is then visible to every reader of the server's store. Nothing is buffered client-side.
* Create-or-get: ``exists`` is decided by a read before the create (``ListModels``,
  ``ListModelVersions``, ``GetCheckpoint``); a version or checkpoint found there is returned
  without sending the create. Two clients creating one object at the same moment may both see
  ``exists=False`` (both still get the one object).
* Model versions are listed through runlane's extension of ``ListModelVersionsResponse``
  (:data:`~runlane.server.grpc.protos.VERSIONS_FIELD`: every version, oldest first); a server
  without it yields the latest version only, as ModelBox's proto allows.
* Values cross protobuf types: metric values and checkpoint metrics are float32 on the wire
  and read back at their shortest decimal (2.4 stays 2.4, 0.123456789 becomes 0.12345679);
  metric wallclocks are whole seconds (uint64) and ``ListEvents`` truncates event wallclocks
  to seconds, as ModelBox does; JSON numbers of metadata are doubles, so an integral one reads
  back as an ``int`` (3, as local mode keeps the int 3; a float 1.0 reads back as 1 too), and
  JSON object keys come back in the wire's order, not the caller's. Arguments the local
  backend checks (checkpoint epochs and metrics, metadata values) are checked here before any
  rpc, with the same errors.
* A token, when the server requires one, comes from ``token`` or ``RUNLANE_TOKEN`` and travels
  as ``authorization`` metadata.
* A failed call raises the runlane error the server raised (InvalidNameError,
  NotFoundError...), read from the wire code the server sends as trailing metadata
  (:data:`~runlane.server.grpc.protos.ERROR_CODE_KEY`, the table of
  :mod:`runlane.server.wire`). Without one, the gRPC status decides: NOT_FOUND →
  NotFoundError, INVALID_ARGUMENT, UNIMPLEMENTED and FAILED_PRECONDITION →
  InvalidArgumentError, UNAUTHENTICATED and PERMISSION_DENIED → WireError, anything else
  (UNAVAILABLE, a deadline) → StoreError.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import grpc
from google.protobuf import json_format

from runlane.compat.modelbox import backend as backends
from runlane.compat.modelbox.backend import (
    CheckpointRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
    object_id,
)
from runlane.compat.modelbox.objects import check_epoch, check_metrics
from runlane.compat.modelbox.types import Event, EventSource, MetricValue
from runlane.errors import InvalidArgumentError, NotFoundError, RunlaneError, StoreError
from runlane.server.grpc.convert import (
    FRAMEWORKS,
    f32,
    framework_enum,
    seconds,
    timestamp,
    to_python,
    to_value,
)
from runlane.server.grpc.protos import (
    ERROR_CODE_KEY,
    MODELBOX_SERVICE,
    M,
    methods,
    model_versions_message,
)

_EXACT_INTS = 2**53  # doubles hold every integer below this exactly


def _error(exc: grpc.RpcError) -> RunlaneError:
    """The runlane error of a failed call: the server's wire code (trailing metadata) when it
    sent one, else what the gRPC status says."""
    from runlane.server.wire import WireError, exception_for

    code = exc.code() if hasattr(exc, "code") else None
    text = exc.details() if hasattr(exc, "details") else str(exc)
    trailer = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    for key, value in trailer or ():
        if key == ERROR_CODE_KEY:
            return exception_for(str(value), text or "")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(text)
    if code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.FAILED_PRECONDITION,
    ):
        return InvalidArgumentError(text)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return WireError("unauthenticated", text)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return WireError("permission_denied", text)
    return StoreError(f"runlane server gRPC call failed ({code}): {text}")


def _json(value: Any) -> Any:
    """A JSON value read from ``google.protobuf.Value``: integral numbers become ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTS:
        return int(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _value(what: str, value: Any) -> Any:
    """``value`` as a ``google.protobuf.Value``; InvalidArgumentError when it is not JSON."""
    try:
        return to_value(json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError, json_format.ParseError) as exc:
        raise InvalidArgumentError(
            f"{what}={value!r} is not a JSON value (object, array, string, finite number, "
            f"bool or null): {exc}"
        ) from exc


def _metadata(values: Mapping[str, Any], what: str = "metadata") -> Any:
    return M("Metadata")(metadata={k: _value(f"{what} {k!r}", v) for k, v in values.items()})


def _metric(key: str, value: Any, step: int, wallclock: float) -> Any:
    if isinstance(value, str):
        kind: dict[str, Any] = {"s_tensor": value}
    elif isinstance(value, bytes | bytearray):
        kind = {"b_tensor": bytes(value)}
    else:
        try:
            kind = {"f_val": float(value)}
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"metric {key!r}={value!r} is not a float, str or bytes value"
            ) from exc
    return M("MetricsValue")(step=max(0, int(step)), wallclock_time=max(0, int(wallclock)), **kind)


class GrpcBackend:
    """The :class:`~runlane.compat.modelbox.backend.Backend` over gRPC (see the module
    docstring). ``timeout`` bounds each rpc, in seconds."""

    def __init__(self, addr: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.addr = addr
        self._channel = grpc.insecure_channel(addr)
        self._timeout = timeout
        token = token or os.environ.get("RUNLANE_TOKEN")
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._calls: dict[str, Callable[..., Any]] = {}
        for name, request, response, client_stream, server_stream in methods(MODELBOX_SERVICE):
            if client_stream or server_stream:
                continue
            reader = model_versions_message() if name == "ListModelVersions" else response
            self._calls[name] = self._channel.unary_unary(
                f"/{MODELBOX_SERVICE}/{name}",
                request_serializer=request.SerializeToString,
                response_deserializer=reader.FromString,
            )

    def _call(self, rpc: str, /, **fields: Any) -> Any:
        try:
            return self._calls[rpc](
                M(f"{rpc}Request")(**fields), timeout=self._timeout, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise _error(exc) from exc

    # --- experiments --------------------------------------------------------------------
    def create_experiment(
        self, name: str, owner: str, namespace: str, external_id: str, framework: str
    ) -> ExperimentRecord:
        answer = self._call(
            "CreateExperiment",
            name=name,
            owner=owner,
            namespace=namespace,
            external_id=external_id,
            framework=framework_enum(framework),
        )
        record = self.get_experiment(answer.experiment_id)
        return replace(record, exists=bool(answer.experiment_exists))

    def _experiment(self, exp: Any) -> ExperimentRecord:
        return ExperimentRecord(
            id=exp.id,
            name=exp.name,
            owner=exp.owner,
            namespace=exp.namespace,
            external_id=exp.external_id,
            framework=FRAMEWORKS.get(int(exp.framework), "unknown"),
            created_at=seconds(exp.created_at),
            updated_at=seconds(exp.updated_at),
        )

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        return self._experiment(self._call("GetExperiment", id=experiment_id).experiment)

    def list_experiments(self, namespace: str) -> list[ExperimentRecord]:
        answer = self._call("ListExperiments", namespace=namespace)
        return [self._experiment(e) for e in answer.experiments]

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
        """Create (or get) the model ``sha1(name + namespace)`` of ``owner``; the record is the
        stored one (an existing model keeps its task and description)."""
        values = _metadata(metadata)
        before = {(r.id, r.owner) for r in self.list_models(namespace)}
        answer = self._call(
            "CreateModel",
            name=name,
            owner=owner,
            namespace=namespace,
            task=task,
            description=description,
            metadata=values,
        )
        found = [r for r in self.list_models(namespace) if r.id == answer.id]
        if owner:
            found = [r for r in found if r.owner == owner]
        else:  # the server's default owner: the model that appeared, else the one there
            found = [r for r in found if (r.id, r.owner) not in before] or found
        if not found:  # removed since: what the server answered
            return ModelRecord(
                id=answer.id,
                name=name,
                owner=owner,
                namespace=namespace,
                task=task,
                description=description,
                created_at=seconds(answer.created_at),
                updated_at=seconds(answer.updated_at),
            )
        return replace(found[0], exists=(found[0].id, found[0].owner) in before)

    def list_models(self, namespace: str) -> list[ModelRecord]:
        return [
            ModelRecord(
                id=m.id,
                name=m.name,
                owner=m.owner,
                namespace=m.namespace,
                task=m.task,
                description=m.description,
                created_at=seconds(m.created_at),
                updated_at=seconds(m.updated_at),
            )
            for m in self._call("ListModels", namespace=namespace).models
        ]

    # --- model versions -----------------------------------------------------------------
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
        """Create (or get) the version ``sha1(model_id + version + name)``; an existing one is
        returned as stored, with ``exists``, and no create is sent."""
        version_id = object_id(model_id, version, name)
        for record in self.list_model_versions(model_id):
            if record.id == version_id:
                return replace(record, exists=True)
        answer = self._call(
            "CreateModelVersion",
            model=model_id,
            version=version,
            name=name,
            description=description,
            framework=framework_enum(framework),
            unique_tags=list(unique_tags),
            metadata=_metadata(metadata),
        )
        for record in reversed(self.list_model_versions(model_id)):
            if record.id == answer.model_version:
                return record
        return ModelVersionRecord(  # a server listing the latest version only, and a race
            id=answer.model_version,
            model_id=model_id,
            name=name,
            version=version,
            description=description,
            framework=FRAMEWORKS[framework_enum(framework)],
            unique_tags=tuple(unique_tags),
            created_at=seconds(answer.created_at),
            metadata=_json(dict(metadata)),
        )

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]:
        """Every version of the model, oldest first (the latest only from a server without
        runlane's extension field)."""
        answer = self._call("ListModelVersions", model=model_id)
        found = list(answer.versions) or ([answer.models] if answer.HasField("models") else [])
        return [
            ModelVersionRecord(
                id=v.id,
                model_id=v.model_id,
                name=v.name,
                version=v.version,
                description=v.description,
                framework=FRAMEWORKS.get(int(v.framework), "unknown"),
                unique_tags=tuple(v.unique_tags),
                created_at=seconds(v.created_at),
                metadata={k: _json(to_python(x)) for k, x in v.metadata.metadata.items()},
            )
            for v in found
        ]

    # --- checkpoints --------------------------------------------------------------------
    def create_checkpoint(
        self, experiment_id: str, epoch: int, metrics: Mapping[str, float]
    ) -> CheckpointRecord:
        """Create (or get) the checkpoint of ``epoch``; an existing one keeps its metrics and
        comes back with ``exists``. InvalidArgumentError for an epoch that is not an int ≥ 0
        or a metric that is not a number, NotFoundError for an unknown experiment."""
        at_epoch = check_epoch(epoch)
        values = check_metrics(metrics)
        try:
            return replace(self._get_checkpoint(experiment_id, at_epoch), exists=True)
        except NotFoundError:
            pass  # no such checkpoint (or no such experiment: the create says which)
        self._call("CreateCheckpoint", experiment_id=experiment_id, epoch=at_epoch, metrics=values)
        return self._get_checkpoint(experiment_id, at_epoch)

    def _get_checkpoint(self, experiment_id: str, epoch: int) -> CheckpointRecord:
        answer = self._call("GetCheckpoint", experiment_id=experiment_id, epoch=epoch)
        return self._checkpoint(answer.checkpoint)

    def _checkpoint(self, found: Any) -> CheckpointRecord:
        return CheckpointRecord(
            id=found.id,
            experiment_id=found.experiment_id,
            epoch=int(found.epoch),
            metrics={k: f32(v) for k, v in found.metrics.items()},
            created_at=seconds(found.created_at),
        )

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]:
        answer = self._call("ListCheckpoints", experiment_id=experiment_id)
        return [self._checkpoint(c) for c in answer.checkpoints]

    # --- metadata, metrics, events ------------------------------------------------------
    def update_metadata(self, parent_id: str, key: str, value: Any) -> float:
        metadata = _metadata({key: value})
        answer = self._call("UpdateMetadata", parent_id=parent_id, metadata=metadata)
        return seconds(answer.updated_at)

    def list_metadata(self, parent_id: str) -> dict[str, Any]:
        answer = self._call("ListMetadata", parent_id=parent_id)
        return {k: _json(to_python(v)) for k, v in answer.metadata.items()}

    def log_metrics(
        self,
        parent_id: str,
        metrics: Mapping[str, float | str | bytes],
        step: int,
        wallclock: float,
    ) -> None:
        """One ``LogMetrics`` per key, as ModelBox's client; every value is checked first."""
        values = [(k, _metric(k, v, step, wallclock)) for k, v in metrics.items()]
        for key, value in values:
            self._call("LogMetrics", parent_id=parent_id, key=key, value=value)

    def get_metrics(self, parent_id: str) -> dict[str, list[MetricValue]]:
        answer = self._call("GetMetrics", parent_id=parent_id)
        out: dict[str, list[MetricValue]] = {}
        for metric in answer.metrics:
            for v in metric.values:
                kind = v.WhichOneof("value")
                value = getattr(v, kind) if kind else 0.0
                if kind == "f_val":
                    value = f32(value)
                out.setdefault(metric.key, []).append(
                    MetricValue(int(v.step), int(v.wallclock_time), value)
                )
        return out

    def log_event(self, parent_id: str, event: Event) -> None:
        given = event.wallclock_time
        self._call(
            "LogEvent",
            parent_id=parent_id,
            event=M("Event")(
                name=event.name,
                source=M("EventSource")(name=event.source.name),
                wallclock_time=timestamp(time.time() if given is None else float(given)),
                metadata=_metadata(event.metadata or {}, "event metadata"),
            ),
        )

    def list_events(self, parent_id: str) -> list[Event]:
        answer = self._call("ListEvents", parent_id=parent_id, since=timestamp(0))
        return [
            Event(
                e.name,
                EventSource(e.source.name),
                int(e.wallclock_time.seconds),
                {k: _json(to_python(v)) for k, v in e.metadata.metadata.items()},
            )
            for e in answer.events
        ]

    def close(self) -> None:
        """Close the channel; every answered call's data is already on the server."""
        self._channel.close()


backends.REMOTE_BACKEND = GrpcBackend
