"""gRPC: the rest of ModelBox's ``modelbox.ModelStore`` — models, versions, checkpoints, file
upload/download, tracked artifacts and WatchNamespace — driven by the real ``modelbox==0.0.5``
client against runlane's gRPC server on a local folder store and on PostgreSQL + SeaweedFS,
read back through runlane's own registry and run APIs and the local ModelBox facade."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
from google.protobuf import json_format

import runlane
from runlane.server.auth import tokens_for
from runlane.server.context import ServerContext
from runlane.server.grpc.server import start_grpc
from runlane.store.base import Store
from runlane.store.registry import open_store
from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from support.servers import NO_CAPTURE, ServerProcess, free_port
from support.services import Services

MiB = 1 << 20


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class Served:
    addr: str
    store: Store
    kind: str


def _serve(store: Store, **ctx: Any) -> tuple[grpc.Server, str]:
    server, port = start_grpc(ServerContext(store=store, **ctx), "127.0.0.1", 0)
    return server, f"127.0.0.1:{port}"


@pytest.fixture(params=["local", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    if request.param == "local":
        store = open_store(tmp_path / "data")
    else:
        dsn = request.getfixturevalue("dsn")
        s3 = request.getfixturevalue("s3")
        store = ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "files")
    server, addr = _serve(store)
    try:
        yield Served(addr, store, request.param)
    finally:
        server.stop(0)
        if request.param == "postgres":
            store.close()


@pytest.fixture
def mbox(served: Served) -> Iterator[Any]:
    from modelbox.modelbox import ModelBox

    client = ModelBox(served.addr)
    yield client
    client._client.close()


def stub(addr: str) -> tuple[Any, Any, grpc.Channel]:
    """The real package's ModelStore stub and messages on a channel of our own."""
    from modelbox import service_pb2, service_pb2_grpc

    channel = grpc.insecure_channel(addr)
    return service_pb2_grpc.ModelStoreStub(channel), service_pb2, channel


