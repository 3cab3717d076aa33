"""Message classes of modelbox.proto and ingest.proto, built in a private descriptor pool.

``M("CreateExperimentRequest")`` is the class of ``modelbox.CreateExperimentRequest``;
``I("WriteRequest")`` of ``runlane.v1.WriteRequest``. :data:`MODELBOX_METHODS` lists the
ModelStore rpcs as ``(name, request class, response class, client streaming, server
streaming)``. The pool is private, so the real ``modelbox`` client may be imported in the same
process without "duplicate symbol" errors.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    struct_pb2,
    timestamp_pb2,
)

from runlane.server.grpc._descriptors import FILES

MODELBOX_SERVICE = "modelbox.ModelStore"
INGEST_SERVICE = "runlane.v1.Ingest"
#: Trailing metadata of a failed call: the wire code of :mod:`runlane.server.wire`
#: (``invalid_name``, ``not_found``...), which tells apart errors that share a gRPC status.
ERROR_CODE_KEY = "runlane-error-code"


@cache
def pool() -> descriptor_pool.DescriptorPool:
    created = descriptor_pool.DescriptorPool()
    for module in (struct_pb2, timestamp_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        created.Add(proto)
    for data in FILES.values():
        created.Add(descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(data)))
    return created


@cache
def message(full_name: str) -> Any:
    return message_factory.GetMessageClass(pool().FindMessageTypeByName(full_name))


def M(name: str) -> Any:
    """A ``modelbox`` message class."""
    return message(f"modelbox.{name}")


def I(name: str) -> Any:  # noqa: E743 - I for Ingest, beside M for ModelBox
    """A ``runlane.v1`` message class."""
    return message(f"runlane.v1.{name}")


#: runlane's extension of ``ListModelVersionsResponse``: ModelBox's field 1 (``models``) is one
#: message, so it carries the latest version; this field repeats every version, oldest first.
#: ModelBox's clients skip it as an unknown field; runlane's client reads it with
#: :func:`model_versions_message`.
VERSIONS_FIELD = 1000


@cache
def model_versions_message() -> Any:
    """The class that reads ``ListModelVersionsResponse`` bytes with runlane's extension:
    ``models`` (field 1, the latest version) and ``versions`` (:data:`VERSIONS_FIELD`)."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="runlane/modelbox_versions.proto",
        package="runlane.modelbox",
        syntax="proto3",
        dependency=["modelbox.proto"],
    )
    found = proto.message_type.add(name="ListModelVersionsAll")
    for name, number, label in (
        ("models", 1, descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL),
        ("versions", VERSIONS_FIELD, descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED),
    ):
        found.field.add(
            name=name,
            number=number,
            label=label,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=".modelbox.ModelVersion",
        )
    pool().Add(proto)
    return message("runlane.modelbox.ListModelVersionsAll")


def methods(service: str) -> list[tuple[str, Any, Any, bool, bool]]:
    desc = pool().FindServiceByName(service)
    return [
        (
            m.name,
            message(m.input_type.full_name),
            message(m.output_type.full_name),
            m.client_streaming,
            m.server_streaming,
        )
        for m in desc.methods
    ]


def enum_value(enum: str, name: str) -> int:
    return int(pool().FindEnumTypeByName(f"modelbox.{enum}").values_by_name[name].number)
