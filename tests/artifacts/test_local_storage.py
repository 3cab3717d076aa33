"""LocalStorage and the streaming copy: hashes, atomicity, change detection, bounded memory."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from runlane.artifacts.errors import (
    ArtifactNotFoundError,
    ChecksumMismatchError,
    FileChangedError,
    SourceNotFoundError,
)
from runlane.artifacts.local import LocalStorage
from runlane.artifacts.storage import blob_key, open_storage
from runlane.artifacts.transfer import HashingReader, hash_file
from runlane.errors import InvalidArgumentError
from support.files import sha


def visible_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.parts)
    )


def test_put_file_copies_and_hashes(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    storage = LocalStorage(tmp_path / "store")
    stored = storage.put_file(source, "outputs/a/in.bin")
    assert (stored.size, stored.sha256, stored.existed) == (len(data), sha(data), False)
    assert (tmp_path / "store/outputs/a/in.bin").read_bytes() == data
    assert not [p for p in (tmp_path / "store/outputs/a").iterdir() if p.name.startswith(".")]


def test_put_blob_stores_identical_content_once(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"same bytes")
    second.write_bytes(b"same bytes")
    one = storage.put_blob(first)
    two = storage.put_blob(second)
    assert one.key == two.key == blob_key(sha(b"same bytes"))
    assert (one.existed, two.existed) == (False, True)
    assert visible_files(tmp_path / "store") == [one.key]
    assert storage.put_bytes(b"same bytes").existed


def test_streamed_copy_of_a_multi_chunk_file(tmp_path: Path) -> None:
    data = os.urandom(5 * 65536 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    seen: list[int] = []
    with HashingReader(source, chunk_size=65536, progress=seen.append) as reader:
        copied = b"".join(bytes(chunk) for chunk in reader.chunks())
        digest, size = reader.finish()
    assert (copied, digest, size) == (data, sha(data), len(data))
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) == 6


def test_copy_memory_stays_bounded(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as fh:
        for _ in range(48):
            fh.write(os.urandom(1 << 20))
    storage = LocalStorage(tmp_path / "store")
    tracemalloc.start()
    try:
        stored = storage.put_blob(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 48 << 20
    assert peak < 16 << 20, f"copying 48 MB allocated {peak / 2**20:.1f} MB at peak"
    assert hash_file(source)[0] == stored.sha256


def test_a_file_changed_while_copied_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    source = tmp_path / "growing.log"
    source.write_bytes(os.urandom(6 << 20))
    os.utime(source, (1_000_000_000, 1_000_000_000))
    storage = LocalStorage(tmp_path / "store")

    def append_once(done: int) -> None:
        if done <= 4 << 20:
            with open(source, "ab") as fh:
                fh.write(b"more")

    with pytest.raises(FileChangedError, match=r"growing.log.*changed while"):
        storage.put_file(source, "outputs/growing.log", progress=append_once)
    assert not (tmp_path / "store/outputs").exists() or not list(
        (tmp_path / "store/outputs").iterdir()
    )
    with pytest.raises(FileChangedError):
        storage.put_blob(source, progress=append_once)
    assert visible_files(tmp_path / "store") == []


def test_missing_source_is_a_file_not_found_error_naming_the_path(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError) as caught:
        storage.put_file(missing, "outputs/nope.bin")
    assert isinstance(caught.value, SourceNotFoundError)
    assert caught.value.filename == str(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(InvalidArgumentError, match="is a folder"):
        storage.put_file(tmp_path, "outputs/x")


def test_get_file_verifies_the_hash(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    stored = storage.put_bytes(b"payload", "outputs/p.txt")
    dest = tmp_path / "dl" / "p.txt"
    assert storage.get_file(stored.key, dest, sha256=stored.sha256) == 7
    assert dest.read_bytes() == b"payload"
    (tmp_path / "store/outputs/p.txt").write_bytes(b"tampered")
    dest.unlink()
    with pytest.raises(ChecksumMismatchError, match="not the recorded"):
        storage.get_file(stored.key, dest, sha256=stored.sha256)
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(ArtifactNotFoundError):
        storage.get_file("outputs/absent", dest)


def test_put_tree_replaces_a_folder_at_once(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("old")
    new.write_text("new")
    storage.put_tree([(old, "old.txt")], "outputs/dir")
    stored = storage.put_tree([(new, "sub/new.txt")], "outputs/dir")
    assert [s.key for s in stored] == ["outputs/dir/sub/new.txt"]
    assert visible_files(tmp_path / "store") == ["outputs/dir/sub/new.txt"]


def test_failed_tree_copy_leaves_the_old_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    good = tmp_path / "good.txt"
    good.write_text("good")
    storage.put_tree([(good, "good.txt")], "outputs/dir")
    with pytest.raises(SourceNotFoundError):
        storage.put_tree([(good, "a.txt"), (tmp_path / "gone.txt", "b.txt")], "outputs/dir")
    assert visible_files(tmp_path / "store") == ["outputs/dir/good.txt"]
    assert [p.name for p in (tmp_path / "store/outputs").iterdir()] == ["dir"]


def test_open_storage_by_uri(tmp_path: Path) -> None:
    one = open_storage(tmp_path / "s")
    assert open_storage(f"file://{tmp_path / 's'}") is one
    assert one.uri == f"file://{(tmp_path / 's').resolve()}"
    with pytest.raises(InvalidArgumentError, match=r"unknown scheme 'gs'.*s3://"):
        open_storage("gs://bucket/x")


def test_copy_across_filesystems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    source = shm / f"runlane-test-{os.getpid()}.bin"
    data = os.urandom(9 << 20 | 17)  # several chunks
    source.write_bytes(data)
    try:
        stored = LocalStorage(tmp_path / "store").put_file(source, "outputs/x.bin")
    finally:
        source.unlink()
    assert stored.sha256 == sha(data)
    assert (tmp_path / "store/outputs/x.bin").read_bytes() == data


def test_large_copies_are_correct_with_early_writeback(tmp_path: Path) -> None:
    from runlane.artifacts.local import EARLY_WRITEBACK

    source = tmp_path / "large.bin"
    block = os.urandom(1 << 20)
    with open(source, "wb") as fh:
        for i in range(EARLY_WRITEBACK // len(block) + 3):
            fh.write(block[i:] + block[:i])
    stored = LocalStorage(tmp_path / "store").put_file(source, "outputs/large.bin")
    assert (
        stored.sha256 == hash_file(source)[0] == hash_file(tmp_path / "store/outputs/large.bin")[0]
    )
