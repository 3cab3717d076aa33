"""Projects and runs: create-or-get, get, resolve, search, update, status, tags, delete."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.requests import Request

from runlane.entities import Batch, RunPatch
from runlane.errors import InvalidArgumentError
from runlane.server import runs_table as table
from runlane.server.context import MAX_INDEX, MAX_PAGE, ServerContext
from runlane.server.responses import JSON
from runlane.server.wire import WireError
from runlane.store.grouping import MAX_IDS
from runlane.store.wire import (
    group_to_wire,
    info_to_wire,
    jsonable,
    patch_from_wire,
    project_to_wire,
    spec_from_wire,
)

router = APIRouter(tags=["runs"])
JsonBody = Annotated[dict[str, Any], Body()]
OptionalBody = Annotated[dict[str, Any] | None, Body()]


def ctx_of(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def split_project(text: str) -> tuple[str | None, str]:
    owner, _, name = text.rpartition("/")
    return (owner or None), name


@router.get("/projects")
def list_projects(request: Request) -> JSON:
    """Every project with its number of runs (only the token's project when scoped)."""
    ctx = ctx_of(request)
    grant = ctx.grant(request)
    return JSON(
        {
            "projects": [
                project_to_wire(p)
                for p in ctx.store.list_projects()
                if grant is None or grant.allows(p.owner, p.project, "read")
            ]
        }
    )


@router.post("/runs")
def create_run(request: Request, spec: JsonBody) -> JSON:
    """Create a run, or get the existing one (external_id, explicit id, resume by name)."""
    ctx = ctx_of(request)
    parsed = spec_from_wire(spec)
    ctx.check_project(request, parsed.owner, parsed.project, "write")
    info, existed = ctx.store.create_run(parsed)
    return JSON({"run": info_to_wire(info), "existed": existed})


@router.get("/runs")
def search_runs(
    request: Request,
    project: str | None = None,
    where: str | None = Query(None, description="filter language, e.g. params.lr < 0.01"),
    sort: str | None = Query(None, description="e.g. -created,params.lr"),
    limit: int = Query(100, ge=0, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_INDEX),
    total: bool = Query(False, description="also answer the number of matching runs"),
    column: Annotated[
        list[str] | None, Query(description="repeatable, e.g. params.lr or metrics.loss:min")
    ] = None,
) -> JSON:
    """Runs matching ``where``, sorted, one page at a time (``nextOffset`` when more). With
    ``total``, ``total`` counts every matching run; with ``column``, each run carries
    ``values``: ``{column: value}`` (see :mod:`runlane.server.runs_table`)."""
    ctx = ctx_of(request)
    project = _readable_project(request, project)
    columns = table.parse_columns(column or [])
    found = ctx.store.list_runs(
        project=project, where=where, sort=sort, limit=limit + 1, offset=offset
    )
    page = found[:limit]
    runs = [info_to_wire(i) for i in page]
    if columns:
        values = table.column_values(ctx.store, page, columns)
        for wire, row in zip(runs, values, strict=True):
            wire["values"] = jsonable(row)
    out: dict[str, Any] = {
        "runs": runs,
        "offset": offset,
        "limit": limit,
        "nextOffset": offset + limit if len(found) > limit else None,
    }
    if total:
        full = 0 < len(found) <= limit  # this page reaches the end: no second query
        out["total"] = offset + len(found) if full else table.count_runs(ctx.store, project, where)
    return JSON(out)


def _readable_project(request: Request, project: str | None) -> str | None:
    """The project a search may read: a scoped token's own project when none is given;
    raises ``permission_denied`` for a project the token may not read."""
    ctx = ctx_of(request)
    grant = ctx.grant(request)
    if grant is not None:
        project = project or grant.project_filter()
        owner, name = split_project(project) if project else (None, None)
        ctx.check_project(request, owner, name, "read")
    return project


@router.get("/runs/groups")
def group_runs(
    request: Request,
    by: str = Query(..., description=table.GROUP_FORMS),
    project: str | None = None,
    where: str | None = Query(None, description="filter language, e.g. params.lr < 0.01"),
    limit: int = Query(table.MAX_GROUPS, ge=1, le=table.MAX_GROUPS),
) -> JSON:
    """The matching runs grouped by one field: ``{"by", "total", "truncated", "groups":
    [{"value", "label", "count", "where"}]}``; a group's ``where`` selects exactly its runs."""
    ctx = ctx_of(request)
    project = _readable_project(request, project)
    return JSON(jsonable(table.group_runs(ctx.store, project, where, by, limit)))


@router.get("/runs/group-counts")
def group_counts(
    request: Request,
    by: str = Query(..., description=table.GROUP_FORMS),
    project: str | None = None,
    where: str | None = Query(None, description="filter language, e.g. params.lr < 0.01"),
    max_ids: int = Query(MAX_IDS, ge=0, le=MAX_PAGE),
) -> JSON:
    """The store's own groups (:meth:`~runlane.store.base.Store.group_runs`, what
    ``RemoteStore.group_runs`` reads): ``{"by", "groups": [{"value", "count", "ids"}]}``, one
    per distinct value, values as the store keeps them, in no particular order."""
    ctx = ctx_of(request)
    project = _readable_project(request, project)
    groups = ctx.store.group_runs(by, project=project, where=where, max_ids=max_ids)
    return JSON({"by": by, "groups": [group_to_wire(g) for g in groups]})


@router.get("/runs/keys")
def column_keys(
    request: Request,
    project: str | None = None,
    where: str | None = Query(None, description="filter language, e.g. params.lr < 0.01"),
    sample: int = Query(200, ge=1, le=MAX_PAGE, description="how many newest runs to look at"),
) -> JSON:
    """``{"params", "metrics", "meta"}``: the keys of the newest ``sample`` matching runs, most
    common first — the columns a runs table can show."""
    ctx = ctx_of(request)
    project = _readable_project(request, project)
    return JSON(table.column_keys(ctx.store, project, where, sample))


@router.get("/runs/resolve")
def resolve_run(request: Request, ref: str) -> JSON:
    """A run id from an id, an id prefix (≥ 6) or ``owner/project/[folder/]name``."""
    ctx = ctx_of(request)
    run_id = ctx.store.resolve_run(ref)
    ctx.check_run(request, run_id, "read")
    return JSON({"id": run_id})


@router.get("/runs/{run_id}")
def get_run(request: Request, run_id: str) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    return JSON(info_to_wire(ctx.store.get_run(run_id)))


def _patch(request: Request, run_id: str, patch: RunPatch) -> dict[str, Any]:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "write")
    ctx.store.write(run_id, Batch(patches=[patch]))
    return info_to_wire(ctx.store.get_run(run_id))


