"""ML-Dash's ``Experiment`` on runlane: ``from runlane.compat.mldash import Experiment``.

Files land where ML-Dash 0.11 puts them, in its format, so ``ml_dash`` itself can read them:
the run folder is ``<dash_root>/<prefix>`` (``dash_root`` defaults to ``.dash``; ``None`` means
runlane's default store), holding ``experiment.json``, ``parameters.json``,
``metrics/<name>/data.jsonl`` + ``metadata.json``, ``logs/logs.jsonl`` and
``tracks/<topic>/data.jsonl``. The prefix is ``owner/project/[folders/]name``; opening the same
prefix again reopens the same run.

Differences from ML-Dash, all in the user's favour: the experiment opens itself on first use
(ML-Dash raises until ``run.start()``); reads and ``stats()`` see everything logged so far (no
5-second staleness); ``params.get(flatten=False)`` never crashes on a prefix collision; the
level ``"warning"`` is accepted. Remote mode (``dash_url``) is not provided here: point
runlane at a server with ``RUNLANE_STORE`` instead.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import runlane
from runlane.compat._runs import reopen
from runlane.errors import InvalidArgumentError
from runlane.sdk.run import Run, normalize_level
from runlane.timeutil import iso
from runlane.values import to_mapping

__all__ = ["Experiment"]

UNNAMED = "None"  # ML-Dash writes exp.metrics.log(...) to metrics/None/


class Experiment:
    """An ML-Dash experiment backed by a runlane run; open it with ``with exp.run as exp:``,
    ``exp.run.start()``, or just use it.

    ``readme`` becomes the run description, ``tags`` its tags (replacing earlier ones),
    ``bindrs`` and ``metadata`` go to the run's ``extra``; ``local_path`` is the deprecated
    name of ``dash_root``. Other keyword arguments of ML-Dash's constructor are accepted and
    ignored; ``dash_url`` (or ``remote``) raises InvalidArgumentError.
    """

    def __init__(
        self,
        prefix: str | None = None,
        *,
        readme: str | None = None,
        tags: list[str] | None = None,
        bindrs: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        dash_url: str | bool | None = None,
        dash_root: str | os.PathLike[str] | None = ".dash",
        remote: str | bool | None = None,
        local_path: str | os.PathLike[str] | None = None,
        **ignored: Any,
    ) -> None:
        dash_url = dash_url if dash_url is not None else remote  # ML-Dash's deprecated names
        if local_path is not None and dash_root == ".dash":
            dash_root = local_path
        if dash_url:
            raise InvalidArgumentError(
                f"dash_url={dash_url!r}: remote ML-Dash servers are not supported by the "
                "runlane facade; log locally (dash_root) or set RUNLANE_STORE"
            )
        text = prefix or os.environ.get("ML_DASH_PREFIX") or os.environ.get("DASH_PREFIX")
        if not text:
            raise InvalidArgumentError(
                "Experiment needs a prefix 'owner/project/[folders/]name' (or ML_DASH_PREFIX)"
            )
        parts = text.strip("/").split("/")
        if len(parts) < 3:
            raise InvalidArgumentError(
                f"prefix {text!r} must have at least 3 segments, owner/project/name"
            )
        self.readme = readme
        self.tags = tags
        self.bindrs = bindrs
        self.metadata = dict(metadata) if metadata is not None else None
        self.dash_root = dash_root
        self.run = RunControl(self, parts)
        self._run: Run | None = None

    # --- lifecycle --------------------------------------------------------------------
    def _open(self) -> Experiment:
        if self._run is not None and not self._run.finished:
            return self
        if self._run is not None:
            self._run = reopen(self._run)
            return self
        ctl = self.run
        run = runlane.init(
            f"{ctl.owner}/{ctl.project}",
            name=ctl.name,
            folder="/".join(ctl.folders) or None,
            dir=self.dash_root,
            resume=True,
            description=self.readme,
            tags=self.tags,
        )
        if run.existed:
            if self.readme is not None:
                run.set_description(self.readme)
            if self.tags is not None:
                run.add_tags(self.tags, reset=True)
        extra = {k: v for k, v in (("bindrs", self.bindrs), ("metadata", self.metadata)) if v}
        if extra:
            run.set_extra(**extra)
        self._run = run
        return self

    def _close(self, status: str, exc: BaseException | None = None) -> None:
        if self._run is None:
            return
        if exc is not None:
            self._run.fail(exc)  # keeps the error's message and traceback
        else:
            self._run.finish(status)

    def _live(self) -> Run:
        self._open()
        assert self._run is not None
        return self._run

    @property
    def id(self) -> str:
        """The runlane run id."""
        return self._live().id

    def flush(self) -> None:
        """Write everything logged so far (raises WriteFailedError if writes failed)."""
        self._live().flush()

    # --- data -------------------------------------------------------------------------
    @property
    def params(self) -> Params:
        return Params(self._live())

    @property
    def metrics(self) -> Metrics:
        return Metrics(self._live())

    @property
    def tracks(self) -> Tracks:
        return Tracks(self._live())

    @property
    def logs(self) -> LogBuilder:
        """``exp.logs.info("msg", **metadata)`` and warn/error/debug/fatal."""
        return LogBuilder(self._live(), None)

    def log(
        self,
        message: str | None = None,
        level: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **extra_metadata: Any,
    ) -> LogBuilder | None:
        """Log ``message`` at ``level`` (debug, info (default), warn/warning, error, fatal;
        case-insensitive, else InvalidArgumentError) with ``metadata`` plus keyword fields,
        and print it as ``[LEVEL] message [k=v, ...]`` (stderr for error/fatal). Without a
        message, returns ML-Dash's deprecated fluent builder."""
        meta = {**(metadata or {}), **extra_metadata}
        if message is None:
            return LogBuilder(self._live(), meta or None)
        self._live().log_message(message, normalize_level(level or "info"), meta or None, echo=True)
        return None


