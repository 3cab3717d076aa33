"""Artifact benchmark: a 1 GB artifact (local and S3) and 10,000 small versioned assets.

    python bench/artifacts.py [--size-mb 1024] [--assets 10000] [--repeat 3] [--no-s3]
                              [--tmp DIR] [--json out.json]

Every measurement runs in a fresh subprocess (``bench/artifacts.py --child NAME PARAMS``) and
reports its wall time and its peak RSS (``ru_maxrss``), plus the RSS it had just before the
measured work (interpreter, numpy, runlane and, for S3, boto3 loaded). Measurements alternate
with their baseline and the order flips every round; the table shows medians. Before each
measurement the page cache's dirty data is flushed (``sync``), so no run pays for the last
one's writeback.

Lines:

* ``local 1 GB: log_artifact`` — ``run.log_artifact(file)`` (copied to ``outputs/``, sha256
  while copying) until it returns (the record is visible), against ``cp`` of the same file.
* ``local 1 GB: + durable`` — the same plus ``run.finish()``, which fsyncs the copy, against
  ``cp`` followed by ``sync`` of the copy.
* ``S3 1 GB: log_artifact`` — to a real SeaweedFS on loopback (``weed mini``, started and
  stopped here), content-addressed: hash pass, then a multipart upload with a sha256 per part,
  against boto3's own ``upload_file`` (s3transfer defaults, no hashing) of the same file.
* ``10,000 assets`` — ``run.log_artifact(1 KB file, name=..., step=i)`` 10,000 times (a file
  and an event row each), then ``finish()``; against a plain loop copying the file 10,000 times
  (``shutil.copyfile``). Also 10,000 ``log_image`` of 16×16 RGB arrays.

Goals (the artifact issue): copying at ≥ 70 % of ``cp``'s speed, peak memory < 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MB = 1 << 20
CAPTURES_OFF = dict(capture_git=False, capture_env=False, capture_stdio=False, system_metrics=False)


# --- children ------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this process; return its numbers."""
    source = Path(params["source"])
    if name == "sha256":
        import hashlib

        start = time.perf_counter()
        digest, buf = hashlib.sha256(), bytearray(4 * MB)
        with open(source, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                digest.update(memoryview(buf)[:n])
        return {"seconds": time.perf_counter() - start}
    if name in ("cp", "cp_sync"):
        dest = Path(params["dest"])
        start = time.perf_counter()
        subprocess.run(["cp", str(source), str(dest)], check=True)
        copied = time.perf_counter() - start
        if name == "cp_sync":
            subprocess.run(["sync", str(dest)], check=True)
        total = time.perf_counter() - start
        return {"seconds": total if name == "cp_sync" else copied}
    if name == "boto3_upload":
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=params["endpoint"],
            region_name="us-east-1",
            aws_access_key_id=params["access_key"],
            aws_secret_access_key=params["secret_key"],
            config=Config(s3={"addressing_style": "path"}),
        )
        client.list_buckets()
        before = _rss_mb()
        start = time.perf_counter()
        client.upload_file(str(source), params["bucket"], params["key"])
        return {"seconds": time.perf_counter() - start, "rss_before": before}
    if name == "copyfile_loop":
        dest = Path(params["dest"])
        dest.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        for i in range(params["count"]):
            shutil.copyfile(source, dest / f"sample_{i}.bin")
        return {"seconds": time.perf_counter() - start}

    import numpy as np

    import runlane

    run = runlane.init("bench/artifacts", dir=params["root"], **CAPTURES_OFF)
    if name == "log_s3":
        from runlane.artifacts.s3 import S3Storage

        storage = S3Storage(
            params["uri"],
            endpoint_url=params["endpoint"],
            access_key=params["access_key"],
            secret_key=params["secret_key"],
        )
        storage.client.list_buckets()  # connect before timing, as boto3_upload does
        run.use_artifact_storage(storage)
    before = _rss_mb()
    start = time.perf_counter()
    out: dict[str, Any] = {"rss_before": before}
    if name in ("log_local", "log_s3"):
        record = run.log_artifact(source)
        out["seconds"] = time.perf_counter() - start
        run.finish()
        out["seconds_durable"] = time.perf_counter() - start
        assert record.size == source.stat().st_size
    elif name == "assets":
        for i in range(params["count"]):
            run.log_artifact(source, name="sample.bin", step=i)
        run.finish()
        out["seconds"] = time.perf_counter() - start
        assert len(runlane.open(run.id, dir=params["root"]).assets("sample.bin")) == params["count"]
    elif name == "images":
        pixels = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        for i in range(params["count"]):
            run.log_image(pixels, "grid", step=i)
        run.finish()
        out["seconds"] = time.perf_counter() - start
    else:
        raise SystemExit(f"unknown child {name!r}")
    return out


