"""The server's store: PostgreSQL for runs and hot rows, an object store for cold chunks.

Needs the ``server`` extra (psycopg, psycopg-pool, pyarrow, boto3 for S3).
"""

from __future__ import annotations

from runlane.store.server.store import DEFAULT_CHUNK_ROWS, ServerStore

__all__ = ["DEFAULT_CHUNK_ROWS", "ServerStore"]
