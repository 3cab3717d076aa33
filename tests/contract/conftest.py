"""The stores the contract suite runs against.

To add a backend, add one entry to :data:`STORE_FACTORIES`: a name and a context manager
factory that takes a fresh temporary folder, yields a ready, empty store and cleans up after
(drop the database, stop the server). The PostgreSQL store and the remote HTTP store will be
added here; every test in this folder then runs against them too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runlane.store.base import Store
from runlane.store.local import LocalStore
from runlane.store.memory import MemoryStore
from support.stores import postgres_store, remote_store

StoreFactory = Callable[[Path], AbstractContextManager[Store]]


@contextmanager
def memory_store(tmp: Path) -> Iterator[Store]:
    store = MemoryStore("memory://contract")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def local_store(tmp: Path) -> Iterator[Store]:
    store = LocalStore(tmp / "local-root")
    try:
        yield store
    finally:
        store.close()


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": memory_store,
    "local": local_store,
    "postgres": postgres_store,  # PostgreSQL + SeaweedFS, started by tests/support/services.py
    "remote": remote_store,  # RemoteStore → HTTP → runlane server → MemoryStore
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each registered kind."""
    factory = STORE_FACTORIES[request.param]
    with factory(tmp_path / "store") as instance:
        yield instance
