"""The embedded local store: a folder of runs in ML-Dash's layout plus a SQLite catalog."""

from runlane.store.local.store import LocalStore

__all__ = ["LocalStore"]
