"""The one exception tree of runlane.

::

    RunlaneError                      base of everything runlane raises on purpose
    ├── InvalidNameError (ValueError) a project/run/stream/topic/key name breaks a naming rule
    ├── InvalidValueError (TypeError) a value cannot be stored (object, nested non-JSON, ...)
    ├── InvalidArgumentError (ValueError) any other bad argument (level, status, query, ...)
    │   └── QuerySyntaxError          the filter language could not parse an expression
    ├── NotFoundError (KeyError)      a run, stream, artifact or model does not exist
    ├── RunStateError                 the call does not fit the run's state (finished, no run)
    └── StoreError                    the storage backend failed; the driver error is ``__cause__``
        └── WriteFailedError          background writes failed; raised at ``flush()``/``finish()``

Bad arguments raise at the call site, before anything is queued. Failures of the background
writer never raise in the training loop: they are kept and surfaced at ``flush()``/``finish()``.
"""

from __future__ import annotations


class RunlaneError(Exception):
    """Base class of every error runlane raises on purpose."""


class InvalidNameError(RunlaneError, ValueError):
    """A name (project, run, stream, topic, metadata key, ...) breaks a naming rule.

    The message names the value and the rule it breaks.
    """


class InvalidValueError(RunlaneError, TypeError):
    """A value cannot be stored; the message names the key and the value's type."""


class InvalidArgumentError(RunlaneError, ValueError):
    """An argument other than a name or a value is invalid (a log level, a status, ...)."""


class QuerySyntaxError(InvalidArgumentError):
    """A filter expression could not be parsed; the message shows the position."""


class NotFoundError(RunlaneError, KeyError):
    """A run, stream, artifact, model or other record does not exist."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0]) if self.args else "not found"


class RunStateError(RunlaneError):
    """The call does not fit the run's state, e.g. logging after ``finish()``."""


class StoreError(RunlaneError):
    """The storage backend failed. The original driver error is chained as ``__cause__``."""


class WriteFailedError(StoreError):
    """Background writes failed; raised by ``flush()``/``finish()`` with the first cause."""
