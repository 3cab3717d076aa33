"""Hugging Face Transformers: ``Trainer(..., callbacks=[RunlaneCallback()])``.

    from transformers import Trainer, TrainingArguments
    from runlane.integrations.transformers import RunlaneCallback

    args = TrainingArguments(output_dir="out", report_to="none", logging_steps=10)
    Trainer(model=model, args=args, train_dataset=ds,
            callbacks=[RunlaneCallback(project="alice/bert", log_model="checkpoint")]).train()

This is the ``report_to`` integration in callback form: transformers' ``report_to`` only accepts
the names it ships, so pass the callback (and ``report_to="none"`` to keep other trackers out).
On the main process only (``state.is_world_process_zero``) it records:

* at ``on_train_begin``: the ``TrainingArguments`` as params under ``args.`` (transformers' own
  sanitized form) and the model's config under ``model.`` (plus ``model.num_parameters``);
* at every ``on_log`` (every ``logging_steps``, and each evaluation) and ``on_predict``: the
  scalar entries of the trainer's ``logs`` dict (``loss``, ``learning_rate``, ``grad_norm``,
  ``eval_loss``, ``test_...``, ``epoch``...) as one row of the default stream at
  ``state.global_step``; non-scalar entries are left out;
* checkpoints, per ``log_model``: ``"checkpoint"`` records each ``checkpoint-<step>`` folder the
  trainer saves, ``"end"`` records the best checkpoint (``load_best_model_at_end``; alias
  ``best``) or else the last one when training ends (the model is first saved with
  ``save_pretrained`` into ``<output_dir>/runlane-final`` if the trainer saved none). Each is a
  version of registry model ``model_name`` (default ``model-<run id>``), stored as the asset
  ``assets/model/<name>_<step>`` (see :func:`runlane.integrations._runs.log_checkpoint`).

The run: the one passed as ``run=``, else the current run when the callback got no
``runlane.init`` arguments, else one it creates at ``on_train_begin`` (name defaulting to
``args.run_name``, or the hyperparameter-search trial name grouped under the run name). A run it
created is finished (``succeeded``) at ``on_train_end``, so everything is durable then; a later
``trainer.evaluate()`` or ``predict()`` logs into the same run again and is durable when it
returns. A borrowed run is only flushed. Trainer has
no exception hook: an exception escaping ``train()`` ends a created run through runlane's
process hooks (``failed`` when it is uncaught).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback

import runlane
from runlane.errors import InvalidArgumentError
from runlane.integrations._runs import RunSlot, log_checkpoint
from runlane.integrations.config import sanitize
from runlane.sdk.run import Run

__all__ = ["RunlaneCallback"]

LogModel = Literal[False, "checkpoint", "end"]


def _scalars(logs: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in logs.items():
        plain = sanitize(value)
        if isinstance(plain, int | float | bool):
            row[str(key)] = plain
    return row


def _checkpoint_step(folder: Path) -> int:
    suffix = folder.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


class RunlaneCallback(TrainerCallback):  # type: ignore[misc]
    """A ``TrainerCallback`` logging to runlane; see the module doc.

    :param run: log to this run (never finished by the callback).
    :param log_model: ``False`` (default), ``"checkpoint"`` or ``"end"``.
    :param model_name: model name for checkpoints; default ``model-<run id>``.
    :param init_kwargs: passed to :func:`runlane.init` when the callback creates its run.
    :raises InvalidArgumentError: an unknown ``log_model``.
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        *,
        run: Run | None = None,
        log_model: LogModel = False,
        model_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        if log_model not in (False, "checkpoint", "end"):
            raise InvalidArgumentError(
                f"log_model={log_model!r}: use False, 'checkpoint' (every save) or 'end'"
            )
        self._kwargs = dict(init_kwargs)
        if project is not None:
            self._kwargs["project"] = project
        if name is not None:
            self._kwargs["name"] = name
        self._given = run
        self._slot: RunSlot | None = None
        self._log_model = log_model
        self._model_name = model_name
        self._ended = False

    @property
    def run(self) -> Run | None:
        """The run logged to, once training has begun."""
        return self._slot.peek() if self._slot is not None else None

    def _setup(self, args: Any, state: Any) -> RunSlot:
        if self._slot is None:
            kwargs = dict(self._kwargs)
            trial = getattr(state, "trial_name", None)
            run_name = getattr(args, "run_name", None)
            if run_name == getattr(args, "output_dir", None):
                run_name = None
            if trial is not None:
                kwargs.setdefault("name", str(trial))
                if run_name:
                    kwargs.setdefault("group", str(run_name))
            elif run_name:
                kwargs.setdefault("name", str(run_name))
            borrow = not self._kwargs and runlane.current_run() is not None
            self._slot = RunSlot(self._given, {} if borrow else kwargs, framework="transformers")
        return self._slot

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        run = self._setup(args, state).get()
        params: dict[str, Any] = {"args": sanitize(args.to_sanitized_dict())}
        config = getattr(model, "config", None)
        if config is not None:
            params["model"] = sanitize(config if isinstance(config, dict) else config.to_dict())
        counter = getattr(model, "num_parameters", None)
        if callable(counter):
            params.setdefault("model", {})["num_parameters"] = int(counter())
        run.params.set(params)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row = _scalars(logs)
        if row:
            self._setup(args, state).get().log(row, step=int(state.global_step))

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero and self._ended and self._slot is not None:
            self._slot.end("succeeded")  # evaluate() after train(): make its row durable

    def on_predict(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``trainer.predict()`` does not call ``on_log``: its scalar metrics are logged here."""
        self.on_log(args, state, control, logs=metrics)
        self.on_evaluate(args, state, control)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._log_model != "checkpoint" or not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            self._log_folder(args, state, folder, ["checkpoint"])

    def on_train_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        slot = self._setup(args, state)
        if self._log_model == "end":
            folder, tags = self._final_folder(args, state, model)
            if folder is not None:
                self._log_folder(args, state, folder, tags)
        slot.end("succeeded")
        self._ended = True

    # --- checkpoints ----------------------------------------------------------------------
    def _final_folder(self, args: Any, state: Any, model: Any) -> tuple[Path | None, list[str]]:
        best = getattr(state, "best_model_checkpoint", None)
        if best and Path(best).is_dir():
            return Path(best), ["best", "end"]
        saved = sorted(
            (p for p in Path(args.output_dir).glob("checkpoint-*") if p.is_dir()),
            key=_checkpoint_step,
        )
        if saved:
            return saved[-1], ["last", "end"]
        saver = getattr(model, "save_pretrained", None)
        if not callable(saver):
            return None, []
        target = Path(args.output_dir) / "runlane-final"
        os.makedirs(target, exist_ok=True)
        saver(target)
        return target, ["end"]

    def _log_folder(self, args: Any, state: Any, folder: Path, tags: list[str]) -> None:
        slot = self._setup(args, state)
        run = slot.get()
        summary = {
            "tags": tags,
            "epoch": sanitize(state.epoch),
            "best_metric": sanitize(getattr(state, "best_metric", None)),
            "metric_for_best_model": sanitize(getattr(args, "metric_for_best_model", None)),
        }
        log_checkpoint(
            run,
            folder,
            self._model_name or f"model-{run.id}",
            framework="transformers",
            step=int(state.global_step),
            summary=summary,
            aliases=["best"] if "best" in tags else [],
        )
