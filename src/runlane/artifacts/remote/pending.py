"""What an artifact call returns when its commit was spooled (the server was unreachable):
the answer the server would give, computed on this machine from the spooled spec, marked
pending.

* ``log_artifact`` (file, folder, step asset), encoded assets (images, audio...), values
  (curves, text...) and ``log_model`` return an :class:`~runlane.artifacts.records.
  ArtifactRecord` of the same shape as the server's, with ``extra["pending"] = True`` and
  ``extra["commit_id"]``. Its files are described as the run folder would store them (``key``
  = the path in the run); a server with an object store keeps other keys. ``log_model``'s
  record has ``version=None``: the registry numbers versions when the commit reaches it.
* ``log_artifact(Artifact)`` returns a :class:`PendingArtifactVersion`: ``version`` is None
  and ``index`` −1 until the server numbers it, ``pending`` is True, ``aliases`` are the
  requested ones. Its files cannot be downloaded until the commit is replayed; then
  ``runlane.artifact(name)``/``run.use_artifact`` find the numbered version.
* ``log_checkpoint`` returns the :class:`~runlane.artifacts.registry.Checkpoint` the server
  will record (its id is ModelBox's ``sha1(run id + epoch)``).

:func:`is_pending` tells a pending answer from a stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from runlane.artifacts.home import ArtifactHome
from runlane.artifacts.paths import asset_file_name, split_ext
from runlane.artifacts.records import ArtifactRecord, FileEntry, tree_digest
from runlane.artifacts.registry import checkpoint_id
from runlane.artifacts.versions import ArtifactVersion
from runlane.timeutil import now


@dataclass(frozen=True, slots=True)
class PendingArtifactVersion(ArtifactVersion):
    """A version logged while the server was unreachable: ``version`` None, ``index`` −1,
    ``pending`` True, ``commit_id`` the commit that will create (or find) it."""

    pending: bool = True
    commit_id: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}:pending"


def is_pending(answer: object) -> bool:
    """Whether an artifact call's result (record, version) waits in the spool."""
    if isinstance(answer, PendingArtifactVersion):
        return True
    if isinstance(answer, ArtifactRecord):
        return bool(answer.extra.get("pending"))
    return isinstance(answer, Mapping) and bool(answer.get("pending"))


def _entries(source: Mapping[str, Any], key: str) -> list[FileEntry]:
    files = source.get("files") or ()
    if source.get("is_dir"):
        return [
            FileEntry(f["path"], int(f["size"]), f["sha256"], f"{key}/{f['path']}") for f in files
        ]
    return [FileEntry(str(source["name"]), int(f["size"]), f["sha256"], key) for f in files]


