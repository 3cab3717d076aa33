"""Errors of the artifact layer, each a subclass of the core tree in :mod:`runlane.errors`::

    UnsafePathError (InvalidNameError)          a name or rel_path would escape its folder
    SourceNotFoundError (InvalidArgumentError,  the file or folder to log does not exist
                         FileNotFoundError)
    ArtifactNotFoundError (NotFoundError)       no artifact, version, step, alias or model
    FileChangedError (StoreError)               the source changed while it was being copied
    ChecksumMismatchError (StoreError)          stored bytes do not hash to the recorded sha256

Every message names the bad value and the rule it breaks.
"""

from __future__ import annotations

from runlane.errors import InvalidArgumentError, InvalidNameError, NotFoundError, StoreError


class UnsafePathError(InvalidNameError):
    """A name or ``rel_path`` is absolute, contains ``..`` or leads through a symlink out of
    the folder it must stay in. Nothing was written."""


class SourceNotFoundError(InvalidArgumentError, FileNotFoundError):
    """The path given to ``log_artifact``/``log_model``/``add_file`` does not exist.

    Also an ``OSError`` (``FileNotFoundError``), so ``except FileNotFoundError`` catches it;
    ``filename`` holds the path.
    """

    def __init__(self, path: str, what: str = "artifact source") -> None:
        super().__init__(f"{what} {path!r} does not exist")
        self.filename = path

    def __str__(self) -> str:  # OSError would print "[Errno None] None: ..."
        return str(self.args[0])


class ArtifactNotFoundError(NotFoundError):
    """No artifact, version, step, alias or model matches the request."""


class FileChangedError(StoreError):
    """A source file changed (size, mtime or content hash) while it was being copied; the
    partial copy was removed and nothing was recorded."""


class ChecksumMismatchError(StoreError):
    """Bytes read back from storage do not match the recorded sha256; the partial download
    was removed."""