def rpc_code(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as failed:
        call()
    return failed.value.code()  # type: ignore[no-any-return]


def test_models_versions_and_checkpoints_read_back_through_runlane(
    served: Served, mbox: Any
) -> None:
    from modelbox.modelbox import MLFramework

    model = mbox.new_model("resnet", "alice", "vision", "classification", "image classifier")
    assert model.id == sha1("resnet" + "vision")
    assert mbox.new_model("resnet", "alice", "vision", "other", "other").id == model.id
    (listed,) = mbox.models("vision").models
    assert (listed.id, listed.owner, listed.task, listed.description) == (
        model.id,
        "alice",
        "classification",
        "image classifier",
    )
    assert mbox.models("audio").models == []
    model.update_metadata("arch", {"depth": 50})
    assert model.metadata().metadata == {"arch": {"depth": 50.0}}

    first = model.new_model_version(
        "1.0", name="first", description="baseline", unique_tags=["prod"]
    )
    assert first.id == sha1(model.id + "1.0" + "first")
    again = model.new_model_version("1.0", name="first")
    assert again.id == first.id
    second = model.new_model_version("2.0", name="second", framework=MLFramework.TENSORFLOW)
    first.update_metadata("top1", 0.76)
    assert first.metadata().metadata == {"top1": 0.76}
    # ListModelVersionsResponse.models is a single message in ModelBox's proto: the latest
    grpc_stub, pb, channel = stub(served.addr)
    latest = grpc_stub.ListModelVersions(pb.ListModelVersionsRequest(model=model.id)).models
    assert (latest.id, latest.version, latest.name, latest.framework) == (
        second.id,
        "2.0",
        "second",
        pb.KERAS,
    )

    experiment = mbox.new_experiment("yolo", "alice", "vision", "", MLFramework.PYTORCH)
    checkpoint = experiment.new_checkpoint(1, {"loss": 0.9})
    assert checkpoint.id == sha1(experiment.id + "1")
    assert experiment.new_checkpoint(1, {"loss": 0.1}).id == checkpoint.id
    experiment.new_checkpoint(2, {"loss": 0.5, "acc": 0.7})
    assert [c.epoch for c in experiment.checkpoints()] == [1, 2]
    got = grpc_stub.GetCheckpoint(pb.GetCheckpointRequest(experiment_id=experiment.id, epoch=1))
    assert (got.checkpoint.id, dict(got.checkpoint.metrics)) == (
        checkpoint.id,
        pytest.approx({"loss": 0.9}),
    )
    missing = pb.GetCheckpointRequest(experiment_id=experiment.id, epoch=7)
    assert rpc_code(lambda: grpc_stub.GetCheckpoint(missing)) == grpc.StatusCode.NOT_FOUND
    unknown = pb.CreateModelVersionRequest(model="0" * 40, version="1")
    assert rpc_code(lambda: grpc_stub.CreateModelVersion(unknown)) == grpc.StatusCode.NOT_FOUND
    # metrics belong to experiments: a model refuses them
    assert rpc_code(lambda: model.log_metrics({"x": 1.0})) == grpc.StatusCode.INVALID_ARGUMENT
    channel.close()

    # the same objects through runlane's own registry and run APIs
    registry = runlane.models("alice/vision", store=served.store)
    assert registry.get("resnet").id == model.id
    assert registry.get("resnet").metadata == {"arch": {"depth": 50.0}}
    versions = registry.versions("resnet")
    assert [(v.version, v.label, v.framework) for v in versions] == [
        ("v0", "1.0", "pytorch"),  # the client's default framework
        ("v1", "2.0", "tensorflow"),
    ]
    assert versions[0].tags == ("prod",) and versions[0].metadata == {"top1": 0.76}
    stored = runlane.open(experiment.id, store=served.store).checkpoints()
    assert [(c.id, c.epoch, c.metrics) for c in stored] == [
        (checkpoint.id, 1, {"loss": 0.9}),
        (sha1(experiment.id + "2"), 2, {"loss": 0.5, "acc": 0.7}),
    ]


def test_grpc_and_the_local_facade_share_one_mapping(tmp_path: Path) -> None:
    from modelbox.modelbox import ModelBox

    from runlane.compat.modelbox import ModelBox as Facade

    store = open_store(tmp_path / "data")
    server, addr = _serve(store)
    try:
        remote = ModelBox(addr)
        model = remote.new_model("bert", "bob", "nlp", "qa", "")
        model.new_model_version("1", name="a")
        local = Facade(dir=tmp_path / "data")
        (seen,) = local.models("nlp").models
        assert (seen.id, seen.task) == (model.id, "qa")
        seen.new_model_version("2", name="b")
        assert [v.version for v in seen.model_versions()] == ["1", "2"]
        seen.update_metadata("owner", "team-x")
        assert model.metadata().metadata == {"owner": "team-x"}
        experiment = local.new_experiment("run", "bob", "nlp", "", local_framework())
        local_checkpoint = experiment.new_checkpoint(3, {"f1": 0.5})
        (listed,) = remote.experiment(experiment.id).checkpoints()
        assert (listed.id, listed.epoch) == (local_checkpoint.id, 3)
        local.close()
        remote._client.close()
    finally:
        server.stop(0)


def local_framework() -> Any:
    from runlane.compat.modelbox import MLFramework

    return MLFramework.PYTORCH


def test_upload_download_track_and_list_files(served: Served, mbox: Any, tmp_path: Path) -> None:
    from modelbox.modelbox import ArtifactMime, MLFramework

    data = os.urandom(3 * MiB + 123)
    source = tmp_path / "weights.pt"
    source.write_bytes(data)
    experiment = mbox.new_experiment("train", "alice", "vision", "", MLFramework.PYTORCH)
    (file_id,) = experiment.upload_artifact([str(source)]).artifact_ids.values()
    assert file_id == sha1(experiment.id + str(source))
    out = tmp_path / "back.pt"
    answer = experiment.download_artifact(file_id, str(out))
    assert out.read_bytes() == data
    assert answer.checksum == hashlib.md5(data).hexdigest()

    notes = tmp_path / "notes.txt"
    notes.write_text("kept by the client")
    assert experiment.track_artifacts([str(notes)]).num_artifacts_tracked == 1
    listed = experiment.artifacts
    assert [(a.path, a.parent, a.id) for a in listed] == [
        (str(source), experiment.id, file_id),
        (str(notes), experiment.id, sha1(experiment.id + str(notes))),
    ]
    assert listed[1].checksum == hashlib.md5(b"kept by the client").hexdigest()
    assert listed[1].mime_type is ArtifactMime.Unknown
    tracked_only = tmp_path / "never.txt"
    assert (
        rpc_code(lambda: experiment.download_artifact(listed[1].id, str(tracked_only)))
        == grpc.StatusCode.NOT_FOUND
    )
    # a checksum that does not match the bytes stores nothing
    bad = lambda: mbox._client.upload_artifact(experiment.id, str(notes), "0" * 32, 3)  # noqa: E731
    assert rpc_code(bad) == grpc.StatusCode.INVALID_ARGUMENT
    assert len(experiment.artifacts) == 2
    # the upload is an artifact of the run
    (record,) = runlane.open(experiment.id, store=served.store).artifacts
    assert (record.name, record.path, record.sha256, record.size) == (
        "weights.pt",
        f"outputs/modelbox/{file_id}/weights.pt",
        hashlib.sha256(data).hexdigest(),
        len(data),
    )

    # a model version's file is the registry version's file
    model = mbox.new_model("resnet", "alice", "vision", "t", "")
    version = model.new_model_version("1.0", name="first")
    version.upload_artifact([str(source)])
    registry_version = runlane.models("alice/vision", store=served.store).version("resnet", "1.0")
    assert registry_version.sha256 == hashlib.sha256(data).hexdigest()
    written = registry_version.download(tmp_path / "from-registry")
    assert written.read_bytes() == data
    assert [a.path for a in version.artifacts] == [str(source)]
    model.track_artifacts([str(notes)])
    (listed_model,) = [m for m in mbox.models("vision").models if m.id == model.id]
    assert [(a.path, a.parent) for a in listed_model._artifacts] == [(str(notes), model.id)]
    if served.kind == "postgres":  # the bytes went to the server's S3 object store
        assert isinstance(served.store, ServerStore)
        location = served.store.objects.location  # type: ignore[attr-defined]
        prefix = f"{location.prefix.rstrip('/')}/artifacts"
        assert registry_version.storage == f"s3://{location.bucket}/{prefix}"
        assert blob_keys(location) == {f"{prefix}/{e.key}" for e in registry_version.files}
    else:  # a stored file that no longer matches its sha256 fails the download
        run_dir = Path(str(served.store.run_path(experiment.id)))
        (run_dir / record.path).write_bytes(os.urandom(len(data)))
        with pytest.raises(grpc.RpcError):
            experiment.download_artifact(file_id, str(tmp_path / "corrupt.pt"))


def test_a_model_version_gathers_its_uploaded_files(tmp_path: Path) -> None:
    from modelbox.modelbox import ModelBox

    store = open_store(tmp_path / "data")
    server, addr = _serve(store)
    try:
        mbox = ModelBox(addr)
        version = mbox.new_model("gpt", "dan", "lm", "t", "").new_model_version("1", name="x")
        files = {"config.json": b'{"layers": 2}', "weights.bin": os.urandom(4096)}
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
            version.upload_artifact([str(tmp_path / name)])
        (tmp_path / "weights.bin").write_bytes(b"retrained")  # same path: replaces the file
        version.upload_artifact([str(tmp_path / "weights.bin")])
        found = runlane.models("dan/lm", store=store).version("gpt", "1")
        folder = found.download(tmp_path / "out")
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == {
            "config.json": b'{"layers": 2}',
            "weights.bin": b"retrained",
        }
        # a version whose files a run logged keeps them where the run put them
        run = runlane.init("dan/lm", store=store, **NO_CAPTURE)
        run.log_model(tmp_path / "config.json", name="gpt")
        run.finish()
        (logged,) = [m for m in mbox.models("lm").models]
        grpc_stub, pb, channel = stub(addr)
        latest = grpc_stub.ListModelVersions(pb.ListModelVersionsRequest(model=logged.id)).models
        assert latest.version == "v1"  # registered by the run, no ModelBox label
        upload = mbox._client.upload_artifact
        refused = lambda: upload(latest.id, str(tmp_path / "config.json"), "", 0)  # noqa: E731
        assert rpc_code(refused) == grpc.StatusCode.INVALID_ARGUMENT
        channel.close()
        mbox._client.close()
    finally:
        server.stop(0)


def blob_keys(location: S3Location) -> set[str]:
    client = boto3.client(
        "s3",
        endpoint_url=location.endpoint,
        aws_access_key_id=location.access_key,
        aws_secret_access_key=location.secret_key,
        region_name=location.region,
    )
    found = client.list_objects_v2(
        Bucket=location.bucket, Prefix=f"{location.prefix.rstrip('/')}/artifacts/blobs/"
    )
    return {item["Key"] for item in found.get("Contents", [])}


class Watcher:
    """A WatchNamespace stream consumed by a thread, its events in a queue."""

    def __init__(self, addr: str, namespace: str, since_ms: int, token: str | None = None):
        grpc_stub, pb, self.channel = stub(addr)
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.call = grpc_stub.WatchNamespace(
            pb.WatchNamespaceRequest(namespace=namespace, since=since_ms), metadata=metadata
        )
        self.events: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for change in self.call:
                self.events.put((change.event, json_format.MessageToDict(change.payload)))
        except grpc.RpcError as exc:
            self.error = exc

    def until(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                event, payload = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(payload)
            if wanted(payload):
                return event, payload, seen
        raise AssertionError(f"no matching change within {timeout}s; saw {seen}")

    def close(self) -> None:
        self.call.cancel()
        self.thread.join(10)
        self.channel.close()


def test_watch_namespace_streams_what_is_created_after_it_starts(served: Served, mbox: Any) -> None:
    from modelbox.modelbox import MLFramework

    mbox.new_experiment("old", "alice", "vision", "", MLFramework.PYTORCH)
    time.sleep(0.01)
    watcher = Watcher(served.addr, "vision", int(time.time() * 1000))
    try:
        fresh = mbox.new_experiment("fresh", "alice", "vision", "", MLFramework.PYTORCH)
        mbox.new_experiment("elsewhere", "alice", "audio", "", MLFramework.PYTORCH)
        event, payload, seen = watcher.until(lambda p: p.get("type") == "experiment")
        assert event == 1  # OBJECT_CREATED
        assert (payload["id"], payload["name"], payload["owner"]) == (fresh.id, "fresh", "alice")
        fresh.update_metadata("lr", 0.1)
        _, payload, _ = watcher.until(lambda p: p.get("type") == "metadata")
        assert (payload["parent_id"], payload["key"], payload["value"]) == (fresh.id, "lr", 0.1)
        fresh.update_metadata("lr", 0.2)
        event, payload, _ = watcher.until(lambda p: p.get("type") == "metadata")
        assert (event, payload["value"]) == (2, 0.2)  # OBJECT_UPDATED
        model = mbox.new_model("m", "alice", "vision", "t", "")
        _, payload, _ = watcher.until(lambda p: p.get("type") == "model")
        assert payload["id"] == model.id
        version = model.new_model_version("1", name="v")
        _, payload, _ = watcher.until(lambda p: p.get("type") == "model_version")
        assert (payload["id"], payload["model_id"]) == (version.id, model.id)
        checkpoint = fresh.new_checkpoint(4, {"loss": 0.5})
        _, payload, seen = watcher.until(lambda p: p.get("type") == "checkpoint")
        assert (payload["id"], payload["epoch"]) == (checkpoint.id, 4.0)
        assert all(p.get("name") not in ("old", "elsewhere") for p in seen)
    finally:
        watcher.close()
    assert watcher.error is not None and watcher.error.code() == grpc.StatusCode.CANCELLED


def test_watch_sees_changes_made_through_another_replica(
    dsn: str, s3: S3Location, tmp_path: Path
) -> None:
    from modelbox.modelbox import MLFramework, ModelBox

    stores = [
        ServerStore(dsn, objects=S3Objects(s3), files_root=tmp_path / "files") for _ in range(2)
    ]
    servers = [_serve(store) for store in stores]
    watcher = Watcher(servers[0][1], "vision", int(time.time() * 1000))
    try:
        other = ModelBox(servers[1][1])
        made = other.new_experiment("far", "alice", "vision", "", MLFramework.UNKNOWN)
        _, payload, _ = watcher.until(lambda p: p.get("type") == "experiment")
        assert payload["id"] == made.id
        other._client.close()
    finally:
        watcher.close()
        for server, _ in servers:
            server.stop(0)
        for store in stores:
            store.close()


def test_tokens_isolate_projects(pg_store: ServerStore, tmp_path: Path) -> None:
    tokens = tokens_for(pg_store)
    alice, _ = tokens.create("alice/vision", "write")
    bob, _ = tokens.create("bob/audio", "write")
    server, addr = _serve(pg_store, tokens=tokens)
    grpc_stub, pb, channel = stub(addr)

    def as_(token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    try:
        model_id = grpc_stub.CreateModel(
            pb.CreateModelRequest(name="m", owner="alice", namespace="vision"),
            metadata=as_(alice),
        ).id
        experiment_id = grpc_stub.CreateExperiment(
            pb.CreateExperimentRequest(name="e", owner="alice", namespace="vision"),
            metadata=as_(alice),
        ).experiment_id
        denied = grpc.StatusCode.PERMISSION_DENIED
        create = pb.CreateModelRequest(name="m", owner="alice", namespace="vision")
        assert rpc_code(lambda: grpc_stub.CreateModel(create, metadata=as_(bob))) == denied
        version = pb.CreateModelVersionRequest(model=model_id, version="1")
        assert rpc_code(lambda: grpc_stub.CreateModelVersion(version, metadata=as_(bob))) == denied
        listing = pb.ListMetadataRequest(parent_id=model_id)
        assert rpc_code(lambda: grpc_stub.ListMetadata(listing, metadata=as_(bob))) == denied
        checkpoint = pb.CreateCheckpointRequest(experiment_id=experiment_id, epoch=1)
        assert rpc_code(lambda: grpc_stub.CreateCheckpoint(checkpoint, metadata=as_(bob))) == denied
        frames = iter(
            [
                pb.UploadFileRequest(
                    metadata=pb.FileMetadata(parent_id=experiment_id, path="/x/a.bin")
                ),
                pb.UploadFileRequest(chunks=b"data"),
            ]
        )
        assert rpc_code(lambda: grpc_stub.UploadFile(frames, metadata=as_(bob))) == denied
        frames = iter(
            [
                pb.UploadFileRequest(
                    metadata=pb.FileMetadata(parent_id=experiment_id, path="/x/a.bin")
                ),
                pb.UploadFileRequest(chunks=b"data"),
            ]
        )
        file_id = grpc_stub.UploadFile(frames, metadata=as_(alice)).file_id
        download = pb.DownloadFileRequest(file_id=file_id)
        chunks = [f.chunks for f in grpc_stub.DownloadFile(download, metadata=as_(alice))]
        assert b"".join(chunks) == b"data"
        assert rpc_code(lambda: list(grpc_stub.DownloadFile(download, metadata=as_(bob)))) == denied
        track = pb.TrackArtifactsRequest(
            files=[pb.FileMetadata(parent_id=experiment_id, path="/x/b.bin")]
        )
        assert rpc_code(lambda: grpc_stub.TrackArtifacts(track, metadata=as_(bob))) == denied
        files = pb.ListArtifactsRequest(parent_id=experiment_id)
        assert [f.id for f in grpc_stub.ListArtifacts(files, metadata=as_(alice)).files] == [
            file_id
        ]
        assert rpc_code(lambda: grpc_stub.ListArtifacts(files, metadata=as_(bob))) == denied
        listed = grpc_stub.ListModels(pb.ListModelsRequest(namespace="vision"), metadata=as_(bob))
        assert list(listed.models) == []
        watch = Watcher(addr, "vision", 0, token=bob)
        watch.thread.join(10)
        assert watch.error is not None and watch.error.code() == denied
        watch.channel.close()
        no_token = pb.ListModelsRequest(namespace="vision")
        assert rpc_code(lambda: grpc_stub.ListModels(no_token)) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()
        server.stop(0)


def test_runlane_server_subprocess_keeps_uploads_in_s3(
    dsn: str,
    s3: S3Location,
    svc: Services,
    server_process: Callable[..., ServerProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelbox.modelbox import ModelBox

    keys = {"AWS_ACCESS_KEY_ID": svc.access_key, "AWS_SECRET_ACCESS_KEY": svc.secret_key}
    files = tmp_path / "server-files"
    port = free_port()
    server_process(
        "--store",
        dsn,
        "--artifacts",
        f"s3://{s3.bucket}/{s3.prefix}",
        "--s3-endpoint",
        svc.s3_endpoint,
        "--files",
        str(files),
        "--grpc-port",
        str(port),
        env=keys,
    )
    data = os.urandom(2 * MiB)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    mbox = ModelBox(f"127.0.0.1:{port}")
    model = mbox.new_model("detector", "carol", "robotics", "detection", "")
    version = model.new_model_version("0.1", name="alpha")
    (file_id,) = version.upload_artifact([str(source)]).artifact_ids.values()
    back = tmp_path / "back.bin"
    version.download_artifact(file_id, str(back))
    assert back.read_bytes() == data
    mbox._client.close()
    assert len(blob_keys(s3)) == 1
    # another process reads the gRPC-created model through runlane's registry API
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    reader = ServerStore(dsn, files_root=files)
    try:
        found = runlane.models("carol/robotics", store=reader).version("detector", "0.1")
        assert found.download(tmp_path / "read").read_bytes() == data
    finally:
        reader.close()
