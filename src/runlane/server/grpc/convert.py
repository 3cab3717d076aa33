"""Conversions between ModelBox's protobuf messages and runlane's values, shared by the
``modelbox.ModelStore`` handlers: timestamps, ``google.protobuf.Value``, frameworks, float32
metrics, metadata documents and ``FileMetadata``."""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import json_format

from runlane.compat.modelbox.files import FileRecord
from runlane.server.grpc.protos import M, enum_value, message

#: runlane metadata documents are dicts; a ModelBox value that is not one is kept under this key.
WRAPPED = "$json"
#: ModelBox ``MLFramework`` numbers → runlane framework strings.
FRAMEWORKS = {0: "unknown", 1: "pytorch", 2: "tensorflow"}


def timestamp(seconds: float) -> Any:
    """A ``google.protobuf.Timestamp`` of epoch ``seconds``."""
    whole = int(seconds)
    return ts(whole, round((seconds - whole) * 1e9))


def ts(seconds: int, nanos: int) -> Any:
    return message("google.protobuf.Timestamp")(
        seconds=seconds, nanos=max(0, min(nanos, 999_999_999))
    )


def seconds(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def to_value(python: Any) -> Any:
    """A ``google.protobuf.Value`` holding the JSON value ``python``."""
    out = message("google.protobuf.Value")()
    json_format.ParseDict(python, out)
    return out


def to_python(value: Any) -> Any:
    return json_format.MessageToDict(value)


def metadata_of(request_metadata: Any) -> dict[str, Any]:
    """The ``{key: JSON value}`` of a ``modelbox.Metadata`` message."""
    return {k: to_python(v) for k, v in request_metadata.metadata.items()}


def wrap(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {WRAPPED: value}


def unwrap(doc: Any) -> Any:
    if isinstance(doc, dict) and len(doc) == 1 and WRAPPED in doc:
        return doc[WRAPPED]
    return doc


def framework_enum(label: str | None) -> int:
    text = (label or "").lower()
    if text == "pytorch":
        return enum_value("MLFramework", "PYTORCH")
    if text in ("tensorflow", "keras", "tf"):
        return enum_value("MLFramework", "KERAS")
    return enum_value("MLFramework", "UNKNOWN")


def f32(value: float) -> float:
    """A float32 from the wire as its shortest decimal (0.9f reads back as 0.9)."""
    return float(str(np.float32(value)))


def file_message(record: FileRecord) -> Any:
    """The ``modelbox.FileMetadata`` of a file record."""
    return M("FileMetadata")(
        id=record.id,
        parent_id=record.parent_id,
        file_type=record.file_type,
        checksum=record.checksum,
        path=record.path,
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )
