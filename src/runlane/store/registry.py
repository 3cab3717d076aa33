"""Store URIs → store instances, one instance per URI per process.

* a filesystem path or ``file://PATH`` → :class:`~runlane.store.local.LocalStore`
* ``memory://NAME`` → :class:`~runlane.store.memory.MemoryStore` (shared within the process)
* ``postgresql://…`` / ``postgres://…`` → :class:`~runlane.store.server.ServerStore` (the
  ``server`` extra; cold chunks in ``RUNLANE_ARTIFACTS=s3://bucket/prefix`` when set)
* ``http://HOST:PORT`` / ``https://…`` → :class:`~runlane.store.remote.RemoteStore` (a runlane
  server)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from runlane.errors import InvalidArgumentError
from runlane.store.base import Store

_stores: dict[str, Store] = {}
_lock = threading.Lock()

SCHEMES = (
    "a folder path",
    "file://PATH",
    "memory://NAME",
    "postgresql://USER@HOST:PORT/DB",
    "http(s)://HOST:PORT",
)
#: Schemes served by optional modules: scheme → ``module:function(uri) -> Store``.
EXTERNAL = {
    "postgresql": "runlane.store.server.open:open_uri",
    "postgres": "runlane.store.server.open:open_uri",
    "http": "runlane.store.remote:open_uri",
    "https": "runlane.store.remote:open_uri",
}


def _external(uri: str) -> Store:
    import importlib

    module, _, function = EXTERNAL[uri.split("://", 1)[0]].partition(":")
    builder = getattr(importlib.import_module(module), function)
    store: Store = builder(uri)
    return store


def _key(uri: str) -> str:
    if uri.startswith("memory://"):
        return uri
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return str(Path(uri).expanduser().resolve())


def open_store(uri: str | os.PathLike[str]) -> Store:
    """Return the store for ``uri`` (cached). Raises InvalidArgumentError for unknown schemes."""
    text = os.fspath(uri)
    if text.split("://", 1)[0] in EXTERNAL and "://" in text:
        with _lock:
            store = _stores.get(text)
            if store is None:
                store = _stores[text] = _external(text)
            return store
    if "://" in text and not text.startswith(("file://", "memory://")):
        scheme = text.split("://", 1)[0]
        raise InvalidArgumentError(
            f"store URI {text!r} has an unknown scheme {scheme!r}; use one of: "
            + ", ".join(SCHEMES)
        )
    key = _key(text)
    with _lock:
        store = _stores.get(key)
        if store is None:
            if key.startswith("memory://"):
                from runlane.store.memory import MemoryStore

                store = MemoryStore(key)
            else:
                from runlane.store.local import LocalStore

                store = LocalStore(key)
            _stores[key] = store
        return store


def forget_stores() -> None:
    """Close and drop every cached store (tests use this between cases)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
