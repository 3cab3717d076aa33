"""Line-wise capture of ``sys.stdout`` and ``sys.stderr`` that leaves the console intact.

:class:`StdCapture` replaces ``sys.stdout``/``sys.stderr`` with tee objects. Every write goes to
the original stream first, unchanged (progress bars with ``\\r`` keep working); the text is
then cut into lines and each complete line is handed to a sink. The sink never breaks the
user's ``print``: its exceptions are swallowed and whatever it prints itself is not captured
again (no recursion).

Line rules, applied per stream:

- lines end at ``\\n`` only; the sink gets the line without its newline;
- a ``\\r`` directly before the ``\\n`` is dropped (``\\r\\n`` line endings); of what remains,
  only the text after the last ``\\r`` is kept, which is what a terminal finally shows for a
  progress bar redrawn with ``\\r``;
- text without a newline yet is buffered until its newline arrives, or until
  :meth:`StdCapture.flush` / :meth:`StdCapture.stop` (an empty pending line is dropped there);
- a line longer than :data:`MAX_LINE_CHARS` characters is handed over in pieces of that size,
  so buffering never holds more than about that much per stream.

Writes of the raw ``buffer`` of a stream, and writes to the file descriptors by C code or
child processes, are not seen.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TextIO

__all__ = ["MAX_LINE_CHARS", "STREAMS", "Sink", "StdCapture"]

MAX_LINE_CHARS = 64 * 1024
"""Longer lines reach the sink in several pieces of at most this many characters."""

STREAMS = ("stdout", "stderr")
"""The stream names passed to the sink (and the ``sys`` attributes that are teed)."""

FLUSH_WAIT_SECONDS = 5.0
"""How long :meth:`StdCapture.flush` waits for a sink call running in another thread."""

Sink = Callable[[str, str], None]
"""``sink(stream_name, line)``: ``stream_name`` is ``"stdout"`` or ``"stderr"``."""


def _finish(line: str) -> list[str]:
    """Apply the ``\\r`` rules to one complete line and split it into bounded pieces."""
    if line.endswith("\r"):
        line = line[:-1]
    cr = line.rfind("\r")
    if cr >= 0:
        line = line[cr + 1 :]
    if len(line) <= MAX_LINE_CHARS:
        return [line]
    return [line[i : i + MAX_LINE_CHARS] for i in range(0, len(line), MAX_LINE_CHARS)]


class _LineBuffer:
    """The pending (not yet newline-terminated) text of one stream.

    Invariant: the joined pieces contain ``\\r`` at most at their first and last position, so
    only the text that can still reach the sink is kept.
    """

    __slots__ = ("_pieces", "_size")

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._size = 0

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the lines (or overlong pieces) it completes."""
        out: list[str] = []
        start = 0
        while True:
            nl = text.find("\n", start)
            if nl < 0:
                break
            segment = text[start:nl]
            if self._pieces:
                self._pieces.append(segment)
                segment = "".join(self._pieces)
                self._pieces = []
                self._size = 0
            out.extend(_finish(segment))
            start = nl + 1
        if start < len(text):
            out.extend(self._append(text[start:] if start else text))
        return out

    def take_partial(self) -> list[str]:
        """Remove and return the pending text as line pieces (nothing if it shows as empty)."""
        if not self._pieces:
            return []
        line = "".join(self._pieces)
        self._pieces = []
        self._size = 0
        pieces = _finish(line)
        return [] if pieces == [""] else pieces

    def _append(self, rest: str) -> list[str]:
        cr = rest.rfind("\r", 0, len(rest) - 1)
        if cr >= 0:  # everything before a '\r' followed by text is overwritten: drop it
            self._pieces = [rest[cr:]]
            self._size = len(rest) - cr
        elif self._pieces and self._pieces[-1].endswith("\r"):
            self._pieces = ["\r", rest]
            self._size = 1 + len(rest)
        else:
            self._pieces.append(rest)
            self._size += len(rest)
        if self._size <= MAX_LINE_CHARS:
            return []
        content = "".join(self._pieces)
        if content.startswith("\r"):
            content = content[1:]
        trailing_cr = content.endswith("\r")
        body = content[:-1] if trailing_cr else content
        full = (len(body) - 1) // MAX_LINE_CHARS if body else 0
        out = [body[i * MAX_LINE_CHARS : (i + 1) * MAX_LINE_CHARS] for i in range(full)]
        kept = body[full * MAX_LINE_CHARS :] + ("\r" if trailing_cr else "")
        self._pieces = [kept] if kept else []
        self._size = len(kept)
        return out


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: forwards to the original, feeds the capture.

    Every attribute that is not defined here (``encoding``, ``errors``, ``buffer``,
    ``closed``, ...) is read from the original stream.
    """

    __slots__ = ("_active", "_capture", "_name", "_original")

    def __init__(self, capture: StdCapture, name: str, original: TextIO) -> None:
        self._capture = capture
        self._name = name
        self._original = original
        self._active = True

    def write(self, text: str) -> int:
        """Write ``text`` to the original stream unchanged, then hand it to the capture."""
        written = self._original.write(text)
        if self._active and isinstance(text, str):
            self._capture._feed(self._name, text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def isatty(self) -> bool:
        return self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:
        try:
            original = object.__getattribute__(self, "_original")
        except AttributeError:  # half-built (copy/pickle): do not recurse
            raise AttributeError(name) from None
        return getattr(original, name)

    def __repr__(self) -> str:
        return f"<runlane tee {self._name} of {self._original!r}>"


class StdCapture:
    """Tee ``sys.stdout`` and ``sys.stderr`` into ``sink(stream_name, line)``, line by line.

    Contract:

    - :meth:`start` installs the tees (idempotent); :meth:`stop` removes them and flushes the
      pending partial lines to the sink (idempotent). A stopped capture can be started again.
    - The original streams receive exactly what was written, before the sink sees it.
    - ``sink`` is called once per complete line (see the module docstring for the line rules),
      with ``"stdout"`` or ``"stderr"``, in order, never concurrently and never re-entrantly:
      output printed by the sink itself goes to the console only. It may run on any thread
      that writes. Exceptions it raises (``Exception`` subclasses) are swallowed.
    - :meth:`stop` restores a ``sys`` stream only while it is still this capture's tee; if
      something replaced it meanwhile, that replacement stays and the tee it may still wrap
      keeps forwarding to the console, without feeding the sink.
    - Thread-safe; the sink is called without holding the capture's lock.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._local = threading.local()
        self._buffers = {name: _LineBuffer() for name in STREAMS}
        self._pending: deque[tuple[str, str]] = deque()
        self._draining = False
        self._capturing = False
        self._tees: dict[str, _Tee] = {}

    @property
    def capturing(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not since."""
        return self._capturing

    def start(self) -> None:
        """Replace ``sys.stdout``/``sys.stderr`` with tees (a ``None`` stream is left alone)."""
        with self._lock:
            if self._capturing:
                return
            self._capturing = True
            tees: dict[str, _Tee] = {}
            for name in STREAMS:
                original = getattr(sys, name, None)
                if original is not None:
                    tees[name] = _Tee(self, name, original)
            self._tees = tees
        for name, tee in tees.items():
            setattr(sys, name, tee)

    def stop(self) -> None:
        """Stop feeding the sink, restore the ``sys`` streams still ours, flush partial lines."""
        with self._lock:
            if not self._capturing:
                return
            self._capturing = False
            tees = self._tees
            self._tees = {}
        for name, tee in tees.items():
            tee._active = False
            if getattr(sys, name, None) is tee:
                setattr(sys, name, tee._original)
        self.flush()

    def flush(self) -> None:
        """Hand the pending partial lines to the sink and wait until the sink has seen them.

        Called from inside the sink it only queues them (they follow the current line). When
        another thread is running the sink, waits at most :data:`FLUSH_WAIT_SECONDS`.
        """
        deadline = time.monotonic() + FLUSH_WAIT_SECONDS
        with self._lock:
            for name, buffer in self._buffers.items():
                self._pending.extend((name, line) for line in buffer.take_partial())
            while True:
                if not self._draining:
                    if not self._pending:
                        return
                    self._draining = True
                    break
                if self._in_sink():
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._idle.wait(remaining)
        self._drain()

    def __enter__(self) -> StdCapture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # internals -------------------------------------------------------------------------------

    def _in_sink(self) -> bool:
        return bool(getattr(self._local, "in_sink", False))

    def _feed(self, name: str, text: str) -> None:
        """Called by a tee after each write: buffer ``text``, deliver completed lines."""
        if not text or self._in_sink():
            return
        with self._lock:
            if not self._capturing:
                return
            lines = self._buffers[name].feed(text)
            if not lines:
                return
            self._pending.extend((name, line) for line in lines)
            if self._draining:  # the thread running the sink will pick them up, in order
                return
            self._draining = True
        self._drain()

    def _drain(self) -> None:
        """Deliver pending lines until none is left; the caller has set ``_draining``."""
        self._local.in_sink = True
        finished = False
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._draining = False
                        self._idle.notify_all()
                        finished = True
                        return
                    batch = list(self._pending)
                    self._pending.clear()
                for name, line in batch:
                    with contextlib.suppress(Exception):  # never break the user's print
                        self._sink(name, line)
        finally:
            self._local.in_sink = False
            if not finished:  # KeyboardInterrupt & co. inside the sink: let others drain
                with self._lock:
                    self._draining = False
                    self._idle.notify_all()
