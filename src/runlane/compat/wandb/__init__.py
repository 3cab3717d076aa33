"""Weights & Biases calls on runlane: ``import runlane.compat.wandb as wandb``.

    import runlane.compat.wandb as wandb

    wandb.init(project="mnist", name="baseline", config={"lr": 0.01}, tags=["cnn"])
    wandb.config.update({"epochs": 3})
    for epoch in range(3):
        wandb.log({"loss": 1 / (epoch + 1), "samples": wandb.Image(array)})
    wandb.summary["best_acc"] = 0.93
    wandb.finish()

What each W&B call becomes:

* ``init(project, entity, name, config, tags, notes, group, job_type, id, resume, reinit, mode,
  dir)`` → :func:`runlane.init` (``entity`` → owner, ``notes`` → description, ``job_type`` →
  ``extra.job_type``; a name runlane cannot use as a name is slugified). ``WANDB_PROJECT``,
  ``WANDB_ENTITY``, ``WANDB_NAME`` and ``WANDB_MODE`` are read as W&B does. ``mode="disabled"``
  logs to memory only. ``id`` with ``resume`` (``"allow"``/``"must"``/``True``) rejoins that
  run. Other W&B keyword arguments are accepted and ignored; runlane's own (``store``,
  ``capture_git``, ``system_metrics``...) pass through. Returns a :class:`Run`, also
  ``wandb.run``; ``wandb.config`` and ``wandb.summary`` are that run's.
* ``log(data, step=None, commit=None)`` with W&B's step rules: without ``step`` each call is a
  new step unless ``commit=False``; with ``step`` the data waits at that step until a later
  step or ``commit=True`` (a step lower than the current one is dropped with a warning, as W&B
  does). A step's merged row goes to runlane's default stream with ``_step`` = the step. Nested
  dicts flatten to ``a.b``; :class:`Image` and :class:`Table` values are stored as media
  (below); numbers, bools, strings and 0-d arrays/tensors are row fields.
* ``config``: attribute and item access, ``update(d, allow_val_change=)``, ``setdefaults``,
  ``as_dict()``; every change is merged into the run's params (nested → dotted keys).
* ``summary``: a dict of the last value of each logged field (plus ``_step``), updated by
  ``log``; ``summary[k] = v`` / ``update`` override it. It is kept as the run's ``summary``
  metadata document: written at once for explicit changes, at most once a second for
  ``log``'s, and at ``finish``.
* ``Image`` → a PNG image asset at the step (``run.log_image``; arrays HW/HWC, or CHW when the
  first axis is 1, 3 or 4 and the last is not; floats ≤ 1 scaled by 255; PIL images; image
  files; captions are not kept); a list of images → ``key.0``, ``key.1``...; ``Table`` → a
  CSV dataframe asset at the step (``run.log_dataframe``, needs pandas). Media keys have
  ``/`` replaced by ``.``.
* ``Artifact``/``log_artifact`` → a new version of a project artifact (:class:`runlane.Artifact`,
  content-addressed, ``latest`` and ``aliases`` moved to it); ``add_reference`` URIs become
  output lineage references; ``use_artifact("[entity/project/]name[:v3|:alias]")`` records an
  input edge and returns the version (``download()``).
* ``finish(exit_code=None)`` → ``succeeded`` (``failed`` for a non-zero exit code), after
  committing a pending step and the summary. ``watch``/``unwatch``/``login``/``define_metric``'s
  plotting options are accepted; runlane does not log gradients.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import runlane
from runlane.compat.wandb._objects import Artifact, Config, Image, Summary, Table
from runlane.errors import InvalidArgumentError, InvalidNameError, InvalidValueError
from runlane.integrations.config import config_to_dict
from runlane.names import check_name, slugify
from runlane.sdk.run import Run as _CoreRun
from runlane.sdk.run import coerce_row

if TYPE_CHECKING:
    from runlane.artifacts.versions import ArtifactVersion

__all__ = [
    "Artifact",
    "Config",
    "Image",
    "Run",
    "Summary",
    "Table",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "run",
    "summary",
    "unwatch",
    "use_artifact",
    "watch",
]

_RUNLANE_KWARGS = (
    "store",
    "capture_git",
    "capture_env",
    "capture_stdio",
    "system_metrics",
    "system_interval",
    "folder",
    "source",
    "echo_logs",
    "metadata",
)


# --- the run ------------------------------------------------------------------------------
class Run:
    """What ``wandb.init`` returns: ``log``, ``config``, ``summary``, ``finish``,
    ``log_artifact``, ``use_artifact``, ``id``, ``name``, ``project``, ``entity``, ``step``."""

    def __init__(self, core: _CoreRun, config: Config) -> None:
        self.core = core
        self.config = config
        self.summary = Summary(core)
        self._step = 0
        self._pending: dict[str, Any] = {}
        self._media: list[tuple[str, Any]] = []
        self._step_metrics: dict[str, str] = {}
        info = core.info
        self.id = core.id
        self.name = info.name
        self.project = info.project
        self.entity = info.owner
        self.group = info.group
        self.tags = info.tags
        self.dir = core.path
        self.path = f"{info.owner}/{info.project}/{core.id}"
        self.url: str | None = None
        self.resumed = core.existed

    @property
    def step(self) -> int:
        return self._step

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        if not isinstance(data, Mapping):
            raise InvalidValueError(f"wandb.log() takes a dict, not {type(data).__name__}")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise InvalidArgumentError(f"step {step!r} must be an int ≥ 0")
            if step < self._step:
                print(
                    f"wandb (runlane): step {step} < current step {self._step}; "
                    "dropping this log call, as W&B does",
                    file=sys.stderr,
                )
                return
            if step > self._step:
                self._commit()
                self._step = step
        elif commit is None:
            commit = True
        self._add(data, "")
        if commit:
            self._commit()
            self._step += 1

    def _add(self, data: Mapping[str, Any], prefix: str) -> None:
        for raw_key, value in data.items():
            key = f"{prefix}{raw_key}"
            if isinstance(value, Mapping):
                self._add(value, key + ".")
            elif isinstance(value, Image | Table) or (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, Image) for v in value)
            ):
                self._media.append((key, value))
            elif value is not None:  # validated now, so a bad value fails this call
                self._pending.update(coerce_row({key: value})[0])

    def _commit(self) -> None:
        row, self._pending = self._pending, {}
        media, self._media = self._media, []
        for key, value in media:
            self._store_media(key, value)
        if not row:
            return
        x_axes = {self._step_metrics[k] for k in row if k in self._step_metrics}
        self.core.log(row, step=self._step, x_axis=x_axes.pop() if len(x_axes) == 1 else None)
        self.summary._absorb({**row, "_step": self._step})

    def _store_media(self, key: str, value: Any) -> None:
        name = _safe(key)
        if isinstance(value, Table):
            self.core.log_dataframe(value.get_dataframe(), name=name, step=self._step)
            return
        images = value if isinstance(value, list | tuple) else [value]
        for index, image in enumerate(images):
            data, formats = image.loggable()
            label = name if len(images) == 1 else f"{name}.{index}"
            self.core.log_image(data, name=label, step=self._step, dataformats=formats)

    def define_metric(self, name: str, step_metric: str | None = None, **_: Any) -> None:
        """Remember ``step_metric`` as the x axis of rows holding ``name``; other options
        (``summary``, ``goal``, ``hidden``) are accepted and ignored."""
        if step_metric is not None and not name.endswith("*"):
            self._step_metrics[name] = step_metric

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Iterable[str] | None = None,
        **_: Any,
    ) -> Artifact:
        """Log a new version of the artifact (a path becomes a one-entry artifact named after
        it); identical content reuses the existing version. Returns the artifact, with
        ``version`` and ``aliases`` set."""
        artifact = _as_artifact(artifact_or_path, name, type)
        version = self.core.log_artifact(artifact.core, aliases=list(aliases or []))
        for uri, ref_name in artifact.references:
            self.core.log_artifact_ref(uri, artifact.core.type, ref_name, is_input=False)
        artifact.logged, artifact.version = version, version.version
        artifact.aliases = list(version.aliases)
        return artifact

    def use_artifact(
        self, artifact_or_name: Artifact | str, type: str | None = None, **_: Any
    ) -> ArtifactVersion:
        """Record an artifact version as an input of this run and return it (``download()``
        fetches its files). W&B references ``[entity/project/]name[:v3|:alias]`` are accepted;
        an :class:`Artifact` not logged yet is logged first."""
        if isinstance(artifact_or_name, Artifact):
            if artifact_or_name.logged is None:
                self.log_artifact(artifact_or_name)
            return self.core.use_artifact(f"{artifact_or_name.name}:{artifact_or_name.version}")
        return self.core.use_artifact(_core_ref(str(artifact_or_name)))

    def watch(self, *args: Any, **kwargs: Any) -> None:
        """Accepted for compatibility; runlane does not log gradients or parameters."""

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending step and the summary, then finish the run (``failed`` for a
        non-zero ``exit_code``). Idempotent."""
        global run, config, summary
        if not self.core.finished:
            self._commit()
            self.summary.persist()
            self.core.finish(
                "failed" if exit_code else "succeeded",
                f"exit code {exit_code}" if exit_code else None,
            )
        if run is self:
            run, config, summary = None, Config(), Summary()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not self.core.finished:
            self._commit()
            self.summary.persist()
            self.core.fail(exc)
        self.finish()


