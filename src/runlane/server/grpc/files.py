"""Where runlane server keeps the bytes of files uploaded over gRPC (``UploadFile``).

A ServerStore with an S3 object store (``runlane server --artifacts s3://bucket/prefix``)
sends them to that bucket and prefix with the credentials the server was given,
content-addressed (``blobs/sha256/...``, beside the cold metric chunks under ``metrics/``);
the storage is registered (:func:`runlane.artifacts.storage.register_storage`) so readers in
this process open it with those credentials. Any other store uses ``RUNLANE_ARTIFACTS`` when
set, else the folders of the store's data root (run folders, project blobs).
"""

from __future__ import annotations

from runlane.artifacts.context import storage_from_env
from runlane.artifacts.storage import BlobStorage, register_storage
from runlane.store.base import Store


def server_blob_storage(store: Store) -> BlobStorage | None:
    """The storage for uploaded bytes of ``store`` (see the module docstring)."""
    objects = getattr(store, "objects", None)
    if objects is not None:  # a ServerStore (which needs the server extra)
        from runlane.store.server.objects import S3Objects

        if not isinstance(objects, S3Objects):
            return storage_from_env()
        from runlane.artifacts.s3 import S3Storage

        location = objects.location
        return register_storage(
            S3Storage(
                f"s3://{location.bucket}/{location.prefix}",
                endpoint_url=location.endpoint,
                access_key=location.access_key,
                secret_key=location.secret_key,
                region=location.region,
            )
        )
    return storage_from_env()
