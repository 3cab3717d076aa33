"""Where a ModelBox id leads: one small document per id under ``<data root>/.modelbox/ids/``.

ModelBox ids are sha1 digests (of a model's name and namespace, a version's model, version
and name, a checkpoint's experiment and epoch, a file's parent and path) that cannot be turned
back into names, while runlane finds models, versions and checkpoints by name. Every object
the ModelBox mapping creates or lists leaves ``ids/<first two hex>/<id>.json`` — ``{"kind",
"owner", "project", ...}`` — beside the store's artifact records
(:func:`runlane.artifacts.home.data_root`), so every process serving the same store resolves
the id without a scan (a ServerStore keeps ``.modelbox/`` in PostgreSQL through its mirror,
:mod:`runlane.store.server.mirror`, so replicas on other hosts see it too).

A document is written once, atomically (temporary file + rename), and never changes meaning:
readers see nothing or the whole document. Ids that are not hex digests are never looked up,
so a client's id cannot name a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runlane.store.local.files import read_json, write_json

_DIGEST = re.compile(r"[0-9a-f]{16,64}")


def index_root(data_root: Path) -> Path:
    """The folder of the ModelBox mapping's own records under a store's data root."""
    return data_root / ".modelbox"


def _path(data_root: Path, object_id: str) -> Path | None:
    if not _DIGEST.fullmatch(object_id):
        return None
    return index_root(data_root) / "ids" / object_id[:2] / f"{object_id}.json"


def remember(data_root: Path, object_id: str, doc: Mapping[str, Any]) -> None:
    """Record where ``object_id`` leads, unless it is recorded already. Raises StoreError."""
    path = _path(data_root, object_id)
    if path is None or path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, dict(doc))


def recall(data_root: Path, object_id: str) -> dict[str, Any] | None:
    """The document of ``object_id``, or None when it was never recorded."""
    path = _path(data_root, object_id)
    if path is None:
        return None
    doc = read_json(path, None)
    return doc if isinstance(doc, dict) else None
