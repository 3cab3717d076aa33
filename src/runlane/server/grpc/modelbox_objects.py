"""The ``modelbox.ModelStore`` rpcs of models, model versions, checkpoints and files, mixed
into :class:`~runlane.server.grpc.modelbox_service.ModelBoxService`.

They follow the mapping the local ModelBox facade uses (:mod:`runlane.compat.modelbox.objects`
and :mod:`runlane.compat.modelbox.files`), so what one writes the other reads:

* ``CreateModel``/``ListModels``: registry models of ``<owner>/<namespace>``; a model's
  ``files`` are its ModelBox files. ``ListModels`` lists every owner the caller may read.
* ``CreateModelVersion``/``ListModelVersions``: registry versions labelled with ModelBox's
  version string. ``ListModelVersionsResponse.models`` is a single message in ModelBox's
  proto (not repeated), so it carries the model's latest version; runlane's extension field
  (:data:`~runlane.server.grpc.protos.VERSIONS_FIELD`, skipped by ModelBox's clients) carries
  every version, oldest first.
* ``CreateCheckpoint``/``ListCheckpoints``/``GetCheckpoint``: run checkpoints of the
  experiment; metrics arrive as float32 and are kept at their shortest decimal. Checkpoints
  keep no metadata (a request with metadata is refused).
* Files given to the create rpcs are tracked (no bytes) when the object is new.
  ``UploadFile`` takes the file's ``FileMetadata`` first, then its chunks, and stores the bytes
  as an artifact of the parent; ``DownloadFile`` streams the metadata first, then the bytes
  (256 KiB chunks, sha256 verified at the end); ``TrackArtifacts`` records files of any
  parents (all checked before any is written); ``ListArtifacts`` lists a parent's files.

Every rpc checks the caller's grant on the project of the object it touches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from runlane import settings
from runlane.compat.modelbox.backend import CheckpointRecord, ModelRecord, ModelVersionRecord
from runlane.compat.modelbox.files import ModelBoxFiles, check_tracked
from runlane.compat.modelbox.objects import ModelBoxObjects, Parent, experiment_only
from runlane.errors import InvalidArgumentError
from runlane.names import check_name
from runlane.server.context import ServerContext
from runlane.server.grpc.convert import (
    FRAMEWORKS,
    f32,
    file_message,
    framework_enum,
    metadata_of,
    timestamp,
    to_value,
)
from runlane.server.grpc.protos import M, model_versions_message


class ObjectRpcs:
    """Handlers ``(request, grant) -> response`` (server streams also take a stop event)."""

    ctx: ServerContext
    objects: ModelBoxObjects
    files: ModelBoxFiles

    def parent(self, parent_id: str, grant: Any, role: str) -> Parent:
        """The object ``parent_id`` once the grant allows ``role`` on its project."""
        found = self.objects.resolve(parent_id)
        self.ctx.allow_project(grant, found.owner, found.project, role)
        return found

    def _track(self, parent: Parent, files: Any) -> None:
        for f in files:
            self.files.track(parent, f.path, f.checksum, int(f.file_type))

    # --- models -------------------------------------------------------------------------
    def CreateModel(self, req: Any, grant: Any) -> Any:
        namespace = check_name(req.namespace, "namespace")
        owner = check_name(req.owner or settings.default_owner(), "owner")
        self.ctx.allow_project(grant, owner, namespace, "write")
        record = self.objects.create_model(
            req.name, owner, namespace, req.task, req.description, metadata_of(req.metadata)
        )
        if not record.exists:
            self._track(self.objects.model(record.id), req.files)
        return M("CreateModelResponse")(
            id=record.id,
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.updated_at),
        )

    def _model(self, record: ModelRecord) -> Any:
        parent = self.objects.model(record.id)
        return M("Model")(
            id=record.id,
            name=record.name,
            owner=record.owner,
            namespace=record.namespace,
            description=record.description,
            task=record.task,
            files=[file_message(f) for f in self.files.files(parent)],
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.updated_at),
        )

    def ListModels(self, req: Any, grant: Any) -> Any:
        namespace = check_name(req.namespace, "namespace")
        allow = None if grant is None else (lambda o, p: bool(grant.allows(o, p, "read")))
        records = self.objects.list_models(namespace, allow)
        return M("ListModelsResponse")(models=[self._model(r) for r in records])

    # --- versions -----------------------------------------------------------------------
    def CreateModelVersion(self, req: Any, grant: Any) -> Any:
        model = self.parent(req.model, grant, "write")
        record = self.objects.create_model_version(
            model.id,
            req.version,
            req.name,
            req.description,
            FRAMEWORKS.get(int(req.framework), "unknown"),
            list(req.unique_tags),
            metadata_of(req.metadata),
        )
        if not record.exists:
            self._track(self.objects.resolve(record.id), req.files)
        return M("CreateModelVersionResponse")(
            model_version=record.id,
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.created_at),
        )

    def _version(self, record: ModelVersionRecord) -> Any:
        parent = self.objects.resolve(record.id)
        return M("ModelVersion")(
            id=record.id,
            model_id=record.model_id,
            name=record.name,
            version=record.version,
            description=record.description,
            files=[file_message(f) for f in self.files.files(parent)],
            metadata=M("Metadata")(metadata={k: to_value(v) for k, v in record.metadata.items()}),
            framework=framework_enum(record.framework),
            unique_tags=list(record.unique_tags),
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.created_at),
        )

    def ListModelVersions(self, req: Any, grant: Any) -> Any:
        model = self.parent(req.model, grant, "read")
        records = self.objects.list_model_versions(model.id)
        if not records:
            return M("ListModelVersionsResponse")()
        versions = [self._version(r) for r in records]
        extended = model_versions_message()(models=versions[-1], versions=versions)
        return M("ListModelVersionsResponse").FromString(extended.SerializeToString())

    # --- checkpoints --------------------------------------------------------------------
    def CreateCheckpoint(self, req: Any, grant: Any) -> Any:
        experiment = self.parent(req.experiment_id, grant, "write")
        experiment_only(experiment, "checkpoints")
        if req.HasField("metadata") and req.metadata.metadata:
            raise InvalidArgumentError(
                "checkpoints keep no metadata; update the experiment's metadata instead"
            )
        record = self.objects.create_checkpoint(
            experiment.id, int(req.epoch), {k: f32(v) for k, v in req.metrics.items()}
        )
        if not record.exists:
            self._track(self.objects.resolve(record.id), req.files)
        return M("CreateCheckpointResponse")(
            checkpoint_id=record.id,
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.created_at),
        )

    def _checkpoint(self, record: CheckpointRecord) -> Any:
        parent = self.objects.resolve(record.id)
        return M("Checkpoint")(
            id=record.id,
            epoch=record.epoch,
            experiment_id=record.experiment_id,
            files=[file_message(f) for f in self.files.files(parent)],
            metrics=record.metrics,
            created_at=timestamp(record.created_at),
            updated_at=timestamp(record.created_at),
        )

    def ListCheckpoints(self, req: Any, grant: Any) -> Any:
        experiment = self.parent(req.experiment_id, grant, "read")
        experiment_only(experiment, "checkpoints")
        records = self.objects.list_checkpoints(experiment.id)
        return M("ListCheckpointsResponse")(checkpoints=[self._checkpoint(r) for r in records])

    def GetCheckpoint(self, req: Any, grant: Any) -> Any:
        experiment = self.parent(req.experiment_id, grant, "read")
        experiment_only(experiment, "checkpoints")
        record = self.objects.get_checkpoint(experiment.id, int(req.epoch))
        return M("GetCheckpointResponse")(checkpoint=self._checkpoint(record))

    # --- files --------------------------------------------------------------------------
    def UploadFile(self, requests: Iterator[Any], grant: Any) -> Any:
        first = next(requests, None)
        if first is None or first.WhichOneof("stream_frame") != "metadata":
            raise InvalidArgumentError(
                "UploadFile takes the file's FileMetadata as its first message, then chunks"
            )
        meta = first.metadata
        target = self.parent(meta.parent_id, grant, "write")

        def chunks() -> Iterator[bytes]:
            for request in requests:
                if request.WhichOneof("stream_frame") == "metadata":
                    raise InvalidArgumentError(
                        "UploadFile takes one FileMetadata message, the first; the rest are chunks"
                    )
                yield request.chunks

        record = self.files.upload(target, meta.path, meta.checksum, int(meta.file_type), chunks())
        return M("UploadFileResponse")(file_id=record.id)

    def DownloadFile(self, req: Any, grant: Any, stop: threading.Event) -> Iterator[Any]:
        owner, record = self.files.find(req.file_id)
        self.ctx.allow_project(grant, owner.owner, owner.project, "read")
        chunks = self.files.read(owner, record)
        frame = M("DownloadFileResponse")
        yield frame(metadata=file_message(record))
        for block in chunks:
            if stop.is_set():
                return
            yield frame(chunks=block)

    def TrackArtifacts(self, req: Any, grant: Any) -> Any:
        parents = [self.parent(f.parent_id, grant, "write") for f in req.files]
        for f in req.files:
            check_tracked(f.path, f.checksum)
        for parent, f in zip(parents, req.files, strict=True):
            self.files.track(parent, f.path, f.checksum, int(f.file_type))
        return M("TrackArtifactsResponse")(
            num_files_tracked=len(parents), created_at=timestamp(time.time())
        )

    def ListArtifacts(self, req: Any, grant: Any) -> Any:
        parent = self.parent(req.parent_id, grant, "read")
        return M("ListArtifactsResponse")(files=[file_message(f) for f in self.files.files(parent)])
