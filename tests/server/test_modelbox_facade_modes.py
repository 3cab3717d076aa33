"""The ModelBox facade gives the same results in local mode (``ModelBox()``) and in gRPC mode
(``ModelBox(addr)`` against runlane's gRPC server): one sequence — seed 002's examples as the
seed writes them, then checkpoints, models, model versions and the refusals of the mapping —
runs in both modes, and the answers are compared value for value and type for type (the
``repr`` of each answer, JSON object keys sorted). The server is a ``runlane server
--grpc-port`` subprocess over a folder store, or runlane's gRPC server on PostgreSQL + S3
(``pg_store``)."""

# ruff: noqa: E501 - the seed's examples are kept as the seed writes them
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import astuple, is_dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

import runlane
from runlane.compat.modelbox import Event, EventSource, MLFramework, ModelBox
from runlane.compat.modelbox.remote import GrpcBackend
from runlane.errors import InvalidArgumentError, NotFoundError, RunlaneError
from runlane.server.context import ServerContext
from runlane.server.grpc.protos import M
from runlane.server.grpc.server import start_grpc
from runlane.store.registry import open_store
from runlane.store.server import ServerStore
from support.servers import ServerProcess, free_port


def _recent(at: float) -> bool:
    return abs(at - time.time()) < 120


