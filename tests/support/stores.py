"""Store factories for the contract suite and the server tests (see tests/contract/conftest.py).

Each factory takes a fresh temporary folder and is a context manager yielding a ready, empty
store, cleaned up afterwards.

* :func:`postgres_store`: a ServerStore on a new PostgreSQL database with cold chunks in
  SeaweedFS under a fresh prefix; ``chunk_rows=3`` so that even the contract suite's short
  streams are split between hot rows and Parquet chunks, and every read merges both.
* :func:`remote_store`: a RemoteStore talking HTTP to a real server (uvicorn on a loopback
  socket) over a MemoryStore: the REST API must carry the whole protocol.
* :func:`store_of_kind`: a memory, local or PostgreSQL store by name, for the server tests
  parametrized over those three.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.services import drop_database, fresh_database, s3_location

CONTRACT_CHUNK_ROWS = 3


@contextmanager
def postgres_store(tmp: Path, **kwargs: Any) -> Iterator[Any]:
    from runlane.store.server import ServerStore
    from runlane.store.server.objects import S3Objects

    dsn = fresh_database("contract")
    kwargs.setdefault("chunk_rows", CONTRACT_CHUNK_ROWS)
    kwargs.setdefault("objects", S3Objects(s3_location("contract")))
    store = ServerStore(dsn, **kwargs)
    try:
        yield store
    finally:
        store.close()
        drop_database(dsn)


@contextmanager
def remote_store(tmp: Path) -> Iterator[Any]:
    from runlane.server.app import create_app
    from runlane.store.memory import MemoryStore
    from runlane.store.remote import RemoteStore
    from support.servers import serve_app

    backend = MemoryStore("memory://remote-contract")
    with serve_app(create_app(backend)) as url:
        store = RemoteStore(url, spool_dir=tmp / "spool", attempts=2)
        try:
            yield store
        finally:
            store.close()


@contextmanager
def store_of_kind(
    kind: str, request: Any, tmp: Path, *, chunk_rows: int = CONTRACT_CHUNK_ROWS
) -> Iterator[Any]:
    """A fresh ``memory``, ``local`` or ``postgres`` store (PostgreSQL with ``chunk_rows`` per
    cold chunk; its services come from ``request``'s ``svc`` fixture)."""
    from runlane.store.local import LocalStore
    from runlane.store.memory import MemoryStore

    if kind == "memory":
        yield MemoryStore(f"memory://{tmp.name}")
    elif kind == "local":
        local = LocalStore(tmp / "data")
        try:
            yield local
        finally:
            local.close()
    elif kind == "postgres":
        request.getfixturevalue("svc")
        with postgres_store(tmp, chunk_rows=chunk_rows) as server:
            yield server
    else:
        raise ValueError(f"unknown store kind {kind!r}; known: memory, local, postgres")
