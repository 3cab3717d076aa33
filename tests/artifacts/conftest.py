"""Fixtures of the artifact tests: a live run, source files, and a real SeaweedFS.

``weed`` starts one ``weed mini`` for the whole session (tests/support/seaweed.py: free
ports on loopback, stopped by PID at the end); ``s3`` gives each test its own prefix in the
bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runlane.artifacts.s3 import S3Storage
from runlane.artifacts.storage import forget_storages, register_storage
from runlane.sdk.run import Run
from support.seaweed import SeaweedServer, seaweed


@pytest.fixture(autouse=True)
def _fresh_storages() -> Iterator[None]:
    yield
    forget_storages()


@pytest.fixture
def run(new_run: Callable[..., Run]) -> Run:
    return new_run("tester/arts", name="r1")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A folder for source files, outside any run."""
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


@pytest.fixture
def write(src: Path) -> Callable[..., Path]:
    """``write("a/b.txt", b"bytes")``: a file under ``src``."""

    def make(rel: str, data: bytes | str = b"x") -> Path:
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return make


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with seaweed(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture
def s3_uri(weed: SeaweedServer) -> str:
    return f"s3://{weed.bucket}/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def s3(weed: SeaweedServer, s3_uri: str) -> S3Storage:
    """An S3Storage on the test's own prefix, registered so readers find it by URI."""
    storage = S3Storage(
        s3_uri,
        endpoint_url=weed.endpoint_url,
        access_key=weed.access_key,
        secret_key=weed.secret_key,
        part_size=5 << 20,
        multipart_threshold=5 << 20,
    )
    register_storage(storage)
    return storage


@pytest.fixture
def s3_env(weed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> SeaweedServer:
    """Credentials and endpoint in the environment, as a user would configure them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", weed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", weed.secret_key)
    monkeypatch.setenv("RUNLANE_S3_ENDPOINT_URL", weed.endpoint_url)
    return weed