# --- parent --------------------------------------------------------------------------------
def measure(name: str, params: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    os.sync()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(params)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def make_file(path: Path, size_mb: int) -> None:
    chunk = os.urandom(MB)
    with open(path, "wb") as fh:
        for i in range(size_mb):
            fh.write(chunk[i % 256 :] + chunk[: i % 256])  # distinct blocks, cheap to make


def _med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--tmp", help="folder for the temporary data (default: system temp)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "PARAMS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child[0], json.loads(args.child[1]))
        result["peak_rss"] = _peak_mb()
        print(json.dumps(result))
        return 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLANE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["RUNLANE_CAPTURE"] = "none"
    work = Path(tempfile.mkdtemp(prefix="runlane-bench-art-", dir=args.tmp))
    results: dict[str, Any] = {
        "size_mb": args.size_mb,
        "asset_count": args.assets,
        "repeat": args.repeat,
    }
    try:
        big = work / "big.bin"
        make_file(big, args.size_mb)
        small = work / "sample.bin"
        small.write_bytes(os.urandom(1024))
        print(
            f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
            f"{os.getloadavg()[0]:.2f}, Python {platform.python_version()}, data in {work}",
            flush=True,
        )
        local: dict[str, list[dict[str, Any]]] = {
            "cp": [],
            "cp_sync": [],
            "log_local": [],
            "sha256": [],
        }
        for round_no in range(args.repeat):
            order = ["cp", "log_local", "cp_sync", "sha256"]
            for name in order if round_no % 2 == 0 else order[::-1]:
                target = work / f"r{round_no}-{name}"
                params = {
                    "source": str(big),
                    "dest": str(target / "copy.bin"),
                    "root": str(target / "data"),
                }
                target.mkdir()
                local[name].append(measure(name, params, env))
                shutil.rmtree(target)
        size = args.size_mb
        cp_s, cps_s = _med(local["cp"], "seconds"), _med(local["cp_sync"], "seconds")
        ours, ours_d = (
            _med(local["log_local"], "seconds"),
            _med(local["log_local"], "seconds_durable"),
        )
        results["local"] = {
            "cp_MBps": size / cp_s,
            "cp_sync_MBps": size / cps_s,
            "log_MBps": size / ours,
            "log_durable_MBps": size / ours_d,
            "ratio_vs_cp": cp_s / ours,
            "ratio_durable_vs_cp_sync": cps_s / ours_d,
            "sha256_MBps": size / _med(local["sha256"], "seconds"),
            "peak_rss_MB": max(r["peak_rss"] for r in local["log_local"]),
            "rss_before_MB": _med(local["log_local"], "rss_before"),
            "raw": local,
        }
        if not args.no_s3:
            results["s3"] = bench_s3(work, big, size, args.repeat, env)
        results["assets"] = bench_assets(work, small, args.assets, args.repeat, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def bench_s3(work: Path, big: Path, size: int, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.seaweed import seaweed

    rows: dict[str, list[dict[str, Any]]] = {"boto3_upload": [], "log_s3": []}
    with seaweed(work / "weed") as server:
        common = {
            "source": str(big),
            "endpoint": server.endpoint_url,
            "access_key": server.access_key,
            "secret_key": server.secret_key,
            "bucket": server.bucket,
        }
        for round_no in range(repeat):
            order = ["boto3_upload", "log_s3"]
            for name in order if round_no % 2 == 0 else order[::-1]:
                params = {
                    **common,
                    "key": f"baseline/{round_no}",
                    "uri": f"s3://{server.bucket}/r{round_no}",
                    "root": str(work / f"s3-{round_no}"),
                }
                rows[name].append(measure(name, params, env))
    boto, ours = _med(rows["boto3_upload"], "seconds"), _med(rows["log_s3"], "seconds")
    return {
        "boto3_MBps": size / boto,
        "log_MBps": size / ours,
        "ratio_vs_boto3": boto / ours,
        "peak_rss_MB": max(r["peak_rss"] for r in rows["log_s3"]),
        "boto3_peak_rss_MB": max(r["peak_rss"] for r in rows["boto3_upload"]),
        "rss_before_MB": _med(rows["log_s3"], "rss_before"),
        "raw": rows,
    }


def bench_assets(
    work: Path, small: Path, count: int, repeat: int, env: dict[str, str]
) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {"copyfile_loop": [], "assets": [], "images": []}
    for round_no in range(repeat):
        order = ["copyfile_loop", "assets", "images"]
        for name in order if round_no % 2 == 0 else order[::-1]:
            target = work / f"a{round_no}-{name}"
            params = {
                "source": str(small),
                "dest": str(target / "copies"),
                "root": str(target / "data"),
                "count": count,
            }
            rows[name].append(measure(name, params, env))
            shutil.rmtree(target, ignore_errors=True)
    return {
        "copyfile_us": _med(rows["copyfile_loop"], "seconds") / count * 1e6,
        "asset_us": _med(rows["assets"], "seconds") / count * 1e6,
        "image_us": _med(rows["images"], "seconds") / count * 1e6,
        "peak_rss_MB": max(r["peak_rss"] for r in rows["assets"] + rows["images"]),
        "raw": rows,
    }


def report(results: dict[str, Any]) -> None:
    size = results["size_mb"]
    local = results["local"]
    print(f"\n{'measurement':44} {'runlane':>12} {'baseline':>12} {'ratio':>7}  peak RSS")
    print(
        f"{f'local {size} MB: log_artifact vs cp':44} {local['log_MBps']:9.0f} MB/s "
        f"{local['cp_MBps']:9.0f} MB/s {local['ratio_vs_cp']:6.0%}  "
        f"{local['peak_rss_MB']:.0f} MB (before: {local['rss_before_MB']:.0f} MB)"
    )
    print(
        f"{f'local {size} MB: + durable vs cp + sync':44} "
        f"{local['log_durable_MBps']:9.0f} MB/s {local['cp_sync_MBps']:9.0f} MB/s "
        f"{local['ratio_durable_vs_cp_sync']:6.0%}"
    )
    print(
        f"{f'local {size} MB: read + sha256 only (the floor)':44} {local['sha256_MBps']:9.0f} MB/s"
    )
    if "s3" in results:
        s3 = results["s3"]
        print(
            f"{f'S3 {size} MB: log_artifact vs boto3 upload_file':44} "
            f"{s3['log_MBps']:9.0f} MB/s {s3['boto3_MBps']:9.0f} MB/s "
            f"{s3['ratio_vs_boto3']:6.0%}  {s3['peak_rss_MB']:.0f} MB (before: "
            f"{s3['rss_before_MB']:.0f} MB; boto3 alone: {s3['boto3_peak_rss_MB']:.0f} MB)"
        )
    assets = results["assets"]
    count = results["asset_count"]
    print(
        f"{f'{count} assets: log_artifact(step=i) vs copyfile':44} "
        f"{assets['asset_us']:9.0f} µs/op {assets['copyfile_us']:8.0f} µs/op "
        f"{assets['copyfile_us'] / assets['asset_us']:6.0%}  {assets['peak_rss_MB']:.0f} MB"
    )
    print(f"{f'{count} assets: log_image 16x16':44} {assets['image_us']:9.0f} µs/op")


if __name__ == "__main__":
    sys.exit(main())
