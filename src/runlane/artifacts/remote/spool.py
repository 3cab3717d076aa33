"""Artifact commits kept on this disk while the server is unreachable, replayed in order.

:func:`commit_or_spool` is what every artifact write of a run on a server calls. While the
server's spool (:class:`runlane.store.spool.Spool`, shared with metric batches) holds
anything, or when the server cannot be reached after the client's retries, the commit is
spooled instead of sent, and the call returns the answer computed locally
(:mod:`.pending`). A commit that failed online is spooled with the commit id it was sent
with, so one the server applied but could not answer is not applied again. "Cannot be
reached" means no answer (connection refused, timeouts) or a 502/503/504 that is not a
runlane error; a runlane server that answers 503 ``store_unavailable`` (its object store or
database is down) is up, and its :class:`~runlane.store.remote.ServerUnreachable` (a
StoreError naming the service) is raised to the caller as before.

**An entry** is a spool entry of kind ``"artifact"`` whose body is ``{"route", "commit_id",
"folder", "spec"}``, plus the folder ``<spool>/artifacts/<entry name>/`` holding a private
copy of each file (``f0``, ``f1``...; the spec names them with their size and sha256). Copies
are made with the kernel's copy (``copy_file_range``: extents are shared on filesystems that
can, e.g. btrfs or XFS, else the bytes are copied), hashed while copied, and refused with
:class:`~runlane.artifacts.errors.FileChangedError` if the source changes meanwhile. Hard
links are not used: a program rewriting the original in place would change the spooled bytes.
After the call returns, the caller may change or delete its files.

**Atomic**: the files are written and fsynced in ``artifacts/.<name>.tmp/``, the folder is
renamed to ``artifacts/<name>/``, then the entry is written (temporary file, fsync, rename).
A process killed at any point leaves a complete entry or none; a folder that no entry names
is invisible, and :func:`sweep` (run by each replay) removes those whose process is gone.

**Replay** (:func:`replay_entry`, called by :meth:`RemoteStore.replay
<runlane.store.remote.RemoteStore.replay>` in spool order — so by the background catch-up
thread, at ``finish()`` and by ``runlane sync --server URL``): the files are sent from the
copy, checked against the recorded sha256, and committed under the entry's ``commit_id``;
the server applies each id once, so a replay interrupted after the server acknowledged it
(a crash, a server restarted) is answered, not re-applied. The entry and its folder are
removed only after the server's answer. An entry the server refuses (4xx) is moved, with its
folder, to ``failed/``. The server remembers commit ids for 24 hours: an entry whose first
attempt reached the server but whose answer was lost must be replayed within that time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlane.artifacts.home import ArtifactHome
from runlane.artifacts.local import copy_into
from runlane.artifacts.remote.commits import FileSlot, map_files, send_commit
from runlane.artifacts.remote.pending import pending_answer
from runlane.artifacts.storage import Progress
from runlane.artifacts.transfer import hash_bytes
from runlane.errors import RunlaneError, StoreError
from runlane.store.spool import Spool
from runlane.store.wire import dumps, jsonable, loads

if TYPE_CHECKING:
    from runlane.artifacts.remote.client import ArtifactsClient
    from runlane.store.remote import RemoteStore

#: The spool entry kind of artifact commits.
KIND = "artifact"
#: The sub-folder of the spool that holds the entries' files.
FOLDER = "artifacts"
#: Seconds an unnamed folder of a process that is gone is kept before :func:`sweep`.
GRACE = 300.0


def commit_or_spool(
    client: ArtifactsClient,
    home: ArtifactHome,
    route: str,
    spec: Mapping[str, Any],
    progress: Progress | None = None,
) -> Any:
    """Commit ``spec`` (file references as :class:`FileSlot`) to the run's server, or spool
    it (see the module docstring). Returns the server's answer, or the pending one."""
    from runlane.store.remote import ServerUnreachable

    store = client.store
    commit_id = uuid.uuid4().hex
    if not store.spool.pending():
        try:
            server_run = client.server_id(home.run_id)
            return send_commit(client, server_run, route, spec, commit_id, progress=progress)
        except ServerUnreachable as exc:  # the server, or a service behind it, is down
            store.note_spooled("artifact", exc)
    kept = spool_commit(store.spool, home.run_id, route, spec, commit_id)
    store.note_spooled("artifact", None)
    return pending_answer(route, kept, home, commit_id)


