"""Services the reliability suite may break without disturbing anyone else's tests.

* :class:`PrivatePostgres`: a PostgreSQL cluster of this test alone (``initdb`` into a fresh
  folder, its own port), so restarting it cannot break the shared instance that
  ``scripts/services`` runs for every other test of the session.
* :class:`PrivateSeaweed`: a SeaweedFS of this test alone that can be killed and started again
  on the same ports and data folder (``tests/support/seaweed.py`` picks new ports each start).
* :class:`RunlaneServer`: a ``runlane server`` subprocess, killable with SIGKILL and
  restartable on the same port. ``stale_after`` shortens the heartbeat staleness after which a
  running run reads as crashed (30 s in production) inside that server process only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from support.seaweed import (
    _PORT_FLAGS,
    ACCESS_KEY,
    BUCKET,
    SECRET_KEY,
    SeaweedServer,
    _wait_ready,
    free_ports,
    weed_binary,
)
from support.servers import ServerProcess, free_port

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


def pg_bin() -> Path:
    """The folder with ``initdb`` and ``pg_ctl`` (where ``scripts/services`` looks)."""
    candidates = [Path(c) for c in PG_BIN_CANDIDATES]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql")


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:``port``. As root, it runs as the
    ``postgres`` user in a folder under /tmp that user can reach."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="runlane-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.getuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{self.log_tail()}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60",
                 "-o", options, "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``mode`` ``immediate`` is a crash of the database (no checkpoint, WAL replay at
        the next start); ``fast`` a clean shutdown that ends every connection."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self) -> str:
        try:
            return "\n" + (self.root / "log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateSeaweed:
    """``weed mini`` on fixed ports and a fixed data folder, so it can come back after a
    kill exactly where clients expect it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.bucket = BUCKET
        (directory / "s3.json").write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "runlane-test",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List"],
                        }
                    ]
                }
            )
        )
        self.server: SeaweedServer | None = None

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        command = [
            weed_binary(),
            "mini",
            f"-dir={self.directory / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.directory / 's3.json'}",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-bucket={self.bucket}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        with open(self.directory / "weed.log", "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.server = SeaweedServer(
            self.endpoint, ACCESS_KEY, SECRET_KEY, self.bucket, process, self.directory
        )
        try:
            _wait_ready(self.server, timeout)
        except BaseException:
            self.kill()
            raise
        return self.server

    def kill(self) -> None:
        """SIGKILL the whole process group: the object store is gone at once."""
        if self.server is not None and self.server.process.poll() is None:
            os.killpg(self.server.process.pid, signal.SIGKILL)
            self.server.process.wait(10)

    def client(self) -> object:
        assert self.server is not None
        return self.server.client()


class RunlaneServer(ServerProcess):
    """``runlane server ARGS --port PORT`` in its own session (start, kill -9, start again),
    on a free port, with ``stale_after`` as the server's heartbeat staleness."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        stale_after: float | None = None,
    ) -> None:
        merged = {**os.environ, **(env or {})}
        if stale_after is not None:
            merged["RUNLANE_HEARTBEAT_STALE_AFTER"] = str(stale_after)
        super().__init__(args, free_port(), merged, log)