class RunControl:
    """``exp.run``: the prefix parts, ``start``/``complete``/``fail``/``cancel`` and the
    context manager (completed on a normal exit, failed on an exception)."""

    def __init__(self, experiment: Experiment, parts: list[str]) -> None:
        self._experiment = experiment
        self.owner = parts[0]
        self.project = parts[1]
        self.folders = parts[2:-1]
        self.name = parts[-1]
        self.prefix = "/".join(parts)

    def start(self) -> Experiment:
        return self._experiment._open()

    def complete(self) -> None:
        self._experiment._close("succeeded")

    def fail(self) -> None:
        self._experiment._close("failed")

    def cancel(self) -> None:
        self._experiment._close("stopped")

    def __enter__(self) -> Experiment:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.complete()
        else:
            self._experiment._close("failed", exc)


class Params:
    """``exp.params``: ``set(**kw)`` (alias ``log``) merges, nested dicts flatten to dotted
    keys, class objects become dicts of their public attributes; ``get(flatten=True)``."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def set(self, **kwargs: Any) -> Params:
        fields = {k: to_mapping(v) if inspect.isclass(v) else v for k, v in kwargs.items()}
        if fields:
            self._run.params.set(fields)  # as a mapping: a param may be named "reset"
        return self

    log = set

    def get(self, flatten: bool = True) -> dict[str, Any]:
        return self._run.params.get(flatten=flatten)


class Metrics:
    """``exp.metrics``: ``exp.metrics(name)`` is a named stream; ``exp.metrics.log(**)`` logs
    scalars to the unnamed stream ``None`` and each dict argument to the stream of its name,
    with the scalars merged in."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def __call__(
        self,
        name: str,
        description: str | None = None,
        tags: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Metric:
        """The stream ``name``; ``description``, ``tags`` and ``metadata``, when given, are
        stored with the stream (``list_all`` and ML-Dash's ``metadata.json`` show them)."""
        if description is not None or tags is not None or metadata is not None:
            self._run.metrics(str(name), description=description, tags=tags, metadata=metadata)
        return Metric(self._run, str(name))

    def log(self, _flush: bool = False, **kwargs: Any) -> Metrics:
        ts = kwargs.pop("_ts", None)
        scalars = {k: v for k, v in kwargs.items() if not isinstance(v, Mapping)}
        if scalars:
            self._run.metrics(UNNAMED).log(ts, **scalars)
        for name, fields in kwargs.items():
            if isinstance(fields, Mapping):
                self._run.metrics(name).log(ts, **{**scalars, **fields})
        if _flush:
            self._run.flush()
        return self

    def flush(self) -> Metrics:
        self._run.flush()
        return self

    def list_all(self) -> list[dict[str, Any]]:
        """Every stream of the run in ML-Dash's shape (counts as strings)."""
        return [
            {
                "metricId": f"local-metric-{s.name}",
                "name": s.name,
                "description": s.description,
                "tags": list(s.tags),
                "totalDataPoints": str(s.count),
                "createdAt": iso(s.created_at) if s.created_at else None,
            }
            for s in self._run.streams()
        ]


