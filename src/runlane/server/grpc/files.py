"""Where runlane server keeps the bytes of files uploaded over gRPC (``UploadFile``).

The same storage as the REST artifact endpoints
(:func:`runlane.server.artifacts_service.artifact_storage`): with an S3 object store
(``runlane server --artifacts s3://bucket/prefix``) content-addressed blobs under
``s3://bucket/prefix/artifacts``, else ``RUNLANE_ARTIFACTS``, else the folders of the
store's data root (run folders, project blobs).
"""

from __future__ import annotations

from runlane.artifacts.storage import BlobStorage
from runlane.server.artifacts_service import artifact_storage
from runlane.store.base import Store


def server_blob_storage(store: Store) -> BlobStorage | None:
    """The storage for uploaded bytes of ``store`` (see the module docstring)."""
    return artifact_storage(store)
