"""A :mod:`logging` handler that forwards records to runlane's log stream.

:class:`RunlaneHandler` turns each :class:`logging.LogRecord` into ``emit_fn(message, level,
metadata)`` with a runlane level name. It never raises into the code that logs: failures go
through :meth:`logging.Handler.handleError`, and records logged by ``emit_fn`` itself (on the
same thread) are dropped instead of recursing.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

__all__ = ["EmitFn", "RunlaneHandler", "runlane_level"]

EmitFn = Callable[[str, str, dict[str, object]], None]
"""``emit_fn(message, level, metadata)``."""

_STANDARD_ATTRS = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)
_MAX_DEPTH = 16


def runlane_level(levelno: int) -> str:
    """Map a Python level number to a runlane level, rounding down between named levels.

    ``CRITICAL`` and above -> ``"fatal"``, ``ERROR`` -> ``"error"``, ``WARNING`` -> ``"warn"``,
    ``INFO`` -> ``"info"``, anything lower (``DEBUG``, ``NOTSET``, custom low levels) ->
    ``"debug"``.
    """
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _json_safe(value: object, depth: int = 0) -> bool:
    """Whether strict JSON (and orjson) can store ``value`` as it is.

    ``None``, bools, 64-bit ints, finite floats, UTF-8-encodable strings, and lists, tuples
    and str-keyed dicts of those (at most 16 levels deep).
    """
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return _encodable(value)
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(value, (list, tuple)):
        return all(_json_safe(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and _encodable(key) and _json_safe(item, depth + 1)
            for key, item in value.items()
        )
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


class RunlaneHandler(logging.Handler):
    """Forward log records to ``emit_fn(message, level, metadata)``.

    - ``message``: ``record.getMessage()``, or ``self.format(record)`` when a formatter was set
      with :meth:`setFormatter`.
    - ``level``: see :func:`runlane_level`.
    - ``metadata``: ``logger``, ``module``, ``filename``, ``lineno``, ``func``, ``thread``
      (thread name), ``exception`` (formatted traceback, only with ``exc_info``), ``stack``
      (only with ``stack_info``), plus every non-standard record attribute (the ``extra=``
      of the logging call): JSON-safe values as they are, others as their ``repr``. On a name
      clash the standard keys above win.

    ``emit`` never raises (errors go to :meth:`handleError`); a record logged by ``emit_fn``
    on the thread that is running it is dropped, so a chatty ``emit_fn`` cannot recurse.
    """

    def __init__(self, emit_fn: EmitFn, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self._emit_fn = emit_fn
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "emitting", False):
            return
        self._local.emitting = True
        try:
            formatted = self.formatter is not None
            message = self.format(record) if formatted else record.getMessage()
            self._emit_fn(message, runlane_level(record.levelno), self._metadata(record))
        except Exception:
            self.handleError(record)
        finally:
            self._local.emitting = False

    def _metadata(self, record: logging.LogRecord) -> dict[str, object]:
        meta: dict[str, object] = {}
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            meta[key] = value if _json_safe(value) else _safe_repr(value)
        meta.update(
            logger=record.name,
            module=record.module,
            filename=record.filename,
            lineno=record.lineno,
            func=record.funcName,
            thread=record.threadName,
        )
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                formatter = self.formatter or logging.Formatter()
                record.exc_text = formatter.formatException(record.exc_info)
            meta["exception"] = record.exc_text
        elif record.exc_text:
            meta["exception"] = record.exc_text
        if record.stack_info:
            meta["stack"] = record.stack_info
        return meta


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