def _sync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def spool_commit(
    spool: Spool, run_id: str, route: str, spec: Mapping[str, Any], commit_id: str
) -> dict[str, Any]:
    """Copy the files of ``spec`` and append its entry (see the module docstring); returns
    the spec as spooled (each file ``{"path", "spool", "sha256", "size"}``). Raises
    SourceNotFoundError/FileChangedError for the caller's files, StoreError when the spool
    cannot be written; either way nothing is left visible."""
    name = spool.new_name()
    base = spool.folder / FOLDER
    temp = base / f".{name}.tmp"
    final = base / name
    count = 0

    def keep(slot: Any) -> Any:
        nonlocal count
        if not isinstance(slot, FileSlot):
            return slot
        copy = f"f{count}"
        count += 1
        target = temp / copy
        if slot.src is not None:
            digest, size = copy_into(slot.src, target)
        else:
            assert slot.data is not None, "a FileSlot needs src or data"
            with open(target, "xb") as fh:
                fh.write(slot.data)
            digest, size = hash_bytes(slot.data), len(slot.data)
        _sync_path(target)
        return {"path": slot.path, "spool": copy, "sha256": digest, "size": size}

    try:
        try:
            base.mkdir(parents=True, exist_ok=True)
            temp.mkdir()
            kept = map_files(spec, keep)
            _sync_path(temp)
            os.replace(temp, final)
            _sync_path(base)
        except RunlaneError:
            raise
        except OSError as exc:
            raise StoreError(f"could not spool an artifact commit to {base}: {exc}") from exc
        body = dumps(
            {
                "route": route,
                "commit_id": commit_id,
                "folder": f"{FOLDER}/{name}",
                "spec": jsonable(kept),
            }
        )
        spool.append(KIND, run_id, body, name=name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        raise
    return kept


def _slot_of(folder: Path) -> Any:
    def slot(ref: Any) -> Any:
        if isinstance(ref, Mapping) and "spool" in ref:
            return FileSlot(str(ref["path"]), src=folder / str(ref["spool"]), sha256=ref["sha256"])
        return ref

    return slot


def replay_entry(store: RemoteStore, path: Path) -> bool:
    """Send the artifact entry at ``path``; True when it is done (acknowledged and removed,
    or refused and moved to ``failed/``), False when the server is unreachable (kept)."""
    from runlane.store.remote import ServerUnreachable

    try:
        _, run_id, body = Spool.read(path)
    except FileNotFoundError:
        return True
    doc = loads(body)
    folder = store.spool.folder / str(doc["folder"])
    spec = map_files(doc["spec"], _slot_of(folder))
    try:
        send_commit(
            store.artifact_client(),
            store.server_id(run_id),
            str(doc["route"]),
            spec,
            str(doc["commit_id"]),
        )
    except ServerUnreachable:
        return False
    except RunlaneError as exc:
        _park(store.spool, path, folder, exc)
        return True
    store.spool.remove(path)
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _park(spool: Spool, path: Path, folder: Path, exc: RunlaneError) -> None:
    failed = spool.folder / "failed"
    (failed / FOLDER).mkdir(parents=True, exist_ok=True)
    if folder.is_dir():
        os.replace(folder, failed / FOLDER / folder.name)
    os.replace(path, failed / path.name)
    spool.remove(path)
    print(
        f"runlane: the server refused the spooled artifact commit {path.name} ({exc}); kept "
        f"in {failed}",
        file=sys.stderr,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(spool: Spool, grace: float = GRACE) -> list[Path]:
    """Remove the folders under ``<spool>/artifacts`` that no entry names (a process killed
    while spooling), once their process is gone from this machine and they are older than
    ``grace`` seconds; returns what was removed."""
    base = spool.folder / FOLDER
    try:
        children = list(base.iterdir())
    except FileNotFoundError:
        return []
    removed = []
    cutoff = time.time() - grace
    for child in children:
        name = child.name
        if name.startswith(".") and name.endswith(".tmp"):
            name = name[1:-4]
        if (spool.folder / f"{name}.entry").exists():
            continue
        try:
            pid = int(name.split("-")[1])
            old = child.stat().st_mtime < cutoff
        except (IndexError, ValueError, OSError):
            continue
        if pid == os.getpid() or _alive(pid) or not old:
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(child)
            removed.append(child)
    return removed
