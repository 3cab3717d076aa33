"""Run the server: open the store, decide on auth, start gRPC, serve REST with uvicorn.

``--store`` is a ``postgresql://`` URI (a ServerStore; cold chunks under ``--artifacts
s3://bucket/prefix`` at ``--s3-endpoint``, else in the database) or a folder (the LocalStore
the SDK writes; default ``RUNLANE_DIR``). Auth is on when the store's token registry holds a
token (``auth="auto"``), or as told. Without auth the server binds loopback addresses only,
unless ``insecure`` — refusing with :class:`~runlane.errors.InvalidArgumentError` otherwise.
On a ServerStore a thread collects garbage every ``RUNLANE_GC_INTERVAL``
(:mod:`runlane.server.gc_schedule`).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from runlane import settings
from runlane.errors import InvalidArgumentError
from runlane.store.base import Store


@dataclass(frozen=True)
class ServeOptions:
    store: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int | None = None
    artifacts: str | None = None
    files: str | None = None
    s3_endpoint: str | None = None
    insecure: bool = False
    auth: str = "auto"  # auto | on | off
    max_body: int = 64 * 1024 * 1024


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_files_root(files: str | None) -> str:
    """The cache folder of a ServerStore's artifact records (kept in PostgreSQL, see
    :mod:`runlane.store.server.mirror`): ``files``, else ``RUNLANE_SERVER_FILES``, else
    ``<RUNLANE_DIR>/.server-files``. A second process given the same folder uses a private
    one."""
    return (
        files
        or os.environ.get("RUNLANE_SERVER_FILES")
        or os.path.join(settings.default_root(), ".server-files")
    )


def open_server_store(
    uri: str | None,
    artifacts: str | None,
    s3_endpoint: str | None,
    files: str | None = None,
) -> Store:
    """The store to serve: a ServerStore for ``postgresql://`` (artifact records under
    :func:`server_files_root`), else the registry's store."""
    target = uri or settings.default_store_uri()
    if target.startswith(("postgresql://", "postgres://")):
        from runlane.store.server import ServerStore
        from runlane.store.server.open import object_store_from

        return ServerStore(
            target,
            objects=object_store_from(
                artifacts or os.environ.get("RUNLANE_ARTIFACTS"), s3_endpoint
            ),
            background_compaction=True,
            pool_size=16,
            files_root=server_files_root(files),
        )
    if target.startswith(("http://", "https://")):
        raise InvalidArgumentError(
            f"--store {target!r} is another server; serve a postgresql:// URI or a folder"
        )
    from runlane.store.registry import open_store

    return open_store(target)


def build(options: ServeOptions) -> tuple[Store, Any, Any]:
    """``(store, app, tokens or None)``; refuses an open bind without auth."""
    from runlane.server.app import create_app
    from runlane.server.auth import tokens_for

    if options.auth not in ("auto", "on", "off"):
        raise InvalidArgumentError(f"auth {options.auth!r} is not one of auto, on, off")
    store = open_server_store(options.store, options.artifacts, options.s3_endpoint, options.files)
    tokens = tokens_for(store)
    enabled = options.auth == "on" or (options.auth == "auto" and tokens.any())
    if not enabled and not is_loopback(options.host) and not options.insecure:
        store.close()
        raise InvalidArgumentError(
            f"refusing to listen on {options.host} without authentication: anyone who can "
            "reach it could read and write every run. Create a token (`runlane token create "
            "--project P --role write`), or listen on 127.0.0.1, or pass --insecure"
        )
    app = create_app(store, auth=tokens if enabled else None, max_body=options.max_body)
    return store, app, tokens if enabled else None


def serve(options: ServeOptions) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code."""
    import uvicorn

    from runlane.server.gc_schedule import GcSchedule, start_collector

    schedule = GcSchedule.from_env()  # a bad RUNLANE_GC_* refuses to start, before the store opens
    store, app, _tokens = build(options)
    collector = start_collector(store, schedule)  # ServerStore: periodic garbage collection
    grpc_server = None
    if options.grpc_port is not None:
        from runlane.server.grpc.server import start_grpc

        grpc_server, bound = start_grpc(
            app.state.ctx,
            options.host,
            options.grpc_port,
            http_addr=f"{options.host}:{options.port}",
        )
        print(
            f"runlane: gRPC (modelbox.ModelStore, runlane.v1.Ingest) on {options.host}:{bound}",
            file=sys.stderr,
        )
    print(
        f"runlane: REST on http://{options.host}:{options.port}/api/v1 serving "
        f"{type(store).__name__} {store.uri if 'postgres' not in store.uri else '(postgres)'}",
        file=sys.stderr,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait(10)
        if collector is not None:
            collector.stop()
        store.close()
    return 0
