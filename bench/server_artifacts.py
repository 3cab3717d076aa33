"""Artifacts through runlane server: upload and download a large file with the SDK
(``run.log_artifact`` → resumable chunked upload → commit; ``run.artifacts.download`` →
streamed, verified) beside boto3 straight to the same SeaweedFS bucket.

    python bench/server_artifacts.py [--size-mb 1024] [--json out.json]

Services come from ``scripts/services start``. Three measurements, each MB/s of the file's
size over the wall time of the call (the SDK call returns once the record is committed and
its bytes stored; downloads once the file is written and its sha256 checked):

* **boto3 → SeaweedFS**: ``upload_file`` / ``download_file`` (boto3's managed multipart
  transfer, 8 MiB parts, 10 threads) — the object store alone.
* **runlane → server → SeaweedFS**: ``runlane server --artifacts s3://...``: the SDK sends
  16 MiB chunks to the server, which streams them to disk, checks the sha256 and stores the
  file content-addressed in SeaweedFS (S3Storage multipart, 5 MiB parts, 4 in flight).
* **runlane → server → files folder**: the same without an object store (bytes in the
  server's ``--files`` folder) — the server path's own cost.

Everything runs on this machine (client, server, PostgreSQL, SeaweedFS share its cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from server import PY, database, free_port, runlane_server, services  # noqa: E402


@contextmanager
def files_server(dsn: str, files: Path, log: Path) -> Iterator[str]:
    """``runlane server`` with artifact bytes in a folder (no object store)."""
    import httpx

    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                *(PY, "-m", "runlane.cli.main", "server", "--store", dsn),
                *("--files", str(files), "--port", str(port)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"runlane server did not start; see {log}")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def big_file(folder: Path, size_mb: int) -> tuple[Path, str]:
    path = folder / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(size_mb):
            chunk = block[:-8] + i.to_bytes(8, "little")  # no two MiB alike: no dedupe
            fh.write(chunk)
            digest.update(chunk)
    return path, digest.hexdigest()


def mbps(size_mb: int, seconds: float) -> float:
    return round(size_mb / seconds, 1)


def boto3_transfer(env: dict[str, str], path: Path, size_mb: int, out: Path) -> dict[str, Any]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["RUNLANE_TEST_S3_ENDPOINT"],
        aws_access_key_id=env["RUNLANE_TEST_S3_ACCESS_KEY"],
        aws_secret_access_key=env["RUNLANE_TEST_S3_SECRET_KEY"],
        region_name="us-east-1",
    )
    bucket, key = env["RUNLANE_TEST_S3_BUCKET"], f"bench-boto3-{uuid.uuid4().hex[:8]}/big.bin"
    start = time.perf_counter()
    client.upload_file(str(path), bucket, key)
    up = time.perf_counter() - start
    start = time.perf_counter()
    client.download_file(bucket, key, str(out))
    down = time.perf_counter() - start
    client.delete_object(Bucket=bucket, Key=key)
    out.unlink()
    return {
        "upload_s": round(up, 2),
        "upload_MBps": mbps(size_mb, up),
        "download_s": round(down, 2),
        "download_MBps": mbps(size_mb, down),
    }


def sdk_transfer(url: str, path: Path, digest: str, size_mb: int, out: Path) -> dict[str, Any]:
    import runlane

    run = runlane.init(
        "bench/artifacts",
        name="big",
        server=url,
        capture_git=False,
        capture_env=False,
        capture_stdio=False,
        system_metrics=False,
    )
    start = time.perf_counter()
    record = run.log_artifact(path)
    up = time.perf_counter() - start
    assert record.sha256 == digest
    start = time.perf_counter()
    got = run.artifacts.download("big.bin", dest=out)
    down = time.perf_counter() - start
    run.finish()
    got.unlink()
    return {
        "upload_s": round(up, 2),
        "upload_MBps": mbps(size_mb, up),
        "download_s": round(down, 2),
        "download_MBps": mbps(size_mb, down),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (1024)")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    args = parser.parse_args()
    env = services()
    results: dict[str, Any] = {"size_MiB": args.size_mb, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="runlane-bench-art-") as tmp:
        folder = Path(tmp)
        os.environ["RUNLANE_DIR"] = str(folder / "data")
        path, digest = big_file(folder, args.size_mb)
        results["boto3_seaweedfs"] = boto3_transfer(env, path, args.size_mb, folder / "b.bin")
        print("boto3 → SeaweedFS", results["boto3_seaweedfs"], flush=True)
        with database(env["RUNLANE_TEST_POSTGRES_DSN"], "bench_art") as dsn:
            with runlane_server(dsn, env, folder / "server-s3.log") as url:
                results["runlane_server_s3"] = sdk_transfer(
                    url, path, digest, args.size_mb, folder / "dl-s3"
                )
            print("runlane → server → SeaweedFS", results["runlane_server_s3"], flush=True)
        with database(env["RUNLANE_TEST_POSTGRES_DSN"], "bench_art") as dsn:
            with files_server(dsn, folder / "files", folder / "server-files.log") as url:
                results["runlane_server_files"] = sdk_transfer(
                    url, path, digest, args.size_mb, folder / "dl-files"
                )
            print("runlane → server → files folder", results["runlane_server_files"], flush=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
