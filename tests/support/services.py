"""PostgreSQL and SeaweedFS for tests, started once per test process by ``scripts/services``.

:func:`services` installs and starts both (idempotent: a developer's running services are
reused) and returns where they listen. When they cannot start, tests that need them are
skipped with the reason — unless ``RUNLANE_REQUIRE_SERVICES=1`` (CI), where they fail. A
process that started the services stops them by PID at exit, unless another live test
process still uses them (each user leaves a file in ``.services/users/``).

:func:`fresh_database` gives each store a new, empty database; :func:`s3_location` a fresh
prefix in the test bucket.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "services"
STATE = Path(os.environ.get("RUNLANE_SERVICES_DIR", REPO / ".services"))


@dataclass(frozen=True)
class Services:
    dsn: str
    s3_endpoint: str
    bucket: str
    access_key: str
    secret_key: str

    def dsn_for(self, database: str) -> str:
        return self.dsn.rsplit("/", 1)[0] + "/" + database


_services: Services | None = None
_failure: str | None = None


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=600, check=False
    )


def _unavailable(reason: str) -> None:
    if os.environ.get("RUNLANE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"services required (RUNLANE_REQUIRE_SERVICES=1) but unavailable: {reason}")
    pytest.skip(f"PostgreSQL/SeaweedFS unavailable: {reason}")


def services() -> Services:
    """Start (or reuse) the services; skip or fail the calling test when impossible."""
    global _services, _failure
    if _services is not None:
        return _services
    if _failure is not None:
        _unavailable(_failure)
    was_running = _run("status").returncode == 0
    started = _run("start")
    if started.returncode != 0:
        last = (started.stderr or started.stdout).strip().splitlines()[-1:]
        _failure = " ".join(last) or f"scripts/services start exited {started.returncode}"
        _unavailable(_failure)
    values: dict[str, str] = {}
    for line in _run("env").stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            values[key] = value
    _services = Services(
        dsn=values["RUNLANE_TEST_POSTGRES_DSN"],
        s3_endpoint=values["RUNLANE_TEST_S3_ENDPOINT"],
        bucket=values["RUNLANE_TEST_S3_BUCKET"],
        access_key=values["RUNLANE_TEST_S3_ACCESS_KEY"],
        secret_key=values["RUNLANE_TEST_S3_SECRET_KEY"],
    )
    users = STATE / "users"
    users.mkdir(parents=True, exist_ok=True)
    mine = users / str(os.getpid())
    mine.touch()
    atexit.register(_release, mine, not was_running)
    return _services


def _release(mine: Path, stop: bool) -> None:
    mine.unlink(missing_ok=True)
    if not stop or os.environ.get("RUNLANE_KEEP_SERVICES") == "1":
        return
    for other in mine.parent.iterdir():
        try:
            os.kill(int(other.name), 0)
            return  # another test process still uses them
        except (ValueError, ProcessLookupError):
            other.unlink(missing_ok=True)
        except PermissionError:
            return
    _run("stop")


def fresh_database(prefix: str = "t") -> str:
    """Create an empty database and return its DSN (dropped by :func:`drop_database`)."""
    import psycopg

    base = services()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return base.dsn_for(name)


def drop_database(dsn: str) -> None:
    import psycopg

    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(services().dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def s3_location(prefix: str = "t") -> Any:
    """A fresh ``S3Location`` under the test bucket (SeaweedFS, real credentials)."""
    from runlane.store.server.objects import S3Location

    base = services()
    return S3Location(
        bucket=base.bucket,
        prefix=f"{prefix}-{uuid.uuid4().hex[:12]}/",
        endpoint=base.s3_endpoint,
        access_key=base.access_key,
        secret_key=base.secret_key,
    )
