"""ModelBox's ``modelbox.ModelStore`` service on a runlane Store: all 22 rpcs, with the mapping
of the local facade (:mod:`runlane.compat.modelbox.local`, :mod:`runlane.compat.modelbox.objects`,
:mod:`runlane.compat.modelbox.files`), so the two read each other's data:

* an experiment is a run: id ``sha1(name + namespace)`` (creating it again returns the same
  id with ``experiment_exists``; metadata is written on first creation only), project
  ``<owner>/<namespace>``, framework ``pytorch``/``tensorflow``/``unknown``, ModelBox's
  external id in ``extra.external_id``; ``ListExperiments(namespace)`` lists the runs of
  project ``namespace`` under every owner the caller may read;
* metadata of an experiment are the run's metadata documents (a value that is not a JSON
  object is kept as ``{"$json": value}``); of a model or model version, the registry's
  metadata; checkpoints keep none;
* a metric ``LogMetrics(key, step, wallclock, value)`` is a row ``{key: value, "_step": step,
  "_ts": wallclock}`` of the run's default stream; ``f_val`` (float32, kept at its shortest
  decimal), ``s_tensor`` and ``b_tensor`` are all kept (ModelBox's server refused the last
  two); every numeric field of the default stream reads back through ``GetMetrics``;
* events are the run's events; ``ListEvents`` truncates wallclocks to seconds as ModelBox;
* models, versions, checkpoints and files: see :mod:`.modelbox_objects`; metrics and events
  of those objects are refused with INVALID_ARGUMENT (runlane keeps them on experiments);
* ``WatchNamespace`` streams the namespace's changes (:mod:`.watch`): it polls the store
  every ``watch_interval`` seconds, and at once after this process changed something, so it
  sees the writes of every replica. ``since`` (epoch seconds, or milliseconds for values of
  10^11 and more; 0: the start of the call) picks the oldest change reported. The stream ends
  when the client cancels it (or the server stops).

Every rpc checks the caller's grant (a bearer token in the ``authorization`` metadata) on the
project of the object it touches: another project's token gets PERMISSION_DENIED.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from runlane import settings
from runlane.compat.modelbox.backend import object_id
from runlane.compat.modelbox.files import ModelBoxFiles
from runlane.compat.modelbox.objects import EXPERIMENT, ModelBoxObjects, experiment_only
from runlane.entities import Batch, Event, MetadataUpdate, RunSpec
from runlane.errors import InvalidArgumentError
from runlane.names import check_key, check_name
from runlane.server.context import ServerContext
from runlane.server.grpc.convert import (
    FRAMEWORKS,
    f32,
    framework_enum,
    seconds,
    timestamp,
    to_python,
    to_value,
    ts,
    unwrap,
    wrap,
)
from runlane.server.grpc.files import server_blob_storage
from runlane.server.grpc.modelbox_objects import ObjectRpcs
from runlane.server.grpc.protos import M, enum_value
from runlane.server.grpc.watch import NamespaceWatch
from runlane.values import decode_value, encode_bytes

PAGE = 10_000
#: rpcs after which watches of this process poll at once.
CHANGES = frozenset(
    {"CreateExperiment", "UpdateMetadata", "CreateModel", "CreateModelVersion", "CreateCheckpoint"}
)
MILLISECONDS = 10**11  # a ``since`` this large is in milliseconds


class ModelBoxService(ObjectRpcs):
    """Handlers ``(request, grant) -> response``, server streams ``(request, grant, stop) ->
    iterator`` (``stop`` is set when the call ends); the gRPC glue is in :mod:`.server`."""

    def __init__(
        self,
        ctx: ServerContext,
        rpc_addr: str = "",
        http_addr: str = "",
        *,
        watch_interval: float = 0.5,
    ) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.rpc_addr = rpc_addr
        self.http_addr = http_addr
        self.watch_interval = watch_interval
        self.objects = ModelBoxObjects(ctx.store)
        self.files = ModelBoxFiles(self.objects, server_blob_storage(ctx.store))
        self._changed = threading.Condition()

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
                        MetadataUpdate(k, wrap(to_python(v)), at)
                        for k, v in req.metadata.metadata.items()
                    ]
                ),
            )
        return M("CreateExperimentResponse")(
            experiment_id=info.id,
            experiment_exists=existed,
            created_at=timestamp(info.created_at),
            updated_at=timestamp(info.updated_at),
        )

    def _experiment(self, info: Any) -> Any:
        return M("Experiment")(
            id=info.id,
            name=info.name,
            namespace=info.project,
            owner=info.owner,
            framework=framework_enum(info.framework),
            external_id=str(info.external_id or info.extra.get("external_id") or ""),
            created_at=timestamp(info.created_at),
            updated_at=timestamp(info.updated_at),
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

    # --- metadata ---------------------------------------------------------------------
    def UpdateMetadata(self, req: Any, grant: Any) -> Any:
        parent = self.parent(req.parent_id, grant, "write")
        values = {k: to_python(v) for k, v in req.metadata.metadata.items()}
        at = time.time()
        if parent.kind != EXPERIMENT:
            with self.writing((parent.owner, parent.project), index=False):
                at = self.objects.update_metadata(parent, values)
        elif values:
            updates = [MetadataUpdate(k, wrap(v), at) for k, v in values.items()]
            self.store.write(parent.id, Batch(metadata=updates))
        return M("UpdateMetadataResponse")(num_keys_written=len(values), updated_at=timestamp(at))

    def ListMetadata(self, req: Any, grant: Any) -> Any:
        parent = self.parent(req.parent_id, grant, "read")
        if parent.kind != EXPERIMENT:
            values = self.objects.list_metadata(parent)
        else:
            docs = self.store.read_metadata(parent.id)
            values = {key: unwrap(value) for key, (value, _at) in docs.items()}
        response = M("ListMetadataResponse")()
        for key, value in values.items():
            response.metadata[key].CopyFrom(to_value(value))
        return response

    # --- metrics ------------------------------------------------------------------------
    def LogMetrics(self, req: Any, grant: Any) -> Any:
        experiment_only(self.parent(req.parent_id, grant, "write"), "metrics")
        kind = req.value.WhichOneof("value")
        if kind is None:  # ModelBox ignores a metric without a value
            return M("LogMetricsResponse")()
        key = req.key
        if not key:
            raise InvalidArgumentError("LogMetrics needs a non-empty key")
        if kind == "f_val":
            value: Any = f32(req.value.f_val)
        elif kind == "s_tensor":
            value = req.value.s_tensor
        else:
            value = encode_bytes(req.value.b_tensor)
        row = {key: value, "_step": int(req.value.step), "_ts": float(req.value.wallclock_time)}
        check_key(key, "metric key")
        batch = Batch(rows={"default": [row]})
        if isinstance(value, float) and not math.isfinite(value):
            batch.nonfinite.add("default")
        self.store.write(req.parent_id, batch)
        return M("LogMetricsResponse")()

    def GetMetrics(self, req: Any, grant: Any) -> Any:
        experiment_only(self.parent(req.parent_id, grant, "read"), "metrics")
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
        experiment_only(self.parent(req.parent_id, grant, "write"), "events")
        if not req.HasField("event") or not req.event.HasField("source"):
            raise InvalidArgumentError("LogEvent needs an event with a source")
        event = req.event
        at = time.time()
        wallclock = seconds(event.wallclock_time) if event.HasField("wallclock_time") else at
        metadata = {k: to_python(v) for k, v in event.metadata.metadata.items()}
        self.store.write(
            req.parent_id,
            Batch(events=[Event(event.name, wallclock, event.source.name, metadata or None)]),
        )
        return M("LogEventResponse")(created_at=timestamp(at))

    def ListEvents(self, req: Any, grant: Any) -> Any:
        experiment_only(self.parent(req.parent_id, grant, "read"), "events")
        since = seconds(req.since) if req.HasField("since") else 0.0
        events = self.store.read_events(req.parent_id, since if since > 0 else None)
        return M("ListEventsResponse")(
            events=[
                M("Event")(
                    name=e.name,
                    source=M("EventSource")(name=e.source or ""),
                    wallclock_time=ts(int(e.wallclock), 0),
                    metadata=M("Metadata")(
                        metadata={k: to_value(v) for k, v in (e.metadata or {}).items()}
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

    # --- watching ---------------------------------------------------------------------
    def WatchNamespace(self, req: Any, grant: Any, stop: threading.Event) -> Iterator[Any]:
        started = time.time()
        namespace = check_name(req.namespace, "namespace")
        scope = None if grant is None else (grant.project.rpartition("/")[0] or None)
        self.ctx.allow_project(grant, scope, namespace, "read")
        since = float(req.since) / (1000.0 if req.since >= MILLISECONDS else 1.0)
        watch = NamespaceWatch(
            self.objects,
            namespace,
            (lambda o, p: True) if grant is None else (lambda o, p: grant.allows(o, p, "read")),
            since if req.since else started,
        )
        response = M("WatchNamespaceResponse")
        while not stop.is_set():
            for event, payload in watch.poll():
                yield response(event=enum_value("ServerEvent", event), payload=to_value(payload))
            with self._changed:
                self._changed.wait(self.watch_interval)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def handlers(self) -> dict[str, Callable[..., Any]]:
        """Every ModelStore rpc by name; those of :data:`CHANGES` wake this process's
        watches once they succeeded."""
        out: dict[str, Callable[..., Any]] = {}
        for name in (
            "CreateModel",
            "ListModels",
            "CreateModelVersion",
            "ListModelVersions",
            "CreateExperiment",
            "ListExperiments",
            "GetExperiment",
            "CreateCheckpoint",
            "ListCheckpoints",
            "GetCheckpoint",
            "UploadFile",
            "DownloadFile",
            "UpdateMetadata",
            "ListMetadata",
            "TrackArtifacts",
            "ListArtifacts",
            "LogMetrics",
            "GetMetrics",
            "LogEvent",
            "ListEvents",
            "WatchNamespace",
            "GetClusterMembers",
        ):
            handler = getattr(self, name)
            out[name] = self._notifying(handler) if name in CHANGES else handler
        return out

    def _notifying(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def call(request: Any, grant: Any) -> Any:
            response = handler(request, grant)
            self._notify()
            return response

        return call


def _metric_value(step: int, wallclock: int, value: Any) -> Any:
    cls = M("MetricsValue")
    if isinstance(value, bool | int | float):
        return cls(step=step, wallclock_time=max(0, wallclock), f_val=float(value))
    if isinstance(value, str):
        return cls(step=step, wallclock_time=max(0, wallclock), s_tensor=value)
    if isinstance(value, bytes):
        return cls(step=step, wallclock_time=max(0, wallclock), b_tensor=value)
    return None
