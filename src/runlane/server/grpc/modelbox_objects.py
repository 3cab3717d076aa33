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

On a ServerStore, whose artifact records live in PostgreSQL (:mod:`runlane.store.server.mirror`),
the rpcs that create or change objects run in :meth:`ObjectRpcs.writing` of the projects they
touch plus the ModelBox id index (locked across replicas, pulled before, pushed after), and
the others pull what they read first (:meth:`ObjectRpcs.pulling`); an id this process cannot
resolve pulls every scope before it is reported unknown. ``UploadFile`` receives the bytes
before it locks anything.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane import settings
from runlane.compat.modelbox.backend import CheckpointRecord, ModelRecord, ModelVersionRecord
from runlane.compat.modelbox.files import CHUNK, ModelBoxFiles, check_tracked
from runlane.compat.modelbox.objects import ModelBoxObjects, Parent, experiment_only
from runlane.errors import InvalidArgumentError, NotFoundError
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

if TYPE_CHECKING:
    from runlane.store.server.mirror import ArtifactMirror

Project = tuple[str, str]


class ObjectRpcs:
    """Handlers ``(request, grant) -> response`` (server streams also take a stop event)."""

    ctx: ServerContext
    objects: ModelBoxObjects
    files: ModelBoxFiles

    # --- the mirror of a ServerStore ----------------------------------------------------
    def _mirror(self) -> ArtifactMirror | None:
        mirror: ArtifactMirror | None = getattr(self.ctx.store, "mirror", None)
        return mirror

    def _scopes(self, projects: tuple[Project, ...], index: bool) -> list[str]:
        from runlane.store.server.mirror import MODELBOX, scope_of

        return [scope_of(o, p) for o, p in projects] + ([MODELBOX] if index else [])

    def writing(
        self, *projects: Project, index: bool = True, run_id: str | None = None
    ) -> AbstractContextManager[Any]:
        """The block that changes objects of ``projects`` (and the id index): see the module
        docstring. Nothing more for a folder store. In a project the mapping writes only
        ``.models``, ``.artifacts`` and the folder of the parent's run (``run_id``)."""
        mirror = self._mirror()
        if mirror is None:
            return contextlib.nullcontext()
        scopes = self._scopes(projects, index)
        within = [
            f"{s}/{sub}" for s in scopes[: len(projects)] for sub in (".models", ".artifacts")
        ]
        if run_id is not None:
            within += [f"{s}/.runs/{run_id}" for s in scopes[: len(projects)]]
        return mirror.write(*scopes, within=within)

    def pulling(self, *projects: Project, index: bool = True) -> None:
        """Bring the records of ``projects`` (and the id index) up to date."""
        mirror = self._mirror()
        if mirror is not None:
            mirror.pull(*self._scopes(projects, index))

    def parent(self, parent_id: str, grant: Any, role: str) -> Parent:
        """The object ``parent_id`` once the grant allows ``role`` on its project."""
        try:
            found = self.objects.resolve(parent_id)
        except NotFoundError:
            mirror = self._mirror()
            if mirror is None:
                raise
            mirror.pull_all()  # made through another replica?
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
        with self.writing((owner, namespace)):
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
        mirror = self._mirror()
        if mirror is not None:
            mirror.pull_project(namespace)
        self.pulling()
        records = self.objects.list_models(namespace, allow)
        return M("ListModelsResponse")(models=[self._model(r) for r in records])

    # --- versions -----------------------------------------------------------------------
    def CreateModelVersion(self, req: Any, grant: Any) -> Any:
        model = self.parent(req.model, grant, "write")
        with self.writing((model.owner, model.project)):
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
        self.pulling((model.owner, model.project))
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
        with self.writing((experiment.owner, experiment.project), run_id=experiment.run_id):
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
        self.pulling((experiment.owner, experiment.project))
        records = self.objects.list_checkpoints(experiment.id)
        return M("ListCheckpointsResponse")(checkpoints=[self._checkpoint(r) for r in records])

    def GetCheckpoint(self, req: Any, grant: Any) -> Any:
        experiment = self.parent(req.experiment_id, grant, "read")
        experiment_only(experiment, "checkpoints")
        self.pulling((experiment.owner, experiment.project))
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

        path, checksum, kind = meta.path, meta.checksum, int(meta.file_type)
        if self._mirror() is None:
            record = self.files.upload(target, path, checksum, kind, chunks())
            return M("UploadFileResponse")(file_id=record.id)
        with tempfile.TemporaryDirectory(prefix="runlane-grpc-upload-") as folder:
            spool = Path(folder) / "data"  # received before anything is locked
            with open(spool, "wb") as out:
                for chunk in chunks():
                    out.write(chunk)
            with self.writing((target.owner, target.project), run_id=target.run_id):
                record = self.files.upload(target, path, checksum, kind, _replay(spool))
        return M("UploadFileResponse")(file_id=record.id)

    def DownloadFile(self, req: Any, grant: Any, stop: threading.Event) -> Iterator[Any]:
        self.pulling()
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
        with self.writing():
            for parent, f in zip(parents, req.files, strict=True):
                self.files.track(parent, f.path, f.checksum, int(f.file_type))
        return M("TrackArtifactsResponse")(
            num_files_tracked=len(parents), created_at=timestamp(time.time())
        )

    def ListArtifacts(self, req: Any, grant: Any) -> Any:
        parent = self.parent(req.parent_id, grant, "read")
        self.pulling()
        return M("ListArtifactsResponse")(files=[file_message(f) for f in self.files.files(parent)])


def _replay(spool: Path) -> Iterator[bytes]:
    with open(spool, "rb") as source:
        while block := source.read(CHUNK):
            yield block
