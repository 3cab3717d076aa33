"""Per-run records: params, metadata documents, logs (with follow), events, tracks, lineage."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from runlane.entities import LOG_LEVELS, LogRecord
from runlane.errors import InvalidArgumentError
from runlane.server.context import MAX_INDEX, MAX_PAGE
from runlane.server.responses import JSON
from runlane.server.routes.runs import ctx_of
from runlane.store.base import Store
from runlane.store.wire import event_to_wire, jsonable, lineage_to_wire, log_to_wire

router = APIRouter(tags=["records"])
MAX_WAIT = 30.0
POLL = 0.2
SEARCH_PAGE = 10_000


@router.get("/runs/{run_id}/params")
def read_params(request: Request, run_id: str) -> JSON:
    """``{"version", "data": {flat dotted keys}, "updatedAt"}``."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    doc = ctx.store.read_params(run_id)
    return JSON({"version": doc.version, "data": jsonable(doc.data), "updatedAt": doc.updated_at})


@router.get("/runs/{run_id}/metadata")
def read_metadata(request: Request, run_id: str) -> JSON:
    """``{"metadata": {key: {"value": {...}, "updatedAt": t}}}``."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    docs = ctx.store.read_metadata(run_id)
    return JSON(
        {"metadata": {k: {"value": jsonable(v), "updatedAt": at} for k, (v, at) in docs.items()}}
    )


def _search_logs(
    store: Store, run_id: str, start: int, limit: int, level: str | None, text: str
) -> tuple[list[LogRecord], int]:
    """``(lines from start whose message holds text, ignoring case, at most limit; nextStart)``.
    Reads the logs a page at a time; nextStart is past every line scanned, so a follow that
    found nothing does not scan the same lines again."""
    needle = text.casefold()
    found: list[LogRecord] = []
    next_start = start
    while len(found) < limit:
        page = store.read_logs(run_id, next_start, SEARCH_PAGE, level)
        for record in page:
            if needle in record.message.casefold():
                found.append(record)
                if len(found) == limit:
                    return found, record.seq + 1
        if not page:
            break
        next_start = page[-1].seq + 1
        if len(page) < SEARCH_PAGE:
            break
    return found, next_start


@router.get("/runs/{run_id}/logs")
async def read_logs(
    request: Request,
    run_id: str,
    start: int = Query(0, ge=0, le=MAX_INDEX, description="first sequence number"),
    limit: int = Query(1000, ge=0, le=MAX_PAGE),
    level: str | None = Query(None, description="minimum level: " + ", ".join(LOG_LEVELS)),
    wait: float = Query(
        0.0,
        ge=0.0,
        le=MAX_WAIT,
        description="follow: seconds to wait for new lines when none are at or after start",
    ),
    q: str | None = Query(None, description="only lines whose message contains q (any case)"),
) -> JSON:
    """Logs from ``start`` in sequence order; ``nextStart`` continues the page (follow mode:
    poll with ``start=nextStart&wait=N``). With ``q``, only matching lines are returned and
    ``nextStart`` is past the last line scanned."""
    if level is not None and level not in LOG_LEVELS:
        raise InvalidArgumentError(f"level {level!r} is not one of {', '.join(LOG_LEVELS)}")
    ctx = ctx_of(request)
    await run_in_threadpool(ctx.check_run, request, run_id, "read")
    deadline = time.monotonic() + wait
    while True:
        if q:
            records, next_start = await run_in_threadpool(
                _search_logs, ctx.store, run_id, start, limit, level, q
            )
        else:
            records = await run_in_threadpool(ctx.store.read_logs, run_id, start, limit, level)
            next_start = records[-1].seq + 1 if records else start
        if records or time.monotonic() >= deadline or await request.is_disconnected():
            break
        start = next_start
        await asyncio.sleep(POLL)
    return JSON({"logs": [log_to_wire(r) for r in records], "nextStart": next_start})


@router.get("/runs/{run_id}/events")
def read_events(
    request: Request,
    run_id: str,
    since: float | None = Query(None, description="keep events with wallclock >= since"),
    start: int | None = Query(
        None,
        ge=0,
        le=MAX_INDEX,
        description="keep events from this position on (append order; live: the last next)",
    ),
) -> JSON:
    """Events in append order. With ``start`` (a position, 0-based, in the order the events
    were written) the answer also holds ``next``, the number of events of the run: polling
    ``start=next`` gets each later event exactly once. A wallclock cursor (``since``) cannot
    do that: events of several processes, or logged with an explicit wallclock, are written
    out of wallclock order, and several may share one wallclock."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    if start is None:
        return JSON({"events": [event_to_wire(e) for e in ctx.store.read_events(run_id, since)]})
    events = ctx.store.read_events(run_id)
    kept = [e for e in events[start:] if since is None or e.wallclock >= since]
    return JSON({"events": [event_to_wire(e) for e in kept], "next": len(events)})


@router.get("/runs/{run_id}/tracks")
def list_tracks(request: Request, run_id: str) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    return JSON({"topics": ctx.store.list_tracks(run_id)})


@router.get("/runs/{run_id}/tracks/{topic:path}")
def read_track(
    request: Request,
    run_id: str,
    topic: str,
    start: float | None = Query(None, description="keep entries with timestamp >= start"),
    end: float | None = Query(None, description="keep entries with timestamp < end"),
    total: bool = Query(False, description="also answer the number of entries of the topic"),
) -> JSON:
    """Entries ``{"timestamp": t, **fields}`` with ``start <= t < end``, by timestamp (entries
    written at one timestamp are merged into one). With ``total=true`` the answer also holds
    ``total``, the number of entries of the whole topic (whatever the range; the whole topic
    is read): a live reader that polls ``start=<its last timestamp>`` and keeps its older
    entries knows that an entry arrived before its cursor (from another process, or with an
    explicit ``_ts``) when its count falls short of ``total``, and reads the topic again."""
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    if not total:
        return JSON({"entries": jsonable(ctx.store.read_track(run_id, topic, start, end))})
    entries = ctx.store.read_track(run_id, topic)
    kept = [
        e
        for e in entries
        if (start is None or e["timestamp"] >= start) and (end is None or e["timestamp"] < end)
    ]
    return JSON({"entries": jsonable(kept), "total": len(entries)})


@router.get("/runs/{run_id}/lineage")
def read_lineage(request: Request, run_id: str) -> JSON:
    ctx = ctx_of(request)
    ctx.check_run(request, run_id, "read")
    return JSON({"lineage": [lineage_to_wire(r) for r in ctx.store.read_lineage(run_id)]})
