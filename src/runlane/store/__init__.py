"""Storage backends behind one :class:`~runlane.store.base.Store` protocol."""

from runlane.store.base import Store
from runlane.store.registry import open_store

__all__ = ["Store", "open_store"]
