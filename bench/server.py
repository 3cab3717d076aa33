"""runlane server benchmark: remote-SDK ingest into PostgreSQL beside PostgreSQL's own COPY,
the caller's latency of one small ``log`` call, reading a 1,000,000-point stream downsampled
to 1,000 buckets, and (when its venv is there) MLflow's server doing the same ingest.

    python bench/server.py [--rows 300000] [--read-points 1000000] [--json out.json] [--quick]
                           [--no-mlflow]

Services come from ``scripts/services start`` (PostgreSQL 15 + SeaweedFS on loopback). Each
measurement gets a fresh database. The runlane server is a ``runlane server`` subprocess over
PostgreSQL with cold chunks in SeaweedFS; the SDK runs in its own subprocess, as a training
script would.

What is measured
* **COPY reference**: rows of the same shape (10 float metrics + step + time, as JSONB) sent
  with one psycopg ``COPY`` into a table with the same primary key — what PostgreSQL alone
  does on this machine.
* **runlane ingest**: ``run.log({m0..m9}, step=i)`` for every row, then ``run.finish()``;
  values/s = rows × 10 / (first call → finish returned: everything acknowledged by the
  server and committed). Compaction of the stream into Parquet chunks runs after, in the
  server's background; its time to catch up is reported separately.
* **log p99**: the wall time of single ``run.log({"loss": x})`` calls on the caller's thread
  (perf_counter_ns around each call, 200,000 calls, the writer thread live and shipping).
* **read 1M → 1,000 buckets**: ``GET /series?buckets=1000`` of a 1,000,000-point stream (99%
  in Parquet chunks in SeaweedFS, the rest hot in PostgreSQL): the first (cold) request and
  the median of 10 warm ones, timed on the client (server time + one loopback round trip).
* **MLflow** (``bench/peers/.venv`` with mlflow and psycopg2): ``mlflow server`` with a
  PostgreSQL backend, the same rows through ``MlflowClient.log_batch`` (1,000 metrics a call,
  MLflow's limit).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
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
REPO = HERE.parent
PY = sys.executable
PEERS_PY = HERE / "peers" / ".venv" / "bin" / "python"
FIELDS = 10

INGEST_CHILD = r"""
import sys, time, json
import runlane
url, rows = sys.argv[1], int(sys.argv[2])
run = runlane.init("bench/ingest", name="ingest", server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
start = time.perf_counter()
for i in range(rows):
    x = i * 1e-3
    run.log({"m0": x, "m1": x + 1, "m2": x + 2, "m3": x + 3, "m4": x + 4, "m5": x + 5,
             "m6": x + 6, "m7": x + 7, "m8": x + 8, "m9": x + 9}, step=i)
logged = time.perf_counter() - start
run.finish()
total = time.perf_counter() - start
print(json.dumps({"run": run.id, "logged_s": logged, "total_s": total}))
"""

LATENCY_CHILD = r"""
import sys, time, json, gc
import runlane
url, calls = sys.argv[1], int(sys.argv[2])
run = runlane.init("bench/latency", name="latency", server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
ns = time.perf_counter_ns
samples = [0] * calls
log = run.log
for i in range(2000):
    log({"loss": 0.5})
for i in range(calls):
    t0 = ns()
    log({"loss": i * 1e-6})
    samples[i] = ns() - t0
run.finish()
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
print(json.dumps({"p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999),
                  "max_us": samples[-1] / 1000, "calls": calls}))
"""

MLFLOW_CHILD = r"""
import sys, time, json
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric
url, rows = sys.argv[1], int(sys.argv[2])
client = MlflowClient(tracking_uri=url)
exp = client.create_experiment(f"bench-{time.time_ns()}")
run = client.create_run(exp)
rid = run.info.run_id
start = time.perf_counter()
batch = []
now = int(time.time() * 1000)
for i in range(rows):
    x = i * 1e-3
    for j in range(10):
        batch.append(Metric(f"m{j}", x + j, now, i))
    if len(batch) >= 1000:
        client.log_batch(rid, metrics=batch)
        batch = []
if batch:
    client.log_batch(rid, metrics=batch)
client.set_terminated(rid)
print(json.dumps({"total_s": time.perf_counter() - start}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def services() -> dict[str, str]:
    started = subprocess.run(
        ["bash", str(REPO / "scripts" / "services"), "start"], capture_output=True, text=True
    )
    if started.returncode != 0:
        raise SystemExit(f"scripts/services start failed:\n{started.stderr}")
    env = subprocess.run(
        ["bash", str(REPO / "scripts" / "services"), "env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out = {}
    for line in env.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = value
    return out


@contextmanager
def database(admin_dsn: str, prefix: str) -> Iterator[str]:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield admin_dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@contextmanager
def runlane_server(dsn: str, env: dict[str, str], log: Path) -> Iterator[str]:
    import httpx

    port = free_port()
    child_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": env["RUNLANE_TEST_S3_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": env["RUNLANE_TEST_S3_SECRET_KEY"],
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                PY,
                "-m",
                "runlane.cli.main",
                "server",
                "--store",
                dsn,
                "--port",
                str(port),
                "--artifacts",
                f"s3://{env['RUNLANE_TEST_S3_BUCKET']}/bench-{uuid.uuid4().hex[:8]}",
                "--s3-endpoint",
                env["RUNLANE_TEST_S3_ENDPOINT"],
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
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
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child(code: str, *args: Any, python: str = PY, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run(
        [python, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, timeout=1800
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def copy_reference(dsn: str, rows: int) -> dict[str, float]:
    """psycopg COPY of ``rows`` rows shaped like runlane's metric rows (JSONB, same key)."""
    import orjson
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE ref (stream_id bigint, idx bigint, created double precision,"
            " data jsonb, PRIMARY KEY (stream_id, idx))"
        )
        start = time.perf_counter()
        body = b"".join(
            b"1\t%d\t1700000000.5\t%b\n"
            % (
                i,
                orjson.dumps(
                    {**{f"m{j}": i * 1e-3 + j for j in range(FIELDS)}, "_step": i, "_ts": 1.7e9 + i}
                ),
            )
            for i in range(rows)
        )
        with (
            conn.cursor() as cur,
            cur.copy("COPY ref (stream_id, idx, created, data) FROM STDIN") as copy,
        ):
            copy.write(body)
        seconds = time.perf_counter() - start
    return {
        "rows_per_s": rows / seconds,
        "values_per_s": rows * FIELDS / seconds,
        "seconds": seconds,
    }


def wait_compacted(dsn: str, timeout: float = 300.0) -> float:
    """Seconds until no stream holds more than 10,000 hot rows."""
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.perf_counter() - start < timeout:
            row = conn.execute(
                "SELECT coalesce(max(next_idx - hot_start), 0) FROM streams"
            ).fetchone()
            if row is not None and row[0] <= 10_000:
                return time.perf_counter() - start
            time.sleep(0.1)
    return float("nan")


def timed_series(url: str, run_id: str, repeats: int = 10) -> dict[str, float]:
    import httpx

    target = f"{url}/api/v1/runs/{run_id}/streams/default/series"
    params: dict[str, str | int] = {"fields": "loss", "buckets": 1000}
    with httpx.Client(timeout=120) as client:
        start = time.perf_counter()
        first = client.get(target, params=params)
        cold = time.perf_counter() - start
        first.raise_for_status()
        points = len(first.json()["series"]["loss"]["x"])
        warm = []
        for _ in range(repeats):
            start = time.perf_counter()
            client.get(target, params=params).raise_for_status()
            warm.append(time.perf_counter() - start)
    return {
        "cold_ms": cold * 1e3,
        "warm_median_ms": statistics.median(warm) * 1e3,
        "warm_p90_ms": sorted(warm)[int(0.9 * len(warm))] * 1e3,
        "points_returned": points,
        "total": first.json()["total"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of 10 metrics")
    parser.add_argument("--latency-calls", type=int, default=200_000)
    parser.add_argument("--read-points", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--quick", action="store_true", help="1/10 sizes")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument(
        "--mlflow-rows",
        type=int,
        default=20_000,
        help="rows for MLflow (it ingests ~7,000 values/s here: the full --rows would take "
        "minutes; its rate is steady, so a shorter run measures the same values/s)",
    )
    args = parser.parse_args()
    if args.quick:
        args.rows //= 10
        args.latency_calls //= 10
        args.read_points //= 10
        args.mlflow_rows //= 10
    env = services()
    admin = env["RUNLANE_TEST_POSTGRES_DSN"]
    results: dict[str, Any] = {"rows": args.rows, "fields": FIELDS, "cpus": os.cpu_count()}
    logs = Path(tempfile.mkdtemp(prefix="runlane-bench-server-"))
    child_env = {**os.environ, "RUNLANE_DIR": str(logs / "data"), "RUNLANE_CAPTURE": "none"}

    with database(admin, "bench_copy") as dsn:
        results["copy"] = copy_reference(dsn, args.rows)
    with database(admin, "bench_ingest") as dsn, runlane_server(dsn, env, logs / "s1.log") as url:
        ingest = child(INGEST_CHILD, url, args.rows, env=child_env)
        ingest["values_per_s"] = args.rows * FIELDS / ingest["total_s"]
        ingest["compaction_catch_up_s"] = wait_compacted(dsn)
        results["ingest"] = ingest
        results["latency"] = child(LATENCY_CHILD, url, args.latency_calls, env=child_env)
    with database(admin, "bench_read") as dsn, runlane_server(dsn, env, logs / "s2.log") as url:
        run_id = _fill_through_server(url, args.read_points, child_env)
        results["read_setup_compaction_s"] = wait_compacted(dsn)
        results["read"] = timed_series(url, run_id)
    if not args.no_mlflow:
        results["mlflow"] = mlflow_ingest(admin, args.mlflow_rows, logs)
        if results["mlflow"].get("values_per_s"):
            results["ratio_runlane_over_mlflow"] = (
                results["ingest"]["values_per_s"] / results["mlflow"]["values_per_s"]
            )
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


FILL_CHILD = r"""
import sys, json, math
import runlane
url, points = sys.argv[1], int(sys.argv[2])
run = runlane.init("bench/read", name="million", server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
for i in range(points):
    run.log({"loss": math.sin(i / 1000.0)}, step=i)
run.finish()
print(json.dumps({"run": run.id}))
"""


def _fill_through_server(url: str, points: int, env: dict[str, str]) -> str:
    return str(child(FILL_CHILD, url, points, env=env)["run"])


def mlflow_ingest(admin: str, rows: int, logs: Path) -> dict[str, Any]:
    if not PEERS_PY.exists():
        return {"skipped": f"{PEERS_PY} is missing (python3.11 bench/peers/setup.py)"}
    probe = subprocess.run(
        [str(PEERS_PY), "-c", "import mlflow, psycopg2"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return {
            "skipped": "bench/peers/.venv lacks mlflow or psycopg2-binary "
            "(bench/peers/.venv/bin/pip install psycopg2-binary)"
        }
    import httpx

    with database(admin, "bench_mlflow") as dsn:
        port = free_port()
        mlflow_bin = str(PEERS_PY.parent / "mlflow")
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
        with open(logs / "mlflow.log", "ab") as out:
            proc = subprocess.Popen(
                [
                    mlflow_bin,
                    "server",
                    "--backend-store-uri",
                    dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                    "--default-artifact-root",
                    str(logs / "mlflow-artifacts"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(1200):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                return {"skipped": f"mlflow server did not start; see {logs / 'mlflow.log'}"}
            measured: dict[str, Any] = child(MLFLOW_CHILD, url, rows, python=str(PEERS_PY), env=env)
            measured["values_per_s"] = rows * FIELDS / measured["total_s"]
            measured["rows"] = rows
            return measured
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def print_table(r: dict[str, Any]) -> None:
    def num(x: float) -> str:
        return f"{x:,.0f}"

    lines = [
        "| measurement | result | target |",
        "| --- | --- | --- |",
        f"| PostgreSQL COPY alone ({r['rows']:,} rows × {FIELDS}) | "
        f"{num(r['copy']['rows_per_s'])} rows/s = {num(r['copy']['values_per_s'])} values/s | "
        "reference |",
        f"| runlane remote SDK → server → PostgreSQL | {num(r['ingest']['values_per_s'])} "
        f"values/s ({r['ingest']['total_s']:.2f} s to finish) | ≥ 300,000 values/s |",
        f"| … background compaction catching up after | "
        f"{r['ingest']['compaction_catch_up_s']:.2f} s | — |",
        f"| one small `log` call on the caller | p50 {r['latency']['p50_us']:.2f} µs, "
        f"p99 {r['latency']['p99_us']:.2f} µs, p99.9 {r['latency']['p999_us']:.2f} µs | "
        "p99 ≤ 20 µs |",
        f"| read {r['read']['total']:,} points → 1,000 buckets | cold "
        f"{r['read']['cold_ms']:.0f} ms, warm median {r['read']['warm_median_ms']:.0f} ms "
        f"({r['read']['points_returned']} points) | ≤ 150 ms |",
    ]
    mlflow = r.get("mlflow", {})
    if "values_per_s" in mlflow:
        lines.append(
            f"| MLflow server (PostgreSQL) `log_batch`, {mlflow['rows']:,} rows × {FIELDS} | "
            f"{num(mlflow['values_per_s'])} "
            f"values/s | runlane ÷ MLflow = {r['ratio_runlane_over_mlflow']:.1f}× |"
        )
    elif mlflow:
        lines.append(f"| MLflow | not run: {mlflow['skipped']} | — |")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
