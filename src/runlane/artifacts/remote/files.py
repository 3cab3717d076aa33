"""``HttpFiles``: a read-only :class:`~runlane.artifacts.storage.BlobStorage` whose keys are
fetched from a runlane server's file endpoints, so the local download code
(:func:`~runlane.artifacts.fetch.download_files`, ``Asset.read_bytes``) reads through the
server unchanged, wherever the server keeps the bytes.

Downloads stream in 1 MiB pieces into a temporary file; a connection lost midway resumes
with ``Range: bytes=N-`` (``If-Range`` on the ETag, so a file replaced meanwhile restarts
from zero); the result is checked against the recorded sha256
(:class:`~runlane.artifacts.errors.ChecksumMismatchError`, nothing left behind) and renamed
into place.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from runlane.artifacts.errors import ArtifactNotFoundError
from runlane.artifacts.storage import Progress, StoredFile
from runlane.artifacts.transfer import HashingWriter, download_verified
from runlane.errors import InvalidArgumentError

if TYPE_CHECKING:
    from runlane.store.remote import RemoteStore

MiB = 1 << 20
RETRY_STATUSES = frozenset({502, 503, 504})


class _Retry(Exception):
    pass


class HttpFiles:
    """Keys → server URL paths (relative to ``/api/v1``). Thread-safe."""

    def __init__(self, store: RemoteStore, urls: Mapping[str, str], label: str) -> None:
        self.store = store
        self.urls = dict(urls)
        self.label = label

    def __repr__(self) -> str:
        return f"HttpFiles({self.label!r} on {self.store.uri})"

    @property
    def uri(self) -> str:
        return f"{self.store.uri}/api/v1"

    @property
    def endpoint_url(self) -> str | None:
        return None

    def _url(self, key: str) -> str:
        try:
            return self.urls[key]
        except KeyError:
            raise ArtifactNotFoundError(f"{self.label} has no stored file {key!r}") from None

    def _read_only(self) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{self.label} is read through the server {self.store.uri}; log files with "
            "run.log_artifact instead of writing to its storage"
        )

    # --- writes: refused --------------------------------------------------------------------
    def put_file(self, src: Path, key: str, *, progress: Progress | None = None) -> StoredFile:
        raise self._read_only()

    def put_blob(self, src: Path, *, progress: Progress | None = None) -> StoredFile:
        raise self._read_only()

    def put_bytes(self, data: bytes, key: str | None = None) -> StoredFile:
        raise self._read_only()

    def put_tree(
        self,
        files: Sequence[tuple[Path, str]],
        key: str | None,
        *,
        progress: Progress | None = None,
    ) -> list[StoredFile]:
        raise self._read_only()

    def delete(self, key: str) -> None:
        raise self._read_only()

    def sync(self) -> None:
        """Nothing to make durable: this storage only reads."""

    # --- reads ------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return key in self.urls

    def open(self, key: str) -> IO[bytes]:
        """The whole file in memory (assets are small; use :meth:`get_file` for big ones)."""
        from runlane.artifacts.remote.client import artifact_errors

        with artifact_errors():
            response = self.store.request("GET", self._url(key))
        return io.BytesIO(response.content)

    def get_file(
        self, key: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None
    ) -> int:
        url = self._url(key)
        return download_verified(
            dest, sha256, f"{self.store.uri}/api/v1{url}", lambda fd: self._fetch(url, fd, progress)
        )

    def _fetch(self, url: str, fd: int, progress: Progress | None) -> HashingWriter:
        import httpx

        from runlane.artifacts.remote.client import artifact_errors
        from runlane.store.remote import ServerUnreachable

        sink = HashingWriter(fd)
        etag: str | None = None
        failures = seen = 0
        while True:
            headers = {}
            if sink.count:
                headers["range"] = f"bytes={sink.count}-"
                if etag:
                    headers["if-range"] = etag
            try:
                with self.store.http.stream("GET", url, headers=headers) as response:
                    if response.status_code in RETRY_STATUSES:
                        raise _Retry(f"HTTP {response.status_code}")
                    if response.status_code == 416 and sink.count:
                        return sink  # nothing left after the bytes already written
                    if response.status_code >= 400:
                        response.read()
                        with artifact_errors():
                            raise self.store.error(response)
                    if sink.count and response.status_code != 206:  # sent whole: start over
                        os.ftruncate(fd, 0)
                        os.lseek(fd, 0, os.SEEK_SET)
                        sink = HashingWriter(fd)
                    etag = response.headers.get("etag") or etag
                    for piece in response.iter_bytes(MiB):
                        sink.write(piece)
                        if progress is not None:
                            progress(sink.count)
                    return sink
            except (httpx.TransportError, _Retry) as exc:
                if sink.count > seen:  # progress since the last failure
                    failures, seen = 0, sink.count
                failures += 1
                if failures >= self.store.attempts:
                    raise ServerUnreachable(
                        f"download of {url} from {self.store.uri} failed {failures} times "
                        f"(at byte {sink.count}): {exc}"
                    ) from exc
                time.sleep(self.store.backoff * (2 ** (failures - 1)))
