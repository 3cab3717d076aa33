"""runlane server benchmark: remote-SDK ingest into PostgreSQL beside PostgreSQL's own COPY,
the caller's latency of one small ``log`` call, reading a 1,000,000-point stream downsampled
to 1,000 buckets, and (when its venv is there) MLflow's server doing the same ingest and the
same reads of a long series, full and downsampled, through each one's client.

    python bench/server.py [--rows 300000] [--read-points 1000000] [--compare-points 300000]
                           [--read-repeats 3] [--json out.json] [--quick] [--no-mlflow]

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
* **live chart poll**: ``GET /series?since=<total-10>`` of the same stream (every field, step
  axis, as the run page polls a running run every ~2 s): the store reads only the rows from
  ``since`` on (``read_columns(start=)``), not the million; first request and warm median.
* **MLflow** (``bench/peers/.venv`` with mlflow and psycopg2): ``mlflow server`` with a
  PostgreSQL backend, the same rows through ``MlflowClient.log_batch`` (1,000 metrics a call,
  MLflow's limit).
* **reads of a long series**, side by side: the same ``--compare-points`` series (300,000;
  ``loss = sin(i / 1000)`` at step ``i``) is logged into both servers through each one's
  batched client (runlane: ``run.log``; MLflow: ``log_batch`` of 1,000), then read back,
  the two tools interleaved (their order flipping from one repeat to the next):

  - *full read*: runlane ``runlane.open(id, store=URL).metrics().arrays("loss")`` (the
    ``/columns`` binary read over the RemoteStore) vs MLflow
    ``MlflowClient.get_metric_history(run_id, "loss")`` (which pages 25,000 points a
    request). Each read is a fresh subprocess, timed from opening the client to having every
    value in hand (the client modules are imported before the clock starts); ``--read-repeats``
    of them, the median reported. Both must return every point, with the same sum.
  - *downsampled read*: runlane ``GET /series?buckets=1000`` (min/max per bucket, ≤ 2,000
    points) vs MLflow's ``GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval``
    with ``max_results=1000`` (what MLflow's UI charts call; MLflow 3.17's Python client has
    no method for it). Both timed on the client over one keep-alive connection: the first
    request and the median of 10 after it.
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

from peers import mlflow_server as mlflow_side  # bench/peers/mlflow_server.py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
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

RUNLANE_READ_CHILD = r"""
import sys, time, json
import numpy, httpx
import runlane, runlane.store.remote
url, run_id = sys.argv[1], sys.argv[2]
start = time.perf_counter()
steps, values, times = runlane.open(run_id, store=url).metrics("default").arrays("loss")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "points": int(len(values)),
                  "sum": float(values.sum()), "last_step": float(steps[-1])}))
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


Request = mlflow_side.Request


def series_request(url: str, run_id: str) -> Request:
    """runlane's ``/series?buckets=1000`` of the ``loss`` field; counts the points returned."""
    return (
        f"{url}/api/v1/runs/{run_id}/streams/default/series",
        {"fields": "loss", "buckets": 1000},
        lambda doc: {
            "points_returned": len(doc["series"]["loss"]["x"]),
            "total": int(doc["total"]),
        },
    )


def live_poll_request(url: str, run_id: str, total: int) -> Request:
    """The run page's live poll: ``/series?since=<total-10>`` (every field, step axis)."""
    return (
        f"{url}/api/v1/runs/{run_id}/streams/default/series",
        {"buckets": 1000, "since": max(total - 10, 0)},
        lambda doc: {"rows_returned": int(doc["count"]), "total": int(doc["total"])},
    )


def downsampled_reads(requests: list[Request], repeats: int = 10) -> list[dict[str, Any]]:
    """Time each GET on the client (server time + one loopback round trip) over its own
    keep-alive connection: the first (cold) request of each, then ``repeats`` rounds with
    the requests interleaved (order flipped every round). Returns, per request, ``cold_ms``,
    ``warm_median_ms``, ``warm_p90_ms``, the warm samples, and what its counter reads from the
    first answer. Raises ``httpx.HTTPStatusError`` on a non-2xx answer."""
    import httpx

    clients = [httpx.Client(timeout=300) for _ in requests]
    out: list[dict[str, Any]] = [{"warm_ms": []} for _ in requests]
    try:
        for i, (target, params, count) in enumerate(requests):
            start = time.perf_counter()
            first = clients[i].get(target, params=params)
            out[i]["cold_ms"] = (time.perf_counter() - start) * 1e3
            first.raise_for_status()
            out[i].update(count(first.json()))
        order = list(range(len(requests)))
        for rnd in range(repeats):
            for i in order if rnd % 2 == 0 else order[::-1]:
                target, params, _ = requests[i]
                start = time.perf_counter()
                clients[i].get(target, params=params).raise_for_status()
                out[i]["warm_ms"].append((time.perf_counter() - start) * 1e3)
    finally:
        for client in clients:
            client.close()
    for per in out:
        warm = sorted(per["warm_ms"])
        per["warm_median_ms"] = statistics.median(warm)
        per["warm_p90_ms"] = warm[int(0.9 * len(warm))]
    return out


