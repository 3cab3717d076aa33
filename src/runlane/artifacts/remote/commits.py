"""Sending one artifact commit to a runlane server: shared by the live call
(:class:`~runlane.artifacts.remote.run.RemoteArtifacts`) and the spool's replay
(:mod:`runlane.artifacts.remote.spool`).

A write describes its files with :class:`FileSlot` markers at the spec's file locations
(``source.files``, ``file``, ``files``; see :func:`map_files`): a file on disk or bytes in
memory, and its path in the commit. :func:`send_commit` sends each slot (inside the commit
request when small, else with the resumable upload protocol, see :mod:`.upload`), puts the
upload references in their place and POSTs the commit under the caller's ``commit_id``. The
server applies a commit id once and answers a repeat with the first answer, so a retry — or a
replay of a commit whose answer was lost — records nothing twice. A server that refuses the
request's size (``--max-body``, answered before anything is applied) gets the small files as
uploads instead, under the same commit id.

Raises :class:`~runlane.store.remote.ServerUnreachable` when the server stays unreachable
through the store's retries, the runlane error of a 4xx answer otherwise, and
:class:`~runlane.artifacts.errors.ChecksumMismatchError` when a slot's bytes do not hash to
the sha256 it was recorded with (a spooled copy damaged on disk; nothing is committed).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.artifacts.errors import ChecksumMismatchError
from runlane.artifacts.remote.client import url_path
from runlane.artifacts.remote.upload import Parts, bytes_ref, file_ref, send_bytes
from runlane.artifacts.storage import Progress

if TYPE_CHECKING:
    from runlane.artifacts.remote.client import ArtifactsClient

#: The commit routes of a run (``POST /runs/<id>/<route>``).
ROUTES = ("artifacts", "models", "checkpoints", "artifact-versions")


@dataclass(frozen=True, slots=True)
class FileSlot:
    """A file of a commit: ``src`` (a file on disk) or ``data`` (bytes), sent as ``path``.
    ``sha256``, when set, is what the bytes must hash to (a copy kept in the spool)."""

    path: str
    src: Path | None = None
    data: bytes | None = None
    sha256: str | None = None


def map_files(spec: Mapping[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``spec`` with ``fn`` applied to every file reference — the items of
    ``source.files`` and ``files``, and ``file`` — and nothing else (user dicts such as
    ``summary``, ``metadata`` or ``value`` are never looked into)."""
    out = dict(spec)
    source = out.get("source")
    if isinstance(source, Mapping):
        out["source"] = {**source, "files": [fn(f) for f in source.get("files") or ()]}
    if out.get("file") is not None:
        out["file"] = fn(out["file"])
    if isinstance(out.get("files"), list):
        out["files"] = [fn(f) for f in out["files"]]
    return out


def _swap_refs(spec: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    """``spec`` with each ``"upload_id": "form:..."`` replaced by the upload in ``ids``."""

    def swap(ref: Any) -> Any:
        if isinstance(ref, Mapping) and ref.get("upload_id") in ids:
            return {**ref, "upload_id": ids[ref["upload_id"]]}
        return ref

    return map_files(spec, swap)


def send_commit(
    client: ArtifactsClient,
    server_run: str,
    route: str,
    spec: Mapping[str, Any],
    commit_id: str,
    *,
    progress: Progress | None = None,
) -> Any:
    """Send the slots of ``spec`` and commit it to ``/runs/<server_run>/<route>`` as
    ``commit_id``; the server's JSON answer (see the module docstring)."""
    from runlane.server.wire import WireError

    if route not in ROUTES:
        raise ValueError(f"unknown artifact commit route {route!r}; one of {ROUTES}")
    store = client.store
    parts = Parts()
    scratch = Path(tempfile.gettempdir())

    def send(slot: Any) -> Any:
        if not isinstance(slot, FileSlot):
            return slot
        if slot.src is not None:
            ref = file_ref(
                store, slot.src, slot.path, run_id=server_run, parts=parts, progress=progress
            )
        else:
            assert slot.data is not None, "a FileSlot needs src or data"
            ref = bytes_ref(
                store, slot.data, slot.path, run_id=server_run, parts=parts, scratch=scratch
            )
        if slot.sha256 is not None and ref["sha256"] != slot.sha256:
            raise ChecksumMismatchError(
                f"{slot.src or slot.path} hashes to {str(ref['sha256'])[:16]}…, not the "
                f"{slot.sha256[:16]}… it was spooled with: the copy was modified or damaged"
            )
        return ref

    body = map_files(spec, send)
    body["commit_id"] = commit_id
    path = url_path("runs", server_run, route)
    try:
        return client.commit(path, body, parts.data)
    except WireError as exc:
        if exc.code != "payload_too_large" or not parts.data:
            raise
    # the server takes smaller requests (--max-body): send the small files as uploads; the
    # refused request was never applied, so the same commit id stays safe
    ids = {
        f"form:{name}": send_bytes(store, data, run_id=server_run, scratch=scratch)
        for name, data in parts.data.items()
    }
    return client.commit(path, _swap_refs(body, ids), {})