def _safe(key: str) -> str:
    try:
        return check_name(key.replace("/", "."), "media key")
    except InvalidNameError:
        return slugify(key)


def _as_artifact(
    value: Artifact | str | os.PathLike[str], name: str | None, type: str | None
) -> Artifact:
    if isinstance(value, Artifact):
        return value
    path = Path(value)
    artifact = Artifact(name or path.name, type or "unspecified")
    if path.is_dir():
        artifact.add_dir(path, ".")
    else:
        artifact.add_file(path)
    return artifact


def _core_ref(ref: str) -> str:
    """W&B's ``entity/project/name:alias`` → runlane's ``name``, ``name:v3`` or ``name@alias``."""
    text = ref.rsplit("/", 1)[-1]
    name, _, tag = text.partition(":")
    if not tag or tag == "latest":
        return name
    if tag.isdigit() or (tag.startswith("v") and tag[1:].isdigit()):
        return f"{name}:{tag}"
    return f"{name}@{tag}"


# --- module-level API ---------------------------------------------------------------------
run: Run | None = None
config: Config = Config()
summary: Summary = Summary()


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    config: Any = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    id: str | None = None,
    resume: bool | str | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    config_exclude_keys: Iterable[str] | None = None,
    config_include_keys: Iterable[str] | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run (see the package doc for how each argument maps). With a run already active,
    returns it unless ``reinit`` asks for a new one (``True``/``"finish_previous"`` finishes the
    active run first, ``"create_new"`` keeps it)."""
    global run
    g = globals()
    if run is not None and not run.core.finished:
        if not reinit or reinit == "return_previous":
            return run
        if reinit is True or reinit == "finish_previous":
            run.finish()
    project = project or os.environ.get("WANDB_PROJECT") or "uncategorized"
    entity = entity or os.environ.get("WANDB_ENTITY")
    name = name or os.environ.get("WANDB_NAME")
    mode = (mode or os.environ.get("WANDB_MODE") or "online").lower()
    options: dict[str, Any] = {k: kwargs[k] for k in _RUNLANE_KWARGS if k in kwargs}
    if mode in ("disabled", "dryrun"):
        options.update(
            store="memory://wandb-disabled",
            capture_git=False,
            capture_env=False,
            capture_stdio=False,
            system_metrics=False,
        )
    if name is not None:
        try:
            check_name(name, "run name")
        except InvalidNameError:
            name = slugify(name)
    values = _select(
        config_to_dict(config) if config is not None else {},
        config_include_keys,
        config_exclude_keys,
    )
    core = runlane.init(
        project,
        name,
        owner=entity,
        description=notes,
        group=group,
        tags=tags,
        id=id,
        resume=bool(resume) and resume != "never",
        dir=dir,
        **options,
    )
    if job_type:
        core.set_extra(job_type=str(job_type))
    cfg = Config(core)
    cfg.update(values)
    current = Run(core, cfg)
    run = current
    g["config"], g["summary"] = cfg, current.summary
    return current


def _select(
    values: dict[str, Any], include: Iterable[str] | None, exclude: Iterable[str] | None
) -> dict[str, Any]:
    if include is not None:
        keep = set(include)
        values = {k: v for k, v in values.items() if k in keep}
    if exclude is not None:
        drop = set(exclude)
        values = {k: v for k, v in values.items() if k not in drop}
    return values


def _active() -> Run:
    if run is None:
        raise runlane.RunStateError("wandb.init() has not been called (runlane's W&B shim)")
    return run


def log(
    data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, **_: Any
) -> None:
    """``wandb.log`` on the active run. :raises RunStateError: before ``init``."""
    _active().log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run, if any."""
    if run is not None:
        run.finish(exit_code)


def log_artifact(
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None = None,
    type: str | None = None,
    aliases: Iterable[str] | None = None,
    **kw: Any,
) -> Artifact:
    return _active().log_artifact(artifact_or_path, name, type, aliases)


def use_artifact(
    artifact_or_name: Artifact | str, type: str | None = None, **kw: Any
) -> ArtifactVersion:
    return _active().use_artifact(artifact_or_name, type)


def define_metric(name: str, step_metric: str | None = None, **kw: Any) -> None:
    _active().define_metric(name, step_metric, **kw)


def watch(*args: Any, **kwargs: Any) -> None:
    """Accepted for compatibility; runlane does not log gradients or parameters."""


def unwatch(*args: Any, **kwargs: Any) -> None:
    """Accepted for compatibility."""


def login(*args: Any, **kwargs: Any) -> bool:
    """Nothing to log in to: runlane writes locally or to the store it is pointed at."""
    return True
