"""Where the ServerStore keeps immutable blobs (cold metric chunks): S3 or PostgreSQL itself.

An :class:`ObjectStore` puts, gets and deletes whole objects by key, and lists the keys under
a prefix (:meth:`ObjectStore.scan`, for garbage collection). Keys are written once
and never rewritten with other content, so readers may cache bodies by key. Failures raise
:class:`~runlane.errors.StoreError` (driver error chained); a missing key raises
:class:`~runlane.errors.NotFoundError`.

* :class:`S3Objects`: any S3-compatible service (SeaweedFS, MinIO, AWS) through boto3.
* :class:`DatabaseObjects`: the ``objects`` table, for a server run without an object store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import psycopg

from runlane.errors import InvalidArgumentError, NotFoundError, StoreError

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
_SCAN_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object as :meth:`ObjectStore.scan` lists it: its key and size in bytes."""

    key: str
    size: int


class ObjectStore(Protocol):
    """Blobs by key. See the module docstring."""

    @property
    def uri(self) -> str: ...

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, keys: list[str]) -> None:
        """Delete ``keys``; keys that do not exist are ignored."""
        ...

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in pages (a consistent listing is
        not promised: objects put or deleted meanwhile may or may not appear)."""
        ...


@dataclass(frozen=True, slots=True)
class S3Location:
    """``s3://bucket/prefix`` plus how to reach the service."""

    bucket: str
    prefix: str
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"

    @classmethod
    def parse(
        cls,
        uri: str,
        *,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> S3Location:
        """Parse ``s3://bucket[/prefix]``; the service and keys default to the environment
        (``RUNLANE_S3_ENDPOINT`` or ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
        ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``)."""
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidArgumentError(
                f"object store location {uri!r} must look like s3://bucket/prefix"
            )
        prefix = parsed.path.strip("/")
        return cls(
            bucket=parsed.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=endpoint
            or os.environ.get("RUNLANE_S3_ENDPOINT")
            or os.environ.get("AWS_ENDPOINT_URL"),
            access_key=access_key or os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )


class S3Objects:
    """Objects under ``s3://bucket/prefix`` (boto3; the client is thread-safe)."""

    def __init__(self, location: S3Location) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "the S3 object store needs boto3: pip install 'runlane[server]'"
            ) from exc
        self.location = location
        self._client = boto3.client(
            "s3",
            endpoint_url=location.endpoint,
            aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key,
            region_name=location.region,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=16,
                s3={"addressing_style": "path"},
            ),
        )

    @property
    def uri(self) -> str:
        return f"s3://{self.location.bucket}/{self.location.prefix}"

    def _key(self, key: str) -> str:
        return self.location.prefix + key

    def put(self, key: str, body: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.location.bucket, Key=self._key(key), Body=body)
        except Exception as exc:
            raise StoreError(f"could not write {self.uri}{key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.location.bucket, Key=self._key(key))
            return bytes(response["Body"].read())
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise NotFoundError(f"object {self.uri}{key} does not exist") from exc
            raise StoreError(f"could not read {self.uri}{key}: {exc}") from exc

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            part = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            try:
                self._client.delete_objects(
                    Bucket=self.location.bucket, Delete={"Objects": part, "Quiet": True}
                )
            except Exception as exc:
                raise StoreError(f"could not delete objects under {self.uri}: {exc}") from exc

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        skip = len(self.location.prefix)
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self._key(prefix)
            )
            for page in pages:
                for item in page.get("Contents") or []:
                    yield ObjectInfo(str(item["Key"])[skip:], int(item["Size"]))
        except Exception as exc:
            raise StoreError(f"could not list {self.uri}{prefix}: {exc}") from exc


class DatabaseObjects:
    """Objects as rows of the ``objects`` table of the store's own database."""

    def __init__(self, connect: Connect, label: str) -> None:
        self._connect = connect
        self._label = label

    @property
    def uri(self) -> str:
        return f"{self._label}#objects"

    def put(self, key: str, body: bytes) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO objects (key, data) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data",
                (key, body),
            )

    def get(self, key: str) -> bytes:
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM objects WHERE key = %s", (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"object {key!r} does not exist in {self.uri}")
        return bytes(row[0])

    def delete(self, keys: list[str]) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM objects WHERE key = ANY(%s)", (keys,))

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        after = ""
        while True:  # pages in key order, so no connection is held between them
            with self._connect() as conn:
                rows = conn.execute(
                    "SELECT key, octet_length(data) FROM objects "
                    "WHERE starts_with(key, %s) AND key > %s ORDER BY key LIMIT %s",
                    (prefix, after, _SCAN_PAGE),
                ).fetchall()
            for key, size in rows:
                yield ObjectInfo(str(key), int(size))
            if len(rows) < _SCAN_PAGE:
                return
            after = str(rows[-1][0])
