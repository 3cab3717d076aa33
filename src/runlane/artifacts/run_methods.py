"""Artifact methods of runs, mixed into :class:`runlane.sdk.run.Run` and
:class:`runlane.sdk.view.RunView`.

Everything here is a thin call into the artifact modules: :mod:`.writes` (storing),
:mod:`.refs` (reference-only lineage), :mod:`.assets` (encoders), :mod:`.reading`.
Write calls are synchronous (they return once the record is visible; files become durable
against power loss at ``finish()``), validate every argument before storing anything, and
raise on a finished run.

A run on a runlane server (``RemoteStore``) does the same through the server's REST API:
:func:`runlane.artifacts.remote.artifact_client` is the one switch (the context's ``server``
for writes, the client's readers for reads); local runs never touch it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from runlane.errors import InvalidArgumentError, RunStateError

if TYPE_CHECKING:
    from runlane.artifacts.context import ArtifactContext
    from runlane.artifacts.home import ArtifactHome
    from runlane.artifacts.reading import Asset, RunArtifacts
    from runlane.artifacts.records import ArtifactRecord
    from runlane.artifacts.registry import Checkpoint, ModelVersion
    from runlane.artifacts.storage import BlobStorage, Progress
    from runlane.artifacts.versions import Artifact, ArtifactVersion
    from runlane.entities import LineageRecord
    from runlane.store.base import Store


class ArtifactReads:
    """Read-side artifact methods of a run (mixed into RunView)."""

    store: Store
    id: str
    _artifacts_home: ArtifactHome | None = None

    if TYPE_CHECKING:

        def _before_read(self) -> None: ...

    def _artifact_home(self) -> ArtifactHome:
        if self._artifacts_home is None:
            from runlane.artifacts.home import home_of

            self._artifacts_home = home_of(self.store, self.id)
        return self._artifacts_home

    def get_artifacts_path(self, rel: str | None = None) -> str:
        """The run's artifacts root (its folder), or ``rel`` under it. Nothing is created."""
        from runlane.artifacts.paths import clean_rel_path, safe_join

        root = self._artifact_home().run_dir
        folder = clean_rel_path(rel)
        return str(safe_join(root, folder, "rel") if folder else root)

    @property
    def artifacts(self) -> RunArtifacts:
        """The run's artifacts in log order; ``.get(name, version=, step=)``,
        ``.download(name, version|step, dest)``."""
        from runlane.artifacts.reading import RunArtifacts
        from runlane.artifacts.remote import artifact_client

        self._before_read()
        client = artifact_client(self.store)
        if client is not None:
            return client.run_artifacts(self.id, self._artifact_home())
        return RunArtifacts(self._artifact_home())

    def assets(self, name: str, kind: str | None = None) -> list[Asset]:
        """Every step of a versioned asset or value, by step."""
        from runlane.artifacts.reading import assets_of

        return assets_of(self.artifacts, name, kind)

    def asset(self, name: str, step: int | None = None, kind: str | None = None) -> Asset:
        """The asset ``name`` at ``step`` (default: its last step). ArtifactNotFoundError
        lists the steps that exist."""
        from runlane.artifacts.errors import ArtifactNotFoundError

        found = self.assets(name, kind)
        if step is None:
            return found[-1]
        for item in found:
            if item.step == step:
                return item
        steps = ", ".join(str(a.step) for a in found)
        raise ArtifactNotFoundError(f"asset {name!r} has no step {step}; steps: {steps}")

    def checkpoints(self) -> list[Checkpoint]:
        """The run's checkpoints (epoch + metrics), by epoch."""
        from runlane.artifacts.registry import read_checkpoints
        from runlane.artifacts.remote import artifact_client

        self._before_read()
        client = artifact_client(self.store)
        if client is not None:
            return client.checkpoints(self.id)
        return read_checkpoints(self._artifact_home().run_dir)


