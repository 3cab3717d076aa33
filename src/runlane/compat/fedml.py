"""FedML's tracking API on runlane: ``from runlane.compat import fedml``.

``fedml.log`` keeps FedML's algorithm (seed 000, seed-systems.md §1.2):

* keys are lower-cased and ``/`` becomes ``-`` (so ``"ACC"`` and ``"acc"`` are one metric);
* ``step=None`` uses the run's global step counter, which then advances; an explicit step
  does not move it;
* ``commit=False`` keeps the fields in memory; the next committed call merges them in (its
  own fields win) and takes its step;
* every row records FedML's axis lists as the string fields ``x_axis_keys`` and
  ``y_axis_keys`` (comma-joined, accumulated over buffered calls): x always holds ``step`` and
  ``timestamp``, plus keys named like an axis (epoch, round, iteration, ...) and
  ``customized_step_key`` when this call's metrics hold it; every other key is a y key. The
  custom key is also the row's runlane x axis.

Unlike FedML it needs no platform and no environment: rows go to the current runlane run, or
to a run of project ``fedml`` created on first use. A ``run_id`` (argument, else
``FEDML_CURRENT_RUN_ID`` when no runlane run is current) selects the runlane run of that id,
created on first use, so every edge of one FedML run writes one runlane run; ``edge_id``
(else ``FEDML_CURRENT_EDGE_ID``) becomes each row's ``source``. Rows land in the run's
default stream: ``runlane.open(run).metrics().read()``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import runlane
from runlane.compat._fedml_artifacts import (
    ARTIFACT_TYPE_DATASET,
    ARTIFACT_TYPE_GENERAL,
    ARTIFACT_TYPE_LOG,
    ARTIFACT_TYPE_MODEL,
    ARTIFACT_TYPE_NAME_DATASET,
    ARTIFACT_TYPE_NAME_GENERAL,
    ARTIFACT_TYPE_NAME_LOG,
    ARTIFACT_TYPE_NAME_MODEL,
    ARTIFACT_TYPE_NAME_SOURCE,
    ARTIFACT_TYPE_SOURCE,
    Artifact,
    log_artifact_to,
)
from runlane.errors import InvalidValueError
from runlane.sdk.run import Run

__all__ = [
    "ARTIFACT_TYPE_DATASET",
    "ARTIFACT_TYPE_GENERAL",
    "ARTIFACT_TYPE_LOG",
    "ARTIFACT_TYPE_MODEL",
    "ARTIFACT_TYPE_NAME_DATASET",
    "ARTIFACT_TYPE_NAME_GENERAL",
    "ARTIFACT_TYPE_NAME_LOG",
    "ARTIFACT_TYPE_NAME_MODEL",
    "ARTIFACT_TYPE_NAME_SOURCE",
    "ARTIFACT_TYPE_SOURCE",
    "PROJECT",
    "X_AXIS_NAMES",
    "Artifact",
    "log",
    "log_artifact",
    "log_metric",
    "log_model",
]

#: The runlane project of runs this facade creates.
PROJECT = "fedml"
#: Keys FedML plots as an x axis rather than as a metric.
X_AXIS_NAMES = frozenset(
    {
        "index",
        "idx",
        "iteration",
        "iter",
        "round",
        "round_index",
        "round_idx",
        "round-index",
        "round-idx",
        "epoch",
        "step",
        "timestamp",
    }
)
_DEFAULT_X = ("step", "timestamp")

_lock = threading.Lock()
_pending: dict[str, tuple[list[str], list[str]]] = {}  # run id → axis keys of buffered calls
_opened: dict[str, Run] = {}  # FedML run id → the run this facade opened for it


def normalize_key(key: object) -> str:
    """FedML's metric key rule: ``str(key).lower()`` with ``/`` replaced by ``-``."""
    return str(key).lower().replace("/", "-")


def _target(run_id: object) -> Run:
    current = runlane.current_run()
    wanted = None if run_id is None or str(run_id).strip() == "" else str(run_id)
    if wanted is None:
        if current is not None:
            return current
        wanted = os.environ.get("FEDML_CURRENT_RUN_ID", "").strip() or None
        if wanted is None:
            return runlane.init(PROJECT)
    if current is not None and current.id == wanted:
        return current
    run = _opened.get(wanted)
    if run is None or run.finished:
        run = runlane.init(PROJECT, id=wanted)
        _opened[wanted] = run
    return run


def _source(edge_id: object) -> str | None:
    if edge_id is None or str(edge_id).strip() == "":
        edge_id = os.environ.get("FEDML_CURRENT_EDGE_ID", "").strip() or None
    return None if edge_id is None else str(edge_id)


def _add(keys: list[str], key: str) -> None:
    if key not in keys:
        keys.append(key)


def log_metric(
    metrics: Mapping[Any, Any],
    step: int | None = None,
    customized_step_key: str | None = None,
    commit: bool = True,
    run_id: object = None,
    edge_id: object = None,
) -> None:
    """Log ``metrics`` with FedML's algorithm (see the module docstring) into the run chosen by
    ``run_id``. Durable within the writer's flush interval; bad values raise here
    (InvalidValueError), bad steps raise InvalidArgumentError."""
    if not isinstance(metrics, Mapping):
        raise InvalidValueError(f"fedml.log takes a dict of metrics, not {type(metrics).__name__}")
    step_key = None if customized_step_key is None else normalize_key(customized_step_key)
    run = _target(run_id)
    row: dict[str, Any] = {}
    with _lock:
        pending = _pending.get(run.id)
        x_keys, y_keys = (list(pending[0]), list(pending[1])) if pending else ([*_DEFAULT_X], [])
        found = False
        for raw_key, value in metrics.items():
            key = normalize_key(raw_key)
            row[key] = value
            if key in X_AXIS_NAMES:
                _add(x_keys, key)
            elif key != step_key:
                _add(y_keys, key)
            found = found or key == step_key
        if step_key is not None and found:
            _add(x_keys, step_key)
        if not commit:
            run.log(row, commit=False)
            _pending[run.id] = (x_keys, y_keys)
            return
        row["x_axis_keys"] = ",".join(x_keys)
        row["y_axis_keys"] = ",".join(y_keys)
        x_axis = step_key if step_key is not None and step_key in x_keys else None
        run.log(row, step=step, x_axis=x_axis, source=_source(edge_id))
        _pending.pop(run.id, None)


def log(
    metrics: Mapping[Any, Any],
    step: int | None = None,
    customized_step_key: str | None = None,
    commit: bool = True,
) -> None:
    """``fedml.log``: :func:`log_metric` into the current run."""
    log_metric(metrics, step, customized_step_key, commit)


def log_artifact(
    artifact: Artifact,
    version: str | None = None,
    run_id: object = None,
    edge_id: object = None,
) -> None:
    """Store ``artifact``'s files and folders as the next version (v0, v1, ...) of the
    project artifact ``artifact.artifact_name`` (identical content reuses the existing
    version), logged by the run chosen by ``run_id``. ``version`` picks a FedML platform
    (dev/test/release) and is ignored; ``edge_id`` is kept in the version's metadata."""
    log_artifact_to(_target(run_id), artifact, _source(edge_id))


def log_model(model_name: str, model_file_path: str, version: str | None = None) -> None:
    """Copy ``model_file_path`` to the run's ``outputs/model/`` and register it as the next
    version of the model ``model_name``. A missing file is ignored, as FedML does."""
    if os.path.exists(model_file_path):
        _target(None).log_model(model_file_path, name=model_name)