def timed_series(url: str, run_id: str, repeats: int = 10) -> dict[str, Any]:
    """runlane's ``/series?buckets=1000`` alone (no MLflow to interleave with)."""
    return downsampled_reads([series_request(url, run_id)], repeats)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of 10 metrics")
    parser.add_argument("--latency-calls", type=int, default=200_000)
    parser.add_argument(
        "--read-points",
        type=int,
        default=1_000_000,
        help="length of the stream runlane downsamples to 1,000 buckets",
    )
    parser.add_argument(
        "--compare-points",
        type=int,
        default=300_000,
        help="length of the series both runlane and MLflow store and read back (MLflow "
        "stores ~5,000 and reads ~17,000 points/s here: 1,000,000 would take minutes)",
    )
    parser.add_argument(
        "--read-repeats",
        type=int,
        default=3,
        help="full reads per tool (fresh process each; median reported)",
    )
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
    if args.read_repeats < 1:
        parser.error(f"--read-repeats {args.read_repeats}: must be ≥ 1")
    if args.quick:
        args.rows //= 10
        args.latency_calls //= 10
        args.read_points //= 10
        args.compare_points //= 10
        args.mlflow_rows //= 10
    env = services()
    admin = env["RUNLANE_TEST_POSTGRES_DSN"]
    results: dict[str, Any] = {
        "rows": args.rows,
        "fields": FIELDS,
        "cpus": os.cpu_count(),
        "read_points": args.read_points,
        "compare_points": args.compare_points,
        "read_repeats": args.read_repeats,
    }
    logs = Path(tempfile.mkdtemp(prefix="runlane-bench-server-"))
    child_env = {**os.environ, "RUNLANE_DIR": str(logs / "data"), "RUNLANE_CAPTURE": "none"}
    mlflow_skip = None if args.no_mlflow else mlflow_side.missing()
    results["mlflow_versions"] = None if args.no_mlflow or mlflow_skip else mlflow_side.versions()

    with database(admin, "bench_copy") as dsn:
        results["copy"] = copy_reference(dsn, args.rows)
    with database(admin, "bench_ingest") as dsn, runlane_server(dsn, env, logs / "s1.log") as url:
        ingest = child(INGEST_CHILD, url, args.rows, env=child_env)
        ingest["values_per_s"] = args.rows * FIELDS / ingest["total_s"]
        ingest["compaction_catch_up_s"] = wait_compacted(dsn)
        results["ingest"] = ingest
        results["latency"] = child(LATENCY_CHILD, url, args.latency_calls, env=child_env)
    with database(admin, "bench_read") as dsn, runlane_server(dsn, env, logs / "s2.log") as url:
        run_id = _fill_through_server(url, "million", args.read_points, child_env)
        results["read_setup_compaction_s"] = wait_compacted(dsn)
        results["read"] = timed_series(url, run_id)
        poll = live_poll_request(url, run_id, int(results["read"]["total"]))
        results["live_poll"] = downsampled_reads([poll])[0]
        long_id = _fill_through_server(url, "long", args.compare_points, child_env)
        wait_compacted(dsn)
        if args.no_mlflow or mlflow_skip:
            results["mlflow"] = {"skipped": mlflow_skip or "--no-mlflow"}
            results["full_read"] = full_reads(
                [("runlane", RUNLANE_READ_CHILD, PY, url, long_id)], args.read_repeats, child_env
            )
        else:
            with (
                database(admin, "bench_mlflow") as mdsn,
                mlflow_side.serve(mdsn, logs, free_port()) as murl,
            ):
                results["mlflow"] = mlflow_ingest(murl, args.mlflow_rows)
                results["ratio_runlane_over_mlflow"] = (
                    results["ingest"]["values_per_s"] / results["mlflow"]["values_per_s"]
                )
                filled = child(
                    mlflow_side.FILL_CHILD,
                    murl,
                    args.compare_points,
                    python=str(mlflow_side.PEERS_PY),
                    env=mlflow_side.ENV,
                )
                results["mlflow_long_fill_s"] = filled["fill_s"]
                compare_reads(results, url, long_id, murl, filled["run"], args, child_env)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


FILL_CHILD = r"""
import sys, json, math
import runlane
url, name, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = runlane.init("bench/read", name=name, server=url, capture_git=False,
                   capture_env=False, capture_stdio=False, system_metrics=False)
for i in range(points):
    run.log({"loss": math.sin(i / 1000.0)}, step=i)
run.finish()
print(json.dumps({"run": run.id}))
"""


def _fill_through_server(url: str, name: str, points: int, env: dict[str, str]) -> str:
    """Log ``points`` rows of ``loss = sin(i / 1000)`` at step ``i`` into run ``name``."""
    return str(child(FILL_CHILD, url, name, points, env=env)["run"])


