"""Artifacts of runs that log to a runlane server (a ``RemoteStore``), over its REST API.

The SDK's artifact calls do not change: :func:`artifact_client` is the one switch they
consult. For a store with an ``artifact_client()`` method (the RemoteStore) it returns the
:class:`~runlane.artifacts.remote.client.ArtifactsClient`; for every other store None, and
the local code runs untouched.

* :mod:`.upload` — files go up with the resumable protocol (chunks ≤ 16 MiB, a failed chunk
  is resent from the offset the server reports, sha256 computed while sending and checked
  by the server at commit); small files ride along in the commit request (multipart).
* :mod:`.run` — :class:`RemoteArtifacts`, the writes of one run (validate as locally,
  upload, commit, return the record the server stored), and :class:`RemoteRunArtifacts`,
  ``run.artifacts`` read back.
* :mod:`.commits` — one commit sent: its files, then the commit under its ``commit_id``.
* :mod:`.spool` — commits kept on this disk (with a copy of their files) while the server is
  unreachable, replayed in order; :mod:`.pending` — what such a call returns meanwhile.
* :mod:`.registry` — a project's versioned artifacts and model registry on the server.
* :mod:`.files` — downloads through the server (Range-resumed, verified against sha256).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runlane.artifacts.remote.client import ArtifactsClient


def artifact_client(store: object) -> ArtifactsClient | None:
    """The server artifacts client of ``store``, or None for stores that keep artifacts on
    this machine (LocalStore, MemoryStore, a ServerStore opened directly)."""
    factory = getattr(store, "artifact_client", None)
    if not callable(factory):
        return None
    client: ArtifactsClient = factory()
    return client


__all__ = ["artifact_client"]
