"""A run's artifacts: commits of uploaded files, and reads (records, assets, files).

Commits take the arguments of the SDK call and files by upload id (``{"path", "upload_id",
"sha256"}``, see :mod:`.uploads`), run the same artifact code as the SDK on the server's
side, and answer the stored record as JSON (201):

* ``POST /runs/{id}/artifacts`` — ``"type": "path"`` (default; ``log_artifact`` of a file or
  folder: ``source: {name, is_dir, files}``, name, kind, step, rel_path, summary, versioned,
  timestamp), ``"encoded"`` (an encoded asset: ext, value, file) or ``"value"`` (a value at a
  step: kind, value) → ArtifactRecord;
* ``POST /runs/{id}/artifact-versions`` — name, type, description, metadata,
  ``files: [{path, upload_id, sha256}]``, aliases → ArtifactVersion;
* ``POST /runs/{id}/models`` — ``log_model``'s arguments plus ``source`` → ArtifactRecord;
* ``POST /runs/{id}/checkpoints`` — epoch, metrics, optional ``source`` → Checkpoint.

Each also takes ``multipart/form-data``: a ``spec`` field with that JSON whose file references
may name form parts (``"upload_id": "form:<part>"``), or — for one file — plain fields
(``name``, ``kind``, ``step``, ...; ``summary``/``metadata`` as JSON) and a ``file`` part.
A ``commit_id`` (32 hex digits) makes a retried commit answer the first result.

Reads: ``GET /runs/{id}/artifacts`` → ``{"artifacts": [record]}``; ``GET /runs/{id}/assets``
→ ``{"assets": [{"kind", "name", "steps": [{"step", "path", "timestamp", "size"}]}]}``;
``GET /runs/{id}/files/{path}`` → the file (Range, ETag, ``?download=1``; see
:mod:`runlane.server.file_responses`); ``GET /runs/{id}/checkpoints``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from runlane.artifacts.records import ArtifactRecord
from runlane.errors import InvalidArgumentError
from runlane.server.artifacts_service import record_json
from runlane.server.file_responses import file_response
from runlane.server.responses import JSON
from runlane.server.routes.runs import ctx_of
from runlane.server.routes.uploads import service_of
from runlane.store.wire import jsonable, loads

router = APIRouter(tags=["artifacts"])
MAX_PARTS = 10_000
SPEC_LIMIT = 16 * 1024 * 1024  # the largest non-file form field (the JSON spec)
#: The commits read their body themselves (JSON or a multipart form); OpenAPI still shows it.
COMMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "string", "description": "the JSON spec"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}
_INTS = ("step", "epoch")
_FLOATS = ("timestamp",)
_BOOLS = ("versioned", "register")
_JSON = ("summary", "metadata", "metrics", "value")
_LISTS = ("aliases", "tags")


def _field(key: str, text: str) -> Any:
    """A plain form field as the JSON spec would hold it."""
    try:
        if key in _INTS:
            return int(text) if text.strip() else None
        if key in _FLOATS:
            return float(text) if text.strip() else None
    except ValueError:
        raise InvalidArgumentError(f"form field {key!r}={text!r} must be a number") from None
    if key in _BOOLS:
        return text.strip().lower() in ("1", "true", "yes", "on")
    if key in _JSON:
        return loads(text) if text.strip() else None
    if key in _LISTS:
        return [t.strip() for t in text.split(",") if t.strip()]
    return text


def _form_spec(form: FormData) -> dict[str, Any]:
    raw = form.get("spec")
    if isinstance(raw, str):
        spec = loads(raw)
        if not isinstance(spec, dict):
            raise InvalidArgumentError("the 'spec' form field must hold a JSON object")
        return spec
    spec = {k: _field(k, v) for k, v in form.multi_items() if isinstance(v, str)}
    part = form.get("file")
    if isinstance(part, UploadFile):
        name = (part.filename or "file").replace("\\", "/").rpartition("/")[2]
        spec["source"] = {
            "name": name,
            "is_dir": False,
            "files": [{"path": name, "upload_id": "form:file"}],
        }
    return spec


def _store_parts(request: Request, run_id: str, parts: dict[str, UploadFile]) -> dict[str, str]:
    """Each form file part as a complete upload of the run's project: part → upload id."""
    ctx = ctx_of(request)
    area = service_of(request).uploads
    owner, project = ctx.run_project(run_id)
    ids: dict[str, str] = {}
    try:
        for name, part in parts.items():
            upload = area.create(owner=owner, project=project, run_id=run_id)
            ids[name] = upload.id
            part.file.seek(0)
            area.fill(upload.id, part.file)
    except BaseException:
        for upload_id in ids.values():
            area.discard(upload_id)
        raise
    return ids


def _resolve(value: Any, ids: Mapping[str, str]) -> Any:
    """``value`` with every ``"upload_id": "form:<part>"`` replaced by the part's upload."""
    if isinstance(value, dict):
        out = {k: _resolve(v, ids) for k, v in value.items()}
        ref = out.get("upload_id")
        if isinstance(ref, str) and ref.startswith("form:"):
            if ref[5:] not in ids:
                raise InvalidArgumentError(
                    f"upload_id {ref!r} names no file part of this form; parts: "
                    f"{', '.join(sorted(ids)) or 'none'}"
                )
            out["upload_id"] = ids[ref[5:]]
        return out
    if isinstance(value, list):
        return [_resolve(v, ids) for v in value]
    return value


