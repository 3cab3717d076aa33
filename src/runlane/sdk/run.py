"""``Run``: the live handle a training script logs through.

Every logging call validates its arguments and stamps time and step on the caller's thread,
then appends one item to the process's writer queue and returns (see :mod:`.writer`). Bad
arguments raise here, before anything is queued; store failures never raise here.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runlane.artifacts.run_methods import ArtifactWrites
from runlane.entities import (
    LEVEL_RANK,
    LOG_LEVELS,
    Event,
    LineageRecord,
    LogRecord,
    MetadataUpdate,
    ParamsUpdate,
    RunPatch,
    Status,
    StreamInfoUpdate,
    TrackEntry,
)
from runlane.errors import InvalidArgumentError, InvalidValueError, RunStateError
from runlane.names import check_key, check_name, check_path
from runlane.sdk import writer as w
from runlane.sdk.view import DEFAULT_STREAM, ParamsView, RunView, StreamView, TrackView
from runlane.store.documents import normalize_status
from runlane.timeutil import MAX_TIMESTAMP, MIN_TIMESTAMP
from runlane.values import (
    check_text,
    coerce_int,
    coerce_param,
    coerce_scalar,
    flatten,
    load_params_file,
    to_mapping,
)

if TYPE_CHECKING:
    from runlane.store.base import Store

_time = time.time
_KNOWN_KEYS: set[str] = set()
_LEVEL_ALIASES = {"warning": "warn", "critical": "fatal", "err": "error", "information": "info"}
_thread_ts = threading.local()


def _check_field(key: object) -> None:
    """Validate a metric field name once; later calls with the same key cost a set lookup."""
    check_key(key, "metric field")
    assert isinstance(key, str)
    if key.startswith("_"):
        raise InvalidArgumentError(
            f"metric field {key!r} starts with '_', which is reserved for runlane's own fields "
            "(_step, _ts, _x, _source)"
        )
    _KNOWN_KEYS.add(key)


def coerce_row(data: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Validate and copy a row of metric fields. Returns ``(row, has_nonfinite)``.

    Fast path: a row whose keys were all seen before and whose values are all plain
    int/float/str/bool is copied in C and only its values are looped over (~25% faster at
    10 fields); anything else takes :func:`_coerce_row_slow`, which validates in order."""
    row = dict(data)
    if _KNOWN_KEYS.issuperset(row):
        nonfinite = False
        for value in row.values():
            kind = type(value)
            if kind is float:
                if value - value != 0.0:
                    nonfinite = True
            elif kind is str:
                if not value.isascii():  # the slow path checks it is valid Unicode
                    break
            elif kind is int:
                # past 64 bits (INT_MIN, INT_MAX as literals: no global lookups per value)
                if value > 0xFFFFFFFFFFFFFFFF or value < -0x8000000000000000:
                    break  # the slow path makes it a float
            elif kind is not bool:
                break
        else:
            return row, nonfinite
    return _coerce_row_slow(data)