class ArtifactWrites(ArtifactReads):
    """Write-side artifact methods of a live run (mixed into Run)."""

    _artifacts_ctx: ArtifactContext | None = None

    if TYPE_CHECKING:
        _finished: bool

        def log_lineage(self, record: LineageRecord) -> None: ...

        def add_closer(self, close: Any) -> None: ...

    def _artifact_context(self) -> ArtifactContext:
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log artifacts")
        if self._artifacts_ctx is None:
            from runlane.artifacts.context import ArtifactContext, storage_from_env
            from runlane.artifacts.remote import artifact_client

            client = artifact_client(self.store)
            if client is not None:
                home = self._artifact_home()
                ctx = ArtifactContext(home, self.log_lineage, server=client.for_run(home))
            else:
                ctx = ArtifactContext(self._artifact_home(), self.log_lineage, storage_from_env())
            self._artifacts_ctx = ctx
            self.add_closer(ctx.sync)
        return self._artifacts_ctx

    # --- paths and storage ----------------------------------------------------------------
    def get_outputs_path(self, rel: str | None = None, is_dir: bool = False) -> str:
        """``<run>/outputs[/rel]``; creates the parent folders (the folder itself when
        ``is_dir``). UnsafePathError for ``..``, absolute paths or symlinks out of the run."""
        from runlane.artifacts.paths import clean_rel_path, safe_join
        from runlane.artifacts.remote import artifact_client

        if artifact_client(self.store) is not None:
            self._artifact_context()  # on a server: what lands here is uploaded at finish()
        folder = clean_rel_path(rel)
        path = safe_join(
            self._artifact_home().run_dir, f"outputs/{folder}" if folder else "outputs"
        )
        (path if is_dir or folder is None else path.parent).mkdir(parents=True, exist_ok=True)
        return str(path)

    def use_artifact_storage(
        self,
        storage: str | os.PathLike[str] | BlobStorage | None,
        *,
        endpoint_url: str | None = None,
        **options: Any,
    ) -> None:
        """Send this run's artifact files to ``storage`` (``s3://bucket/prefix``, a folder or
        a BlobStorage) from now on, content-addressed; None goes back to the run folder.
        ``endpoint_url`` and ``options`` configure an S3 storage (see S3Storage)."""
        from runlane.artifacts.storage import BlobStorage, open_storage

        ctx = self._artifact_context()
        if ctx.server is not None:
            raise InvalidArgumentError(
                f"run {self.id} logs to the runlane server {self.store.uri}, which decides where "
                "artifact bytes go (`runlane server --artifacts s3://...`); use_artifact_storage "
                "applies to local runs only"
            )
        if storage is None or isinstance(storage, BlobStorage):
            ctx.remote = storage
        else:
            ctx.remote = open_storage(storage, endpoint_url=endpoint_url, **options)

    # --- files, folders, versions ---------------------------------------------------------
    @overload
    def log_artifact(
        self,
        path: Artifact,
        name: None = None,
        kind: None = None,
        step: None = None,
        rel_path: None = None,
        summary: None = None,
        versioned: bool = True,
        *,
        timestamp: float | None = None,
        aliases: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> ArtifactVersion: ...

    @overload
    def log_artifact(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        kind: object = None,
        step: int | None = None,
        rel_path: str | None = None,
        summary: Mapping[str, Any] | None = None,
        versioned: bool = True,
        *,
        timestamp: float | None = None,
        aliases: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> ArtifactRecord: ...

    def log_artifact(
        self,
        path: Any,
        name: str | None = None,
        kind: object = None,
        step: int | None = None,
        rel_path: str | None = None,
        summary: Mapping[str, Any] | None = None,
        versioned: bool = True,
        *,
        timestamp: float | None = None,
        aliases: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> Any:
        """Log a file or folder, or a :class:`runlane.Artifact`.

        * No ``step``: copied to ``outputs/[rel_path/]<basename>`` plus a lineage record.
        * With ``step`` (and ``versioned``): a versioned asset
          ``assets/<kind>/<name>_<step>.<ext>`` plus a row in ``events/<kind>/<name>.plx``.
        * An Artifact: its files become content-addressed blobs and a new version
          ``v0, v1, ...`` of its name in the project (the existing version when the content
          is identical); ``latest`` and ``aliases`` move to it. Returns ArtifactVersion.

        ``name`` defaults to the base name with its extension (``model.tar.gz``); ``kind`` to
        ``file``/``dir``. Raises SourceNotFoundError, UnsafePathError (a name or rel_path
        leaving the run), FileChangedError (the file changed while copied; nothing recorded).
        """
        from runlane.artifacts import writes
        from runlane.artifacts.versions import Artifact

        if isinstance(path, Artifact):
            if any(v is not None for v in (name, kind, step, rel_path, summary)):
                raise InvalidArgumentError(
                    "log_artifact(Artifact) takes no name/kind/step/rel_path/summary: set them "
                    "on the Artifact"
                )
            return writes.log_version(
                self._artifact_context(), path, aliases=aliases, progress=progress
            )
        return writes.log_path(
            self._artifact_context(),
            path,
            name=name,
            kind=kind,
            step=step,
            rel_path=rel_path,
            summary=summary,
            versioned=versioned,
            timestamp=timestamp,
            progress=progress,
        )

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        framework: str | None = None,
        summary: Mapping[str, Any] | None = None,
        step: int | None = None,
        rel_path: str | None = "model",
        *,
        register: bool = True,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        timestamp: float | None = None,
        progress: Progress | None = None,
    ) -> ArtifactRecord:
        """Log a model file or folder: under ``outputs/<rel_path>/`` (default
        ``outputs/model/``), or at ``step`` as ``assets/model/<name>_<step>.<ext>``; with
        ``register`` it becomes the next version of the registry model ``name`` (default:
        the base name), with ``latest`` and ``aliases`` pointing at it. The returned record's
        ``version`` names the registry version."""
        from runlane.artifacts import writes

        return writes.log_model(
            self._artifact_context(),
            path,
            name=name,
            framework=framework,
            summary=summary,
            step=step,
            rel_path=rel_path,
            register=register,
            aliases=aliases,
            tags=tags,
            metadata=metadata,
            description=description,
            timestamp=timestamp,
            progress=progress,
        )

    def log_checkpoint(
        self,
        epoch: int,
        metrics: Mapping[str, float] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> Checkpoint:
        """Record a checkpoint (ModelBox): ``epoch`` and its metrics, and optionally copy
        ``path`` to ``outputs/checkpoints/epoch-<epoch>/``. Re-logging an epoch replaces it."""
        from runlane.artifacts import writes

        return writes.log_checkpoint(self._artifact_context(), epoch, metrics, path)

    def use_artifact(self, ref: str, version: str | int | None = None) -> ArtifactVersion:
        """Declare that this run uses a project artifact version (``"name"``, ``"name:v3"``,
        ``"name@alias"``; default ``latest``): records an input lineage edge and returns the
        version (``.download(dest)`` to get its files)."""
        from runlane.artifacts.versions import VersionStore, parse_ref
        from runlane.entities import LineageRecord
        from runlane.timeutil import now

        ctx = self._artifact_context()
        name, inline = parse_ref(ref)
        wanted = version if version is not None else inline
        found = (
            ctx.server.artifact_version(name, wanted)
            if ctx.server is not None
            else VersionStore(ctx.home.artifacts_dir).get(name, wanted)
        )
        self.log_lineage(
            LineageRecord(
                name=found.name,
                kind=found.type,
                path=found.ref,
                is_input=True,
                hash=found.digest,
                size=found.size,
                at=now(),
                summary={"node": f"artifact:{found.ref}", "version": found.version},
            )
        )
        return found

    def use_model(self, name: str, version: str | int | None = None) -> ModelVersion:
        """Declare that this run uses a registered model version (default ``latest``; an
        alias such as ``production`` works): records an input lineage edge, returns it."""
        from runlane.artifacts.registry import ModelRegistry
        from runlane.entities import LineageRecord
        from runlane.timeutil import now

        ctx = self._artifact_context()
        found = (
            ctx.server.model_version(name, version)
            if ctx.server is not None
            else ModelRegistry(ctx.home.project_dir).version(name, version)
        )
        self.log_lineage(
            LineageRecord(
                name=found.name,
                kind="model",
                path=found.path,
                is_input=True,
                hash=found.sha256,
                size=found.size,
                at=now(),
                summary={
                    "node": f"model:{found.ref}",
                    "version": found.version,
                    "framework": found.framework,
                },
            )
        )
        return found

    # --- reference-only lineage -----------------------------------------------------------
    def log_artifact_ref(
        self,
        path: str | os.PathLike[str],
        kind: object = "artifact",
        name: str | None = None,
        hash: str | None = None,
        content: Any = None,
        summary: Mapping[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
    ) -> LineageRecord:
        """Record a reference to ``path`` (``s3://...``, a path outside the run, or one
        inside it) without copying anything. ``is_input`` marks something the run used."""
        from runlane.artifacts.refs import reference

        ctx = self._artifact_context()
        record = reference(
            ctx.run_dir,
            path,
            kind=kind,
            name=name,
            hash=hash,
            content=content,
            summary=summary,
            is_input=is_input,
            rel_path=rel_path,
        )
        self.log_lineage(record)
        return record

    def log_model_ref(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        framework: str | None = None,
        summary: Mapping[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
    ) -> LineageRecord:
        """``log_artifact_ref`` with kind ``model`` and ``summary.framework``."""
        extra = {**(summary or {}), **({"framework": framework} if framework else {})}
        return self.log_artifact_ref(
            path, "model", name, summary=extra, is_input=is_input, rel_path=rel_path
        )

    def log_file_ref(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        hash: str | None = None,
        summary: Mapping[str, Any] | None = None,
        is_input: bool = False,
    ) -> LineageRecord:
        return self.log_artifact_ref(
            path, "file", name, hash=hash, summary=summary, is_input=is_input
        )

    def log_dir_ref(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        summary: Mapping[str, Any] | None = None,
        is_input: bool = False,
    ) -> LineageRecord:
        return self.log_artifact_ref(path, "dir", name, summary=summary, is_input=is_input)

    def log_code_ref(
        self, code_ref: Mapping[str, Any] | None = None, is_input: bool = True
    ) -> LineageRecord | None:
        """Record the code a run used: ``{"commit", "branch", "url"}``, or the current git
        checkout when None. Returns None (records nothing) outside a git repository."""
        from runlane.artifacts.refs import code_reference

        self._artifact_context()
        record = code_reference(code_ref, is_input=is_input)
        if record is not None:
            self.log_lineage(record)
        return record

    # --- versioned assets -----------------------------------------------------------------
    def _encoded(
        self, encoded: Any, name: str, kind: str, step: int | None, timestamp: float | None
    ) -> ArtifactRecord:
        from runlane.artifacts import writes

        return writes.log_encoded(
            self._artifact_context(), encoded, name=name, kind=kind, step=step, timestamp=timestamp
        )

    def _value(
        self, name: str, kind: str, step: int | None, timestamp: float | None, value: Any
    ) -> ArtifactRecord:
        from runlane.artifacts import writes

        return writes.log_value(
            self._artifact_context(),
            name=name,
            kind=kind,
            step=step,
            timestamp=timestamp,
            value=value,
        )

    def log_image(
        self,
        data: Any,
        name: str | None = None,
        step: int | None = None,
        timestamp: float | None = None,
        rescale: float = 1,
        dataformats: str | None = None,
    ) -> ArtifactRecord:
        """An image (numpy ``HW``/``HWC``/``CHW`` — detected, or set by ``dataformats`` —,
        a PIL image, or an image file) as ``assets/image/<name>_<step>.png``."""
        from runlane.artifacts.assets import encode_image

        label = name or _stem(data, "image")
        self._artifact_context()
        return self._encoded(
            encode_image(data, dataformats, rescale), label, "image", step, timestamp
        )

    def log_audio(
        self,
        data: Any,
        name: str | None = None,
        sample_rate: int = 44100,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """Audio samples (``(n,)`` or ``(n, channels)``, floats in [-1, 1] or int16) or a WAV
        file, as ``assets/audio/<name>_<step>.wav``."""
        from runlane.artifacts.assets import encode_audio

        label = name or _stem(data, "audio")
        self._artifact_context()
        return self._encoded(encode_audio(data, sample_rate), label, "audio", step, timestamp)

    def log_dataframe(
        self,
        df: Any,
        name: str,
        content_type: str = "csv",
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A pandas DataFrame as ``assets/dataframe/<name>_<step>.csv`` (or ``.parquet``)."""
        from runlane.artifacts.assets import encode_dataframe

        self._artifact_context()
        return self._encoded(encode_dataframe(df, content_type), name, "dataframe", step, timestamp)

    def log_text(
        self, name: str, text: str, step: int | None = None, timestamp: float | None = None
    ) -> ArtifactRecord:
        """Text at a step, in ``events/text/<name>.plx`` (JSON lines)."""
        return self._value(name, "text", step, timestamp, str(text))

    def log_html(
        self, name: str, html: str, step: int | None = None, timestamp: float | None = None
    ) -> ArtifactRecord:
        """HTML at a step, in ``events/html/<name>.plx`` (JSON lines)."""
        return self._value(name, "html", step, timestamp, str(html))

    def log_histogram(
        self,
        name: str,
        values: Any,
        bins: Any = 10,
        max_bins: int | None = None,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A histogram of raw ``values`` (numpy binning: an int or bin edges)."""
        from runlane.artifacts.assets import histogram_value

        return self._value(
            name, "histogram", step, timestamp, histogram_value(values, bins, max_bins)
        )

    def log_np_histogram(
        self,
        name: str,
        values: Any,
        counts: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A precomputed histogram: bin edges (or centres) ``values`` and ``counts``."""
        from runlane.artifacts.assets import np_histogram_value

        return self._value(name, "histogram", step, timestamp, np_histogram_value(values, counts))

    def log_curve(
        self,
        name: str,
        x: Any,
        y: Any,
        annotation: Any = None,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A custom curve ``{"kind": "custom", "x", "y", "annotation"}``."""
        from runlane.artifacts.assets import curve_value

        return self._value(name, "curve", step, timestamp, curve_value(x, y, annotation))

    def log_roc_auc_curve(
        self,
        name: str,
        fpr: Any,
        tpr: Any,
        auc: float | None = None,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A ROC curve from false/true positive rates; ``auc`` is the annotation."""
        from runlane.artifacts.assets import curve_value

        return self._value(name, "curve", step, timestamp, curve_value(fpr, tpr, auc, kind="roc"))

    def log_pr_curve(
        self,
        name: str,
        precision: Any,
        recall: Any,
        average_precision: float | None = None,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A precision-recall curve (x = recall, y = precision)."""
        from runlane.artifacts.assets import curve_value

        return self._value(
            name,
            "curve",
            step,
            timestamp,
            curve_value(recall, precision, average_precision, kind="pr"),
        )

    def log_roc_curve_from_scores(
        self,
        name: str,
        y_true: Any,
        y_score: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """Compute the ROC curve and its AUC from 0/1 labels and scores, then log it."""
        from runlane.artifacts import curves

        fpr, tpr, _ = curves.roc_curve(y_true, y_score)
        return self.log_roc_auc_curve(name, fpr, tpr, curves.auc(fpr, tpr), step, timestamp)

    def log_pr_curve_from_scores(
        self,
        name: str,
        y_true: Any,
        y_score: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """Compute the precision-recall curve and average precision, then log it."""
        from runlane.artifacts import curves

        precision, recall, _ = curves.pr_curve(y_true, y_score)
        return self.log_pr_curve(
            name, precision, recall, curves.average_precision(y_true, y_score), step, timestamp
        )

    def log_sklearn_roc_auc_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """Polyaxon's spelling: ROC from scores ``y_preds`` and labels ``y_targets``."""
        return self.log_roc_curve_from_scores(name, y_targets, y_preds, step, timestamp)

    def log_sklearn_pr_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """Polyaxon's spelling: PR from scores ``y_preds`` and labels ``y_targets``."""
        return self.log_pr_curve_from_scores(name, y_targets, y_preds, step, timestamp)

    def log_confusion_matrix(
        self,
        name: str,
        x: Any,
        y: Any,
        z: Any,
        step: int | None = None,
        timestamp: float | None = None,
    ) -> ArtifactRecord:
        """A confusion matrix: labels ``x`` (columns), ``y`` (rows), values ``z``."""
        from runlane.artifacts.assets import confusion_value

        return self._value(name, "confusion", step, timestamp, confusion_value(x, y, z))


def _stem(data: Any, default: str) -> str:
    if isinstance(data, str | os.PathLike):
        from runlane.artifacts.paths import split_ext

        return split_ext(Path(os.fspath(data)).name)[0]
    return default
