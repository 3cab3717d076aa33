"""Keras 3: ``model.fit(..., callbacks=[RunlaneKerasCallback()])``, on any Keras backend.

    import runlane
    from runlane.integrations.keras import RunlaneKerasCallback

    model.fit(x, y, epochs=10, validation_split=0.2,
              callbacks=[RunlaneKerasCallback(project="alice/mnist", log_every_n_batches=50)])

What it records:

* at ``on_train_begin``: params ``fit.epochs`` and ``fit.steps`` (Keras' ``self.params``),
  ``model.name``, ``model.num_parameters`` and the optimizer's config under ``optimizer.``;
* at each ``on_epoch_end``: the epoch's logs (``loss``, compiled metrics, ``val_...``) plus
  ``epoch`` as one row of the default stream, with ``step`` = the epoch (0-based);
* with ``log_every_n_batches=N`` (> 0), every N-th training batch's logs into the ``batch``
  stream, each row with ``step`` = the batch index counted over the whole fit;
* at ``on_train_end``: a run the callback created is finished ``succeeded`` (everything durable);
  a run passed as ``run=`` or already current is only flushed.

Values that are not scalars (Keras may put arrays in logs) are left out. Arguments other than
``run`` and ``log_every_n_batches`` go to :func:`runlane.init` when the callback creates its run.
"""

from __future__ import annotations

from typing import Any

import keras

from runlane.errors import InvalidArgumentError
from runlane.integrations._runs import RunSlot
from runlane.integrations.config import sanitize
from runlane.sdk.run import Run

__all__ = ["RunlaneKerasCallback"]


def _scalars(logs: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in (logs or {}).items():
        plain = sanitize(value)
        if isinstance(plain, int | float | bool):
            row[str(key)] = plain
    return row


class RunlaneKerasCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """A Keras callback logging to runlane; see the module doc.

    :raises InvalidArgumentError: ``log_every_n_batches`` is not an int ≥ 0.
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        *,
        run: Run | None = None,
        log_every_n_batches: int = 0,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if (
            isinstance(log_every_n_batches, bool)
            or not isinstance(log_every_n_batches, int)
            or log_every_n_batches < 0
        ):
            raise InvalidArgumentError(
                f"log_every_n_batches={log_every_n_batches!r} must be an int ≥ 0 (0: epochs only)"
            )
        kwargs = dict(init_kwargs)
        if project is not None:
            kwargs["project"] = project
        if name is not None:
            kwargs["name"] = name
        self._slot = RunSlot(run, kwargs, framework="keras")
        self._every = log_every_n_batches
        self._batches = 0

    @property
    def run(self) -> Run:
        """The run logged to (created on first use)."""
        return self._slot.get()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        run = self._slot.get()
        self._batches = 0
        fit = {k: sanitize(v) for k, v in (self.params or {}).items() if k in ("epochs", "steps")}
        params: dict[str, Any] = {"fit": fit}
        model = self.model
        if model is not None:
            params["model"] = {"name": str(model.name), "num_parameters": int(model.count_params())}
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None:
                params["optimizer"] = sanitize(optimizer.get_config())
        run.params.set(params)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = _scalars(logs)
        row["epoch"] = int(epoch)
        self._slot.get().log(row, step=int(epoch))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        index = self._batches
        self._batches += 1
        if self._every and index % self._every == 0:
            row = _scalars(logs)
            if row:
                self._slot.get().metrics("batch").log(step=index, **row)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._slot.end("succeeded")
