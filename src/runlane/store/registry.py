"""Store URIs → store instances, one instance per URI per process.

* a filesystem path or ``file://PATH`` → :class:`~runlane.store.local.LocalStore`
* ``memory://NAME`` → :class:`~runlane.store.memory.MemoryStore` (shared within the process)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from runlane.errors import InvalidArgumentError
from runlane.store.base import Store

_stores: dict[str, Store] = {}
_lock = threading.Lock()

SCHEMES = ("a folder path", "file://PATH", "memory://NAME")


def _key(uri: str) -> str:
    if uri.startswith("memory://"):
        return uri
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return str(Path(uri).expanduser().resolve())


def open_store(uri: str | os.PathLike[str]) -> Store:
    """Return the store for ``uri`` (cached). Raises InvalidArgumentError for unknown schemes."""
    text = os.fspath(uri)
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
