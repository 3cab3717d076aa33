"""ModelBox's ``modelbox.ModelStore`` rpcs on a runlane Store (same mapping as the local
facade, :mod:`runlane.compat.modelbox.local`, so both read each other's data):

* an experiment is a run: id ``sha1(name + namespace)`` (creating it again returns the same
  id with ``experiment_exists``; metadata is written on first creation only), project
  ``<owner>/<namespace>``, framework ``pytorch``/``tensorflow``/``unknown``, ModelBox's
  external id in ``extra.external_id``; ``ListExperiments(namespace)`` lists the runs of
  project ``namespace`` under every owner;
* metadata are the run's metadata documents (a value that is not a JSON object is kept as
  ``{"$json": value}``);
* a metric ``LogMetrics(key, step, wallclock, value)`` is a row ``{key: value, "_step": step,
  "_ts": wallclock}`` of the run's default stream; ``f_val`` (float32, kept at its shortest
  decimal), ``s_tensor`` and ``b_tensor`` are all kept (ModelBox's server refused the last
  two); every numeric field of the default stream reads back through ``GetMetrics``;
* events are the run's events; ``ListEvents`` truncates wallclocks to seconds as ModelBox.

Models, checkpoints, files and ``WatchNamespace`` answer UNIMPLEMENTED with a message.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from google.protobuf import json_format

from runlane import settings
from runlane.entities import Batch, Event, MetadataUpdate, RunSpec
from runlane.errors import InvalidArgumentError
from runlane.names import check_key, check_name
from runlane.server.context import ServerContext
from runlane.server.grpc.protos import M, enum_value, message
from runlane.values import decode_value, encode_bytes

WRAPPED = "$json"
FRAMEWORKS = {0: "unknown", 1: "pytorch", 2: "tensorflow"}
PAGE = 10_000


def object_id(*parts: str) -> str:
    return hashlib.sha1("".join(parts).encode(), usedforsecurity=False).hexdigest()


def _timestamp(seconds: float) -> Any:
    whole = int(seconds)
    return _ts(whole, round((seconds - whole) * 1e9))


def _ts(seconds: int, nanos: int) -> Any:
    return message("google.protobuf.Timestamp")(
        seconds=seconds, nanos=max(0, min(nanos, 999_999_999))
    )


def _seconds(ts: Any) -> float:
    return float(ts.seconds) + float(ts.nanos) / 1e9


def _value(python: Any) -> Any:
    out = message("google.protobuf.Value")()
    json_format.ParseDict(python, out)
    return out


def _python(value: Any) -> Any:
    return json_format.MessageToDict(value)


def _framework_enum(label: str | None) -> int:
    text = (label or "").lower()
    if text == "pytorch":
        return enum_value("MLFramework", "PYTORCH")
    if text in ("tensorflow", "keras", "tf"):
        return enum_value("MLFramework", "KERAS")
    return enum_value("MLFramework", "UNKNOWN")


class ModelBoxService:
    """Handlers ``(request, grant) -> response``; the gRPC glue is in :mod:`.server`."""

    def __init__(self, ctx: ServerContext, rpc_addr: str = "", http_addr: str = "") -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.rpc_addr = rpc_addr
        self.http_addr = http_addr

    # --- experiments --------------------------------------------------------------------
    def CreateExperiment(self, req: Any, grant: Any) -> Any:
        namespace = check_name(req.namespace, "namespace")
        owner = check_name(req.owner or settings.default_owner(), "owner")
        name = check_name(req.name, "experiment name")
        self.ctx.allow_project(grant, owner, namespace, "write")
        run_id = object_id(req.name, req.namespace)
        spec = RunSpec(
            owner=owner,
            project=namespace,
            name=name,
            run_id=run_id,
            framework=FRAMEWORKS.get(int(req.framework), "unknown"),
            extra={"external_id": req.external_id} if req.external_id else {},
        )
        info, existed = self.store.create_run(spec)
        if not existed and req.HasField("metadata") and req.metadata.metadata:
            at = time.time()
            self.store.write(
                info.id,
                Batch(
                    metadata=[
                        MetadataUpdate(k, _wrap(_python(v)), at)
                        for k, v in req.metadata.metadata.items()
                    ]
                ),
            )
        return M("CreateExperimentResponse")(
            experiment_id=info.id,
            experiment_exists=existed,
            created_at=_timestamp(info.created_at),
            updated_at=_timestamp(info.updated_at),
        )

    def _experiment(self, info: Any) -> Any:
        return M("Experiment")(
            id=info.id,
            name=info.name,
            namespace=info.project,
            owner=info.owner,
            framework=_framework_enum(info.framework),
            external_id=str(info.external_id or info.extra.get("external_id") or ""),
            created_at=_timestamp(info.created_at),
            updated_at=_timestamp(info.updated_at),
        )

    def GetExperiment(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.id, "read")
        return M("GetExperimentResponse")(experiment=self._experiment(self.store.get_run(req.id)))

    def ListExperiments(self, req: Any, grant: Any) -> Any:
        namespace = check_name(req.namespace, "namespace")
        infos = [
            info
            for info in self.store.list_runs(project=namespace)
            if grant is None or grant.allows(info.owner, info.project, "read")
        ]
        return M("ListExperimentsResponse")(experiments=[self._experiment(i) for i in infos])

    # --- metadata -----------------------------------------------------------------------
    def UpdateMetadata(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "write")
        at = time.time()
        updates = [
            MetadataUpdate(k, _wrap(_python(v)), at) for k, v in req.metadata.metadata.items()
        ]
        if updates:
            self.store.write(req.parent_id, Batch(metadata=updates))
        return M("UpdateMetadataResponse")(num_keys_written=len(updates), updated_at=_timestamp(at))

    def ListMetadata(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "read")
        docs = self.store.read_metadata(req.parent_id)
        response = M("ListMetadataResponse")()
        for key, (value, _at) in docs.items():
            response.metadata[key].CopyFrom(_value(_unwrap(value)))
        return response

    # --- metrics ------------------------------------------------------------------------
    def LogMetrics(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "write")
        kind = req.value.WhichOneof("value")
        if kind is None:  # ModelBox ignores a metric without a value
            self.store.get_run(req.parent_id)
            return M("LogMetricsResponse")()
        key = req.key
        if not key:
            raise InvalidArgumentError("LogMetrics needs a non-empty key")
        if kind == "f_val":
            value: Any = float(str(np.float32(req.value.f_val)))
        elif kind == "s_tensor":
            value = req.value.s_tensor
        else:
            value = encode_bytes(req.value.b_tensor)
        row = {key: value, "_step": int(req.value.step), "_ts": float(req.value.wallclock_time)}
        check_key(key, "metric key")
        batch = Batch(rows={"default": [row]})
        if isinstance(value, float) and not np.isfinite(value):
            batch.nonfinite.add("default")
        self.store.write(req.parent_id, batch)
        return M("LogMetricsResponse")()

    def GetMetrics(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "read")
        values: dict[str, list[Any]] = {}
        start = 0
        while True:
            page = self.store.read_rows(req.parent_id, "default", start, PAGE)
            for index, row, _created in page.rows:
                step = max(0, int(row.get("_step", index)))
                wallclock = int(row.get("_ts", 0.0))
                for key, raw in row.items():
                    if key.startswith("_"):
                        continue
                    metric = _metric_value(step, wallclock, decode_value(raw))
                    if metric is not None:
                        values.setdefault(key, []).append(metric)
            start += len(page.rows)
            if not page.rows or start >= page.total:
                break
        return M("GetMetricsResponse")(
            metrics=[M("Metrics")(key=k, values=v) for k, v in values.items()]
        )

    # --- events -------------------------------------------------------------------------
    def LogEvent(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "write")
        if not req.HasField("event") or not req.event.HasField("source"):
            raise InvalidArgumentError("LogEvent needs an event with a source")
        event = req.event
        at = time.time()
        wallclock = _seconds(event.wallclock_time) if event.HasField("wallclock_time") else at
        metadata = {k: _python(v) for k, v in event.metadata.metadata.items()}
        self.store.write(
            req.parent_id,
            Batch(events=[Event(event.name, wallclock, event.source.name, metadata or None)]),
        )
        return M("LogEventResponse")(created_at=_timestamp(at))

    def ListEvents(self, req: Any, grant: Any) -> Any:
        self.ctx.allow_run(grant, req.parent_id, "read")
        since = _seconds(req.since) if req.HasField("since") else 0.0
        events = self.store.read_events(req.parent_id, since if since > 0 else None)
        return M("ListEventsResponse")(
            events=[
                M("Event")(
                    name=e.name,
                    source=M("EventSource")(name=e.source or ""),
                    wallclock_time=_ts(int(e.wallclock), 0),
                    metadata=M("Metadata")(
                        metadata={k: _value(v) for k, v in (e.metadata or {}).items()}
                    ),
                )
                for e in events
            ]
        )

    # --- cluster ------------------------------------------------------------------------
    def GetClusterMembers(self, req: Any, grant: Any) -> Any:
        host = socket.gethostname()
        return M("GetClusterMembersResponse")(
            members=[
                M("ClusterMember")(
                    id=f"{host}:{os.getpid()}",
                    host_name=host,
                    rpc_addr=self.rpc_addr,
                    http_addr=self.http_addr,
                )
            ]
        )

    def handlers(self) -> dict[str, Callable[[Any, Any], Any]]:
        names = (
            "CreateExperiment",
            "GetExperiment",
            "ListExperiments",
            "UpdateMetadata",
            "ListMetadata",
            "LogMetrics",
            "GetMetrics",
            "LogEvent",
            "ListEvents",
            "GetClusterMembers",
        )
        return {name: getattr(self, name) for name in names}


def _wrap(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {WRAPPED: value}


def _unwrap(doc: Any) -> Any:
    if isinstance(doc, dict) and len(doc) == 1 and WRAPPED in doc:
        return doc[WRAPPED]
    return doc


def _metric_value(step: int, wallclock: int, value: Any) -> Any:
    cls = M("MetricsValue")
    if isinstance(value, bool | int | float):
        return cls(step=step, wallclock_time=max(0, wallclock), f_val=float(value))
    if isinstance(value, str):
        return cls(step=step, wallclock_time=max(0, wallclock), s_tensor=value)
    if isinstance(value, bytes):
        return cls(step=step, wallclock_time=max(0, wallclock), b_tensor=value)
    return None
