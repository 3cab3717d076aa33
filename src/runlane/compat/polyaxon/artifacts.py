"""Polyaxon's ``V1ArtifactKind`` (polyaxon-sdk 1.20, plus traceml's ``span``): runlane's
:class:`~runlane.artifacts.kinds.ArtifactKind` without FedML's own types, in Polyaxon's order.
A member equals its string (``V1ArtifactKind.CSV == "csv"``)."""

from __future__ import annotations

from enum import StrEnum

from runlane.artifacts.kinds import POLYAXON_KINDS, ArtifactKind

V1ArtifactKind = StrEnum(  # type: ignore[misc]  # members come from the one list of kinds
    "V1ArtifactKind",
    [(k.name, k.value) for k in ArtifactKind if k.value in POLYAXON_KINDS],
    module=__name__,
)
