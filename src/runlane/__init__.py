"""runlane: a fast experiment tracker.

    import runlane
    with runlane.init(project="mnist", config={"lr": 0.01}) as run:
        for step in range(100):
            run.log({"loss": 1 / (step + 1)})

Public names: :func:`init`, :func:`open`, :func:`runs`, :func:`log`, :func:`log_message`,
:func:`finish`, :func:`current_run`, :func:`logging_handler`, :class:`Run`, :class:`RunView`,
and the errors of :mod:`runlane.errors`. Importing runlane starts nothing (no threads, files
or handlers) and loads only what these names need, lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runlane.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    QuerySyntaxError,
    RunlaneError,
    RunStateError,
    StoreError,
    WriteFailedError,
)

if TYPE_CHECKING:
    from runlane.artifacts.api import artifact, lineage, models
    from runlane.artifacts.kinds import ArtifactKind
    from runlane.artifacts.versions import Artifact
    from runlane.sdk.api import (
        current_run,
        finish,
        init,
        log,
        log_message,
        logging_handler,
        open,
        runs,
    )
    from runlane.sdk.run import Run
    from runlane.sdk.view import RunView

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "ArtifactKind",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidValueError",
    "NotFoundError",
    "QuerySyntaxError",
    "Run",
    "RunStateError",
    "RunView",
    "RunlaneError",
    "StoreError",
    "WriteFailedError",
    "artifact",
    "current_run",
    "finish",
    "init",
    "lineage",
    "log",
    "log_message",
    "logging_handler",
    "models",
    "open",
    "runs",
]

_LAZY = {
    "init": "runlane.sdk.api",
    "open": "runlane.sdk.api",
    "runs": "runlane.sdk.api",
    "log": "runlane.sdk.api",
    "log_message": "runlane.sdk.api",
    "finish": "runlane.sdk.api",
    "current_run": "runlane.sdk.api",
    "logging_handler": "runlane.sdk.api",
    "Run": "runlane.sdk.run",
    "RunView": "runlane.sdk.view",
    "Artifact": "runlane.artifacts.versions",
    "ArtifactKind": "runlane.artifacts.kinds",
    "artifact": "runlane.artifacts.api",
    "lineage": "runlane.artifacts.api",
    "models": "runlane.artifacts.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runlane' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
