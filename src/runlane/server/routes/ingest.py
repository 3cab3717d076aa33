"""Batched ingest: one endpoint takes a serialized Batch of every record kind.

``POST /runs/{id}/batches`` with the body of :func:`runlane.store.wire.encode_batch`. A batch
with a ``batch_id`` is applied at most once: a retry of a batch the server already applied
answers ``{"applied": false}`` (status 200) and changes nothing, so clients may retry freely.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from runlane.server.responses import JSON
from runlane.server.routes.runs import ctx_of
from runlane.store.wire import decode_batch

router = APIRouter(tags=["ingest"])


@router.post(
    "/runs/{run_id}/batches",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "a serialized Batch (see runlane.store.wire)",
        }
    },
)
async def ingest(request: Request, run_id: str) -> JSON:
    """Apply one batch: params, metadata, metric rows, logs, events, tracks, lineage, patches."""
    ctx = ctx_of(request)
    body = await request.body()

    def apply() -> JSON:
        ctx.check_run(request, run_id, "write")
        batch, batch_id = decode_batch(body)
        applied = ctx.write(run_id, batch, batch_id)
        rows = sum(len(r) for r in batch.rows.values())
        return JSON({"applied": applied, "batchId": batch_id, "rows": rows})

    return await run_in_threadpool(apply)
