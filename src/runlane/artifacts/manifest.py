"""The run's artifact manifest, ``<run folder>/artifacts.jsonl``: one
:class:`~runlane.artifacts.records.ArtifactRecord` per line, appended after the bytes it
points at are stored (so an interrupted upload is never listed), read in log order.
"""

from __future__ import annotations

from pathlib import Path

from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.journal import append_json_lines, read_json_lines
from runlane.artifacts.records import ArtifactRecord


def append_records(manifest: Path, records: list[ArtifactRecord]) -> None:
    """Append records; visible to readers on return. Raises StoreError."""
    append_json_lines(manifest, [r.to_dict() for r in records])


def read_records(manifest: Path) -> list[ArtifactRecord]:
    out = []
    for doc in read_json_lines(manifest):
        if isinstance(doc, dict) and "name" in doc:
            try:
                out.append(ArtifactRecord.from_dict(doc))
            except (KeyError, TypeError, ValueError):
                continue
    return out


def find_record(
    records: list[ArtifactRecord],
    name: str,
    *,
    step: int | None = None,
    version: str | None = None,
    kind: str | None = None,
    where: str = "this run",
) -> ArtifactRecord:
    """The record of ``name`` at ``step`` or ``version`` (the last one logged when neither
    is given). ArtifactNotFoundError lists what exists instead."""
    named = [r for r in records if r.name == name and (kind is None or r.kind == kind)]
    if not named:
        known = sorted({r.name for r in records})
        hint = f"; known: {', '.join(known[:20])}" if known else "; nothing was logged"
        raise ArtifactNotFoundError(f"no artifact {name!r} in {where}{hint}")
    if step is not None:
        at_step = [r for r in named if r.step == step]
        if not at_step:
            steps = sorted({r.step for r in named if r.step is not None})
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no step {step} in {where}; steps: "
                f"{', '.join(map(str, steps[:20])) or 'none'}"
            )
        return at_step[-1]
    if version is not None:
        wanted = version if str(version).startswith("v") else f"v{version}"
        matches = [r for r in named if r.version == wanted]
        if not matches:
            versions = [r.version for r in named if r.version]
            raise ArtifactNotFoundError(
                f"artifact {name!r} has no version {version!r} in {where}; versions: "
                f"{', '.join(versions) or 'none'}"
            )
        return matches[-1]
    return named[-1]
