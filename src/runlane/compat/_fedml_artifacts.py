"""FedML's ``Artifact`` and artifact type constants, on :class:`runlane.Artifact`.

The type constants keep FedML's values, including ``"source code"`` with a space, and its
integer ids; an unknown type name raises KeyError as in FedML. ``add_file``/``add_dir``
silently ignore paths that do not exist, as FedML does (the seed relies on it).
"""

from __future__ import annotations

import copy

from runlane.artifacts.versions import Artifact as RunlaneArtifact
from runlane.artifacts.versions import ArtifactVersion
from runlane.sdk.run import Run

ARTIFACT_TYPE_NAME_GENERAL = "general"
ARTIFACT_TYPE_NAME_MODEL = "model"
ARTIFACT_TYPE_NAME_DATASET = "dataset"
ARTIFACT_TYPE_NAME_SOURCE = "source code"
ARTIFACT_TYPE_NAME_LOG = "log"

ARTIFACT_TYPE_GENERAL = 1
ARTIFACT_TYPE_MODEL = 2
ARTIFACT_TYPE_DATASET = 3
ARTIFACT_TYPE_SOURCE = 4
ARTIFACT_TYPE_LOG = 5

TYPE_IDS: dict[str, int] = {
    ARTIFACT_TYPE_NAME_GENERAL: ARTIFACT_TYPE_GENERAL,
    ARTIFACT_TYPE_NAME_MODEL: ARTIFACT_TYPE_MODEL,
    ARTIFACT_TYPE_NAME_DATASET: ARTIFACT_TYPE_DATASET,
    ARTIFACT_TYPE_NAME_SOURCE: ARTIFACT_TYPE_SOURCE,
    ARTIFACT_TYPE_NAME_LOG: ARTIFACT_TYPE_LOG,
}


class Artifact(RunlaneArtifact):
    """``fedml.Artifact(name, type)``: a runlane Artifact of one of FedML's five types whose
    ``add_file``/``add_dir`` skip missing paths. FedML's attributes (``artifact_name``,
    ``artifact_type_name``, ``artifact_type`` (int id), ``artifact_files``,
    ``artifact_dirs``, ``ext_info``, ``artifact_desc``) are kept."""

    def __init__(self, name: str = "", type: str = ARTIFACT_TYPE_NAME_GENERAL) -> None:
        if type not in TYPE_IDS:
            raise KeyError(
                f"FedML artifact type {type!r} is not one of {', '.join(map(repr, TYPE_IDS))}"
            )
        super().__init__(name, type, strict=False)
        self.artifact_desc = ""


def log_artifact_to(run: Run, artifact: RunlaneArtifact, source: str | None) -> ArtifactVersion:
    """Log ``artifact`` as the next version of its name in the run's project (the existing
    version when the content is identical), recording ``source`` (the FedML edge) in the
    version's metadata."""
    if source is not None:
        artifact = copy.copy(artifact)
        artifact.metadata = {**artifact.metadata, "edge_id": source}
    return run.log_artifact(artifact)
