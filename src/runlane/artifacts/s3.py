"""S3Storage: artifact bytes in any S3-compatible object store (``s3://bucket/prefix``).

Keeps the contracts of :mod:`runlane.artifacts.storage` with boto3:

* files up to ``multipart_threshold`` go in one ``PutObject``; larger ones as a multipart
  upload of ``part_size`` parts, at most ``max_concurrency`` in flight, so memory stays near
  ``(max_concurrency + 1) × part_size`` (25 MiB by default) whatever the file size;
* every request carries ``ChecksumSHA256`` (of the object or of the part), which the server
  verifies; the whole file's sha256 is stored as object metadata ``sha256``;
* a failed or interrupted multipart upload is aborted (or, if the process dies, left
  incomplete and invisible): the key only appears when the upload completes;
* :meth:`S3Storage.put_blob` hashes the file first, then asks the server whether the blob
  exists, and only uploads when it does not; the upload re-hashes what it sends and refuses a
  file that changed in between (:class:`FileChangedError`);
* downloads stream in 1 MiB chunks into a temporary file, verified against the sha256.

Credentials come from the constructor or boto3's usual chain (``AWS_ACCESS_KEY_ID``...).
Driver errors are raised as :class:`~runlane.errors.StoreError` with the cause chained.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    FileChangedError,
)
from runlane.artifacts.storage import Progress, StoredFile, blob_key
from runlane.artifacts.transfer import HashingReader, HashingWriter, download_verified, hash_file
from runlane.errors import InvalidArgumentError, StoreError
from runlane.names import check_path

MiB = 1 << 20
MAX_PARTS = 10_000


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` → ``("bucket", "a/b")``. InvalidArgumentError when malformed."""
    if not uri.startswith("s3://"):
        raise InvalidArgumentError(f"S3 URI {uri!r} must start with 's3://'")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket or len(bucket) < 3:
        raise InvalidArgumentError(f"S3 URI {uri!r} needs a bucket name (3+ characters)")
    return bucket, prefix.strip("/")