def mlflow_ingest(url: str, rows: int) -> dict[str, Any]:
    measured: dict[str, Any] = child(
        mlflow_side.INGEST_CHILD, url, rows, python=str(mlflow_side.PEERS_PY), env=mlflow_side.ENV
    )
    measured["values_per_s"] = rows * FIELDS / measured["total_s"]
    measured["rows"] = rows
    return measured


def full_reads(
    readers: list[tuple[str, str, str, str, str]], repeats: int, env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Each ``(tool, code, python, url, run_id)`` read ``repeats`` times in fresh processes,
    the tools interleaved (their order flips every repeat). Returns per tool the samples (ms),
    their median, and the points and sum the last read returned."""
    out: dict[str, dict[str, Any]] = {tool: {"ms": []} for tool, *_ in readers}
    for rep in range(repeats):
        for tool, code, python, url, run_id in readers if rep % 2 == 0 else readers[::-1]:
            got = child(code, url, run_id, python=python, env=env)
            out[tool]["ms"].append(got["seconds"] * 1e3)
            out[tool].update(points=got["points"], sum=got["sum"], last_step=got["last_step"])
    for per in out.values():
        per["median_ms"] = statistics.median(per["ms"])
    return out


def compare_reads(
    results: dict[str, Any],
    url: str,
    run_id: str,
    murl: str,
    mlflow_run: str,
    args: argparse.Namespace,
    env: dict[str, str],
) -> None:
    """Full and downsampled reads of the same long series (``--compare-points``) from both
    servers, interleaved; fills ``results["full_read"]`` and ``results["sampled"]`` (per tool)
    and their MLflow ÷ runlane ratios. Raises ``SystemExit`` when the two full reads disagree
    (a different number of points or sum), since then they did not read the same thing."""
    full = full_reads(
        [
            ("runlane", RUNLANE_READ_CHILD, PY, url, run_id),
            ("mlflow", mlflow_side.READ_CHILD, str(mlflow_side.PEERS_PY), murl, mlflow_run),
        ],
        args.read_repeats,
        {**env, **mlflow_side.TELEMETRY_OFF},
    )
    mine, theirs = full["runlane"], full["mlflow"]
    if mine["points"] != args.compare_points or theirs["points"] != args.compare_points:
        raise SystemExit(
            f"full reads returned {mine['points']:,} (runlane) and {theirs['points']:,} "
            f"(MLflow) points; both must return all {args.compare_points:,}"
        )
    if abs(mine["sum"] - theirs["sum"]) > 1e-6 * args.compare_points:
        raise SystemExit(f"full reads differ: sum {mine['sum']!r} vs {theirs['sum']!r}")
    results["full_read"] = full
    results["full_ratio_mlflow_over_runlane"] = theirs["median_ms"] / mine["median_ms"]
    ours, mlflow = downsampled_reads(
        [series_request(url, run_id), mlflow_side.sampled_request(murl, mlflow_run)]
    )
    results["sampled"] = {"runlane": ours, "mlflow": mlflow}
    results["sampled_ratio_mlflow_over_runlane"] = mlflow["warm_median_ms"] / ours["warm_median_ms"]


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
        f"| live chart poll of {r['live_poll']['total']:,} points, `/series?since=total-10` | "
        f"cold {r['live_poll']['cold_ms']:.1f} ms, warm median "
        f"{r['live_poll']['warm_median_ms']:.1f} ms ({r['live_poll']['rows_returned']} rows) | "
        "— |",
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
    lines.extend(read_lines(r))
    print("\n".join(lines))


def read_lines(r: dict[str, Any]) -> list[str]:
    """Table rows for the long-series reads (full, then downsampled) and their ratios."""
    points = f"{r['compare_points']:,}"

    def samples(per: dict[str, Any]) -> str:
        listed = ", ".join(f"{x:,.0f}" for x in per["ms"])
        return f"median {per['median_ms']:,.0f} ms of {len(per['ms'])} ({listed})"

    full = r["full_read"]
    lines = [
        f"| runlane full read of {points} points, `open(id, store=URL).metrics().arrays()` | "
        f"{samples(full['runlane'])} | — |"
    ]
    if "mlflow" in full:
        lines.append(
            f"| MLflow full read of {points} points, `MlflowClient.get_metric_history` | "
            f"{samples(full['mlflow'])} | "
            f"MLflow ÷ runlane = {r['full_ratio_mlflow_over_runlane']:.1f}× |"
        )
    for tool, what in (
        ("runlane", "`/series?buckets=1000`"),
        ("mlflow", "`get-history-bulk-interval?max_results=1000`"),
    ):
        got = r.get("sampled", {}).get(tool)
        if got is None:
            continue
        ratio = (
            f"MLflow ÷ runlane (warm) = {r['sampled_ratio_mlflow_over_runlane']:.1f}×"
            if tool == "mlflow"
            else "—"
        )
        lines.append(
            f"| {'runlane' if tool == 'runlane' else 'MLflow'} downsampled read of {points} "
            f"points, {what} | cold {got['cold_ms']:,.0f} ms, warm median "
            f"{got['warm_median_ms']:,.0f} ms ({got['points_returned']:,} points) | {ratio} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
