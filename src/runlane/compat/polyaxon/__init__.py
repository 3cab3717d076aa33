"""Polyaxon v1's tracking API on runlane: ``from runlane.compat.polyaxon import tracking``
(see :mod:`runlane.compat.polyaxon.tracking`) and ``V1ArtifactKind``."""

from __future__ import annotations

from runlane.compat.polyaxon.artifacts import V1ArtifactKind

__all__ = ["V1ArtifactKind"]
