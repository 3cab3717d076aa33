"""Artifact methods of runs, mixed into :class:`runlane.sdk.run.Run` and
:class:`runlane.sdk.view.RunView`."""

from __future__ import annotations


class ArtifactReads:
    """Read-side artifact methods of a run (mixed into RunView)."""


class ArtifactWrites:
    """Write-side artifact methods of a live run (mixed into Run)."""
