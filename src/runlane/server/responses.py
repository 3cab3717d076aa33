"""JSON responses with orjson (numpy values serialized) and the error shape."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from runlane.server.wire import CODES, error_body
from runlane.store.wire import dumps


class JSON(JSONResponse):
    """orjson-rendered JSON (NaN/±inf become null: tag values first where they matter)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error_response(code: str, message: str) -> Response:
    return JSON(error_body(code, message), status_code=CODES[code].http)