def canonical(value: Any) -> Any:
    """``value`` with its JSON objects' keys sorted (protobuf maps and Structs keep no key
    order) and dataclasses as ``(class name, fields)``, so ``repr`` tells types apart."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, canonical(astuple(value)))
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return type(value)(canonical(v) for v in value)
    return value


def _outcome(call: Callable[[], object]) -> str:
    """``ok`` or the runlane error a call raised (its type: messages are each side's own)."""
    try:
        call()
    except RunlaneError as exc:
        return type(exc).__name__
    return "ok"


def sequence(mbox: ModelBox) -> dict[str, Any]:
    """Seed 002's examples, then the rest of the facade; what each call answered."""
    seen: dict[str, Any] = {}
    # fmt: off
    experiment = mbox.new_experiment(
                name="yolo-v4", owner="foo@bar.com", namespace="cv", external_id="ext1", framework=MLFramework.PYTORCH
            )
    result = experiment.update_metadata(key="hyperparams", value={"fc_layers": 3, "lr": 0.0002})
    experiment.log_metrics(metrics={'loss': 2.4, 'accu': 97.6}, step=10, wallclock=12345)
    experiment.log_event(Event(name="checkpoint_started", source=EventSource(name="trainer"), wallclock_time = 12000 , metadata={"chk_size": 2345}))
    experiment.log_event(Event(name="checkpoint_finish", source=EventSource(name="trainer"), wallclock_time = 12500 , metadata={"write_speed": 2000}))
    # fmt: on
    seen["updated_at is now"] = _recent(result.updated_at)
    experiment.log_metrics({"loss": 1.2, "label": "cat", "tensor": b"\x00\x01"}, 11, 12346)
    experiment.update_metadata("hyperparams", {"fc_layers": 4, "dropout": [0.1, 0.2]})
    experiment.update_metadata("notes", "second try")
    again = mbox.new_experiment("yolo-v4", "foo@bar.com", "cv", "ext1", MLFramework.PYTORCH)
    mbox.new_experiment("bert", "foo@bar.com", "nlp", "", MLFramework.TENSORFLOW)
    seen["experiments"] = [
        (e.id, e.name, e.owner, e.namespace, e.external_id, e.framework, e.exists)
        for e in (experiment, again, mbox.experiment(experiment.id))
    ]
    seen["experiment times are now"] = [
        _recent(e.created_at) and _recent(e.updated_at) for e in (experiment, again)
    ]
    seen["experiments of cv"] = [(e.id, e.name) for e in mbox.experiments("cv").experiments]
    seen["metadata"] = experiment.metadata().metadata
    seen["metrics"] = experiment.all_metrics()
    seen["events"] = experiment.events()

    first = experiment.new_checkpoint(1, {"loss": 0.9})
    second = experiment.new_checkpoint(2, {"loss": 0.5, "acc": 0.7})
    kept = experiment.new_checkpoint(1, {"loss": 0.1})
    seen["checkpoints"] = [
        (c.id, c.experiment_id, c.epoch, c.metrics, c.exists)
        for c in (first, second, kept, *experiment.checkpoints())
    ]

    model = mbox.new_model(
        "yolo",
        "foo@bar.com",
        "cv",
        "detection",
        "detector",
        metadata={"arch": "darknet", "layers": 53},
    )
    same = mbox.new_model("yolo", "foo@bar.com", "cv", "other", "other")
    mbox.new_model("vit", "bar@baz.com", "cv", "classification", "")
    model.update_metadata("eval", {"map": 0.5})
    v1 = model.new_model_version(
        "1.0", name="first", description="baseline", unique_tags=["prod"], metadata={"epochs": 30}
    )
    v2 = model.new_model_version("2.0", name="second", framework=MLFramework.TENSORFLOW)
    v1_again = model.new_model_version("1.0", name="first", description="ignored")
    v1.update_metadata("top1", 0.76)
    seen["models"] = [
        (m.id, m.name, m.owner, m.namespace, m.task, m.description, m.exists)
        for m in (model, same, *mbox.models("cv").models, *mbox.models("nlp").models)
    ]
    seen["model metadata"] = model.metadata().metadata
    seen["versions"] = [
        (v.id, v.model_id, v.name, v.version, v.description, v.unique_tags, v.framework, v.exists)
        for v in (v1, v2, v1_again, *model.model_versions())
    ]
    seen["version metadata"] = [v.metadata().metadata for v in (v1, v2)]
    seen["refused"] = {
        "metrics of a model": _outcome(lambda: model.log_metrics({"x": 1.0})),
        "metrics of a checkpoint": _outcome(first.all_metrics),
        "events of a version": _outcome(v1.events),
        "metadata of a checkpoint": _outcome(lambda: first.update_metadata("k", 1)),
        "unknown experiment": _outcome(lambda: mbox.experiment("f" * 40)),
        "negative epoch": _outcome(lambda: experiment.new_checkpoint(-1)),
        "metric that is no number": _outcome(lambda: experiment.new_checkpoint(3, {"x": "a"})),
        "namespace with a slash": _outcome(lambda: mbox.new_model("m", "o", "a/b", "t", "")),
    }
    return seen


@pytest.fixture(params=["folder", "postgres"])
def grpc_addr(
    request: pytest.FixtureRequest, tmp_path: Path, server_process: Callable[..., ServerProcess]
) -> Iterator[str]:
    """A runlane gRPC server: ``runlane server`` over a folder, or in-thread over PostgreSQL."""
    if request.param == "folder":
        port = free_port()
        server_process("--store", str(tmp_path / "served"), "--grpc-port", str(port))
        yield f"127.0.0.1:{port}"
        return
    store: ServerStore = request.getfixturevalue("pg_store")
    server, port = start_grpc(ServerContext(store=store), "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def test_local_and_grpc_modes_give_the_same_results(grpc_addr: str, tmp_path: Path) -> None:
    local = ModelBox(dir=tmp_path / "local")
    remote = ModelBox(grpc_addr)
    try:
        expected = sequence(local)
        got = sequence(remote)
    finally:
        local.close()
        remote.close()
    assert expected["updated_at is now"] and all(expected["experiment times are now"])
    assert all(outcome != "ok" for outcome in expected["refused"].values())
    assert len(expected["versions"]) == 5 and len(expected["checkpoints"]) == 5
    for key in expected:
        assert repr(canonical(got[key])) == repr(canonical(expected[key])), key
    # the local side really is the local store
    assert [
        v.label for v in runlane.models("foo@bar.com/cv", dir=tmp_path / "local").versions("yolo")
    ] == ["1.0", "2.0"]


def test_modelbox_clients_see_only_the_latest_version(tmp_path: Path) -> None:
    """runlane's extension of ListModelVersionsResponse is invisible to ModelBox's own client:
    field 1 holds the latest version alone (its tags and metadata unmixed with older ones)."""
    from modelbox import service_pb2, service_pb2_grpc

    server, port = start_grpc(ServerContext(store=open_store(tmp_path / "data")), "127.0.0.1", 0)
    try:
        mbox = ModelBox(f"127.0.0.1:{port}")
        model = mbox.new_model("m", "o", "cv", "t", "")
        model.new_model_version("1", name="a", unique_tags=["old"], metadata={"k": 1})
        latest = model.new_model_version("2", name="b", unique_tags=["new"])
        assert [v.unique_tags for v in model.model_versions()] == [["old"], ["new"]]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = service_pb2_grpc.ModelStoreStub(channel)
            answer = stub.ListModelVersions(service_pb2.ListModelVersionsRequest(model=model.id))
        assert (answer.models.id, list(answer.models.unique_tags)) == (latest.id, ["new"])
        assert dict(answer.models.metadata.metadata) == {}
        mbox.close()
    finally:
        server.stop(0)


def test_a_server_without_runlane_extensions_gives_the_latest_version_and_status_errors() -> None:
    """Against a plain ModelStore (no versions field, no wire code in the trailers) the backend
    lists what field 1 holds and maps the gRPC status to the runlane error."""

    def list_versions(request: Any, context: grpc.ServicerContext) -> Any:
        if request.model == "missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "no model 'missing'")
        if request.model == "bad":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad model id")
        latest = M("ModelVersion")(id="v2", model_id=request.model, version="2", framework=2)
        return M("ListModelVersionsResponse")(models=latest)

    handler = grpc.unary_unary_rpc_method_handler(
        list_versions,
        request_deserializer=M("ListModelVersionsRequest").FromString,
        response_serializer=M("ListModelVersionsResponse").SerializeToString,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "modelbox.ModelStore", {"ListModelVersions": handler}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    backend = GrpcBackend(f"127.0.0.1:{port}")
    try:
        (only,) = backend.list_model_versions("m")
        assert (only.id, only.model_id, only.version, only.framework) == (
            "v2",
            "m",
            "2",
            "tensorflow",
        )
        with pytest.raises(NotFoundError, match="missing"):
            backend.list_model_versions("missing")
        with pytest.raises(InvalidArgumentError, match="bad model id"):
            backend.list_model_versions("bad")
    finally:
        backend.close()
        server.stop(0)
