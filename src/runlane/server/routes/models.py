"""A project's versioned artifacts and model registry (``/projects/{owner}/{project}/...``).

* ``GET …/artifacts`` → ``{"artifacts": [{"name", "type", "versions", "latest"}]}``;
  ``…/artifacts/{name}/versions`` → ``{"versions": [version]}``;
  ``…/artifacts/{name}/versions/{version}`` (``v3``, ``3`` or an alias) → the version;
  ``…/versions/{version}/files/{path}`` → the file (Range, ETag, ``?download=1``).
* ``GET …/models`` → ``{"models": [model]}``; ``…/models/{name}`` → ``{"model",
  "versions", "aliases"}``; ``…/models/{name}/versions/{version}`` (version, alias or label);
  ``…/models/{name}/versions/{version}/files/{path}``.
* ``PUT …/{artifacts|models}/{name}/aliases/{alias}`` ``{"version": "v1"}`` moves an alias
  (write role) and answers the version it now names; ``DELETE`` drops it.

Reads need the read role on the project. Names that would leave their folder answer 400.
Alias moves run in :meth:`~runlane.server.artifacts_service.ArtifactService.writing` (locked
across the replicas of a ServerStore); reads pull the project's records first (through
:func:`~runlane.artifacts.home.project_dir`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from starlette.requests import Request
from starlette.responses import Response

from runlane.errors import InvalidArgumentError
from runlane.server.file_responses import file_response
from runlane.server.responses import JSON
from runlane.server.routes.runs import ctx_of
from runlane.server.routes.uploads import service_of
from runlane.store.wire import jsonable

router = APIRouter(tags=["artifacts"])
BASE = "/projects/{owner}/{project}"


def _check(request: Request, owner: str, project: str, role: str = "read") -> None:
    ctx_of(request).check_project(request, owner, project, role)


def _version_of(body: dict[str, Any] | None) -> str:
    version = (body or {}).get("version")
    if isinstance(version, bool) or not isinstance(version, str | int):
        raise InvalidArgumentError('the body must be {"version": "v<N>" or N or an alias}')
    return str(version)


# --- versioned artifacts ------------------------------------------------------------------------
@router.get(f"{BASE}/artifacts")
def list_project_artifacts(request: Request, owner: str, project: str) -> JSON:
    """Every artifact name with its version count and latest version."""
    _check(request, owner, project)
    store = service_of(request).versions(owner, project)
    out = []
    for name in store.names():
        versions = store.versions(name)
        if versions:
            latest = store.get(name)
            out.append(
                {
                    "name": name,
                    "type": latest.type,
                    "versions": len(versions),
                    "latest": jsonable(latest.to_dict()),
                }
            )
    return JSON({"artifacts": out})


@router.get(f"{BASE}/artifacts/{{name}}/versions")
def list_artifact_versions(request: Request, owner: str, project: str, name: str) -> JSON:
    _check(request, owner, project)
    store = service_of(request).versions(owner, project)
    return JSON({"versions": [jsonable(v.to_dict()) for v in store.versions(name)]})


@router.get(f"{BASE}/artifacts/{{name}}/versions/{{version}}")
def get_artifact_version(
    request: Request, owner: str, project: str, name: str, version: str
) -> JSON:
    _check(request, owner, project)
    found = service_of(request).versions(owner, project).get(name, version)
    return JSON(jsonable(found.to_dict()))


@router.get(f"{BASE}/artifacts/{{name}}/versions/{{version}}/files/{{path:path}}")
def read_artifact_file(
    request: Request, owner: str, project: str, name: str, version: str, path: str
) -> Response:
    _check(request, owner, project)
    found = service_of(request).version_file(owner, project, name, version, path)
    return file_response(request, found)


@router.put(f"{BASE}/artifacts/{{name}}/aliases/{{alias}}")
def move_artifact_alias(
    request: Request,
    owner: str,
    project: str,
    name: str,
    alias: str,
    body: dict[str, Any] | None = Body(None),  # noqa: B008 - FastAPI's dependency style
) -> JSON:
    _check(request, owner, project, "write")
    service = service_of(request)
    with service.writing(owner, project):
        moved = service.versions(owner, project).set_alias(name, alias, _version_of(body))
    return JSON(jsonable(moved.to_dict()))


@router.delete(f"{BASE}/artifacts/{{name}}/aliases/{{alias}}")
def drop_artifact_alias(request: Request, owner: str, project: str, name: str, alias: str) -> JSON:
    _check(request, owner, project, "write")
    service = service_of(request)
    with service.writing(owner, project):
        store = service.versions(owner, project)
        store.get(name)  # ArtifactNotFoundError (404) for an unknown artifact
        store.remove_alias(name, alias)
    return JSON({"removed": alias})


# --- models --------------------------------------------------------------------------------------
@router.get(f"{BASE}/models")
def list_models(request: Request, owner: str, project: str) -> JSON:
    _check(request, owner, project)
    registry = service_of(request).registry(owner, project)
    return JSON({"models": [jsonable(m.to_dict()) for m in registry.all()]})


@router.get(f"{BASE}/models/{{name}}")
def get_model(request: Request, owner: str, project: str, name: str) -> JSON:
    """The model, its versions (oldest first) and aliases."""
    _check(request, owner, project)
    registry = service_of(request).registry(owner, project)
    model = registry.get(name)
    return JSON(
        {
            "model": jsonable(model.to_dict()),
            "versions": [jsonable(v.to_dict()) for v in registry.versions(name)],
            "aliases": model.aliases,
        }
    )


@router.get(f"{BASE}/models/{{name}}/versions/{{version}}")
def get_model_version(request: Request, owner: str, project: str, name: str, version: str) -> JSON:
    _check(request, owner, project)
    found = service_of(request).registry(owner, project).version(name, version)
    return JSON(jsonable(found.to_dict()))


@router.get(f"{BASE}/models/{{name}}/versions/{{version}}/files/{{path:path}}")
def read_model_file(
    request: Request, owner: str, project: str, name: str, version: str, path: str
) -> Response:
    _check(request, owner, project)
    found = service_of(request).model_file(owner, project, name, version, path)
    return file_response(request, found)


@router.put(f"{BASE}/models/{{name}}/aliases/{{alias}}")
def move_model_alias(
    request: Request,
    owner: str,
    project: str,
    name: str,
    alias: str,
    body: dict[str, Any] | None = Body(None),  # noqa: B008 - FastAPI's dependency style
) -> JSON:
    _check(request, owner, project, "write")
    service = service_of(request)
    with service.writing(owner, project):
        moved = service.registry(owner, project).set_alias(name, alias, _version_of(body))
    return JSON(jsonable(moved.to_dict()))


@router.delete(f"{BASE}/models/{{name}}/aliases/{{alias}}")
def drop_model_alias(request: Request, owner: str, project: str, name: str, alias: str) -> JSON:
    _check(request, owner, project, "write")
    service = service_of(request)
    with service.writing(owner, project):
        service.registry(owner, project).remove_alias(name, alias)
    return JSON({"removed": alias})
