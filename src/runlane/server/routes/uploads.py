"""Resumable uploads (``/uploads``): create, append chunks, read the offset, abort.

* ``POST /uploads`` ``{"run_id": ID}`` or ``{"project": "owner/project"}``, optional
  ``"size"`` and ``"sha256"`` → 201 ``{"upload_id", "offset": 0, "size", "chunk_size"}``.
  The caller needs the write role on that project; every later call on the upload needs it
  too.
* ``PATCH /uploads/{id}`` with ``Upload-Offset: N`` and a raw body (≤ the server's body
  limit; clients send ≤ ``chunk_size`` of the creation answer: 16 MiB, less under a
  smaller ``--max-body``) → ``{"offset"}`` (also in the ``Upload-Offset`` header).
  The body streams to disk. A wrong offset → 409 ``offset_mismatch`` with the current
  offset in ``Upload-Offset``.
* ``HEAD /uploads/{id}`` → ``Upload-Offset`` (and ``Upload-Length`` when declared);
  ``GET`` → the same as JSON; ``DELETE`` aborts.

Committing uploads is done by the artifact routes (:mod:`.artifacts`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runlane.errors import InvalidArgumentError
from runlane.names import check_name
from runlane.server.artifacts_service import ArtifactService
from runlane.server.responses import JSON, error_response
from runlane.server.routes.runs import ctx_of
from runlane.server.upload_area import OffsetMismatch, Upload
from runlane.store.wire import loads

router = APIRouter(tags=["artifacts"])
CHUNK_HINT = 16 * 1024 * 1024


def service_of(request: Request) -> ArtifactService:
    service: ArtifactService = request.app.state.artifacts
    return service


def _owned(request: Request, upload_id: str, role: str = "write") -> Upload:
    """The upload, after checking the caller may ``role`` its project."""
    ctx = ctx_of(request)
    upload = service_of(request).uploads.get(upload_id)
    ctx.allow_project(ctx.grant(request), upload.owner, upload.project, role)
    return upload


def _create(request: Request, body: dict[str, Any]) -> Upload:
    ctx = ctx_of(request)
    grant = ctx.grant(request)
    run_id = body.get("run_id")
    project = body.get("project")
    if isinstance(run_id, str):
        owner, name = ctx.run_project(run_id)
        ctx.allow_run(grant, run_id, "write")
    elif isinstance(project, str) and project.count("/") == 1:
        owner, name = (check_name(p, "project") for p in project.split("/"))
        ctx.allow_project(grant, owner, name, "write")
        run_id = None
    else:
        raise InvalidArgumentError(
            "an upload needs 'run_id' (a run id) or 'project' ('owner/project')"
        )
    return service_of(request).uploads.create(
        owner=owner, project=name, run_id=run_id, size=body.get("size"), sha256=body.get("sha256")
    )


@router.post(
    "/uploads",
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}
    },
)
async def create_upload(request: Request) -> JSON:
    """Start an upload for a run (or a project); answers its id and offset 0."""
    body = loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise InvalidArgumentError("the body must be a JSON object")
    upload = await run_in_threadpool(_create, request, body)
    chunk = min(CHUNK_HINT, ctx_of(request).max_body - 64 * 1024)  # room for the headers
    return JSON(
        {"upload_id": upload.id, "offset": 0, "size": upload.size, "chunk_size": chunk},
        status_code=201,
    )


def _offset_header(value: str | None) -> int:
    if value is None or not value.strip().isdigit():
        raise InvalidArgumentError(
            f"PATCH needs an 'Upload-Offset' header with the byte offset of the chunk, not "
            f"{value!r}"
        )
    return int(value)


@router.patch(
    "/uploads/{upload_id}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        },
        "parameters": [
            {
                "name": "Upload-Offset",
                "in": "header",
                "required": True,
                "schema": {"type": "integer"},
            }
        ],
    },
)
async def append_chunk(request: Request, upload_id: str) -> Response:
    """Append the raw body at ``Upload-Offset``; answers the new offset."""
    offset = _offset_header(request.headers.get("upload-offset"))
    upload = await run_in_threadpool(_owned, request, upload_id)
    area = service_of(request).uploads
    try:
        new = await area.append(upload, offset, request.stream())
    except OffsetMismatch as exc:
        response = error_response(exc.code, str(exc))
        response.headers["upload-offset"] = str(exc.offset)
        return response
    return JSON({"upload_id": upload_id, "offset": new}, headers={"upload-offset": str(new)})


def _status(request: Request, upload_id: str) -> tuple[Upload, int]:
    upload = _owned(request, upload_id)
    return upload, service_of(request).uploads.offset(upload_id)


@router.head("/uploads/{upload_id}")
def upload_offset(request: Request, upload_id: str) -> Response:
    """``Upload-Offset``: bytes received so far (``Upload-Length`` when declared)."""
    upload, offset = _status(request, upload_id)
    headers = {"upload-offset": str(offset), "cache-control": "no-store"}
    if upload.size is not None:
        headers["upload-length"] = str(upload.size)
    return Response(status_code=200, headers=headers)


@router.get("/uploads/{upload_id}")
def upload_status(request: Request, upload_id: str) -> JSON:
    """``{"upload_id", "offset", "size", "sha256", "run_id", "project"}``."""
    upload, offset = _status(request, upload_id)
    return JSON(
        {
            "upload_id": upload.id,
            "offset": offset,
            "size": upload.size,
            "sha256": upload.sha256,
            "run_id": upload.run_id,
            "project": f"{upload.owner}/{upload.project}",
        },
        headers={"upload-offset": str(offset)},
    )


@router.delete("/uploads/{upload_id}")
def abort_upload(request: Request, upload_id: str) -> JSON:
    """Remove the upload and its bytes."""
    _owned(request, upload_id)
    service_of(request).uploads.discard(upload_id)
    return JSON({"aborted": upload_id})
