"""Serving the built UI from an ASGI app: :func:`mount_ui` answers ``/`` with ``index.html``
and ``/assets/…`` with the bundle.

Only those two paths belong to the UI, so every other path keeps the API's own answers (a
404 for an unknown route, a 405 for a known route with the wrong method). Views live in the
URL's hash, so the browser never asks the server for a view's path.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from runlane.ui import has_assets, static_dir


def mount_ui(app: Starlette) -> bool:
    """Serve the built UI from ``app`` at ``/`` (index) and ``/assets``. Returns False,
    adding nothing, when the assets were never built."""
    if not has_assets():
        return False
    root = static_dir()
    index = root / "index.html"

    async def index_page(request: Request) -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.add_route("/", index_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/assets", StaticFiles(directory=root / "assets"), name="ui-assets")
    return True
