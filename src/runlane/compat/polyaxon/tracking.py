"""Polyaxon v1's ``tracking`` module on runlane: ``from runlane.compat.polyaxon import
tracking``.

``tracking.init(...)`` starts (or with ``run_uuid`` rejoins) a runlane run; every other
function acts on it, starting one on first use when ``init`` was not called (the current
runlane run if there is one). The run folder is Polyaxon's artifacts root, laid out as
Polyaxon lays it out::

    outputs/                                    log_artifact/log_model without a step
    assets/<kind>/<name>_<step>.<ext>           versioned assets (copied)
    events/<kind>/<name>.plx                    event files (pipe CSV; JSON lines for text/html)
    lineage.jsonl                               reference and output lineage records

Metrics go to the run's default stream and to ``events/metric/<name>.plx``. Names are
sanitised as Polyaxon does (``a/b.c`` → ``a__b-c``); an artifact's default name is its base
name up to the first dot. Lifecycle as in Polyaxon: running once started, succeeded at exit,
failed on an uncaught exception, terminal statuses sticky; data logged after the end is still
stored. ``POLYAXON_NO_OP=true`` turns every function into a no-op returning None.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import runlane
from runlane.artifacts.events import append_event
from runlane.artifacts.records import ArtifactRecord
from runlane.compat._polyaxon import TERMINAL, check_status, skip_when_no_op
from runlane.compat._runs import reopen
from runlane.compat.polyaxon.artifacts import V1ArtifactKind
from runlane.entities import LineageRecord
from runlane.errors import InvalidArgumentError
from runlane.sdk.run import Run
from runlane.values import coerce_scalar

__all__ = [
    "V1ArtifactKind",
    "end",
    "get_artifacts_path",
    "get_outputs_path",
    "init",
    "log_artifact",
    "log_artifact_ref",
    "log_code_ref",
    "log_curve",
    "log_data_ref",
    "log_dataframe",
    "log_failed",
    "log_histogram",
    "log_html",
    "log_image",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_model_ref",
    "log_outputs",
    "log_status",
    "log_stopped",
    "log_succeeded",
    "log_tags",
    "log_text",
    "set_description",
    "set_name",
    "to_fqn_name",
]

TRACKING_RUN: Run | None = None


def to_fqn_name(name: object) -> str:
    """Polyaxon's name sanitiser: characters other than word characters, ``/ \\ . -`` and
    spaces are dropped, slashes become ``__``, runs of ``-``, ``.`` or spaces become ``-``."""
    text = re.sub(r"[^\w\\/.\s-]", "", str(name)).strip()
    text = re.sub(r"[\\/]+", "__", text)
    text = re.sub(r"[-.\s]+", "-", text)
    if not text:
        raise InvalidArgumentError(f"name {name!r} is empty once sanitised")
    return text


def _default_name(path: str | os.PathLike[str]) -> str:
    """Polyaxon's default artifact name: the base name up to its first dot."""
    base = Path(os.fspath(path)).name
    return base.split(".", 1)[0] or base


def _capture(flag: bool | None) -> bool | None:
    return None if flag is None or flag else False


def _run() -> Run:
    global TRACKING_RUN
    if TRACKING_RUN is None:
        TRACKING_RUN = runlane.current_run() or runlane.init()
    TRACKING_RUN = reopen(TRACKING_RUN)
    return TRACKING_RUN


# --- the run ----------------------------------------------------------------------------------
@skip_when_no_op
def init(
    owner: str | None = None,
    project: str | None = None,
    run_uuid: str | None = None,
    client: object = None,
    track_code: bool = True,
    track_env: bool = True,
    refresh_data: bool = False,
    artifacts_path: str | None = None,
    collect_artifacts: bool | None = None,
    collect_resources: bool | None = None,
    is_offline: bool | None = None,
    is_new: bool | None = None,
    name: str | None = None,
    description: str | None = None,
    tags: str | Iterable[str] | None = None,
) -> Run:
    """Start a run in ``owner/project`` (or rejoin ``run_uuid``) and make it the tracking
    run. ``track_code``/``track_env``/``collect_resources`` False turn off runlane's git,
    environment and system-metrics captures. ``client``, ``refresh_data``,
    ``artifacts_path``, ``collect_artifacts``, ``is_offline`` and ``is_new`` are accepted for
    compatibility: the run folder is always the artifacts root. Returns the runlane run."""
    global TRACKING_RUN
    if project is not None and owner is None and "." in project and "/" not in project:
        owner, project = project.split(".", 1)
    full = f"{owner}/{project or 'default'}" if owner else project
    TRACKING_RUN = runlane.init(
        full,
        name=None if name is None else to_fqn_name(name),
        id=run_uuid,
        description=description,
        tags=None if tags is None else _clean_tags(tags),
        capture_git=_capture(track_code),
        capture_env=_capture(track_env),
        system_metrics=_capture(collect_resources),
    )
    return TRACKING_RUN


@skip_when_no_op
def set_name(name: str) -> None:
    _run().set_name(to_fqn_name(name))


