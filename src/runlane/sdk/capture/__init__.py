"""Automatic capture of a run's surroundings: git state, environment, console output, logging.

Every function and class here is pure and fast, imports heavy dependencies lazily, and never
raises to its caller for environmental reasons (no git, not a repository, no permission, no
GPU driver): it returns ``None`` or partial data instead.

- :mod:`runlane.sdk.capture.git` -- commit, branch, remote (credentials stripped), dirty diff.
- :mod:`runlane.sdk.capture.env` -- Python, platform, host, hardware and installed packages.
- :mod:`runlane.sdk.capture.stdio` -- :class:`StdCapture`, a line-wise tee of stdout/stderr.
- :mod:`runlane.sdk.capture.logging_handler` -- :class:`RunlaneHandler` for :mod:`logging`.
"""