def _path_record(
    home: ArtifactHome,
    spec: Mapping[str, Any],
    *,
    name: str,
    kind: str,
    mode: str | None = None,
    event_value: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What :func:`runlane.artifacts.writes.log_path` records for ``spec``."""
    source = spec["source"]
    is_dir = bool(source.get("is_dir"))
    step = spec.get("step")
    as_asset = step is not None and bool(spec.get("versioned", True))
    if as_asset:
        ext = "" if is_dir else split_ext(str(source["name"]))[1]
        key = f"assets/{kind}/{asset_file_name(name, step, ext)}"
    else:
        key = "/".join(p for p in ("outputs", spec.get("rel_path"), source["name"]) if p)
    entries = _entries(source, key)
    digest = tree_digest(entries) if is_dir else (entries[0].sha256 if entries else None)
    value = None
    if as_asset:
        value = {**(event_value if event_value is not None else {"kind": kind}), "path": key}
    return ArtifactRecord(
        run_id=home.run_id,
        name=name,
        kind=kind,
        mode=mode or ("asset" if as_asset else "output"),
        path=key,
        step=step,
        is_dir=is_dir,
        files=tuple(entries),
        size=sum(e.size for e in entries),
        sha256=digest,
        summary=spec.get("summary"),
        value=value,
        at=float(spec.get("timestamp") or now()),
    ).to_dict()


def _encoded_record(home: ArtifactHome, spec: Mapping[str, Any]) -> dict[str, Any]:
    name, kind, step = str(spec["name"]), str(spec["kind"]), spec.get("step")
    key = f"assets/{kind}/{asset_file_name(name, step, str(spec['ext']))}"
    file = spec["file"]
    entry = FileEntry(key.rpartition("/")[2], int(file["size"]), file["sha256"], key)
    return ArtifactRecord(
        run_id=home.run_id,
        name=name,
        kind=kind,
        mode="asset",
        path=key,
        step=step,
        files=(entry,),
        size=entry.size,
        sha256=entry.sha256,
        value={"path": key, **(spec.get("value") or {})},
        at=float(spec["timestamp"]),
    ).to_dict()


def _value_record(home: ArtifactHome, spec: Mapping[str, Any]) -> dict[str, Any]:
    name, kind = str(spec["name"]), str(spec["kind"])
    return ArtifactRecord(
        run_id=home.run_id,
        name=name,
        kind=kind,
        mode="event",
        path=f"events/{kind}/{name}.plx",
        step=spec.get("step"),
        value=spec.get("value"),
        at=float(spec["timestamp"]),
    ).to_dict()


def _model_record(home: ArtifactHome, spec: Mapping[str, Any]) -> dict[str, Any]:
    register = bool(spec.get("register", True))
    return _path_record(
        home,
        spec,
        name=str(spec["name"]),
        kind="model",
        mode="model" if register else None,
        event_value={"framework": spec.get("framework"), "spec": spec.get("summary")},
    )


def _checkpoint(home: ArtifactHome, spec: Mapping[str, Any]) -> dict[str, Any]:
    epoch = int(spec["epoch"])
    artifact = None
    if spec.get("source") is not None:
        path_spec = {"source": spec["source"], "rel_path": f"checkpoints/epoch-{epoch}"}
        artifact = _path_record(home, path_spec, name=str(spec["source"]["name"]), kind="model")
    return {
        "id": checkpoint_id(home.run_id, epoch),
        "run_id": home.run_id,
        "epoch": epoch,
        "metrics": dict(spec.get("metrics") or {}),
        "created_at": now(),
        "artifact": None if artifact is None else artifact["path"],
    }


def pending_answer(
    route: str, spec: Mapping[str, Any], home: ArtifactHome, commit_id: str
) -> dict[str, Any]:
    """The server's answer to the commit ``spec`` on ``route``, computed here (see the module
    docstring); file references carry ``size`` and ``sha256``. Marked ``pending``."""
    if route == "artifact-versions":
        return {**spec, "pending": True, "commit_id": commit_id}
    if route == "checkpoints":
        return _checkpoint(home, spec)
    if route == "models":
        doc = _model_record(home, spec)
    elif spec.get("type") == "encoded":
        doc = _encoded_record(home, spec)
    elif spec.get("type") == "value":
        doc = _value_record(home, spec)
    else:
        name = str(spec["name"])
        doc = _path_record(home, spec, name=name, kind=str(spec["kind"]))
    doc["extra"] = {**doc.get("extra", {}), "pending": True, "commit_id": commit_id}
    return doc


def pending_version(answer: Mapping[str, Any], home: ArtifactHome) -> PendingArtifactVersion:
    """The PendingArtifactVersion of a spooled ``artifact-versions`` commit."""
    entries = [
        FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"]), str(f["path"]))
        for f in answer.get("files") or ()
    ]
    return PendingArtifactVersion(
        name=str(answer["name"]),
        type=str(answer.get("type") or "general"),
        version=cast(str, None),  # numbered by the server when the commit is replayed
        index=-1,
        digest=tree_digest(entries),
        size=sum(e.size for e in entries),
        files=tuple(entries),
        storage=None,
        endpoint_url=None,
        run_id=home.run_id,
        run=home.prefix,
        created_at=now(),
        description=answer.get("description"),
        metadata=dict(answer.get("metadata") or {}),
        aliases=tuple(answer.get("aliases") or ()),
        commit_id=str(answer["commit_id"]),
    )