def _coerce_row_slow(data: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    row: dict[str, Any] = {}
    nonfinite = False
    known = _KNOWN_KEYS
    for key, value in data.items():
        if key not in known:
            _check_field(key)
        kind = type(value)
        if kind is float:
            if value - value != 0.0:
                nonfinite = True
        elif kind is str:
            check_text(value, f"value for {key!r}")
        elif kind is int:
            value = coerce_int(key, value)
        elif kind is not bool:
            value = coerce_scalar(key, value)
            if type(value) is float and value - value != 0.0:
                nonfinite = True
        row[key] = value
    return row, nonfinite


def normalize_level(level: object) -> str:
    text = str(level).strip().lower()
    text = _LEVEL_ALIASES.get(text, text)
    if text not in LEVEL_RANK:
        raise InvalidArgumentError(
            f"log level {level!r} is not one of {', '.join(LOG_LEVELS)} (or 'warning')"
        )
    return text


#: Steps are signed 64-bit ints: what JSON readers, numpy columns and the server keep exactly.
MAX_STEP = 2**63 - 1


def _check_step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        item = getattr(step, "item", None)
        if callable(item) and isinstance(item(), int) and not isinstance(item(), bool):
            return _check_step(int(item()))
        raise InvalidArgumentError(f"step {step!r} must be an int ≥ 0, not {type(step).__name__}")
    if not 0 <= step <= MAX_STEP:
        raise InvalidArgumentError(f"step {step!r} must be between 0 and {MAX_STEP} (2**63 - 1)")
    return step


def _check_timestamp(value: object) -> float:
    """Epoch seconds as a float; InvalidArgumentError for non-numbers, NaN, ±inf and values
    outside years 1..9999 (no file format or reader could hold them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"timestamp {value!r} must be epoch seconds (int or float)")
    if not MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:  # False for NaN too
        raise InvalidArgumentError(
            f"timestamp {value!r} must be finite epoch seconds between {MIN_TIMESTAMP:.0f} "
            f"and {MAX_TIMESTAMP:.0f} (years 1 to 9999)"
        )
    return float(value)


class Run(ArtifactWrites, RunView):
    """A live run. Create it with :func:`runlane.init`; use it as a context manager to end it
    with ``succeeded`` (or ``failed``/``stopped`` on an exception)."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        existed: bool = False,
        source: str | None = None,
        echo_logs: bool = False,
        joined: bool = False,
    ) -> None:
        super().__init__(store, run_id)
        self.existed = existed
        #: True when this process joined a run another live process is running (a DDP rank,
        #: a FedML edge): its exit or finish() never marks the run succeeded; the creator does.
        self.joined = joined
        self.source = source
        self.echo_logs = echo_logs
        self._writer = w.get_writer()
        self._sink = w.Sink(store, run_id)
        self._writer.register(self._sink)
        self._queue = self._writer.queue
        self._step = 0
        self._buffer: dict[str, Any] = {}
        self._buffer_nonfinite = False
        self._finished = False
        self._owner_pid = os.getpid()
        self._last_track_ts = 0.0
        self._closers: list[Any] = []
        self.failure: dict[str, Any] | None = None

    # --- plumbing -----------------------------------------------------------------------
    def _put(self, kind: int, payload: Any) -> None:
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log more")
        self._queue.append((kind, self._sink, payload))
        if len(self._queue) >= w.SOFT_LIMIT:
            self._writer.kick()

    def _before_read(self) -> None:
        if not self._finished:
            self._writer.flush()

    def flush(self) -> None:
        """Hand everything logged so far to the store (visible to every reader on return).
        Raises WriteFailedError if background writes failed."""
        self._writer.flush(self._sink)

    @property
    def step(self) -> int:
        """The global step the next ``log`` without ``step=`` will use."""
        return self._step

    @property
    def finished(self) -> bool:
        return self._finished

    # --- metrics ------------------------------------------------------------------------
    def log(
        self,
        data: Mapping[str, Any],
        step: int | None = None,
        commit: bool = True,
        *,
        x_axis: str | None = None,
        timestamp: float | None = None,
        source: str | None = None,
    ) -> None:
        """Log one row of fields to the default stream.

        ``step=None`` uses the global counter, which then advances; an explicit step does not
        move it. ``commit=False`` buffers the fields; the next committed call merges them in
        (its own fields win). ``x_axis`` names the field to plot this row against.
        """
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log more")
        ts = _time() if timestamp is None else _check_timestamp(timestamp)
        if type(data) is not dict and not isinstance(data, Mapping):
            raise InvalidValueError(f"log() takes a dict of fields, not {type(data).__name__}")
        row, nonfinite = coerce_row(data)
        if not commit:
            self._buffer.update(row)
            self._buffer_nonfinite = self._buffer_nonfinite or nonfinite
            return
        if step is not None and (type(step) is not int or not 0 <= step <= MAX_STEP):
            step = _check_step(step)  # validated before the buffer or the counter is touched
        if x_axis is not None:
            check_key(x_axis, "x_axis")
        if self._buffer:
            merged = self._buffer
            merged.update(row)
            row = merged
            nonfinite = nonfinite or self._buffer_nonfinite
            self._buffer = {}
            self._buffer_nonfinite = False
        if step is None:
            step = self._step
            self._step = step + 1
        row["_step"] = step
        row["_ts"] = ts
        if x_axis is not None:
            row["_x"] = x_axis
        src = source if source is not None else self.source
        if src is not None:
            row["_source"] = check_text(str(src), "source")
        self._queue.append((w.METRIC, self._sink, DEFAULT_STREAM, row, nonfinite))
        if len(self._queue) >= w.SOFT_LIMIT:
            self._writer.kick()

    def metrics(
        self,
        name: str = DEFAULT_STREAM,
        *,
        description: str | None = None,
        tags: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> MetricStream:
        """The stream ``name``. ``description``, ``tags`` (replacing the stream's tags) and
        ``metadata`` (a dict replacing the stream's metadata document), when given, are
        recorded with the stream in order with its rows; the stream is listed from then on.
        Raises InvalidArgumentError for a bad name and InvalidValueError for bad metadata."""
        stream = check_name(name, "stream name")
        if description is not None or tags is not None or metadata is not None:
            if metadata is not None and not isinstance(metadata, Mapping):
                raise InvalidValueError(
                    f"metadata of stream {stream!r} must be a dict, not {type(metadata).__name__}"
                )
            doc = (
                None
                if metadata is None
                else {str(k): coerce_param(f"{stream}.{k}", v) for k, v in metadata.items()}
            )
            self._put(
                w.STREAM,
                StreamInfoUpdate(
                    stream,
                    None if description is None else str(description),
                    None if tags is None else split_tags(tags),
                    doc,
                    _time(),
                ),
            )
        return MetricStream(self, stream)

    def _log_row(
        self, stream: str, fields: Mapping[str, Any], ts: float | None, source: str | None
    ) -> None:
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log more")
        row, nonfinite = coerce_row(fields)
        row["_ts"] = self._resolve_ts(ts)
        src = source if source is not None else self.source
        if src is not None:
            row["_source"] = check_text(str(src), "source")
        self._queue.append((w.METRIC, self._sink, stream, row, nonfinite))
        if len(self._queue) >= w.SOFT_LIMIT:
            self._writer.kick()

    def _resolve_ts(self, ts: float | None) -> float:
        """``None`` → now; ``-1`` → the previous timestamp of this thread (ML-Dash's rule)."""
        if ts is None:
            value = _time()
        elif ts == -1:
            value = getattr(_thread_ts, "last", None) or _time()
        else:
            value = _check_timestamp(ts)
        _thread_ts.last = value
        return value

    # --- params -------------------------------------------------------------------------
    @property
    def params(self) -> Params:
        return Params(self)

    def _set_params(self, source: object, reset: bool, fields: Mapping[str, Any]) -> None:
        merged: dict[str, Any] = {}
        if source is not None:
            if isinstance(source, str | os.PathLike):
                merged.update(load_params_file(os.fspath(source)))
            else:
                merged.update(to_mapping(source))
        merged.update(fields)
        self._put(w.PARAMS, ParamsUpdate(flatten(merged), reset=reset, at=_time()))

    # --- logs, events, tracks -----------------------------------------------------------
    def log_message(
        self,
        message: object,
        level: str = "info",
        metadata: Mapping[str, Any] | None = None,
        *,
        echo: bool | None = None,
        source: str | None = None,
        timestamp: float | None = None,
        **extra: Any,
    ) -> None:
        """Log a text message at ``level`` (debug, info, warn/warning, error, fatal) with
        optional JSON metadata (plus ``extra`` keyword fields). ``echo`` prints it as
        ``[LEVEL] message`` (stderr for error/fatal)."""
        lvl = normalize_level(level)
        meta: dict[str, Any] | None = None
        if metadata or extra:
            meta = {}
            for key, value in {**(metadata or {}), **extra}.items():
                meta[check_key(key, "log metadata key")] = coerce_param(key, value)
        ts = _time() if timestamp is None else _check_timestamp(timestamp)
        src = source if source is not None else self.source
        text = check_text(str(message), "log message")
        if src is not None:
            check_text(str(src), "source")
        self._put(w.LOG, LogRecord(lvl, text, ts, meta, src))
        if echo if echo is not None else self.echo_logs:
            self._echo(lvl, text, meta)

    def _echo(self, level: str, message: str, meta: dict[str, Any] | None) -> None:
        from runlane.sdk import capture_hub

        suffix = ""
        if meta:
            suffix = " [" + ", ".join(f"{k}={v}" for k, v in meta.items()) + "]"
        capture_hub.write_uncaptured(
            "stderr" if level in ("error", "fatal") else "stdout",
            f"[{level.upper()}] {message}{suffix}\n",
        )

    def _log_captured(self, stream: str, line: str) -> None:
        if not self._finished:
            self._put(
                w.LOG,
                LogRecord(
                    "error" if stream == "stderr" else "info",
                    line,
                    _time(),
                    {"stream": stream},
                    self.source,
                ),
            )

    def log_event(
        self,
        name: str,
        *,
        source: str | None = None,
        wallclock: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a discrete event, keeping ``wallclock`` when given (epoch seconds)."""
        check_key(name, "event name")
        meta = {
            check_key(k, "event metadata key"): coerce_param(k, v)
            for k, v in (metadata or {}).items()
        }
        at = _time() if wallclock is None else _check_timestamp(wallclock)
        if source is not None:
            check_text(str(source), "event source")
        self._put(
            w.EVENT, Event(name, at, source if source is not None else self.source, meta or None)
        )

    def tracks(self, topic: str) -> Track:
        return Track(self, check_path(topic, "track topic"))

    def _append_track(self, topic: str, ts: float | None, fields: Mapping[str, Any]) -> None:
        flat = flatten(dict(fields))
        for key, value in flat.items():
            if isinstance(value, list):
                continue
            flat[key] = value
        if ts is None:
            t = _time()
            if t <= self._last_track_ts:
                t = self._last_track_ts + 1e-6
            self._last_track_ts = t
            _thread_ts.last = t
        else:
            t = self._resolve_ts(ts)
        self._put(w.TRACK, TrackEntry(topic, t, flat))

    # --- metadata, lineage, run info ----------------------------------------------------
    def update_metadata(self, key: str, value: Mapping[str, Any]) -> float:
        """Store a free-form JSON document under ``key``; returns its ``updated_at``."""
        check_name(key, "metadata key")
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"metadata {key!r} must be a dict, not {type(value).__name__}")
        doc = {str(k): coerce_param(f"{key}.{k}", v) for k, v in value.items()}
        at = _time()
        self._put(w.META, MetadataUpdate(key, doc, at))
        return at

    def log_data_ref(
        self,
        name: str,
        data: object = None,
        *,
        path: str | os.PathLike[str] | None = None,
        is_input: bool = True,
        summary: Mapping[str, Any] | None = None,
    ) -> LineageRecord:
        """Record a reference to data (a file, folder, bytes or array) by content hash."""
        from runlane.sdk.datarefs import describe

        check_key(name, "data reference name")
        record = describe(name, data, path, is_input=is_input, summary=summary, kind="data")
        self._put(w.LINEAGE, record)
        return record

    def log_lineage(self, record: LineageRecord) -> None:
        self._put(w.LINEAGE, record)

    def _patch(self, **fields: Any) -> None:
        self._put(w.PATCH, RunPatch(at=_time(), **fields))

    def set_name(self, name: str) -> None:
        """Change the run's display name (its folder keeps the name it was created with)."""
        self._patch(name=check_name(name, "run name"))

    def set_description(self, description: str) -> None:
        self._patch(description=check_text(str(description), "description"))

    def add_tags(self, tags: str | Iterable[str], reset: bool = False) -> None:
        """Add tags (a comma string splits); ``reset=True`` replaces the existing ones."""
        self._patch(tags=split_tags(tags), reset_tags=reset)

    def set_framework(self, framework: str) -> None:
        self._patch(framework=check_text(str(framework), "framework"))

    def set_backend(self, backend: str) -> None:
        self._patch(backend=check_text(str(backend), "backend"))

    def set_group(self, group: str) -> None:
        self._patch(group=check_path(group, "group"))

    def set_extra(self, **fields: Any) -> None:
        """Merge JSON fields into the run document's ``extra`` (searchable as ``meta.KEY``)."""
        self._patch(extra={k: coerce_param(k, v) for k, v in fields.items()})

    def set_status(self, status: str, message: str | None = None) -> None:
        """Move the run to ``status``. Terminal statuses are sticky; a terminal status ends
        the run like :meth:`finish`."""
        target = normalize_status(status)
        if target.terminal:
            self.finish(target.value, message)
        else:
            self._patch(status=target.value, status_message=message)

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Mark the run running (``init`` does this)."""
        self._patch(status=Status.RUNNING.value)

    def finish(self, status: str = "succeeded", message: str | None = None) -> None:
        """End the run: flush, record ``status`` (unless already terminal), fsync. Idempotent.

        Batches a failing store refused are retried for a while first; raises WriteFailedError
        (after ending the run) only if some data could not be written."""
        if self._finished:
            return
        target = normalize_status(status)
        for close in reversed(self._closers):
            try:
                close()
            except Exception as exc:  # a capture helper failing must not block the finish
                print(f"runlane: while finishing {self.id}: {exc!r}", file=sys.stderr)
        self._closers.clear()
        if self._buffer:  # fields logged with commit=False and never committed
            self.log({}, commit=True)
        if os.getpid() == self._owner_pid and not (self.joined and target is Status.SUCCEEDED):
            self._patch(status=target.value, status_message=message)
        self._finished = True
        self._sink.live = False
        from runlane.sdk import lifecycle

        lifecycle.forget(self)
        try:
            self._writer.flush()
            self._writer.settle(self._sink)
            self._sink.give_up()
            self.store.sync(self.id)  # the terminal status patch also indexed the summaries
        finally:
            self._sink.raise_errors()

    def fail(self, exc: BaseException | None = None, message: str | None = None) -> None:
        """End the run as failed, keeping the exception's message and traceback."""
        import traceback

        if exc is not None:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.failure = {"type": type(exc).__name__, "message": str(exc), "traceback": text}
            if not self._finished:
                self.set_extra(error=self.failure)
                self.log_message(
                    f"{type(exc).__name__}: {exc}", level="fatal", metadata={"traceback": text}
                )
            message = message or f"{type(exc).__name__}: {exc}"
        self.finish(Status.FAILED.value, message)

    def add_closer(self, close: Any) -> None:
        """Run ``close()`` at finish, before the final flush (capture helpers use this)."""
        self._closers.append(close)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.finish(Status.STOPPED.value, "KeyboardInterrupt")
        else:
            self.fail(exc)


def split_tags(tags: str | Iterable[str]) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; an iterable of strings is taken as is (each checked)."""
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    out = []
    for tag in items:
        text = str(tag).strip()
        if text:
            out.append(check_key(text, "tag"))
    return tuple(out)


class Params(ParamsView):
    """``run.params``: ``set(**kw)`` merges (``reset=True`` replaces), ``get(flatten=)``."""

    _run: Run

    def set(self, source: object = None, /, *, reset: bool = False, **fields: Any) -> Params:
        """Set params from keyword fields and/or one source: a dict, argparse Namespace,
        dataclass, class object or a path to a JSON/YAML file. Nested dicts flatten to dotted
        keys. Merges into the existing params unless ``reset=True``. Returns self."""
        self._run._set_params(source, reset, fields)
        return self

    log = set
    update = set


class MetricStream(StreamView):
    """A named metric stream of a live run: ``log(**fields)`` plus the reads."""

    _run: Run

    def log(
        self, _ts: float | None = None, *, _source: str | None = None, **fields: Any
    ) -> MetricStream:
        """Append one row. ``_ts`` (epoch seconds, or -1 to reuse the previous timestamp of
        this thread) is consumed; every stored row gets ``_ts``. Returns self."""
        self._run._log_row(self.name, fields, _ts, _source)
        return self

    append = log


class Track(TrackView):
    """A track topic of a live run: ``append(**fields, _ts=None)``."""

    _run: Run

    def append(self, _ts: float | None = None, **fields: Any) -> Track:
        """Append an entry; without ``_ts`` the timestamp is now (strictly increasing);
        ``_ts=-1`` reuses the previous timestamp. Entries with the same timestamp merge."""
        self._run._append_track(self.topic, _ts, fields)
        return self
