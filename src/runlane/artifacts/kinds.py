"""Artifact kinds: every Polyaxon ``V1ArtifactKind`` value plus FedML's artifact types.

``ArtifactKind`` is a ``StrEnum``, so a member compares equal to its string and either may be
passed wherever a kind is expected. FedML's types map to the integer ids FedML reports
(``general`` 1, ``model`` 2, ``dataset`` 3, ``source code`` 4, ``log`` 5).
"""

from __future__ import annotations

from enum import StrEnum

from runlane.errors import InvalidArgumentError


class ArtifactKind(StrEnum):
    # Polyaxon V1ArtifactKind (polyaxon-sdk 1.20; traceml adds span)
    MODEL = "model"
    AUDIO = "audio"
    VIDEO = "video"
    HISTOGRAM = "histogram"
    IMAGE = "image"
    TENSOR = "tensor"
    DATAFRAME = "dataframe"
    CHART = "chart"
    CSV = "csv"
    TSV = "tsv"
    PSV = "psv"
    SSV = "ssv"
    METRIC = "metric"
    ENV = "env"
    HTML = "html"
    TEXT = "text"
    FILE = "file"
    DIR = "dir"
    DOCKERFILE = "dockerfile"
    DOCKER_IMAGE = "docker_image"
    DATA = "data"
    CODEREF = "coderef"
    TABLE = "table"
    TENSORBOARD = "tensorboard"
    CURVE = "curve"
    CONFUSION = "confusion"
    ANALYSIS = "analysis"
    ITERATION = "iteration"
    MARKDOWN = "markdown"
    SYSTEM = "system"
    ARTIFACT = "artifact"
    SPAN = "span"
    # FedML artifact types (``model`` is shared)
    GENERAL = "general"
    DATASET = "dataset"
    SOURCE_CODE = "source code"
    LOG = "log"


FEDML_TYPES: dict[str, int] = {"general": 1, "model": 2, "dataset": 3, "source code": 4, "log": 5}
#: Polyaxon's V1ArtifactKind values, in its order: every kind but FedML's own types.
POLYAXON_KINDS: tuple[str, ...] = tuple(
    k.value for k in ArtifactKind if k.value == "model" or k.value not in FEDML_TYPES
)

#: Kinds whose event rows carry the whole value (no asset file), as in Polyaxon.
SINGLE_FILE_EVENT_KINDS = frozenset(
    {"html", "text", "histogram", "chart", "confusion", "curve", "metric", "system", "span"}
)
#: Kinds whose ``.plx`` event files are JSON lines (traceml ≥ 1.1), not pipe-separated CSV:
#: their values are free text that may hold ``|`` and newlines.
JSONL_EVENT_KINDS = frozenset({"html", "text", "chart", "span", "markdown"})


def normalize_kind(kind: object) -> str:
    """Return the kind's string value; accepts members, their values, upper-case names
    (``"SOURCE_CODE"``) and FedML's integer ids. Raises InvalidArgumentError listing the
    valid kinds."""
    if isinstance(kind, ArtifactKind):
        return kind.value
    if isinstance(kind, int) and not isinstance(kind, bool):
        for name, number in FEDML_TYPES.items():
            if number == kind:
                return name
    if isinstance(kind, str):
        text = kind.strip()
        try:
            return ArtifactKind(text.lower()).value
        except ValueError:
            member = ArtifactKind.__members__.get(text.upper())
            if member is not None:
                return member.value
    valid = ", ".join(repr(k.value) for k in ArtifactKind)
    raise InvalidArgumentError(f"artifact kind {kind!r} is not one of {valid}")


def fedml_type_id(kind: str) -> int:
    """FedML's integer id of an artifact type; kinds FedML does not know count as general."""
    return FEDML_TYPES.get(normalize_kind(kind), 1)
