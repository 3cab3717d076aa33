"""S3Storage and S3-backed runs against a real SeaweedFS (``weed mini`` on loopback)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import runlane
from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    ChecksumMismatchError,
    FileChangedError,
)
from runlane.artifacts.s3 import S3Storage
from runlane.artifacts.storage import blob_key, open_storage
from runlane.errors import StoreError
from runlane.sdk.run import Run
from support.files import sha
from support.seaweed import SeaweedServer

Write = Callable[..., Path]


def objects(weed: SeaweedServer, prefix: str) -> dict[str, int]:
    client = weed.client()
    found = client.list_objects_v2(Bucket=weed.bucket, Prefix=prefix + "/").get("Contents", [])
    return {item["Key"][len(prefix) + 1 :]: item["Size"] for item in found}


def test_small_put_get_and_checksum_metadata(
    s3: S3Storage, weed: SeaweedServer, tmp_path: Path
) -> None:
    source = tmp_path / "small.txt"
    source.write_bytes(b"hello s3")
    stored = s3.put_file(source, "outputs/small.txt")
    assert (stored.size, stored.sha256) == (8, sha(b"hello s3"))
    head = weed.client().head_object(Bucket=weed.bucket, Key=f"{s3.prefix}/outputs/small.txt")
    assert head["Metadata"]["sha256"] == sha(b"hello s3")
    dest = tmp_path / "dl" / "small.txt"
    assert s3.get_file(stored.key, dest, sha256=stored.sha256) == 8
    assert dest.read_bytes() == b"hello s3"
    assert s3.exists("outputs/small.txt") and not s3.exists("outputs/none")


def test_content_addressed_blobs_upload_once(
    s3: S3Storage, weed: SeaweedServer, tmp_path: Path
) -> None:
    one, two = tmp_path / "a.bin", tmp_path / "b.bin"
    data = os.urandom(2000)
    one.write_bytes(data)
    two.write_bytes(data)
    first = s3.put_blob(one)
    second = s3.put_blob(two)
    assert first.key == second.key == blob_key(sha(data))
    assert (first.existed, second.existed) == (False, True)
    assert objects(weed, s3.prefix) == {blob_key(sha(data)): 2000}
    assert s3.put_bytes(data).existed


def test_multipart_upload_of_a_large_file(
    s3: S3Storage, weed: SeaweedServer, tmp_path: Path
) -> None:
    data = os.urandom((12 << 20) + 4321)  # 3 parts of 5 MiB
    source = tmp_path / "large.bin"
    source.write_bytes(data)
    stored = s3.put_blob(source)
    assert stored.sha256 == sha(data) and stored.size == len(data)
    head = weed.client().head_object(
        Bucket=weed.bucket, Key=f"{s3.prefix}/{stored.key}", ChecksumMode="ENABLED"
    )
    assert head["ContentLength"] == len(data) and head["Metadata"]["sha256"] == sha(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object of three parts
    dest = tmp_path / "back.bin"
    s3.get_file(stored.key, dest, sha256=stored.sha256)
    assert dest.read_bytes() == data


def test_a_changed_file_aborts_the_upload(
    s3: S3Storage, weed: SeaweedServer, tmp_path: Path
) -> None:
    source = tmp_path / "changing.bin"
    source.write_bytes(os.urandom(11 << 20))
    os.utime(source, (1_000_000_000, 1_000_000_000))
    touched: list[int] = []

    def modify(done: int) -> None:
        if not touched:
            touched.append(done)
            with open(source, "r+b") as fh:
                fh.seek(9 << 20)
                fh.write(b"CHANGED")

    with pytest.raises(FileChangedError, match="changed while"):
        s3.put_file(source, "outputs/changing.bin", progress=modify)
    assert objects(weed, s3.prefix) == {}
    uploads = weed.client().list_multipart_uploads(Bucket=weed.bucket, Prefix=s3.prefix)
    assert uploads.get("Uploads", []) == []


def test_put_blob_detects_a_change_between_hash_and_upload(
    s3: S3Storage, weed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "swap.bin"
    source.write_bytes(b"a" * 1000)
    upload = s3._upload

    def upload_after_change(src: Path, key: str, *, expected: str | None, progress: Any) -> Any:
        src.write_bytes(b"b" * 1000)  # same size, new content, after put_blob hashed it
        return upload(src, key, expected=expected, progress=progress)

    monkeypatch.setattr(s3, "_upload", upload_after_change)
    with pytest.raises(FileChangedError, match="sha256"):
        s3.put_blob(source)
    assert objects(weed, s3.prefix) == {}


def test_download_verifies_the_hash(s3: S3Storage, weed: SeaweedServer, tmp_path: Path) -> None:
    stored = s3.put_bytes(b"original", "outputs/x.txt")
    weed.client().put_object(Bucket=weed.bucket, Key=f"{s3.prefix}/outputs/x.txt", Body=b"tampered")
    dest = tmp_path / "dl" / "x.txt"
    with pytest.raises(ChecksumMismatchError, match="recorded"):
        s3.get_file(stored.key, dest, sha256=stored.sha256)
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(ArtifactNotFoundError):
        s3.get_file("outputs/missing", dest)


def test_server_verifies_the_sent_checksum(s3: S3Storage, weed: SeaweedServer) -> None:
    bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(Exception, match="BadDigest"):
        weed.client().put_object(
            Bucket=weed.bucket, Key=f"{s3.prefix}/bad", Body=b"data", ChecksumSHA256=bad
        )


def test_wrong_credentials_are_a_store_error(
    weed: SeaweedServer, s3_uri: str, tmp_path: Path
) -> None:
    storage = S3Storage(
        s3_uri,
        endpoint_url=weed.endpoint_url,
        access_key=weed.access_key,
        secret_key="wrong-secret",
    )
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(StoreError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKey"):
        storage.put_file(source, "outputs/f.txt")


def test_run_logs_everything_to_s3(
    run: Run,
    s3: S3Storage,
    weed: SeaweedServer,
    write: Write,
    src: Path,
    root: Path,
    tmp_path: Path,
) -> None:
    import numpy as np

    run.use_artifact_storage(s3)
    write("data/a.txt", "alpha")
    write("data/b.txt", "alpha")  # same content: one blob
    folder = run.log_artifact(src / "data")
    model = run.log_model(write("net.pt", b"weights"), framework="pytorch")
    image = run.log_image(np.zeros((2, 2, 3), dtype=np.uint8), "img", step=1)
    version = run.log_artifact(runlane.Artifact("ds", "dataset").add_dir(src / "data"))
    run.finish()
    assert folder.storage == model.storage == s3.uri
    assert not (Path(run.path or "") / "outputs").exists()  # bytes went to S3 only
    keys = objects(weed, s3.prefix)
    assert set(keys) == {blob_key(sha(b"alpha")), blob_key(sha(b"weights")), image.files[0].key}
    view = runlane.open(run.id, dir=root)
    out = view.artifacts.download("data", dest=tmp_path / "dl")
    assert (out / "a.txt").read_text() == (out / "b.txt").read_text() == "alpha"
    assert np.array_equal(view.asset("img", 1).image(), np.zeros((2, 2, 3), dtype=np.uint8))
    got = runlane.models("tester/arts", dir=root).version("net.pt").download(tmp_path / "m")
    assert got.read_bytes() == b"weights"
    assert version.storage == s3.uri
    assert (
        runlane.artifact("ds", "tester/arts", dir=root).download(tmp_path / "v") / "data/b.txt"
    ).read_text() == "alpha"


def test_storage_from_the_environment(
    new_run: Callable[..., Run],
    s3_env: SeaweedServer,
    s3_uri: str,
    write: Write,
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLANE_ARTIFACTS", s3_uri)
    run = new_run("tester/arts", name="env")
    record = run.log_artifact(write("cfg.yaml", "a: 1\n"))
    run.finish()
    assert record.storage == s3_uri and record.endpoint_url == s3_env.endpoint_url
    monkeypatch.delenv("RUNLANE_ARTIFACTS")
    from runlane.artifacts.storage import forget_storages

    forget_storages()  # a fresh reader: finds the storage from the record and the env
    out = runlane.open(run.id, dir=root).artifacts.download("cfg.yaml", dest=tmp_path)
    assert out.read_text() == "a: 1\n"
    assert isinstance(open_storage(s3_uri), S3Storage)


def test_an_interrupted_upload_leaves_no_version(
    run: Run, s3: S3Storage, weed: SeaweedServer, src: Path, root: Path
) -> None:
    big = src / "big.bin"
    big.write_bytes(os.urandom(11 << 20))
    run.use_artifact_storage(s3)

    def interrupt(done: int) -> None:
        if done >= 6 << 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run.log_artifact(runlane.Artifact("huge").add_file(big), progress=interrupt)
    assert objects(weed, s3.prefix) == {}
    assert not list((root / "tester/arts/.artifacts/names").glob("huge/v*.json"))
    assert len(run.artifacts) == 0
    uploads = weed.client().list_multipart_uploads(Bucket=weed.bucket, Prefix=s3.prefix)
    assert uploads.get("Uploads", []) == []