@skip_when_no_op
def set_description(description: str) -> None:
    _run().set_description(description)


def _clean_tags(tags: str | Iterable[str]) -> list[str]:
    """Polyaxon v1 splits a string on ``,`` and silently drops tags that are not non-empty
    strings."""
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    return [t.strip() for t in items if isinstance(t, str) and t.strip()]


@skip_when_no_op
def log_tags(tags: str | Iterable[str], reset: bool = False) -> None:
    """Add tags (new ones appended in order), or replace them with ``reset=True``."""
    _run().add_tags(_clean_tags(tags), reset=reset)


@skip_when_no_op
def log_inputs(reset: bool = False, **inputs: Any) -> None:
    """The run's inputs are its params: merged, or replaced with ``reset=True``."""
    _run().params.set(inputs, reset=reset)


@skip_when_no_op
def log_outputs(reset: bool = False, **outputs: Any) -> None:
    """Merge ``outputs`` into the run's ``outputs`` metadata document (``reset=True``
    replaces it)."""
    run = _run()
    current = {} if reset else dict(run.metadata().get("outputs", {}).get("value", {}))
    run.update_metadata("outputs", {**current, **outputs})


@skip_when_no_op
def log_status(status: str, reason: str | None = None, message: str | None = None) -> None:
    """Record a Polyaxon status (kept as ``extra.polyaxon_status``); terminal ones end the
    run, the first terminal status wins. Raises InvalidArgumentError for an unknown status."""
    text = check_status(status)
    run = _run()
    if run.status in ("succeeded", "failed", "stopped"):
        return
    run.set_extra(polyaxon_status=text, **({"status_reason": reason} if reason else {}))
    if text in TERMINAL:
        run.finish(TERMINAL[text], message)
    else:
        run.set_status("running", message)


@skip_when_no_op
def log_succeeded(message: str = "Operation has succeeded") -> None:
    log_status("succeeded", message=message)


@skip_when_no_op
def log_stopped(message: str = "Operation is stopped") -> None:
    log_status("stopped", message=message)


@skip_when_no_op
def log_failed(reason: str | None = None, message: str | None = None) -> None:
    log_status("failed", reason=reason, message=message)


@skip_when_no_op
def end() -> None:
    """End the run now: succeeded unless a terminal status was logged; everything written."""
    if TRACKING_RUN is not None:
        TRACKING_RUN.finish()


# --- paths ------------------------------------------------------------------------------------
@skip_when_no_op
def get_artifacts_path(
    rel_path: str | None = None,
    ensure_path: bool = False,
    is_dir: bool = False,
    use_store_path: bool = False,
) -> str:
    """The run folder (Polyaxon's artifacts root), or ``rel_path`` under it; with
    ``ensure_path`` its parent folders (the folder itself with ``is_dir``) are created."""
    path = Path(_run().get_artifacts_path(rel_path))
    if ensure_path:
        (path if is_dir else path.parent).mkdir(parents=True, exist_ok=True)
    return str(path)


@skip_when_no_op
def get_outputs_path(
    rel_path: str | None = None,
    ensure_path: bool = True,
    is_dir: bool = False,
    use_store_path: bool = False,
) -> str:
    """``<run>/outputs[/rel_path]``, creating the parent folders (the folder with
    ``is_dir``)."""
    return _run().get_outputs_path(rel_path, is_dir=is_dir)


# --- metrics ----------------------------------------------------------------------------------
@skip_when_no_op
def log_metrics(step: int | None = None, timestamp: float | None = None, **metrics: Any) -> None:
    """Log metrics as one row of the default stream (at ``step`` and ``timestamp``, epoch
    seconds, default now) and one row per metric in ``events/metric/<name>.plx``."""
    run = _run()
    values = {to_fqn_name(k): v for k, v in metrics.items()}
    ts = time.time() if timestamp is None else timestamp
    run.log(values, step=step, timestamp=ts)
    folder = run.path
    if folder is not None:
        for name, value in values.items():
            append_event(Path(folder), "metric", name, step, ts, coerce_scalar(name, value))


@skip_when_no_op
def log_metric(
    name: str, value: Any, step: int | None = None, timestamp: float | None = None
) -> None:
    log_metrics(step=step, timestamp=timestamp, **{name: value})


# --- artifacts, models, assets ----------------------------------------------------------------
@skip_when_no_op
def log_artifact(
    path: str | os.PathLike[str],
    name: str | None = None,
    kind: object = None,
    summary: Mapping[str, Any] | None = None,
    step: int | None = None,
    timestamp: float | None = None,
    rel_path: str | None = None,
    versioned: bool = True,
    **kwargs: Any,
) -> ArtifactRecord:
    """Without ``step`` (or with ``versioned=False``): copy the file or folder to
    ``outputs/[rel_path/]<basename>`` and record its lineage. With ``step``: a versioned
    asset ``assets/<kind>/<name>_<step>.<ext>`` plus a row in ``events/<kind>/<name>.plx``.
    ``artifact_kind`` is accepted for ``kind``."""
    kind = kind if kind is not None else kwargs.pop("artifact_kind", None)
    return _run().log_artifact(
        path,
        to_fqn_name(name if name is not None else _default_name(path)),
        kind,
        step=step if versioned else None,
        rel_path=rel_path,
        summary=summary,
        timestamp=timestamp,
    )