async def _spec(request: Request, run_id: str) -> tuple[dict[str, Any], list[str]]:
    """The commit's JSON spec (body or multipart) and the uploads made from form parts."""
    ctx = ctx_of(request)
    await run_in_threadpool(ctx.check_run, request, run_id, "write")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        spec = loads(await request.body() or b"{}")
        if not isinstance(spec, dict):
            raise InvalidArgumentError("the body must be a JSON object")
        return spec, []
    async with request.form(
        max_files=MAX_PARTS, max_fields=MAX_PARTS, max_part_size=SPEC_LIMIT
    ) as form:
        spec = _form_spec(form)
        parts = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
        ids = await run_in_threadpool(_store_parts, request, run_id, parts)
    return _resolve(spec, ids), list(ids.values())


async def _commit(request: Request, run_id: str, kind: str | None) -> JSON:
    spec, made = await _spec(request, run_id)
    if kind is None:
        kind = str(spec.get("type") or "path")
        if kind not in ("path", "encoded", "value"):
            raise InvalidArgumentError(
                f"artifact commit type {kind!r} is not one of path, encoded, value"
            )
    service = service_of(request)
    try:
        answer = await run_in_threadpool(service.commit, run_id, kind, spec)
    finally:  # form parts are not resumable: drop what the commit did not consume
        for upload_id in made:
            service.uploads.discard(upload_id)
    return JSON(answer, status_code=201)


@router.post("/runs/{run_id}/artifacts", status_code=201, openapi_extra=COMMIT_BODY)
async def log_artifact(request: Request, run_id: str) -> JSON:
    """Commit a file or folder (``log_artifact``), an encoded asset or a value."""
    return await _commit(request, run_id, None)


@router.post("/runs/{run_id}/artifact-versions", status_code=201, openapi_extra=COMMIT_BODY)
async def log_artifact_version(request: Request, run_id: str) -> JSON:
    """Commit a new version of a project artifact (``log_artifact(runlane.Artifact)``)."""
    return await _commit(request, run_id, "version")


@router.post("/runs/{run_id}/models", status_code=201, openapi_extra=COMMIT_BODY)
async def log_model(request: Request, run_id: str) -> JSON:
    """Commit a model file or folder, registered as the next version of its model."""
    return await _commit(request, run_id, "model")


@router.post("/runs/{run_id}/checkpoints", status_code=201, openapi_extra=COMMIT_BODY)
async def log_checkpoint(request: Request, run_id: str) -> JSON:
    """Record a checkpoint (epoch + metrics, optionally its files)."""
    return await _commit(request, run_id, "checkpoint")


# --- reads ------------------------------------------------------------------------------------
@router.get("/runs/{run_id}/artifacts")
def list_artifacts(request: Request, run_id: str) -> JSON:
    """Every record the run logged, in log order."""
    ctx_of(request).check_run(request, run_id, "read")
    return JSON({"artifacts": [record_json(r) for r in service_of(request).records(run_id)]})


def _asset_step(record: ArtifactRecord) -> dict[str, Any]:
    step: dict[str, Any] = {
        "step": record.step,
        "path": record.path,
        "timestamp": record.at,
        "size": record.size,
    }
    if record.mode == "event":
        step["value"] = jsonable(record.value)
    return step


@router.get("/runs/{run_id}/assets")
def list_assets(request: Request, run_id: str) -> JSON:
    """Versioned assets and values by kind and name, each with its steps in step order (a
    re-logged step keeps its last record). Values (text, curves...) carry ``value``."""
    ctx_of(request).check_run(request, run_id, "read")
    groups: dict[tuple[str, str], dict[int | None, ArtifactRecord]] = {}
    for record in service_of(request).records(run_id):
        is_asset = record.mode in ("asset", "event") or (record.mode == "model" and record.value)
        if is_asset:
            groups.setdefault((record.kind, record.name), {})[record.step] = record
    assets = [
        {
            "kind": kind,
            "name": name,
            "steps": [
                _asset_step(steps[s]) for s in sorted(steps, key=lambda s: -1 if s is None else s)
            ],
        }
        for (kind, name), steps in sorted(groups.items())
    ]
    return JSON({"assets": assets})


@router.get("/runs/{run_id}/files/{rel_path:path}")
def read_file(request: Request, run_id: str, rel_path: str) -> Response:
    """A file of the run (``outputs/...``, ``assets/...``, a file of a logged folder),
    streamed from wherever its bytes are. Range requests answer 206."""
    ctx_of(request).check_run(request, run_id, "read")
    return file_response(request, service_of(request).locate(run_id, rel_path))


@router.get("/runs/{run_id}/checkpoints")
def list_checkpoints(request: Request, run_id: str) -> JSON:
    """``{"checkpoints": [{"id", "run_id", "epoch", "metrics", "created_at", "artifact"}]}``."""
    ctx_of(request).check_run(request, run_id, "read")
    checkpoints = service_of(request).checkpoints(run_id)
    return JSON({"checkpoints": [jsonable(c.to_dict()) for c in checkpoints]})
