"""``ModelBox(addr)``: the facade's backend over gRPC to a runlane server.

Speaks ModelBox's own ``modelbox.ModelStore`` protocol (runlane's wire-compatible copy,
:mod:`runlane.server.grpc.protos`), so it works against ``runlane server --grpc-port`` and
keeps every call the facade makes local-or-remote alike. Importing this module registers it
as :data:`runlane.compat.modelbox.backend.REMOTE_BACKEND`. A token, when the server requires
one, comes from ``RUNLANE_TOKEN`` and travels as ``authorization`` metadata. gRPC errors
become runlane errors (NOT_FOUND → NotFoundError, INVALID_ARGUMENT/UNIMPLEMENTED →
InvalidArgumentError, UNAVAILABLE → StoreError). Models and checkpoints are not served over
gRPC by runlane: those calls raise InvalidArgumentError.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf import json_format

from runlane.compat.modelbox import backend as backends
from runlane.compat.modelbox.backend import (
    CheckpointRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
)
from runlane.compat.modelbox.types import Event, EventSource, MetricValue
from runlane.errors import InvalidArgumentError, NotFoundError, RunlaneError, StoreError
from runlane.server.grpc.protos import MODELBOX_SERVICE, M, enum_value, message, methods

_FRAMEWORK = {"pytorch": "PYTORCH", "tensorflow": "KERAS", "keras": "KERAS"}
_LABEL = {0: "unknown", 1: "pytorch", 2: "tensorflow"}


def _error(exc: grpc.RpcError) -> RunlaneError:
    code = exc.code() if hasattr(exc, "code") else None
    text = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(text)
    if code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.FAILED_PRECONDITION,
    ):
        return InvalidArgumentError(text)
    from runlane.server.wire import WireError

    if code == grpc.StatusCode.UNAUTHENTICATED:
        return WireError("unauthenticated", text)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return WireError("permission_denied", text)
    return StoreError(f"runlane server gRPC call failed ({code}): {text}")


def _seconds(ts: Any) -> float:
    return float(ts.seconds) + float(ts.nanos) / 1e9


class GrpcBackend:
    """The :class:`~runlane.compat.modelbox.backend.Backend` over gRPC."""

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
            self._calls[name] = self._channel.unary_unary(
                f"/{MODELBOX_SERVICE}/{name}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
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
            framework=enum_value("MLFramework", _FRAMEWORK.get(framework.lower(), "UNKNOWN")),
        )
        record = self.get_experiment(answer.experiment_id)
        return ExperimentRecord(**{**_fields(record), "exists": answer.experiment_exists})

    def _record(self, exp: Any) -> ExperimentRecord:
        return ExperimentRecord(
            id=exp.id,
            name=exp.name,
            owner=exp.owner,
            namespace=exp.namespace,
            external_id=exp.external_id,
            framework=_LABEL.get(int(exp.framework), "unknown"),
            created_at=_seconds(exp.created_at),
            updated_at=_seconds(exp.updated_at),
        )

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        return self._record(self._call("GetExperiment", id=experiment_id).experiment)

    def list_experiments(self, namespace: str) -> list[ExperimentRecord]:
        answer = self._call("ListExperiments", namespace=namespace)
        return [self._record(e) for e in answer.experiments]

    # --- not served over gRPC -----------------------------------------------------------
    def _unsupported(self, what: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{what} are not served over gRPC by runlane ({self.addr}); use ModelBox() on a "
            "local store, or runlane's SDK"
        )

    def create_model(
        self,
        name: str,
        owner: str,
        namespace: str,
        task: str,
        description: str,
        metadata: Mapping[str, Any],
    ) -> ModelRecord:
        raise self._unsupported("models")

    def list_models(self, namespace: str) -> list[ModelRecord]:
        raise self._unsupported("models")

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
        raise self._unsupported("model versions")

    def list_model_versions(self, model_id: str) -> list[ModelVersionRecord]:
        raise self._unsupported("model versions")

    def create_checkpoint(
        self, experiment_id: str, epoch: int, metrics: Mapping[str, float]
    ) -> CheckpointRecord:
        raise self._unsupported("checkpoints")

    def list_checkpoints(self, experiment_id: str) -> list[CheckpointRecord]:
        raise self._unsupported("checkpoints")

    # --- metadata, metrics, events ------------------------------------------------------
    def update_metadata(self, parent_id: str, key: str, value: Any) -> float:
        proto_value = message("google.protobuf.Value")()
        json_format.Parse(json.dumps(value), proto_value)
        answer = self._call(
            "UpdateMetadata",
            parent_id=parent_id,
            metadata=M("Metadata")(metadata={key: proto_value}),
        )
        return _seconds(answer.updated_at)

    def list_metadata(self, parent_id: str) -> dict[str, Any]:
        answer = self._call("ListMetadata", parent_id=parent_id)
        return {k: json_format.MessageToDict(v) for k, v in answer.metadata.items()}

    def log_metrics(
        self,
        parent_id: str,
        metrics: Mapping[str, float | str | bytes],
        step: int,
        wallclock: float,
    ) -> None:
        for key, value in metrics.items():
            if isinstance(value, str):
                kind: dict[str, Any] = {"s_tensor": value}
            elif isinstance(value, bytes | bytearray):
                kind = {"b_tensor": bytes(value)}
            else:
                kind = {"f_val": float(value)}
            self._call(
                "LogMetrics",
                parent_id=parent_id,
                key=key,
                value=M("MetricsValue")(
                    step=max(0, int(step)), wallclock_time=max(0, int(wallclock)), **kind
                ),
            )

    def get_metrics(self, parent_id: str) -> dict[str, list[MetricValue]]:
        answer = self._call("GetMetrics", parent_id=parent_id)
        out: dict[str, list[MetricValue]] = {}
        for metric in answer.metrics:
            for v in metric.values:
                kind = v.WhichOneof("value")
                value = getattr(v, kind) if kind else 0.0
                out.setdefault(metric.key, []).append(
                    MetricValue(int(v.step), int(v.wallclock_time), value)
                )
        return out

    def log_event(self, parent_id: str, event: Event) -> None:
        meta = {}
        for key, value in (event.metadata or {}).items():
            proto_value = message("google.protobuf.Value")()
            json_format.Parse(json.dumps(value), proto_value)
            meta[key] = proto_value
        wallclock = float(event.wallclock_time or time.time())
        whole = int(wallclock)
        self._call(
            "LogEvent",
            parent_id=parent_id,
            event=M("Event")(
                name=event.name,
                source=M("EventSource")(name=event.source.name),
                wallclock_time=message("google.protobuf.Timestamp")(
                    seconds=whole, nanos=int((wallclock - whole) * 1e9)
                ),
                metadata=M("Metadata")(metadata=meta),
            ),
        )

    def list_events(self, parent_id: str) -> list[Event]:
        answer = self._call(
            "ListEvents",
            parent_id=parent_id,
            since=message("google.protobuf.Timestamp")(seconds=0),
        )
        return [
            Event(
                e.name,
                EventSource(e.source.name),
                int(e.wallclock_time.seconds),
                {k: json_format.MessageToDict(v) for k, v in e.metadata.metadata.items()},
            )
            for e in answer.events
        ]

    def close(self) -> None:
        self._channel.close()


def _fields(record: ExperimentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "owner": record.owner,
        "namespace": record.namespace,
        "external_id": record.external_id,
        "framework": record.framework,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


backends.REMOTE_BACKEND = GrpcBackend
