"""``create_app(store)``: runlane's REST API (``/api/v1``, OpenAPI at ``/api/v1/openapi.json``).

The app is a thin layer over one :class:`~runlane.store.base.Store`: routes check the caller's
token (when auth is on), call the store, and shape JSON (see :mod:`runlane.store.wire`).
Errors always answer ``{"error": {"code", "message"}}`` with the status of
:mod:`runlane.server.wire`'s table. Bodies larger than ``max_body`` bytes are refused with 413
before they are read into memory.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runlane import __version__
from runlane.errors import RunlaneError
from runlane.server.artifacts_service import ArtifactService
from runlane.server.auth import Tokens
from runlane.server.context import DEFAULT_MAX_BODY, ServerContext
from runlane.server.responses import JSON, error_response
from runlane.server.routes import (
    artifacts,
    bulk,
    ingest,
    lineage,
    models,
    records,
    runs,
    series,
    uploads,
)
from runlane.server.wire import WireError, code_for
from runlane.store.base import Store

API = "/api/v1"


def create_app(
    store: Store,
    *,
    auth: Tokens | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    ui: bool = True,
) -> FastAPI:
    """The REST app over ``store``. ``auth``: the token registry to enforce (None: no auth).
    ``ui``: also serve the built web UI at ``/`` when its assets are present (the API keeps
    ``/api/v1``; the UI's pages hold no data, which the API still guards)."""
    app = FastAPI(
        title="runlane",
        version=__version__,
        description="runlane's tracking server: runs, metric streams, logs, events, tracks, "
        "params, metadata and lineage over the Store protocol. Errors are "
        '`{"error": {"code": ..., "message": ...}}`.',
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
        default_response_class=JSON,
    )
    app.state.ctx = ServerContext(store=store, tokens=auth, max_body=max_body)
    app.state.artifacts = ArtifactService(store)
    for module in (runs, bulk, ingest, series, records, uploads, artifacts, models, lineage):
        app.include_router(module.router, prefix=API)

    @app.get(f"{API}/health", tags=["server"])
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "store": type(store).__name__,
            "auth": auth is not None,
        }

    @app.exception_handler(RunlaneError)
    async def _runlane(request: Request, exc: RunlaneError) -> Response:
        return error_response(code_for(exc).name, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {err.get('msg')}")
        return error_response("invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "invalid_argument" if exc.status_code < 500 else "internal"
        )
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return error_response(code, detail)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:
        code = code_for(exc)
        message = str(exc) if code.name != "internal" else f"internal error: {exc!r}"
        return error_response(code.name, message)

    if ui:
        from runlane.ui.mount import mount_ui

        mount_ui(app)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


class BodyLimit:
    """ASGI middleware: answer 413 for bodies over ``limit`` bytes, by Content-Length or
    while streaming (a lying or missing Content-Length cannot get past it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > self.limit:
                    await self._refuse(scope, receive, send, length)
                    return
        seen = 0
        limit = self.limit

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise WireError("payload_too_large", _too_large(seen, limit))
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, length: int) -> None:
        response = error_response("payload_too_large", _too_large(length, self.limit))
        await response(scope, receive, send)


def _too_large(size: int, limit: int) -> str:
    return (
        f"request body of {size} bytes is over this server's limit of {limit} bytes; "
        "send smaller batches"
    )