@router.patch("/runs/{run_id}")
def update_run(request: Request, run_id: str, body: JsonBody) -> JSON:
    """Change name, description, tags, status, framework, backend, group or extra."""
    body = {**body, "at": body.get("at") or time.time()}
    return JSON(_patch(request, run_id, patch_from_wire(body)))


@router.post("/runs/{run_id}/status")
def set_status(request: Request, run_id: str, body: JsonBody) -> JSON:
    """``{"status": "running|succeeded|failed|stopped" (or an alias), "message": ...}``;
    a terminal status is sticky."""
    status = body.get("status")
    if not isinstance(status, str):
        raise InvalidArgumentError("body must hold 'status' as a string")
    message = body.get("message")
    return JSON(
        _patch(
            request,
            run_id,
            RunPatch(
                status=status,
                status_message=message if isinstance(message, str) else None,
                at=time.time(),
            ),
        )
    )


@router.post("/runs/{run_id}/tags")
def add_tags(request: Request, run_id: str, body: JsonBody) -> JSON:
    """``{"tags": [...], "reset": false}``: add tags, or replace them with ``reset``."""
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidArgumentError("body must hold 'tags' as a list of strings")
    return JSON(
        _patch(
            request,
            run_id,
            RunPatch(tags=tuple(tags), reset_tags=bool(body.get("reset", False)), at=time.time()),
        )
    )


@router.delete("/runs/{run_id}")
def delete_run(request: Request, run_id: str) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "admin")
    ctx.store.delete_run(run_id)
    ctx.forget_run(run_id)
    return JSON({"deleted": run_id})


@router.post("/runs/{run_id}/heartbeat")
def heartbeat(request: Request, run_id: str, body: OptionalBody = None) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "write")
    at = (body or {}).get("at")
    if at is not None and not isinstance(at, int | float):
        raise WireError("invalid_request", "'at' must be epoch seconds")
    ctx.store.heartbeat(run_id, float(at) if at is not None else time.time())
    return JSON({})


@router.post("/runs/{run_id}/sync")
def sync(request: Request, run_id: str) -> JSON:
    """Make everything written for the run durable against power loss."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "write")
    ctx.store.sync(run_id)
    return JSON({})
