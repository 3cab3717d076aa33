"""Streaming a stored artifact file to an HTTP client, from any
:class:`~runlane.artifacts.storage.BlobStorage`, never whole in memory.

* ``Content-Type`` guessed from the file name; ``?download=1`` adds
  ``Content-Disposition: attachment``.
* ``ETag`` is the file's sha256 (quoted) when known; ``If-None-Match`` on it answers 304.
* One ``Range: bytes=a-b`` (or ``a-``, ``-n``) answers 206 with ``Content-Range`` — the way a
  client resumes a download; ``If-Range`` with another ETag sends the whole file; a range
  outside the file answers 416. Several ranges in one header are answered with the whole
  file (allowed by RFC 9110).
  An empty file answers any range with its (empty) whole, 200.
* Stored files are user content: every response carries ``Content-Security-Policy: sandbox``
  and ``X-Content-Type-Options: nosniff``, so an HTML artifact opened from its link runs no
  script on the server's origin (the UI previews HTML in a sandboxed frame).
* Local files are read from their offset; S3 objects are fetched with a ranged GET.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runlane.artifacts.local import LocalStorage
from runlane.artifacts.storage import BlobStorage
from runlane.server.artifacts_service import Located
from runlane.server.responses import error_response

PIECE = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """``(start, end)`` inclusive for a satisfiable single range; None for no (or an
    ignored) range; False when the range lies outside the file."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges or another unit: send the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            return False
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def _open_at(storage: BlobStorage, key: str, start: int, end: int) -> IO[bytes]:
    """A stream of ``key`` positioned at ``start`` (ranged GET on S3; seek on a file)."""
    if isinstance(storage, LocalStorage):
        local = open(storage.local_path(key), "rb")  # noqa: SIM115 - closed by the iterator
        local.seek(start)
        return local
    open_range = getattr(storage, "open_range", None)
    if callable(open_range):
        stream: IO[bytes] = open_range(key, start, end)
        return stream
    fh = storage.open(key)
    skip = start
    while skip:
        got = fh.read(min(PIECE, skip))
        if not got:
            break
        skip -= len(got)
    return fh


def _pieces(storage: BlobStorage, key: str, start: int, end: int) -> Iterator[bytes]:
    fh = _open_at(storage, key, start, end)
    try:
        left = end - start + 1
        while left > 0:
            piece = fh.read(min(PIECE, left))
            if not piece:
                return
            left -= len(piece)
            yield piece
    finally:
        fh.close()


def file_response(request: Request, found: Located) -> Response:
    """The response for ``found`` honouring Range, If-Range, If-None-Match and ``download``."""
    size = found.size
    etag = f'"{found.sha256}"' if found.sha256 else None
    headers = {
        "accept-ranges": "bytes",
        "content-security-policy": "sandbox",
        "x-content-type-options": "nosniff",
    }
    if etag:
        headers["etag"] = etag
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
    if request.query_params.get("download") in ("1", "true", "yes"):
        ascii_name = found.name.encode("ascii", "replace").decode().replace('"', "_")
        headers["content-disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.name)}"
        )
    media = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    wanted = parse_range(request.headers.get("range"), size) if size else None
    if_range = request.headers.get("if-range")
    if wanted is not None and if_range is not None and if_range != etag:
        wanted = None  # the client's copy is of another version: send it whole
    if wanted is False:
        response = error_response(
            "range_not_satisfiable",
            f"range {request.headers.get('range')!r} lies outside {found.name!r} ({size} bytes)",
        )
        response.headers["content-range"] = f"bytes */{size}"
        return response
    status = 200
    start, end = 0, size - 1
    if isinstance(wanted, tuple):
        start, end = wanted
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    headers["content-length"] = str(max(0, end - start + 1))
    body = _pieces(found.storage, found.key, start, end) if size else iter(())
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media)
