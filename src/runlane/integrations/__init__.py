"""Framework integrations: small adapters that log what a framework already knows into a run.

* ``runlane.integrations.lightning``: ``Trainer(logger=RunlaneLogger(project=...))``
* ``runlane.integrations.transformers``: ``Trainer(..., callbacks=[RunlaneCallback()])``
* ``runlane.integrations.keras``: ``model.fit(..., callbacks=[RunlaneKerasCallback()])``
* ``runlane.integrations.optuna``: ``study.optimize(..., callbacks=[RunlaneOptunaCallback()])``
* ``runlane.integrations.config``: ``log_config(run, namespace_dataclass_or_dictconfig)``
* W&B scripts: ``import runlane.compat.wandb as wandb`` (see :mod:`runlane.compat.wandb`)

Each adapter logs to the run it is given, else to the current run, else to a run it creates
with the ``runlane.init`` arguments it was given (and then finishes when training ends). The
frameworks are optional dependencies (``pip install 'runlane[integrations]'`` pins tested
versions); importing this package imports none of them, and each module imports only its own.
"""

from __future__ import annotations

__all__: list[str] = []
