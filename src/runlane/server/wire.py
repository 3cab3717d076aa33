"""The one table from errors to wire codes: HTTP status, stable error code, gRPC status.

Every error a client sees is ``{"error": {"code": CODE, "message": TEXT}}`` with the HTTP
status of :data:`CODES`; gRPC aborts with the matching status code and the same text. Clients
(:mod:`runlane.store.remote`) turn a code back into the runlane exception with
:func:`exception_for`. Codes are stable: add new ones, never rename.

=====================  ======  ===================  ============================================
code                   HTTP    gRPC                 when
=====================  ======  ===================  ============================================
invalid_name           400     INVALID_ARGUMENT     a name breaks a naming rule
invalid_value          400     INVALID_ARGUMENT     a value cannot be stored
query_syntax           400     INVALID_ARGUMENT     a filter expression does not parse
invalid_argument       400     INVALID_ARGUMENT     any other bad argument
malformed_request      400     INVALID_ARGUMENT     the body is not valid JSON / not the schema
unauthenticated        401     UNAUTHENTICATED      no token, or an unknown/revoked token
permission_denied      403     PERMISSION_DENIED    the token's project or role does not allow it
not_found              404     NOT_FOUND            unknown run, stream, route or record
method_not_allowed     405     UNIMPLEMENTED        the route exists, the method does not
run_state              409     FAILED_PRECONDITION  the call does not fit the run's state
offset_mismatch        409     ABORTED              an upload chunk's offset is not the upload's
checksum_mismatch      400     INVALID_ARGUMENT     uploaded bytes do not hash to the sha256 sent
payload_too_large      413     RESOURCE_EXHAUSTED   the body is over the server's limit
range_not_satisfiable  416     OUT_OF_RANGE         a Range header lies outside the file
invalid_request        422     INVALID_ARGUMENT     a parameter has the wrong type or range
unimplemented          501     UNIMPLEMENTED        the server does not offer this call
store_unavailable      503     UNAVAILABLE          the storage backend failed (retry later)
internal               500     INTERNAL             a bug in the server
=====================  ======  ===================  ============================================
"""

from __future__ import annotations

from dataclasses import dataclass

from runlane.artifacts.errors import ChecksumMismatchError
from runlane.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    QuerySyntaxError,
    RunlaneError,
    RunStateError,
    StoreError,
)
from runlane.store.wire import MalformedBody


@dataclass(frozen=True, slots=True)
class Code:
    name: str
    http: int
    grpc: str  # a grpc.StatusCode member name


CODES: dict[str, Code] = {
    c.name: c
    for c in (
        Code("invalid_name", 400, "INVALID_ARGUMENT"),
        Code("invalid_value", 400, "INVALID_ARGUMENT"),
        Code("query_syntax", 400, "INVALID_ARGUMENT"),
        Code("invalid_argument", 400, "INVALID_ARGUMENT"),
        Code("malformed_request", 400, "INVALID_ARGUMENT"),
        Code("unauthenticated", 401, "UNAUTHENTICATED"),
        Code("permission_denied", 403, "PERMISSION_DENIED"),
        Code("not_found", 404, "NOT_FOUND"),
        Code("method_not_allowed", 405, "UNIMPLEMENTED"),
        Code("run_state", 409, "FAILED_PRECONDITION"),
        Code("offset_mismatch", 409, "ABORTED"),
        Code("checksum_mismatch", 400, "INVALID_ARGUMENT"),
        Code("payload_too_large", 413, "RESOURCE_EXHAUSTED"),
        Code("range_not_satisfiable", 416, "OUT_OF_RANGE"),
        Code("invalid_request", 422, "INVALID_ARGUMENT"),
        Code("unimplemented", 501, "UNIMPLEMENTED"),
        Code("store_unavailable", 503, "UNAVAILABLE"),
        Code("internal", 500, "INTERNAL"),
    )
}


class WireError(RunlaneError):
    """An error the server answers with a specific code (auth, limits, malformed bodies)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        if code not in CODES:
            raise ValueError(f"unknown wire code {code!r}")
        self.code = code


# most specific first: QuerySyntaxError is an InvalidArgumentError, WriteFailedError a StoreError
_BY_EXCEPTION: tuple[tuple[type[BaseException], str], ...] = (
    (MalformedBody, "malformed_request"),
    (QuerySyntaxError, "query_syntax"),
    (InvalidNameError, "invalid_name"),
    (InvalidValueError, "invalid_value"),
    (InvalidArgumentError, "invalid_argument"),
    (NotFoundError, "not_found"),
    (RunStateError, "run_state"),
    (ChecksumMismatchError, "checksum_mismatch"),
    (StoreError, "store_unavailable"),
)


def code_for(exc: BaseException) -> Code:
    """The wire code of an exception raised while serving a request."""
    if isinstance(exc, WireError):
        return CODES[exc.code]
    for kind, code in _BY_EXCEPTION:
        if isinstance(exc, kind):
            return CODES[code]
    return CODES["internal"]


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


_BY_CODE: dict[str, type[RunlaneError]] = {
    "invalid_name": InvalidNameError,
    "invalid_value": InvalidValueError,
    "query_syntax": QuerySyntaxError,
    "invalid_argument": InvalidArgumentError,
    "malformed_request": MalformedBody,
    "invalid_request": InvalidArgumentError,
    "not_found": NotFoundError,
    "run_state": RunStateError,
    "checksum_mismatch": ChecksumMismatchError,
    "store_unavailable": StoreError,
}


def exception_for(code: str, message: str) -> RunlaneError:
    """The runlane exception a client raises for a wire error (WireError for auth/limits)."""
    kind = _BY_CODE.get(code)
    if kind is not None:
        return kind(message)
    return WireError(code if code in CODES else "internal", message)