class Metric:
    """One named metric stream: ``log(**fields)`` (``_ts`` consumed), ``read``, ``stats``,
    ``list_all``."""

    def __init__(self, run: Run, name: str) -> None:
        self._run = run
        self.name = name

    def log(self, **fields: Any) -> Metric:
        ts = fields.pop("_ts", None)
        self._run.metrics(self.name).log(ts, **fields)
        return self

    def flush(self) -> Metric:
        self._run.flush()
        return self

    def read(self, start_index: int = 0, limit: int = 1000) -> dict[str, Any]:
        """``{"data": [{"index", "data", "createdAt"}], "startIndex", "endIndex", "total",
        "hasMore"}``; a never-logged metric reads as empty."""
        return self._run.metrics(self.name).read(start_index, limit)

    def stats(self) -> dict[str, Any]:
        """ML-Dash's local stats: counts as strings, ``chunkSize`` 10000. Raises
        FileNotFoundError for a metric never logged (as ML-Dash does)."""
        if not any(s.name == self.name for s in self._run.streams()):
            raise FileNotFoundError(f"Metric {self.name} not found")
        st = self._run.metrics(self.name).stats()
        count = str(st["totalDataPoints"])
        return {
            "metricId": f"local-metric-{self.name}",
            "name": self.name,
            "description": st["description"],
            "tags": st["tags"],
            "metadata": st["metadata"],
            "totalDataPoints": count,
            "bufferedDataPoints": count,
            "chunkedDataPoints": "0",
            "totalChunks": 0,
            "chunkSize": 10000,
            "firstDataAt": st["firstDataAt"],
            "lastDataAt": st["lastDataAt"],
            "createdAt": st["createdAt"],
            "updatedAt": st["updatedAt"],
        }

    def list_all(self) -> list[dict[str, Any]]:
        return Metrics(self._run).list_all()


class Tracks:
    """``exp.tracks(topic)`` and ``exp.tracks.flush()``."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def __call__(self, topic: str) -> Track:
        return Track(self._run, topic)

    def flush(self) -> None:
        self._run.flush()


class Track:
    """One track topic: ``append(**fields, _ts=None)``, ``flush()``, ``read()``."""

    def __init__(self, run: Run, topic: str) -> None:
        self._run = run
        self.topic = topic

    def append(self, **fields: Any) -> Track:
        ts = fields.pop("_ts", None)
        self._run.tracks(self.topic).append(ts, **fields)
        return self

    def flush(self) -> Track:
        self._run.flush()
        return self

    def read(
        self, start_timestamp: float | None = None, end_timestamp: float | None = None
    ) -> list[dict[str, Any]]:
        """Entries ``{"timestamp": t, **fields}`` in time order (``start <= t < end``)."""
        return self._run.tracks(self.topic).read(start_timestamp, end_timestamp)


class LogBuilder:
    """``exp.logs.info(message, **metadata)`` and the other levels."""

    def __init__(self, run: Run, metadata: dict[str, Any] | None) -> None:
        self._run = run
        self._metadata = metadata

    def _write(self, level: str, message: str, extra: dict[str, Any]) -> None:
        meta = {**(self._metadata or {}), **extra}
        self._run.log_message(message, level, meta or None, echo=True)

    def debug(self, message: str, **metadata: Any) -> None:
        self._write("debug", message, metadata)

    def info(self, message: str, **metadata: Any) -> None:
        self._write("info", message, metadata)

    def warn(self, message: str, **metadata: Any) -> None:
        self._write("warn", message, metadata)

    warning = warn

    def error(self, message: str, **metadata: Any) -> None:
        self._write("error", message, metadata)

    def fatal(self, message: str, **metadata: Any) -> None:
        self._write("fatal", message, metadata)
