"""The gRPC server: ModelBox's ``modelbox.ModelStore`` plus runlane's ``runlane.v1.Ingest``.

Handlers run on a thread pool over the same :class:`~runlane.server.context.ServerContext` as
the REST app (one store, one token registry). A call's token is the ``authorization``
metadata (``Bearer <token>``); errors abort with the gRPC status of
:mod:`runlane.server.wire`'s table, the runlane message and the wire code as trailing
metadata (:data:`~runlane.server.grpc.protos.ERROR_CODE_KEY`) — in a server stream, also when
they happen after the first message. A server-stream handler gets a ``threading.Event`` set
when the call ends (the client cancelled, the deadline passed or the server stops).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from runlane.server.context import ServerContext
from runlane.server.grpc.modelbox_service import ModelBoxService
from runlane.server.grpc.protos import (
    ERROR_CODE_KEY,
    INGEST_SERVICE,
    MODELBOX_SERVICE,
    I,
    methods,
)
from runlane.server.wire import code_for
from runlane.store.wire import decode_batch

UNIMPLEMENTED_HINT = "runlane does not offer {name} over gRPC; use runlane's REST API or SDK"


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization":
            return str(value)
    return None


def _abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    code = code_for(exc)
    message = str(exc) if code.name != "internal" else f"internal error: {exc!r}"
    context.set_trailing_metadata(((ERROR_CODE_KEY, code.name),))
    context.abort(getattr(grpc.StatusCode, code.grpc), message)


def _unary(ctx: ServerContext, handler: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            grant = ctx.grant_from(_authorization(context))
            return handler(request, grant)
        except Exception as exc:
            _abort(context, exc)
            raise  # unreachable: abort raises

    return call


def _server_stream(
    ctx: ServerContext, handler: Callable[[Any, Any, threading.Event], Iterator[Any]]
) -> Callable[..., Iterator[Any]]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        stop = threading.Event()
        context.add_callback(stop.set)
        try:
            grant = ctx.grant_from(_authorization(context))
            yield from handler(request, grant, stop)
        except Exception as exc:
            _abort(context, exc)

    return call


def _unimplemented(name: str) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, UNIMPLEMENTED_HINT.format(name=name))

    return call


def modelbox_handler(service: ModelBoxService) -> grpc.GenericRpcHandler:
    implemented = service.handlers()
    table: dict[str, grpc.RpcMethodHandler] = {}
    for name, request, response, client_stream, server_stream in methods(MODELBOX_SERVICE):
        fn = implemented.get(name)
        if fn is None:
            call = _unimplemented(name)
        elif server_stream:
            call = _server_stream(service.ctx, fn)
        else:
            call = _unary(service.ctx, fn)
        kwargs = {
            "request_deserializer": request.FromString,
            "response_serializer": response.SerializeToString,
        }
        if client_stream and not server_stream:
            table[name] = grpc.stream_unary_rpc_method_handler(call, **kwargs)
        elif server_stream and not client_stream:
            table[name] = grpc.unary_stream_rpc_method_handler(call, **kwargs)
        else:
            table[name] = grpc.unary_unary_rpc_method_handler(call, **kwargs)
    return grpc.method_handlers_generic_handler(MODELBOX_SERVICE, table)


def ingest_handler(ctx: ServerContext) -> grpc.GenericRpcHandler:
    reply = I("WriteReply")

    def write(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            grant = ctx.grant_from(_authorization(context))
        except Exception as exc:
            _abort(context, exc)
            return
        for request in requests:
            try:
                ctx.allow_run(grant, request.run_id, "write")
                batch, batch_id = decode_batch(request.batch)
                batch_id = request.batch_id or batch_id
                applied = ctx.write(request.run_id, batch, batch_id)
                rows = sum(len(r) for r in batch.rows.values())
                yield reply(batch_id=batch_id or "", applied=applied, rows=rows)
            except Exception as exc:
                code = code_for(exc)
                yield reply(batch_id=request.batch_id, error_code=code.name, error_message=str(exc))

    request_cls = I("WriteRequest")
    handler = grpc.stream_stream_rpc_method_handler(
        write,
        request_deserializer=request_cls.FromString,
        response_serializer=reply.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(INGEST_SERVICE, {"Write": handler})


def start_grpc(
    ctx: ServerContext,
    host: str,
    port: int,
    *,
    http_addr: str = "",
    workers: int = 16,
    max_message: int = 64 * 1024 * 1024,
) -> tuple[grpc.Server, int]:
    """Start the gRPC server on ``host:port`` (0: a free port); return it and its port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runlane-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message),
            ("grpc.max_send_message_length", max_message),
        ],
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind gRPC to {host}:{port}")
    service = ModelBoxService(ctx, rpc_addr=f"{host}:{bound}", http_addr=http_addr)
    server.add_generic_rpc_handlers((modelbox_handler(service), ingest_handler(ctx)))
    server.start()
    return server, bound
