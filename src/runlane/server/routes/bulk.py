"""Reads of many runs at once: ``POST /runs/params``, ``POST /runs/streams`` and
``POST /runs/aggregates``.

What ``RemoteStore.read_params_many``, ``RemoteStore.list_streams_many`` and
``RemoteStore.field_aggregates_many`` send (:meth:`~runlane.store.base.Store.read_params_many`,
:meth:`~runlane.store.base.Store.list_streams_many`,
:meth:`~runlane.store.base.Store.field_aggregates_many`): one request for up to 10,000 runs
instead of one per run, answered from one store read. The body is ``{"ids": [run id, ...]}``
(POST, as ``POST /runs/lineage``: 10,000 ids do not fit in a URL), plus ``"fields"`` for
aggregates. Unknown ids are left out of the answer; ``ids`` that is no list of strings, or
holds more than 10,000, or ``fields`` that is no list of up to :data:`MAX_FIELDS`
``[stream, field]`` pairs: 400 (``invalid_argument``); a run of a project the token may not
read: 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from runlane.errors import InvalidArgumentError
from runlane.server.auth import Grant
from runlane.server.context import MAX_PAGE, ServerContext
from runlane.server.responses import JSON
from runlane.server.routes.runs import JsonBody, ctx_of
from runlane.store.columns import check_field_pairs
from runlane.store.wire import jsonable, stream_to_wire

router = APIRouter(tags=["runs"])

#: The most ``[stream, field]`` pairs one ``POST /runs/aggregates`` may ask for.
MAX_FIELDS = 1000


def _ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidArgumentError("body must hold 'ids' as a list of run id strings")
    if len(ids) > MAX_PAGE:
        raise InvalidArgumentError(f"'ids' holds {len(ids)} run ids; at most {MAX_PAGE} a request")
    return ids


def _allow(ctx: ServerContext, grant: Grant | None, run_ids: Iterable[str]) -> None:
    """Raise ``permission_denied`` unless ``grant`` may read every run of ``run_ids``."""
    for run_id in run_ids if grant is not None else ():
        ctx.allow_run(grant, run_id, "read")


@router.post("/runs/params")
def params_of_runs(request: Request, body: JsonBody) -> JSON:
    """``{"ids": [...]}`` → ``{"params": {run id: {"version", "data", "updatedAt"}}}``, each
    as ``GET /runs/{id}/params`` answers it."""
    ids = _ids(body)
    ctx = ctx_of(request)
    grant = ctx.grant(request)  # before the read: an unauthenticated caller learns nothing
    found = ctx.store.read_params_many(ids)
    _allow(ctx, grant, found)
    return JSON(
        {
            "params": {
                run_id: {"version": d.version, "data": jsonable(d.data), "updatedAt": d.updated_at}
                for run_id, d in found.items()
            }
        }
    )


@router.post("/runs/streams")
def streams_of_runs(request: Request, body: JsonBody) -> JSON:
    """``{"ids": [...]}`` → ``{"streams": {run id: [stream, ...]}}``, each list as
    ``GET /runs/{id}/streams`` answers it."""
    ids = _ids(body)
    ctx = ctx_of(request)
    grant = ctx.grant(request)  # before the read: an unauthenticated caller learns nothing
    found = ctx.store.list_streams_many(ids)
    _allow(ctx, grant, found)
    return JSON(
        {"streams": {run_id: [stream_to_wire(s) for s in infos] for run_id, infos in found.items()}}
    )


@router.post("/runs/aggregates")
def aggregates_of_runs(request: Request, body: JsonBody) -> JSON:
    """``{"ids": [...], "fields": [[stream, field], ...]}`` → ``{"aggregates": {run id:
    [[stream, field, last, min, max], ...]}}``: each field's last, smallest and largest finite
    value (``null`` where it holds none), one entry per asked pair."""
    ids = _ids(body)
    fields = body.get("fields", [])
    if not isinstance(fields, list):
        raise InvalidArgumentError("body must hold 'fields' as a list of [stream, field] pairs")
    if len(fields) > MAX_FIELDS:
        raise InvalidArgumentError(
            f"'fields' holds {len(fields)} pairs; at most {MAX_FIELDS} a request"
        )
    pairs = check_field_pairs(fields)
    ctx = ctx_of(request)
    grant = ctx.grant(request)  # before the read: an unauthenticated caller learns nothing
    found = ctx.store.field_aggregates_many(ids, pairs)
    _allow(ctx, grant, found)
    return JSON(
        {
            "aggregates": {
                run_id: [[s, f, a.last, a.min, a.max] for (s, f), a in answer.items()]
                for run_id, answer in found.items()
            }
        }
    )