class S3Storage:
    """Artifact bytes under ``s3://bucket/prefix``. Thread-safe."""

    def __init__(
        self,
        uri: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        client: Any = None,
        part_size: int = 5 * MiB,
        multipart_threshold: int = 16 * MiB,
        max_concurrency: int = 4,
        create_bucket: bool = False,
    ) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        self._endpoint = endpoint_url
        self._credentials = (access_key, secret_key)
        self._region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        self.part_size = max(5 * MiB, int(part_size))
        self.multipart_threshold = max(self.part_size, int(multipart_threshold))
        self.max_concurrency = max(1, int(max_concurrency))
        self._client = client
        self._client_lock = threading.Lock()
        if create_bucket:
            self.ensure_bucket()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint

    def __repr__(self) -> str:
        return f"S3Storage({self.uri!r}, endpoint_url={self._endpoint!r})"

    # --- plumbing -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The boto3 S3 client (created on first use)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise StoreError(
                f"artifact storage {self.uri} needs boto3: pip install 'runlane[s3]'"
            ) from exc
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max(10, 2 * self.max_concurrency),
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        access, secret = self._credentials
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self._endpoint,
            region_name=self._region,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            config=config,
        )

    def _full(self, key: str) -> str:
        check_path(key, "storage key")
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn botocore errors into StoreError / ArtifactNotFoundError."""
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:  # pragma: no cover - the client could not have been made
            yield
            return
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ArtifactNotFoundError(
                    f"no object s3://{self.bucket}/{self._full(key)} ({action})"
                ) from exc
            raise StoreError(
                f"S3 {action} of s3://{self.bucket}/{self._full(key)} failed: {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise StoreError(
                f"S3 {action} of s3://{self.bucket}/{self._full(key)} failed: {exc}"
            ) from exc

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist."""
        with self._errors("create bucket", "x"):
            from botocore.exceptions import ClientError

            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self.client.create_bucket(Bucket=self.bucket)

    # --- puts -----------------------------------------------------------------------------
    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        with self._errors("head", key):
            try:
                return cast(
                    dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=self._full(key))
                )
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

    def _upload(
        self, src: Path, key: str, *, expected: str | None, progress: Progress | None
    ) -> StoredFile:
        """Stream ``src`` to ``key``; raise FileChangedError when it is not ``expected``."""
        full = self._full(key)
        with HashingReader(src, chunk_size=MiB, progress=progress, buffers=2) as reader:
            if reader.size <= self.multipart_threshold:
                body = bytearray()
                for chunk in reader.chunks():
                    body += chunk
                digest, size = reader.finish()
                self._check_expected(src, digest, expected)
                with self._errors("upload", key):
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=full,
                        Body=body,  # a bytearray is sent as is: no copy
                        ChecksumSHA256=_b64(hashlib.sha256(body).digest()),
                        Metadata={"sha256": digest},
                    )
                return StoredFile(key, size, digest)
            return self._multipart(src, key, reader, expected)

    def _check_expected(self, src: Path, digest: str, expected: str | None) -> None:
        if expected is not None and digest != expected:
            raise FileChangedError(
                f"{str(src)!r} changed while it was being uploaded (sha256 {expected[:12]}… "
                f"when hashed, {digest[:12]}… when sent); nothing was recorded"
            )

    def _multipart(
        self, src: Path, key: str, reader: HashingReader, expected: str | None
    ) -> StoredFile:
        full = self._full(key)
        part_size = max(self.part_size, -(-reader.size // MAX_PARTS))
        meta = {"sha256": expected} if expected else {}
        with self._errors("start multipart upload", key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                ChecksumAlgorithm="SHA256",
                Metadata=meta,
            )["UploadId"]
        slots = threading.Semaphore(self.max_concurrency)
        futures: list[Future[dict[str, Any]]] = []

        def send(number: int, data: bytearray) -> dict[str, Any]:
            try:
                checksum = _b64(hashlib.sha256(data).digest())
                with self._errors(f"upload part {number}", key):
                    response = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                        ChecksumSHA256=checksum,
                    )
                return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}
            finally:
                slots.release()

        try:
            with ThreadPoolExecutor(self.max_concurrency, "runlane-s3") as pool:
                number = 0
                part = bytearray(part_size)
                filled = 0

                def submit(data: bytearray) -> None:
                    nonlocal number
                    number += 1
                    slots.acquire()  # at most max_concurrency parts in memory and in flight
                    for done in [f for f in futures if f.done()]:
                        done.result()  # surface a failed part early
                    futures.append(pool.submit(send, number, data))

                for chunk in reader.chunks():
                    view = memoryview(chunk)
                    while view:
                        take = min(len(view), part_size - filled)
                        part[filled : filled + take] = view[:take]
                        filled += take
                        view = view[take:]
                        if filled == part_size:
                            submit(part)  # handed over whole: no copy
                            part, filled = bytearray(part_size), 0
                if filled or number == 0:
                    submit(part[:filled])
                del part
                parts = [f.result() for f in futures]
            digest, size = reader.finish()
            self._check_expected(src, digest, expected)
            with self._errors("complete multipart upload", key):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            self._abort(full, upload_id)
            raise
        return StoredFile(key, size, digest)

    def _abort(self, full: str, upload_id: str) -> None:
        # On failure the upload stays incomplete and invisible; the bucket's lifecycle rules
        # (or a later abort) reclaim it.
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)

    def put_file(self, src: Path, key: str, *, progress: Progress | None = None) -> StoredFile:
        return self._upload(src, key, expected=None, progress=progress)

    def put_blob(self, src: Path, *, progress: Progress | None = None) -> StoredFile:
        digest, size = hash_file(src)
        key = blob_key(digest)
        head = self._head(key)
        if head is not None and int(head.get("ContentLength", -1)) == size:
            if progress is not None:
                progress(size)
            return StoredFile(key, size, digest, existed=True)
        return self._upload(src, key, expected=digest, progress=progress)

    def put_bytes(self, data: bytes, key: str | None = None) -> StoredFile:
        raw = hashlib.sha256(data)
        digest = raw.hexdigest()
        if key is None:
            key = blob_key(digest)
            head = self._head(key)
            if head is not None and int(head.get("ContentLength", -1)) == len(data):
                return StoredFile(key, len(data), digest, existed=True)
        with self._errors("upload", key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._full(key),
                Body=data,
                ChecksumSHA256=_b64(raw.digest()),
                Metadata={"sha256": digest},
            )
        return StoredFile(key, len(data), digest)

    def put_tree(
        self,
        files: Sequence[tuple[Path, str]],
        key: str | None,
        *,
        progress: Progress | None = None,
    ) -> list[StoredFile]:
        if key is None:
            return [self.put_blob(src, progress=progress) for src, _ in files]
        return [
            self.put_file(src, f"{key}/{check_path(rel, 'file path in folder')}", progress=progress)
            for src, rel in files
        ]

    # --- reads ----------------------------------------------------------------------------
    def get_file(
        self, key: str, dest: Path, *, sha256: str | None = None, progress: Progress | None = None
    ) -> int:
        def fill(fd: int) -> HashingWriter:
            sink = HashingWriter(fd)
            with self._errors("download", key):
                body = self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
                try:
                    for chunk in body.iter_chunks(MiB):
                        sink.write(chunk)
                        if progress is not None:
                            progress(sink.count)
                finally:
                    body.close()
            return sink

        return download_verified(dest, sha256, f"s3://{self.bucket}/{self._full(key)}", fill)

    def open(self, key: str) -> IO[bytes]:
        with self._errors("download", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
        return cast(IO[bytes], body)

    def open_range(self, key: str, start: int, end: int) -> IO[bytes]:
        """A binary stream of bytes ``start``..``end`` (inclusive) of ``key`` (a ranged GET:
        how the server resumes a download without reading the skipped bytes)."""
        with self._errors("download", key):
            body = self.client.get_object(
                Bucket=self.bucket, Key=self._full(key), Range=f"bytes={start}-{end}"
            )["Body"]
        return cast(IO[bytes], body)

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        full = self._full(key)
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=full)
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full + "/"
            )
            for page in pages:
                for item in page.get("Contents", []):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def sync(self) -> None:
        """S3 puts are durable when they return."""

    def keys(self, under: str = "") -> list[str]:
        """Every key under ``under`` (relative to the prefix), for tests and maintenance."""
        start = self._full(under) if under else self.prefix
        prefix = f"{start}/" if start else ""
        out: list[str] = []
        with self._errors("list", under or "."):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = str(item["Key"])
                    out.append(name[len(self.prefix) + 1 :] if self.prefix else name)
        return out
