"""Reference-only lineage: records of things a run used or produced without copying them
(``s3://`` URIs, paths outside the run, code commits), and how records name graph nodes.

A record's node (see :func:`node_of`) is what lets two runs meet in the lineage graph: the
output of one and the input of the other name the same node when they name the same URI,
the same absolute path, the same artifact or model version (``artifact:name:v3``,
``model:name:v2``), the same commit (``code:<url>@<commit>``), or the same data hash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runlane.artifacts.kinds import normalize_kind
from runlane.artifacts.paths import check_artifact_name, clean_rel_path
from runlane.artifacts.writes import check_summary
from runlane.entities import LineageRecord
from runlane.errors import InvalidArgumentError
from runlane.names import check_key
from runlane.timeutil import now


def is_uri(text: str) -> bool:
    return "://" in text


def reference(
    run_dir: Path,
    path: str | os.PathLike[str],
    *,
    kind: object = "artifact",
    name: str | None = None,
    hash: str | None = None,
    content: Any = None,
    summary: Mapping[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> LineageRecord:
    """A lineage record pointing at ``path`` (a URI, or a local path that need not exist).

    Local paths inside the run folder are kept relative to it; other local paths become
    absolute. ``content`` (bytes or text) is hashed (sha256) when ``hash`` is not given.
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError(f"reference path {path!r} must be a string or a path")
    text = os.fspath(path)
    if not text:
        raise InvalidArgumentError("reference path may not be empty")
    art_kind = normalize_kind(kind)
    details = dict(check_summary(summary) or {})
    size: int | None = None
    if rel_path is not None:
        rel = clean_rel_path(rel_path)
        location = rel or "."
        details["path"] = str(run_dir / location)
    elif is_uri(text):
        location = text
        details["path"] = text
    else:
        absolute = Path(text).expanduser().absolute()
        resolved = Path(os.path.normpath(absolute))
        run_real = run_dir.resolve()
        try:
            location = resolved.resolve().relative_to(run_real).as_posix()
        except ValueError:
            location = str(resolved)
        details["path"] = str(resolved)
        if resolved.is_file():
            size = resolved.stat().st_size
    base = text.rstrip("/").rsplit("/", 1)[-1] or text
    ref_name = check_artifact_name(name if name is not None else base, "reference name")
    digest = hash
    if digest is None and content is not None:
        raw = content if isinstance(content, bytes) else str(content).encode()
        digest = hashlib.sha256(raw).hexdigest()
    if digest is not None:
        details["hash"] = check_key(str(digest), "hash")
    details.update(extra or {})
    return LineageRecord(
        name=ref_name,
        kind=art_kind,
        path=location,
        is_input=bool(is_input),
        hash=digest,
        size=size,
        summary=details or None,
        at=now(),
    )


def code_reference(
    code_ref: Mapping[str, Any] | None, *, is_input: bool = True
) -> LineageRecord | None:
    """A ``coderef`` record: ``{"commit", "branch", "url", "is_dirty"}`` given, or captured
    from the current git checkout. None when there is no git repository."""
    info: dict[str, Any]
    if code_ref is None:
        from runlane.sdk.capture.git import capture_git

        captured = capture_git()
        if captured is None:
            return None
        info = {
            "commit": captured.commit,
            "branch": captured.branch,
            "url": captured.remote_url,
            "is_dirty": captured.is_dirty,
        }
    else:
        info = dict(code_ref)
    commit = str(info.get("commit") or "")
    if not commit:
        raise InvalidArgumentError(f"code_ref {code_ref!r} needs a 'commit'")
    url = info.get("url")
    node = f"code:{url}@{commit}" if url else f"code:{commit}"
    summary = {k: v for k, v in info.items() if v is not None}
    summary["node"] = node
    return LineageRecord(
        name=commit,
        kind="coderef",
        path=str(url) if url else None,
        is_input=is_input,
        hash=commit,
        summary=summary,
        at=now(),
    )


def node_of(record: LineageRecord, run_id: str, run_dir: str | os.PathLike[str] | None) -> str:
    """The graph node a lineage record names (see the module docstring)."""
    summary = record.summary or {}
    node = summary.get("node")
    if isinstance(node, str) and node:
        return node
    path = record.path
    if path:
        if is_uri(path) or os.path.isabs(path):
            return path
        if run_dir is not None:
            return os.path.normpath(os.path.join(run_dir, path))
        return f"runlane://{run_id}/{path}"
    if record.hash:
        return f"{record.kind}:{record.name}:{record.hash[:12]}"
    return f"{record.kind}:{record.name}"
