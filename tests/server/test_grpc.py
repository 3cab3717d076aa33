"""gRPC: runlane's modelbox.proto matches the real ``modelbox==0.0.5`` client field for
field; the real client creates experiments, updates metadata, logs metrics and events and
reads them back through ``runlane server --grpc-port``; the compat facade's gRPC mode; and
runlane's own streaming ingest rpc."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import descriptor_pb2

import runlane
from runlane.entities import Batch, RunSpec
from runlane.errors import InvalidArgumentError, NotFoundError
from runlane.server.context import ServerContext
from runlane.server.grpc import protos
from runlane.server.grpc._descriptors import FILES
from runlane.server.grpc.server import start_grpc
from runlane.store.server import ServerStore
from runlane.store.wire import encode_batch
from support.servers import ServerProcess, free_port


@pytest.fixture
def grpc_addr(pg_store: ServerStore) -> Iterator[str]:
    server, port = start_grpc(ServerContext(store=pg_store), "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def _fields(desc: object) -> list[tuple[object, ...]]:
    return sorted(
        (f.name, f.number, f.type, f.label, f.type_name, f.HasField("oneof_index"))
        for f in desc.field  # type: ignore[attr-defined]
    )


def test_proto_matches_the_real_modelbox_client() -> None:
    from modelbox import service_pb2 as real

    theirs = descriptor_pb2.FileDescriptorProto()
    real.DESCRIPTOR.CopyToProto(theirs)
    ours = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(FILES["modelbox.proto"]))
    assert ours.package == theirs.package == "modelbox"
    their_messages = {m.name: m for m in theirs.message_type}
    our_messages = {m.name: m for m in ours.message_type}
    assert set(our_messages) == set(their_messages)
    for name, message in their_messages.items():
        assert _fields(our_messages[name]) == _fields(message), name
        nested = {n.name: _fields(n) for n in message.nested_type}
        assert {n.name: _fields(n) for n in our_messages[name].nested_type} == nested, name
    assert {e.name: [(v.name, v.number) for v in e.value] for e in ours.enum_type} == {
        e.name: [(v.name, v.number) for v in e.value] for e in theirs.enum_type
    }
    (their_service,) = theirs.service
    (our_service,) = ours.service
    assert our_service.name == their_service.name == "ModelStore"
    signature = [
        (m.name, m.input_type, m.output_type, m.client_streaming, m.server_streaming)
        for m in their_service.method
    ]
    assert [
        (m.name, m.input_type, m.output_type, m.client_streaming, m.server_streaming)
        for m in our_service.method
    ] == signature
    assert len(signature) == 22


def test_committed_descriptors_match_the_proto_files() -> None:
    from runlane.server.grpc.generate import compile_protos

    compiled = compile_protos()
    assert {k: base64.b64encode(v).decode() for k, v in compiled.items()} == {
        k: "".join(v) if isinstance(v, tuple) else v for k, v in FILES.items()
    }


def test_real_client_through_runlane_server_grpc_port(
    dsn: str, server_process: Callable[..., ServerProcess]
) -> None:
    from modelbox.modelbox import Event, EventSource, MLFramework, ModelBox

    port = free_port()
    server = server_process("--store", dsn, "--grpc-port", str(port))
    mbox = ModelBox(f"127.0.0.1:{port}")
    exp = mbox.new_experiment("resnet", "alice", "vision", "job-7", MLFramework.PYTORCH)
    again = mbox.new_experiment("resnet", "alice", "vision", "job-7", MLFramework.PYTORCH)
    assert again.id == exp.id and len(exp.id) == 40
    exp.update_metadata("lr", 0.01)
    exp.update_metadata("config", {"layers": [1, 2], "act": "relu"})
    assert exp.metadata().metadata == {"lr": 0.01, "config": {"layers": [1.0, 2.0], "act": "relu"}}
    exp.log_metrics({"loss": 0.5, "acc": 0.75}, step=1, wallclock=1_700_000_000)
    exp.log_metrics({"loss": 0.25}, step=2, wallclock=1_700_000_010)
    metrics = exp.all_metrics()
    assert [(m.step, m.wallclock_time, m.value) for m in metrics["loss"]] == [
        (1, 1_700_000_000, 0.5),
        (2, 1_700_000_010, 0.25),
    ]
    assert [m.value for m in metrics["acc"]] == [0.75]
    exp.log_event(Event("checkpoint", EventSource("trainer"), 0, {"epoch": 3}))
    (event,) = exp.events()
    assert (event.name, event.source.name, event.metadata) == (
        "checkpoint",
        "trainer",
        {"epoch": 3.0},
    )
    got = mbox.experiment(exp.id)
    assert (got.name, got.owner, got.namespace, got.external_id, got.framework) == (
        "resnet",
        "alice",
        "vision",
        "job-7",
        MLFramework.PYTORCH,
    )
    assert [e.id for e in mbox.experiments("vision").experiments] == [exp.id]
    with pytest.raises(grpc.RpcError) as missing:
        mbox.experiment("0" * 40)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # the same data through runlane's own API
    view = runlane.open(exp.id, store=server.url)
    assert view.info.prefix == "alice/vision/resnet"
    assert view.metrics().read(0, 10)["data"][0]["data"] == {
        "loss": 0.5,
        "_step": 1,
        "_ts": 1_700_000_000.0,
    }


def test_compat_facade_grpc_mode(grpc_addr: str, pg_store: ServerStore) -> None:
    from runlane.compat.modelbox import Event, EventSource, MLFramework, ModelBox

    mbox = ModelBox(grpc_addr)
    exp = mbox.new_experiment("bert", "bob", "nlp", "", MLFramework.TENSORFLOW)
    exp.log_metrics({"loss": 1.5, "note": "warmup", "raw": b"\x00"}, step=3, wallclock=1_000)
    values = {k: [m.value for m in v] for k, v in exp.all_metrics().items()}
    assert values == {"loss": [1.5], "note": ["warmup"], "raw": [b"\x00"]}
    exp.update_metadata("k", [1, 2])
    assert exp.metadata().metadata == {"k": [1, 2]}
    exp.log_event(Event("start", EventSource("me"), 1_234.5, {"a": "b"}))
    assert [(e.name, e.wallclock_time) for e in exp.events()] == [("start", 1_234)]
    assert mbox.experiment(exp.id).framework is MLFramework.TENSORFLOW
    assert pg_store.get_run(exp.id).framework == "tensorflow"

    # models: create-or-get, listed, metadata upserted
    model = mbox.new_model("m", "bob", "nlp", "qa", "desc", metadata={"arch": "bert"})
    assert (model.id, model.task, model.description, model.exists) == (
        hashlib.sha1(b"mnlp").hexdigest(),
        "qa",
        "desc",
        False,
    )
    again = mbox.new_model("m", "bob", "nlp", "other", "other")
    assert (again.id, again.task, again.description, again.exists) == (model.id, "qa", "desc", True)
    assert [(m.id, m.owner, m.task) for m in mbox.models("nlp").models] == [(model.id, "bob", "qa")]
    model.update_metadata("eval", {"f1": 0.5})
    assert model.metadata().metadata == {"arch": "bert", "eval": {"f1": 0.5}}
    # versions: every one listed, oldest first, with what was given
    first = model.new_model_version(
        "1.0", name="a", description="base", unique_tags=["prod"], metadata={"epochs": 3}
    )
    second = model.new_model_version("2.0", name="b", framework=MLFramework.TENSORFLOW)
    assert model.new_model_version("1.0", name="a").exists is True
    assert [
        (v.id, v.version, v.name, v.description, v.unique_tags, v.framework, v.exists)
        for v in model.model_versions()
    ] == [
        (first.id, "1.0", "a", "base", ["prod"], MLFramework.PYTORCH, False),
        (second.id, "2.0", "b", "", [], MLFramework.TENSORFLOW, False),
    ]
    first.update_metadata("top1", 0.76)
    assert first.metadata().metadata == {"epochs": 3, "top1": 0.76}
    # checkpoints: create-or-get by epoch, metrics kept as given
    checkpoint = exp.new_checkpoint(1, {"loss": 0.9})
    exp.new_checkpoint(2, {"loss": 0.5, "acc": 0.7})
    kept = exp.new_checkpoint(1, {"loss": 0.1})
    assert (kept.id, kept.exists, kept.metrics) == (checkpoint.id, True, {"loss": 0.9})
    assert [(c.epoch, c.metrics, c.exists) for c in exp.checkpoints()] == [
        (1, {"loss": 0.9}, False),
        (2, {"loss": 0.5, "acc": 0.7}, False),
    ]
    # what the facade wrote is runlane's registry and run checkpoints on the server's store
    registry = runlane.models("bob/nlp", store=pg_store)
    assert [(v.label, v.tags) for v in registry.versions("m")] == [("1.0", ("prod",)), ("2.0", ())]
    assert [c.id for c in runlane.open(exp.id, store=pg_store).checkpoints()] == [
        checkpoint.id,
        hashlib.sha1(f"{exp.id}2".encode()).hexdigest(),
    ]
    # refusals and unknown ids are the server's, as runlane errors
    with pytest.raises(InvalidArgumentError, match="experiment"):
        model.log_metrics({"loss": 1.0})
    with pytest.raises(InvalidArgumentError, match="checkpoint"):
        checkpoint.update_metadata("k", 1)
    with pytest.raises(InvalidArgumentError, match="epoch"):
        exp.new_checkpoint(-1)
    with pytest.raises(NotFoundError):
        mbox.experiment("f" * 40)
    mbox.close()


def test_streaming_ingest_rpc_applies_each_batch_once(
    grpc_addr: str, pg_store: ServerStore
) -> None:
    info, _ = pg_store.create_run(RunSpec(owner="a", project="p", name="stream"))
    request = protos.I("WriteRequest")
    reply = protos.I("WriteReply")
    channel = grpc.insecure_channel(grpc_addr)
    write = channel.stream_stream(
        "/runlane.v1.Ingest/Write",
        request_serializer=request.SerializeToString,
        response_deserializer=reply.FromString,
    )
    batches = [
        request(
            run_id=info.id,
            batch_id=f"b{i % 2}",
            batch=encode_batch(Batch(rows={"m": [{"x": i}] * 100})),
        )
        for i in range(3)
    ]
    batches.append(request(run_id="missing-run", batch_id="b9", batch=encode_batch(Batch())))
    acks = list(write(iter(batches)))
    assert [(a.batch_id, a.applied, a.rows) for a in acks[:3]] == [
        ("b0", True, 100),
        ("b1", True, 100),
        ("b0", False, 100),
    ]
    assert acks[3].error_code == "not_found"
    assert pg_store.read_rows(info.id, "m").total == 200
    channel.close()