@skip_when_no_op
def log_model(
    path: str | os.PathLike[str],
    name: str | None = None,
    framework: str | None = None,
    summary: Mapping[str, Any] | None = None,
    step: int | None = None,
    timestamp: float | None = None,
    rel_path: str | None = None,
    versioned: bool = True,
) -> ArtifactRecord:
    """Without ``step``: copy the model to ``outputs/<rel_path or "model">/`` and record its
    lineage; with ``step``: ``assets/model/<name>_<step>.<ext>`` plus its event row. The
    model is also registered as the next version of ``name`` in runlane's registry."""
    return _run().log_model(
        path,
        to_fqn_name(name if name is not None else _default_name(path)),
        framework,
        summary,
        step=step if versioned else None,
        rel_path=rel_path or "model",
        timestamp=timestamp,
    )


@skip_when_no_op
def log_artifact_ref(
    path: str | os.PathLike[str],
    kind: object = None,
    name: str | None = None,
    hash: str | None = None,
    content: Any = None,
    summary: Mapping[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
) -> LineageRecord:
    """Record lineage for ``path`` (inside the run, elsewhere, or a URI such as ``s3://``)
    without copying it; ``kind`` defaults to ``artifact``."""
    label = None if name is None else to_fqn_name(name)
    return _run().log_artifact_ref(
        path,
        kind if kind is not None else "artifact",
        label,
        hash,
        content,
        summary,
        is_input,
        rel_path,
    )


@skip_when_no_op
def log_model_ref(
    path: str | os.PathLike[str],
    name: str | None = None,
    framework: str | None = None,
    summary: Mapping[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
) -> LineageRecord:
    """``log_artifact_ref`` with kind ``model`` and ``summary.framework``."""
    label = None if name is None else to_fqn_name(name)
    return _run().log_model_ref(path, label, framework, summary, is_input, rel_path)


@skip_when_no_op
def log_data_ref(
    name: str,
    hash: str | None = None,
    path: str | None = None,
    content: Any = None,
    summary: Mapping[str, Any] | None = None,
    is_input: bool = True,
) -> LineageRecord:
    """Record a dataset the run used (its content hashed when ``content`` is given)."""
    return _run().log_data_ref(
        to_fqn_name(name),
        content,
        path=path,
        is_input=is_input,
        summary={**(summary or {}), **({"hash": hash} if hash else {})},
    )


@skip_when_no_op
def log_code_ref(
    code_ref: Mapping[str, Any] | None = None, is_input: bool = True
) -> LineageRecord | None:
    """Record the code the run used (the current git checkout by default)."""
    return _run().log_code_ref(code_ref, is_input)


@skip_when_no_op
def log_curve(
    name: str,
    x: Any,
    y: Any,
    annotation: Any = None,
    step: int | None = None,
    timestamp: float | None = None,
) -> ArtifactRecord:
    return _run().log_curve(to_fqn_name(name), x, y, annotation, step, timestamp)


@skip_when_no_op
def log_text(
    name: str, text: str, step: int | None = None, timestamp: float | None = None
) -> ArtifactRecord:
    return _run().log_text(to_fqn_name(name), text, step, timestamp)


@skip_when_no_op
def log_html(
    name: str, html: str, step: int | None = None, timestamp: float | None = None
) -> ArtifactRecord:
    return _run().log_html(to_fqn_name(name), html, step, timestamp)


@skip_when_no_op
def log_image(
    data: Any,
    name: str | None = None,
    step: int | None = None,
    timestamp: float | None = None,
    rescale: float = 1,
    dataformats: str | None = None,
) -> ArtifactRecord:
    """An image as ``assets/image/<name>_<step>.png`` (layout detected unless
    ``dataformats`` says, e.g. ``"CHW"``)."""
    label = None if name is None else to_fqn_name(name)
    return _run().log_image(data, label, step, timestamp, rescale, dataformats)


@skip_when_no_op
def log_dataframe(
    df: Any,
    name: str,
    content_type: str = "csv",  # V1ArtifactKind.CSV
    step: int | None = None,
    timestamp: float | None = None,
) -> ArtifactRecord:
    return _run().log_dataframe(df, to_fqn_name(name), str(content_type), step, timestamp)


@skip_when_no_op
def log_histogram(
    name: str,
    values: Any,
    bins: Any,
    max_bins: int | None = None,
    step: int | None = None,
    timestamp: float | None = None,
) -> ArtifactRecord:
    return _run().log_histogram(to_fqn_name(name), values, bins, max_bins, step, timestamp)


@skip_when_no_op
def log_np_histogram(
    name: str, values: Any, counts: Any, step: int | None = None, timestamp: float | None = None
) -> ArtifactRecord:
    return _run().log_np_histogram(to_fqn_name(name), values, counts, step, timestamp)
