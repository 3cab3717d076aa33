"""Fixtures of the server tests: real PostgreSQL and SeaweedFS (tests/support/services.py,
started once per session by ``scripts/services``), stores on fresh databases, and servers
on loopback sockets — in this process (uvicorn in a thread) or as ``runlane server``
subprocesses stopped by PID."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runlane.store.server import ServerStore
from runlane.store.server.objects import S3Location, S3Objects
from support.servers import ServerProcess, free_port
from support.services import Services, drop_database, fresh_database, s3_location, services


@pytest.fixture(scope="session")
def svc() -> Services:
    return services()


@pytest.fixture
def dsn(svc: Services) -> Iterator[str]:
    url = fresh_database("srv")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def s3(svc: Services) -> S3Location:
    location = s3_location("srv")
    assert isinstance(location, S3Location)
    return location


@pytest.fixture
def pg_store(dsn: str, s3: S3Location) -> Iterator[ServerStore]:
    store = ServerStore(dsn, objects=S3Objects(s3))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``server_process(*args, port=None)``: a started ``runlane server`` (stopped at the end)."""
    started: list[ServerProcess] = []

    def make(
        *args: str, port: int | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        full_env = {**os.environ, **(env or {})}
        proc = ServerProcess(
            list(args), port or free_port(), full_env, tmp_path / f"server-{len(started)}.log"
        )
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.stop()
