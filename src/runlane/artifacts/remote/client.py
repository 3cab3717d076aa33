"""``ArtifactsClient``: the artifact endpoints of one runlane server, over the
:class:`~runlane.store.remote.RemoteStore`'s HTTP client (its base URL, token and retries).

It sends JSON or multipart commits and reads JSON answers; it builds the run-bound writer
(:meth:`for_run`), ``run.artifacts`` (:meth:`run_artifacts`), a project's artifact versions
(:meth:`versions`) and model registry (:meth:`models`). A ``not_found`` answer is raised as
:class:`~runlane.artifacts.errors.ArtifactNotFoundError`, as the local code raises it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.errors import NotFoundError
from runlane.store.wire import dumps, jsonable

if TYPE_CHECKING:
    from runlane.artifacts.home import ArtifactHome
    from runlane.artifacts.registry import Checkpoint
    from runlane.artifacts.remote.files import HttpFiles
    from runlane.artifacts.remote.registry import RemoteModelRegistry, RemoteVersionStore
    from runlane.artifacts.remote.run import RemoteArtifacts, RemoteRunArtifacts
    from runlane.store.remote import RemoteStore


#: Seconds to connect and to send a commit; its answer is awaited without a limit.
COMMIT_TIMEOUT = 60.0


def url_path(*parts: str) -> str:
    """``/a/b/c`` with each part percent-encoded (``/`` inside a part kept: file paths)."""
    return "/" + "/".join(quote(p, safe="/") for p in parts)


@contextmanager
def artifact_errors() -> Iterator[None]:
    """Raise the server's ``not_found`` as ArtifactNotFoundError (a NotFoundError)."""
    try:
        yield
    except NotFoundError as exc:
        if isinstance(exc, ArtifactNotFoundError):
            raise
        raise ArtifactNotFoundError(str(exc)) from None


class ArtifactsClient:
    """See the module docstring. One per RemoteStore; thread-safe as httpx is."""

    def __init__(self, store: RemoteStore) -> None:
        self.store = store

    @property
    def uri(self) -> str:
        return self.store.uri

    def server_id(self, run_id: str) -> str:
        return self.store.server_id(run_id)

    # --- HTTP -------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        with artifact_errors():
            return self.store.request("GET", path, params=clean).json()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        content = None if body is None else dumps(jsonable(body))
        with artifact_errors():
            return self.store.request(method, path, content=content).json()

    def commit(self, path: str, spec: Mapping[str, Any], parts: Mapping[str, bytes]) -> Any:
        """POST a commit: JSON, or multipart (``spec`` + file ``parts``) when there are parts.
        Retried like any request: the spec's ``commit_id`` makes a retry harmless. The
        answer may take long (the server stores the files first): no read timeout."""
        import httpx

        body = dumps(jsonable(dict(spec)))
        patient = httpx.Timeout(COMMIT_TIMEOUT, read=None)
        with artifact_errors():
            if not parts:
                return self.store.request("POST", path, content=body, timeout=patient).json()
            files = [
                (name, (name, data, "application/octet-stream")) for name, data in parts.items()
            ]
            return self.store.request(
                "POST", path, data={"spec": body.decode()}, files=files, timeout=patient
            ).json()

    def files(self, urls: Mapping[str, str], label: str) -> HttpFiles:
        """A read-only storage whose keys are fetched from ``urls`` (key → URL path)."""
        from runlane.artifacts.remote.files import HttpFiles

        return HttpFiles(self.store, urls, label)

    # --- builders ---------------------------------------------------------------------------
    def for_run(self, home: ArtifactHome) -> RemoteArtifacts:
        from runlane.artifacts.remote.run import RemoteArtifacts

        return RemoteArtifacts(self, home)

    def run_artifacts(self, run_id: str, home: ArtifactHome) -> RemoteRunArtifacts:
        from runlane.artifacts.records import ArtifactRecord
        from runlane.artifacts.remote.run import RemoteRunArtifacts, plain

        docs = self.get(url_path("runs", self.server_id(run_id), "artifacts"))["artifacts"]
        records = [ArtifactRecord.from_dict(plain(d)) for d in docs]
        return RemoteRunArtifacts(self, home, records)

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        from runlane.artifacts.remote.run import checkpoint_from

        docs = self.get(url_path("runs", self.server_id(run_id), "checkpoints"))["checkpoints"]
        return [checkpoint_from(d) for d in docs]

    def versions(self, owner: str, project: str) -> RemoteVersionStore:
        from runlane.artifacts.remote.registry import RemoteVersionStore

        return RemoteVersionStore(self, owner, project)

    def models(self, owner: str, project: str) -> RemoteModelRegistry:
        from runlane.artifacts.remote.registry import RemoteModelRegistry

        return RemoteModelRegistry(self, owner, project)

    def projects(self) -> list[tuple[str, str]]:
        """``(owner, project)`` of every project the token may read."""
        docs = self.get("/projects")["projects"]
        return [(str(d["owner"]), str(d["project"])) for d in docs]
