"""Build a ServerStore from a ``postgresql://`` URI and the environment (store registry hook).

Cold metric chunks go to ``RUNLANE_ARTIFACTS`` (``s3://bucket/prefix``; the S3 service from
``RUNLANE_S3_ENDPOINT`` and the ``AWS_*`` variables) when it is set, else into the database's
own ``objects`` table. Artifact records live in the database; their cache folder is
``RUNLANE_SERVER_FILES``, else ``<RUNLANE_DIR>/.server-files`` (as for ``runlane server``).
"""

from __future__ import annotations

import os

from runlane.errors import StoreError
from runlane.store.server.objects import ObjectStore, S3Location, S3Objects


def object_store_from(uri: str | None, endpoint: str | None = None) -> ObjectStore | None:
    """The S3 object store at ``uri`` (``s3://bucket/prefix``), or None for ``None``/empty."""
    if not uri:
        return None
    return S3Objects(S3Location.parse(uri, endpoint=endpoint))


def open_uri(uri: str) -> object:
    try:
        from runlane.store.server.store import ServerStore
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StoreError(
            f"store {uri!r} needs the server extra: pip install 'runlane[server]' ({exc})"
        ) from exc
    from runlane import settings

    # artifact records: the folder `runlane server` uses by default on this machine, never a
    # scratch folder (that one is removed when the process exits)
    files = os.environ.get("RUNLANE_SERVER_FILES") or os.path.join(
        settings.default_root(), ".server-files"
    )
    return ServerStore(
        uri, objects=object_store_from(os.environ.get("RUNLANE_ARTIFACTS")), files_root=files
    )
